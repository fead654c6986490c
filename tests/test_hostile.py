"""Hostile and unusual files, one table, through every way in: intake, the CLI and the dashboard upload.

Each row names a file, how to build it (synthetic, in memory) and what must happen: either the image is
read correctly (a property of the pixels is checked) or `XrayInputError` is raised with one sentence that
contains the given words. The same rows then go through `python -m model.predict` (exit 2, one `error:` line
per bad file, the good files still classified, no traceback) and through the Diagnose page's uploader (the
same one sentence, no exception, and the app still analyses a good image afterwards).
"""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import JPEG2000

from model.inputs.intake import DEFAULT_MAX_BYTES, Xray, XrayInputError, load_xray
from model.present.text import DISCLAIMER
from tests.support import (
    assert_one_sentence,
    assert_valid_xray,
    band_means,
    dicom_bytes,
    encode,
    gradient,
    no_pixel_dicom,
    png_bytes,
    synthetic_radiograph,
    three_bands,
    truncated_png,
)

ROOT = Path(__file__).resolve().parents[1]
GOOD_IMAGE = png_bytes(synthetic_radiograph(96, seed=7, lesion=(0.4, 0.3)))


# --------------------------------------------------------------------------- the files


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, followed by a little real compressed pixel data.

    Decoding it would try to allocate width * height bytes; it must be refused from the header.
    """
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = zlib.compress(bytes(1 + width) * 4)  # four all-black rows, filter byte 0
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def png_16bit() -> bytes:
    stored = np.tile(np.array([0, 256, 257, 1000, 40000, 65535], dtype=np.uint16).repeat(16), (64, 1))
    return encode(Image.fromarray(stored), "PNG")


def png_rgba() -> bytes:
    rgba = np.full((64, 96, 4), 255, np.uint8)
    rgba[:, :32, 3] = 0      # fully transparent white reads as black (air)
    rgba[:, 32:64, 3] = 128  # half transparent white reads as mid-grey
    return encode(Image.fromarray(rgba), "PNG")


def png_palette() -> bytes:
    image = Image.new("P", (64, 64))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.paste(1, (0, 0, 32, 64))  # left half: palette index 1 = white
    return encode(image, "PNG")


def jpeg_cmyk() -> bytes:
    image = Image.new("CMYK", (96, 64), (0, 0, 0, 0))  # no ink: white
    image.paste((0, 0, 0, 255), (48, 0, 96, 64))      # full black ink on the right
    return encode(image, "JPEG", quality=95)


def jpeg_exif_rotated() -> bytes:
    """Stored 96 high x 160 wide with a bright block top-left; EXIF orientation 6 = rotate 90 degrees
    clockwise to display, so upright it is 160 x 96 with the block top-right."""
    stored = np.zeros((96, 160), np.uint8)
    stored[:32, :32] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)


def random_bytes() -> bytes:
    return np.random.default_rng(11).integers(0, 256, 4096, dtype=np.uint8).tobytes()


def truncated_jpeg() -> bytes:
    noise = np.random.default_rng(3).integers(0, 256, (128, 128), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG", quality=95)
    return data[: len(data) // 2]


def over_the_limit() -> bytes:
    """A valid small PNG padded after its end to one byte over the upload limit."""
    head = png_bytes(synthetic_radiograph(64))
    return head + bytes(DEFAULT_MAX_BYTES + 1 - len(head))


# --------------------------------------------------------------------------- the expected outcomes


def upright(xray: Xray) -> None:
    assert xray.pixels.shape == (160, 96)
    assert xray.pixels[:32, -32:].mean() > 0.9 and xray.pixels[:32, :32].mean() < 0.1


def sixteen_bit_kept(xray: Xray) -> None:
    row = xray.pixels[0, ::16]
    np.testing.assert_allclose(row, np.array([0, 256, 257, 1000, 40000, 65535]) / 65535.0, atol=1e-6)
    assert xray.metadata["bit_depth"] == 16


def alpha_on_black(xray: Xray) -> None:
    assert band_means(xray.pixels) == pytest.approx([0.0, 128 / 255, 1.0], abs=0.01)


def palette_colours(xray: Xray) -> None:
    assert xray.pixels[:, :32].mean() == pytest.approx(1.0) and xray.pixels[:, 32:].mean() == pytest.approx(0.0)


def cmyk_ink(xray: Xray) -> None:
    assert xray.pixels[:, :40].mean() > 0.95 and xray.pixels[:, 56:].mean() < 0.05


def monochrome1_inverted(xray: Xray) -> None:
    # Stored low values are bright in MONOCHROME1: the result must show them bright, as MONOCHROME2 would.
    assert band_means(xray.pixels) == pytest.approx([1.0, 0.5, 0.0], abs=0.01)
    assert xray.metadata["photometric_interpretation"] == "MONOCHROME1"


@dataclass(frozen=True)
class Case:
    """One hostile or unusual file: its name, how to build it and what must happen.

    Exactly one of `check` (the image is read; a property of it is checked) and `words` (refused with
    a sentence containing them) is set. `undecoded`: refused from the header, before any pixel is decoded.
    """

    id: str
    name: str
    build: Callable[[], bytes]
    check: Callable[[Xray], None] | None = None
    words: tuple[str, ...] = ()
    undecoded: bool = False

    @property
    def refused(self) -> bool:
        return self.check is None


CASES = [
    Case("empty", "empty.png", lambda: b"", words=("empty",)),
    Case("random-bytes", "random.jpg", random_bytes, words=("not a recognised image type",)),
    Case("text-named-png", "notes.png", lambda: b"Patient notes, not an image.\n" * 40,
         words=("contains text, not an image",)),
    Case("truncated-png", "cut.png", truncated_png, words=("incomplete",)),
    Case("truncated-jpeg", "cut.jpg", truncated_jpeg, words=("incomplete",)),
    Case("png-claims-100000x100000", "huge.png", lambda: png_claiming(100_000, 100_000),
         words=("too large",), undecoded=True),
    Case("1x1", "dot.png", lambda: encode(Image.new("L", (1, 1), 128), "PNG"),
         words=("only 1 x 1 pixels", "minimum of 64"), undecoded=True),
    Case("20000x10", "strip.png", lambda: encode(Image.fromarray(gradient(10, 20_000)), "PNG"),
         words=("only 20,000 x 10 pixels", "minimum of 64"), undecoded=True),
    Case("16-bit", "deep.png", png_16bit, check=sixteen_bit_kept),
    Case("rgba", "alpha.png", png_rgba, check=alpha_on_black),
    Case("palette", "palette.png", png_palette, check=palette_colours),
    Case("cmyk", "cmyk.jpg", jpeg_cmyk, check=cmyk_ink),
    Case("exif-rotated-jpeg", "rotated.jpg", jpeg_exif_rotated, check=upright),
    Case("dicom-monochrome1", "mono1.dcm", lambda: dicom_bytes(three_bands(), photometric="MONOCHROME1"),
         check=monochrome1_inverted),
    Case("dicom-no-pixel-data", "report.dcm", no_pixel_dicom, words=("no pixel data",)),
    Case("dicom-multi-frame", "frames.dcm", lambda: dicom_bytes(np.zeros((3, 64, 96)), NumberOfFrames=3),
         words=("contains 3 frames", "single")),
    Case("dicom-jpeg2000-undecodable", "j2k.dcm", lambda: dicom_bytes(three_bands(), ts=JPEG2000),
         words=("compressed with JPEG 2000 Image Compression", "decode")),
    Case("larger-than-limit", "big.png", over_the_limit, words=("larger than the 30 MB limit",), undecoded=True),
]
IDS = [case.id for case in CASES]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {case.id: case.build() for case in CASES}


# --------------------------------------------------------------------------- intake


@pytest.fixture()
def decoder_calls(monkeypatch) -> list[str]:
    """Every call of Pillow's pixel decoding or pydicom's pixel_array, recorded."""
    from PIL import ImageFile
    from pydicom.dataset import Dataset

    calls = []
    original_load = ImageFile.ImageFile.load
    original_pixels = Dataset.pixel_array

    def load(self):
        calls.append("Pillow")
        return original_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    monkeypatch.setattr(Dataset, "pixel_array", property(lambda ds: calls.append("pydicom") or original_pixels.fget(ds)))
    return calls


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_intake(case, files, decoder_calls):
    if case.refused:
        with pytest.raises(XrayInputError) as caught:
            load_xray(files[case.id])
        message = str(caught.value)
        assert_one_sentence(message)
        for word in case.words:
            assert word in message
        if case.undecoded:
            assert decoder_calls == [], "pixels were decoded although the header already said no"
    else:
        xray = load_xray(files[case.id])
        assert_valid_xray(xray)
        case.check(xray)
        assert decoder_calls, "the recorder saw no decoding: the undecoded checks above would prove nothing"


def test_the_recorder_sees_decoding_of_a_claimed_size_under_the_limits(decoder_calls):
    # The same kind of file, claiming a size within the limits and cut short, is decoded (and found
    # incomplete), so an empty record for the 100000 x 100000 file really means it was refused from its header.
    with pytest.raises(XrayInputError, match="incomplete"):
        load_xray(png_claiming(2000, 2000)[:-20])
    assert decoder_calls == ["Pillow"]


# --------------------------------------------------------------------------- the CLI


def test_cli(registry_env, files, tmp_path):
    paths = []
    for case in CASES:
        paths.append(tmp_path / case.name)
        paths[-1].write_bytes(files[case.id])
    good = tmp_path / "good.png"
    good.write_bytes(GOOD_IMAGE)
    env = {**os.environ, "CXR_REGISTRY": str(registry_env)}
    result = subprocess.run([sys.executable, "-m", "model.predict", *map(str, paths), str(good), "--json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    *errors, notice = result.stderr.splitlines()
    assert notice == DISCLAIMER  # on stderr: stdout holds only the JSON records
    refused = [(case, path) for case, path in zip(CASES, paths) if case.refused]
    assert len(errors) == len(refused), result.stderr
    for line, (case, path) in zip(errors, refused):
        assert line.startswith(f"error: {path}: ") and "upload" not in line, line
        for word in case.words:
            assert word in line, (case.id, line)
    # One JSON line per file, in order: refused files as "error" objects carrying their sentence.
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(record["image"]).name for record in records] == [path.name for path in paths] + ["good.png"]
    for record, case in zip(records, [*CASES, None]):
        if case is not None and case.refused:
            assert record["status"] == "error" and record["error"] and "prediction" not in record, record
        elif record["probabilities"] is not None:  # out-of-scope films are held back (no --show-anyway)
            assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        else:
            assert record["status"] == "out_of_scope" and record["prediction"] is None, record


# --------------------------------------------------------------------------- the dashboard


st = pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

APP = ROOT / "dashboard" / "app.py"


@pytest.fixture()
def diagnose(registry_env, monkeypatch) -> AppTest:
    monkeypatch.delenv("CXR_DATA", raising=False)
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    return at


def upload(at: AppTest, name: str, data: bytes, mime: str = "application/octet-stream") -> AppTest:
    at.file_uploader[0].set_value((name, data, mime))
    return at.run()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dashboard(case, files, diagnose):
    at = upload(diagnose, case.name, files[case.id])
    assert not at.exception, [e.value for e in at.exception]
    if case.refused:
        assert len(at.error) == 1, [e.value for e in at.error]
        message = at.error[0].value
        assert_one_sentence(message)
        for word in case.words:
            assert word in message
        assert not at.main.image
    else:
        assert not at.error, [e.value for e in at.error]
        # The overlay (the film beside it is the click grid), or the film alone when it is out of scope.
        assert len(at.main.image) == 1
        out_of_scope = any("Out of scope: no answer shown." in text for text in [m.value for m in at.markdown])
        assert out_of_scope or at.main.metric[0].label == "Model output"
    # The session keeps working: a good image afterwards is analysed normally.
    at = upload(at, "good.png", GOOD_IMAGE, "image/png")
    assert not at.exception and not at.error
    assert len(at.main.image) == 1 and at.main.metric[0].label == "Model output"


def test_uploader_accepts_any_file_type_and_lets_intake_decide(diagnose):
    # Many PACS exports are DICOM files without an extension ("IM000001"); a type filter in the browser
    # would refuse them before intake could recognise them from their content.
    assert list(diagnose.file_uploader[0].proto.type) == []
    at = upload(diagnose, "IM000001", dicom_bytes(three_bands()))
    assert not at.exception and not at.error
    captions = [c.value for c in at.main.caption] + [i.captions[0] for i in at.main.image]
    assert any(caption.startswith("Original (DICOM, 96 x 64") for caption in captions)
    at = upload(at, "letter.docx", b"PK\x03\x04" + bytes(200))
    assert [e.value for e in at.error] == [
        "This file is not a recognised image type; please use a PNG, JPEG, DICOM (.dcm), TIFF or BMP file."]


def test_a_model_with_a_lambda_layer_is_one_sentence_on_the_page(tmp_path, monkeypatch):
    from tests.support import write_lambda_entry, write_tiny_entry

    write_tiny_entry(tmp_path / "reg", "tiny-good", seed=0)
    write_lambda_entry(tmp_path / "reg", "a-lambda", tmp_path / "code-ran")
    monkeypatch.setenv("CXR_REGISTRY", str(tmp_path / "reg"))
    st.cache_data.clear()
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    at.selectbox(key="diagnose_model").set_value("a-lambda").run()
    at = upload(at, "good.png", GOOD_IMAGE, "image/png")
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Model 'a-lambda' was refused: it contains a Lambda layer, whose Python code could run anything, so it "
        "is never loaded from a file; rebuild the model without Lambda layers."]
    assert not at.main.image and not (tmp_path / "code-ran").exists()
    # The other model of the registry still works in the same session.
    at.selectbox(key="diagnose_model").set_value("tiny-good").run()
    assert not at.exception and not at.error
    assert len(at.main.image) == 1
