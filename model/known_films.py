"""Is an uploaded film one of the labelled films, and did this model learn from it?

An educator may upload a film of the data pool itself. Its output is then no test of the model when
the film's patient was in the model's training split. The labelled films under the configured data
roots are indexed by the SHA-256 of their bytes (the same digest the dashboard keys an upload by), so a
film is recognised from its bytes alone; its split is re-made by the rule the gallery and Evaluate use
(`model.splits.assign_splits` over the records of the manifest it is listed in).

    index = index_films(data_roots())            # hashes every labelled file: slow, the page caches it
    records = find_film(index, digest)           # every labelled record with exactly these bytes
    seen = film_split(card, records, index)      # SeenFilm("train", "openist-normal", "Normal") or None
    seen_sentence(seen)                          # the note the pages show

Only the source and the label of a record ever leave this module's results: never a patient id nor a path.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from model.labelled_data import LabelledImage, find_datasets, read_dataset, records_within
from model.splits import OUTSIDE, assign_splits

CHUNK = 1 << 20
# What a film's split says about its output here, most learnt-from first: when the same bytes are listed
# under several records, the one the model saw most of decides (a film it trained on stays trained on).
SEEN_ORDER = ("train", "validation", "test", OUTSIDE)


@dataclass(frozen=True)
class KnownFilm:
    """One labelled record of a file, and the dataset (manifest CSV or class folder) listing it.

    Attributes:
        record: the labelled record (its path and patient id stay on the server).
        dataset: the dataset's real path, a key of `FilmIndex.records`.
    """

    record: LabelledImage
    dataset: str


@dataclass(frozen=True)
class FilmIndex:
    """The labelled films under the data roots.

    Attributes:
        by_digest: {SHA-256 of a file's bytes: every record listing that file, or another with the same bytes}.
        records: {dataset: its records inside the roots}: a legacy split is re-made from all of them.
        checksums: {dataset: SHA-256 of the manifest file ("" for a class folder)}, to match a card's.
    """

    by_digest: dict[str, tuple[KnownFilm, ...]]
    records: dict[str, tuple[LabelledImage, ...]]
    checksums: dict[str, str]


@dataclass(frozen=True)
class SeenFilm:
    """A recognised film as one model's data hold it.

    Attributes:
        split: "train", "validation", "test" or "outside" (not in the data this model was trained on).
        source, label: the record's source and true label (nothing else of the record is kept).
        note: `assign_splits`' note when a legacy split was re-made on other data than recorded, else "".
    """

    split: str
    source: str
    label: str
    note: str = ""

    @property
    def learnt_from(self) -> bool:
        """Whether the model was fitted on this film (training) or tuned on it (validation)."""
        return self.split in ("train", "validation")


def file_digest(path) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def index_films(roots: list[Path]) -> FilmIndex:
    """Every labelled film under `roots` (manifests and class folders, as the gallery finds them), by the
    digest of its bytes. Records naming files outside the roots, missing or unreadable are left out."""
    by_digest: dict[str, list[KnownFilm]] = defaultdict(list)
    records, checksums, digests = {}, {}, {}
    for dataset in find_datasets(roots):
        try:
            kept = records_within(read_dataset(dataset, keep_unknown=True), roots)[0]
        except (OSError, ValueError):
            continue  # a manifest that cannot be read names no film
        key = str(dataset)
        records[key] = tuple(kept)
        checksums[key] = file_digest(dataset) if dataset.is_file() else ""
        for record in kept:
            if record.path not in digests:  # a file listed by two manifests is read once
                try:
                    digests[record.path] = file_digest(record.path)
                except OSError:
                    digests[record.path] = None
            if digests[record.path] is not None:
                by_digest[digests[record.path]].append(KnownFilm(record, key))
    return FilmIndex({d: tuple(films) for d, films in by_digest.items()}, records, checksums)


def find_film(index: FilmIndex, digest: str) -> tuple[KnownFilm, ...]:
    """Every labelled record whose file has exactly these bytes (SHA-256 `digest`); empty when none."""
    return index.by_digest.get(digest, ())


def uses_dataset(card, dataset: str, checksum: str) -> bool:
    """Whether `card` was trained from this dataset, as far as its card records: the manifest's checksum
    (`manifest_sha256`), else its file name (`manifest`), else the `data` path it was trained from (a
    folder means its `manifest.csv`, as `read_dataset` reads it). A card naming no data may hold any."""
    training = card.training or {}
    if training.get("manifest_sha256"):
        return checksum == training["manifest_sha256"]
    path = Path(dataset)
    if training.get("manifest"):  # a file name, or a folder's (trained with `--data FOLDER`: its manifest.csv)
        name = str(training["manifest"])
        return path.name == name or (path.name == "manifest.csv" and path.parent.name == name)
    if not training.get("data"):
        return True
    data = Path(str(training["data"]))
    if data.suffix.lower() == ".csv":
        return path.name == data.name
    return path.name == data.name or (path.name == "manifest.csv" and path.parent.name == data.name)


def film_split(card, films: tuple[KnownFilm, ...], index: FilmIndex, splits: dict | None = None) -> SeenFilm | None:
    """Where a recognised film (`find_film`) falls in `card`'s data: its patient's split, re-made as the
    gallery and Evaluate re-make it, or "outside" when no record of it is in a dataset the card used or
    its source is not one the model trained on. None when the film is not a labelled one.

    `splits` ({dataset: `assign_splits`' (assignment, note)}), when given, keeps each dataset's split across
    calls for the same card, so placing many films re-makes each split once (`model.data_overlap`)."""
    if not films:
        return None
    splits = {} if splits is None else splits
    seen = []
    for film in films:
        if not uses_dataset(card, film.dataset, index.checksums.get(film.dataset, "")):
            continue
        if film.dataset not in splits:
            splits[film.dataset] = assign_splits(list(index.records[film.dataset]), card)
        assignment, note = splits[film.dataset]
        seen.append(SeenFilm(assignment.get(film.record.path, OUTSIDE), film.record.source, film.record.label, note))
    if not seen:
        first = films[0].record
        return SeenFilm(OUTSIDE, first.source, first.label)
    return min(seen, key=lambda s: SEEN_ORDER.index(s.split))


def from_teaching(teaching, model_id: str) -> SeenFilm | None:
    """A gallery teaching case's own record (`model.present.gallery_cases.TeachingCase`), when it was split
    for this model; None otherwise (another model's split says nothing of this one's)."""
    if teaching is None or teaching.model_id != model_id or teaching.split not in SEEN_ORDER:
        return None
    return SeenFilm(teaching.split, teaching.source, teaching.label)


def seen_sentence(seen: SeenFilm, short: bool = False) -> str:
    """The note the pages show for a recognised film: where it is in this model's data, and so whether its
    output here tests the model; the true label for the films that do. `short`: the same facts in fewer
    words, for a version's narrow column on Compare."""
    source = seen.source or "unknown"
    if short:
        sentence = {
            "train": f"Learnt from this film (source {source}, label {seen.label}; training split): its output is "
                     "not a fair test.",
            "validation": f"Tuned on this film (source {source}, label {seen.label}; validation split, used to "
                          "calibrate and tune it): not a fully fair test.",
            "test": f"Held out (source {source}; test split): a fair test; true label {seen.label}.",
        }.get(seen.split, f"Not in its training data (source {source}): a fair test; true label {seen.label}.")
    elif seen.split == "train":
        sentence = (f"This film is in the pool this model learnt from (source {source}, label {seen.label}; its "
                    "patient is in the training split): its output here is not a fair test of the model.")
    elif seen.split == "validation":
        sentence = (f"This film is in the pool this model learnt from (source {source}, label {seen.label}; its "
                    "patient is in the validation split, used to calibrate and tune the model): its output here "
                    "is not a fully fair test of the model.")
    elif seen.split == "test":
        sentence = (f"This film is in this model's data but held out (source {source}; its patient is in the "
                    f"test split): a fair test; true label {seen.label}.")
    else:
        sentence = (f"This film is one of the labelled films on this server (source {source}) but not in the data "
                    f"this model was trained on: a fair test; true label {seen.label}.")
    return f"{sentence} {seen.note}" if seen.note else sentence
