"""Labelled images from an uploaded ZIP, read fully in memory (nothing is written to disk).

    archive = read_labelled_zip(data)              # LabelledArchive(records, members, skipped)
    xray = load_xray(archive.members[record.path])

The ZIP holds a folder per class (COVID/, Normal/, Viral Pneumonia/, any split folders above) or a
`manifest.csv` (columns as `model.labelled_data.read_manifest`; `file` relative to the manifest). Before
anything is decompressed, the archive is refused with one sentence when it is larger than an upload
may be, holds too many members, would decompress to more than the cap, or names a path that could
leave a folder (absolute, drive letter, `..`) or a symbolic link. Members that are not images
(by extension) are skipped and listed; the reads themselves are bounded by the declared sizes.
"""
from __future__ import annotations

import csv
import io
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from model.inputs.intake import DEFAULT_MAX_BYTES, MEGABYTE
from model.labelled_data import IMAGE_SUFFIXES, LabelledImage, folder_label, label_mapping

MAX_MEMBERS = 5000
MAX_TOTAL_BYTES = 500 * MEGABYTE  # Uncompressed, all members together.
MAX_MEMBER_BYTES = DEFAULT_MAX_BYTES  # One image, as for a single upload.
MANIFEST_NAME = "manifest.csv"
MAX_MANIFEST_BYTES = 16 * MEGABYTE
IGNORED_PREFIXES = ("__MACOSX/",)


class ArchiveError(ValueError):
    """The ZIP is refused; the message is one sentence for a person."""


@dataclass
class LabelledArchive:
    """Records whose `path` is the member name, the image bytes by member name, and skipped members."""

    records: list[LabelledImage]
    members: dict[str, bytes]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def load(self, record: LabelledImage) -> bytes:
        return self.members[record.path]


def safe_member_name(name: str) -> str:
    """The member's path in POSIX form, or `ArchiveError` when it could leave the extraction folder."""
    text = name.replace("\\", "/")
    if text.startswith("/") or (len(text) > 1 and text[1] == ":") or "\x00" in text:
        raise ArchiveError("The ZIP was refused: it names an absolute path.")
    if any(part == ".." for part in PurePosixPath(text).parts):
        raise ArchiveError("The ZIP was refused: a path inside it leads out of its folder ('..').")
    return str(PurePosixPath(text))


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _check(archive: zipfile.ZipFile, max_members: int, max_total: int, max_member: int) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > max_members:
        raise ArchiveError(f"The ZIP was refused: it holds {len(infos):,} entries, more than the limit of "
                           f"{max_members:,}.")
    total = 0
    for info in infos:
        safe_member_name(info.filename)
        if _is_symlink(info):
            raise ArchiveError("The ZIP was refused: it contains a symbolic link.")
        if info.flag_bits & 0x1:
            raise ArchiveError("The ZIP was refused: it is encrypted.")
        total += info.file_size
    if total > max_total:
        raise ArchiveError(f"The ZIP was refused: it would decompress to {total / MEGABYTE:,.0f} MB, more than the "
                           f"limit of {max_total / MEGABYTE:,.0f} MB.")
    return infos


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A member's bytes, never more than `limit` whatever its header claims."""
    with archive.open(info) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ArchiveError(f"The ZIP was refused: {info.filename} decompresses to more than "
                           f"{limit / MEGABYTE:,.0f} MB.")
    return data


def read_labelled_zip(data: bytes, *, label_map: dict[str, str] | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                      max_members: int = MAX_MEMBERS, max_total: int = MAX_TOTAL_BYTES,
                      max_member: int = MAX_MEMBER_BYTES) -> LabelledArchive:
    """Validate and read a ZIP of labelled images in memory.

    Labels come from `manifest.csv` when the ZIP has one (the shallowest), else from the folders
    (`model.labelled_data.folder_label`, unknown folder names kept as labels so evaluation can report them).

    Raises:
        ArchiveError: the ZIP is too large, not a ZIP, hostile or holds no labelled image.
    """
    if len(data) > max_bytes:
        raise ArchiveError(f"The ZIP was refused: it is larger than the upload limit of {max_bytes // MEGABYTE} MB.")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError):
        raise ArchiveError("This file is not a readable ZIP archive.") from None
    with archive:
        infos = _check(archive, max_members, max_total, max_member)
        names = {safe_member_name(info.filename): info for info in infos if not info.is_dir()}
        manifests = sorted((n for n in names if PurePosixPath(n).name.lower() == MANIFEST_NAME),
                           key=lambda n: (n.count("/"), n))
        skipped: list[tuple[str, str]] = []
        try:
            if manifests:
                records, wanted = _from_manifest(archive, names, manifests[0], skipped)
            else:
                records, wanted = _from_folders(names, label_map, skipped)
            members = {}
            for name in wanted:
                if names[name].file_size > max_member:
                    skipped.append((name, f"larger than {max_member // MEGABYTE} MB"))
                    continue
                members[name] = _read(archive, names[name], max_member)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError):
            raise ArchiveError("The ZIP was refused: it is damaged and cannot be read.") from None
    records = [r for r in records if r.path in members]
    if not records:
        raise ArchiveError("The ZIP holds no labelled image: put the images in one folder per class "
                           "(COVID/, Normal/, Pneumonia/) or add a manifest.csv.")
    return LabelledArchive(records, members, skipped)


def _is_image(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in IMAGE_SUFFIXES


def _from_folders(names: dict, label_map, skipped) -> tuple[list[LabelledImage], list[str]]:
    mapping, records = label_mapping(label_map), []
    for name in sorted(names):
        if name.startswith(IGNORED_PREFIXES) or PurePosixPath(name).name.startswith("."):
            continue
        if not _is_image(name):
            skipped.append((name, "not an image file"))
            continue
        parts = PurePosixPath(name).parts
        label = folder_label(parts[:-1], mapping, keep_unknown=True)
        if label is None:
            skipped.append((name, "not in a class folder"))
            continue
        source = parts[0] if len(parts) > 2 and parts[0].lower() not in {"train", "test", "val", "validation"} else ""
        records.append(LabelledImage(name, label, name, source))
    return records, [r.path for r in records]


def _from_manifest(archive, names: dict, manifest: str, skipped) -> tuple[list[LabelledImage], list[str]]:
    text = _read(archive, names[manifest], MAX_MANIFEST_BYTES).decode("utf-8-sig", errors="replace")
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not {"file", "label"} <= set(rows[0]):
        raise ArchiveError("The ZIP's manifest.csv needs the columns 'file' and 'label'.")
    base = PurePosixPath(manifest).parent
    records = []
    for row in rows:
        try:
            name = safe_member_name(str(base / (row.get("file") or "")))
        except ArchiveError:
            skipped.append((row.get("file") or "", "the manifest names a path outside the ZIP"))
            continue
        if name not in names or not _is_image(name):
            skipped.append((name, "named in the manifest but not an image in the ZIP"))
            continue
        records.append(LabelledImage(name, row["label"], row.get("patient_id") or name, row.get("source") or "",
                                     row.get("subtype") or ""))
    return records, sorted({r.path for r in records})
