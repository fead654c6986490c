"""Tests for model.inputs.intake: every accepted format, every refusal message, and no identifier leaks.

All images are synthetic and built in memory (numpy, Pillow, pydicom); nothing is read from ../shared.
"""
from __future__ import annotations

import io
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.uid import JPEG2000, JPEGLSLossless

from model.inputs.intake import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE, XrayInputError, load_xray
from tests.support import (
    IDENTIFIERS,
    assert_one_sentence,
    assert_valid_xray,
    band_means,
    dicom_bytes,
    dicom_dataset,
    encode,
    gradient,
    no_pixel_dicom,
    png_header_only,
    three_bands,
    truncated_png,
)

# --------------------------------------------------------------------------- accepted formats


GRAY = gradient()
FORMAT_CASES = [
    # id, bytes, format, mode, bit_depth
    ("png-gray8", encode(Image.fromarray(GRAY), "PNG"), "PNG", "L", 8),
    ("png-gray16", encode(Image.fromarray(GRAY.astype(np.uint16) * 257), "PNG"), "PNG", "I;16", 16),
    ("png-rgb", encode(Image.fromarray(GRAY).convert("RGB"), "PNG"), "PNG", "RGB", 8),
    ("png-rgba", encode(Image.fromarray(GRAY).convert("RGBA"), "PNG"), "PNG", "RGBA", 8),
    ("png-palette", encode(Image.fromarray(GRAY).convert("P"), "PNG"), "PNG", "P", 8),
    ("png-gray-alpha", encode(Image.fromarray(GRAY).convert("LA"), "PNG"), "PNG", "LA", 8),
    ("png-1bit", encode(Image.fromarray(GRAY).convert("1"), "PNG"), "PNG", "1", 1),
    ("jpeg-gray", encode(Image.fromarray(GRAY), "JPEG"), "JPEG", "L", 8),
    ("jpeg-rgb", encode(Image.fromarray(GRAY).convert("RGB"), "JPEG"), "JPEG", "RGB", 8),
    ("jpeg-cmyk", encode(Image.fromarray(GRAY).convert("CMYK"), "JPEG"), "JPEG", "CMYK", 8),
    ("tiff-gray8", encode(Image.fromarray(GRAY), "TIFF"), "TIFF", "L", 8),
    ("tiff-gray16", encode(Image.fromarray(GRAY.astype(np.uint16) * 257), "TIFF"), "TIFF", "I;16", 16),
    ("bmp-rgb", encode(Image.fromarray(GRAY).convert("RGB"), "BMP"), "BMP", "RGB", 8),
    ("dicom", dicom_bytes(three_bands()), "DICOM", "I;16", 12),
]


@pytest.mark.parametrize("data, fmt, mode, bits", [case[1:] for case in FORMAT_CASES],
                         ids=[case[0] for case in FORMAT_CASES])
def test_every_format_decodes_to_unit_grayscale(data, fmt, mode, bits):
    xray = load_xray(data)
    assert_valid_xray(xray)
    assert xray.metadata["format"] == fmt
    assert xray.metadata["mode"] == mode
    assert xray.metadata["bit_depth"] == bits


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "TIFF", "BMP"])
def test_gradient_survives_every_raster_format(fmt):
    xray = load_xray(encode(Image.fromarray(GRAY), fmt))
    expected = GRAY.astype(np.float32) / 255.0
    assert np.abs(xray.pixels - expected).mean() < 0.01
    assert xray.pixels.shape == GRAY.shape


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_16bit_grayscale_keeps_its_depth(fmt):
    stored = np.tile(np.array([0, 256, 257, 1000, 40000, 65535], dtype=np.uint16).repeat(16), (64, 1))
    xray = load_xray(encode(Image.fromarray(stored), fmt))
    row = xray.pixels[0, ::16]
    np.testing.assert_allclose(row, stored[0, ::16] / 65535.0, atol=1e-6)
    assert row[1] < row[2], "256 and 257 collapse when 16-bit data is squeezed into 8 bits"
    assert xray.metadata["bit_depth"] == 16


def test_rgb_becomes_luminance():
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[...] = (200, 100, 50)
    xray = load_xray(encode(Image.fromarray(rgb), "PNG"))
    assert xray.pixels.mean() == pytest.approx((0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255, abs=1 / 255)


def test_rgba_alpha_is_composited_on_black():
    rgba = np.full((64, 96, 4), 255, np.uint8)
    rgba[:, :32, 3] = 0      # fully transparent white: becomes black
    rgba[:, 32:64, 3] = 128  # half transparent white: about half grey
    xray = load_xray(encode(Image.fromarray(rgba), "PNG"))
    assert band_means(xray.pixels) == pytest.approx([0.0, 128 / 255, 1.0], abs=0.01)


def test_palette_png_uses_palette_colours():
    image = Image.new("P", (64, 64))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.paste(1, (0, 0, 32, 64))  # left half: index 1 = white
    xray = load_xray(encode(image, "PNG"))
    assert xray.pixels[:, :32].mean() == pytest.approx(1.0)
    assert xray.pixels[:, 32:].mean() == pytest.approx(0.0)


def test_jpeg_exif_orientation_6_is_applied():
    stored = np.zeros((96, 160), np.uint8)
    stored[:32, :32] = 255  # bright block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    xray = load_xray(encode(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95))
    assert xray.pixels.shape == (160, 96)
    assert (xray.metadata["width"], xray.metadata["height"]) == (96, 160)
    # Clockwise rotation moves the top-left corner to the top-right.
    assert xray.pixels[:32, -32:].mean() > 0.9
    assert xray.pixels[:32, :32].mean() < 0.1


def test_cmyk_jpeg_white_and_black():
    image = Image.new("CMYK", (96, 64), (0, 0, 0, 0))          # no ink: white
    image.paste((0, 0, 0, 255), (48, 0, 96, 64))              # full black ink on the right
    xray = load_xray(encode(image, "JPEG", quality=95))
    assert xray.pixels[:, :40].mean() > 0.95
    assert xray.pixels[:, 56:].mean() < 0.05


def test_tiff_and_bmp_are_accepted_by_content_not_name(tmp_path):
    path = tmp_path / "scan.png"  # misleading extension: content is BMP
    path.write_bytes(encode(Image.fromarray(GRAY), "BMP"))
    assert load_xray(path).metadata["format"] == "BMP"


# --------------------------------------------------------------------------- DICOM


@pytest.mark.parametrize("center, width", [(0, 200), ([0, 50], [200, 400])], ids=["one-window", "first-of-two"])
def test_dicom_rescale_then_window(center, width):
    # Stored 400/500/600 with slope 2, intercept -1000 are -200/0/+200; the window 0 +/- 100 maps
    # them to black, mid-grey and white.
    data = dicom_bytes(three_bands(), RescaleSlope=2, RescaleIntercept=-1000, WindowCenter=center,
                       WindowWidth=width)
    xray = load_xray(data)
    assert_valid_xray(xray)
    assert band_means(xray.pixels) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_dicom_without_window_stretches_to_data_range():
    xray = load_xray(dicom_bytes(three_bands(1000, 1500, 2000)))
    assert band_means(xray.pixels) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_8bit_dicom_without_window_gives_the_same_pixels_as_a_png_of_them():
    # Stored grey levels 60..200 (not the full 0..255): stretching them would brighten the DICOM only.
    stored = (np.arange(96 * 64) % 141 + 60).reshape(64, 96).astype(np.uint16)
    dicom = load_xray(dicom_bytes(stored, bits_stored=8))
    png = load_xray(encode(Image.fromarray(stored.astype(np.uint8)), "PNG"))
    np.testing.assert_array_equal(dicom.pixels, png.pixels)
    # With a rescale the stored values are not display levels: still stretched to the data's range.
    rescaled = load_xray(dicom_bytes(stored, bits_stored=8, RescaleSlope=2, RescaleIntercept=-100))
    assert rescaled.pixels.min() == 0.0 and rescaled.pixels.max() == 1.0


def test_dicom_voi_lut_sequence_is_applied():
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", [min(4 * v, 65535) for v in range(4096)])  # LUT Data: output = 4 * input
    xray = load_xray(dicom_bytes(three_bands(0, 2048, 4095), VOILUTSequence=[item]))
    assert band_means(xray.pixels) == pytest.approx([0.0, 8192 / 16380, 1.0], abs=0.01)


@pytest.mark.parametrize("window", [{}, {"WindowCenter": 2048, "WindowWidth": 4096}], ids=["no-window", "window"])
def test_dicom_monochrome1_is_inverted(window):
    # In MONOCHROME1 a high stored value means dark; the result must follow MONOCHROME2 (bright = dense).
    xray = load_xray(dicom_bytes(three_bands(0, 2048, 4095), photometric="MONOCHROME1", **window))
    low, _, high = band_means(xray.pixels)
    assert high < 0.01 and low > 0.99
    assert xray.metadata["photometric_interpretation"] == "MONOCHROME1"


def test_dicom_metadata_is_exactly_the_safe_fields():
    xray = load_xray(dicom_bytes(three_bands()))
    assert xray.metadata == {
        "width": 96, "height": 64, "bit_depth": 12, "format": "DICOM", "mode": "I;16", "modality": "DX",
        "view_position": "PA", "body_part_examined": "CHEST", "photometric_interpretation": "MONOCHROME2",
        "patient_age_years": None,  # a birth date without the study's date gives no age
        "patient_age_problem": None,
    }


@pytest.mark.parametrize("elements, age, problem", [
    ({"PatientAge": "006Y"}, 6, None), ({"PatientAge": "018M"}, 1, None), ({"PatientAge": "010W"}, 0, None),
    ({"PatientAge": "045Y"}, 45, None),
    ({"StudyDate": "20200316"}, 71, None), ({"StudyDate": "20200317"}, 72, None),  # born 1948-03-17 (tests.support)
    ({"SeriesDate": "19580101"}, 9, None),  # no study date: the next date of the study the header has
    # Not an age string (pydicom warns when the test writes it: the invalid value is the point); before birth.
    pytest.param({"PatientAge": "6 years"}, None, "age_not_in_form",
                 marks=pytest.mark.filterwarnings("ignore:Invalid value for VR AS:UserWarning")),
    pytest.param({"PatientAge": "ABC"}, None, "age_not_in_form",
                 marks=pytest.mark.filterwarnings("ignore:Invalid value for VR AS:UserWarning")),
    ({"StudyDate": "19400101"}, None, "birth_after_study"),  # the birth date (1948) after the study's
    ({"StudyDate": "21000101", "PatientBirthDate": "19000101"}, None, "dates_beyond_age"),
    ({"PatientAge": "999Y"}, None, "age_placeholder"),  # a placeholder, not an age
    ({"PatientAge": "999M"}, None, "age_placeholder"), ({"PatientAge": "999W"}, None, "age_placeholder"),
    ({"PatientAge": "998M"}, 83, None),  # a real age in months, however unusual
    ({"PatientAge": "999Y", "StudyDate": "20200316"}, 71, None),  # the dates still give the age
])
def test_the_patients_age_is_read_from_the_header_and_only_the_age_is_kept(elements, age, problem):
    xray = load_xray(dicom_bytes(three_bands(), **elements))
    assert xray.metadata["patient_age_years"] == age
    # A header whose age cannot be used says why (the reader is told), never keeping the text or a date.
    assert xray.metadata["patient_age_problem"] == problem
    assert not any(str(value).startswith(("1948", "2020", "1958", "1940", "1900", "2100", "ABC", "6 y"))
                   for value in xray.metadata.values())


@pytest.mark.parametrize("keyword, written, read", [
    ("ViewPosition", "pa", "PA"), ("ViewPosition", "ll", "LL"), ("BodyPartExamined", "chest", "CHEST"),
    ("Modality", "dx", "DX"),
    # Lower case is not DICOM's (code strings are upper case), so only a known code is taken: anything else
    # may be free text, a name typed into the field, and is never kept.
    ("ViewPosition", "john smith", None), ("BodyPartExamined", "knee", None),
])
@pytest.mark.filterwarnings("ignore:Invalid value for VR CS:UserWarning")
def test_a_known_code_in_lower_case_is_read_and_nothing_else(keyword, written, read):
    xray = load_xray(dicom_bytes(three_bands(), **{keyword: written}))
    assert xray.metadata[{"ViewPosition": "view_position", "BodyPartExamined": "body_part_examined",
                          "Modality": "modality"}[keyword]] == read


def _bare_implicit_dataset() -> bytes:
    """A dataset with neither preamble nor file meta, as some old modalities write."""
    ds = dicom_dataset(three_bands())
    plain = Dataset()
    plain.update(ds)
    buffer = io.BytesIO()
    dcmwrite(buffer, plain, implicit_vr=True, little_endian=True)
    return buffer.getvalue()


@pytest.mark.parametrize("data", [dicom_bytes(three_bands())[128:], dicom_bytes(three_bands())[132:],
                                  _bare_implicit_dataset()],
                         ids=["no-preamble-keeps-DICM", "no-preamble-no-DICM", "no-file-meta-implicit"])
def test_dicom_without_preamble_is_read(data):
    xray = load_xray(data)
    assert xray.metadata["format"] == "DICOM"
    assert band_means(xray.pixels) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_dicom_rgb_is_reduced_to_luminance():
    ds = dicom_dataset(np.zeros((64, 64), np.uint16), bits_stored=8)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.HighBit = 8, 7
    ds.PixelData = np.full((64, 64, 3), (200, 100, 50), np.uint8).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    xray = load_xray(buffer.getvalue())
    assert xray.pixels.mean() == pytest.approx((0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255, abs=1 / 255)
    assert xray.metadata["mode"] == "RGB"


def test_dicom_identifiers_never_leave_the_module(caplog):
    caplog.set_level(logging.DEBUG)
    xray = load_xray(dicom_bytes(three_bands()))
    failures = [dicom_bytes(np.zeros((2, 64, 96)), NumberOfFrames=2), dicom_bytes(three_bands())[:-1000],
                dicom_bytes(three_bands(), ts=JPEG2000)]
    messages = []
    for data in failures:
        with pytest.raises(XrayInputError) as caught:
            load_xray(data)
        messages.append(str(caught.value) + repr(caught.value.__cause__))
    text = repr(xray) + repr(xray.metadata) + " ".join(messages) + caplog.text
    for value in IDENTIFIERS.values():
        for part in value.split("^"):
            assert part not in text


def test_invalid_identifier_values_are_not_logged_or_warned(caplog):
    # Values invalid for their VR make pydicom warn *with the value* if it ever decodes them.
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom also warns while the test builds the file
        ds = dicom_dataset(three_bands(), PatientID="LEAKID" * 20, PatientBirthDate="LEAKDATE",
                           BodyPartExamined="Doe^Jane chest")
        ds.PatientName = "LEAKNAME\\second"
        ds.save_as(buffer, enforce_file_format=True)
    caplog.set_level(logging.DEBUG)
    caplog.clear()  # forget what writing the test file logged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        xray = load_xray(buffer.getvalue())
    text = repr(xray) + caplog.text + " ".join(str(w.message) for w in caught)
    assert "LEAK" not in text and "Doe" not in text
    assert xray.metadata["body_part_examined"] is None  # free text instead of a code string is dropped


# --------------------------------------------------------------------------- sources


class ReadOnlyUpload:
    """Only .read(), like the most minimal file-like object."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)


class SizedUpload(io.BytesIO):
    """Like Streamlit's UploadedFile: a BytesIO that also reports its size."""

    def __init__(self, data: bytes, size: int) -> None:
        super().__init__(data)
        self.size = size

    def read(self, size: int = -1) -> bytes:
        raise AssertionError("an upload whose size is over the limit must not be read")


def test_upload_size_is_checked_before_reading():
    with pytest.raises(XrayInputError, match=r"^This file is 40 MB, larger than the 30 MB limit;"):
        load_xray(SizedUpload(b"", 40_000_000))


def test_real_streamlit_uploaded_file_is_accepted():
    uploaded_file_manager = pytest.importorskip("streamlit.runtime.uploaded_file_manager")
    from streamlit.proto.Common_pb2 import FileURLs

    data = dicom_bytes(three_bands())
    record = uploaded_file_manager.UploadedFileRec(file_id="1", name="scan.dcm", type="application/dicom", data=data)
    upload = uploaded_file_manager.UploadedFile(record, FileURLs())
    upload.read()  # a previous rerun already consumed it
    assert band_means(load_xray(upload).pixels) == pytest.approx([0.0, 0.5, 1.0], abs=0.01)


def test_dicom_with_tiff_like_preamble_is_read_as_dicom():
    data = dicom_bytes(three_bands())
    xray = load_xray(b"II*\x00" + bytes(124) + data[128:])
    assert xray.metadata["format"] == "DICOM"


def _exhausted(data: bytes) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.read()  # as after an earlier Streamlit rerun
    return stream


SOURCES = {
    "bytes": lambda data, path: data,
    "bytearray": lambda data, path: bytearray(data),
    "memoryview": lambda data, path: memoryview(data),
    "str-path": lambda data, path: str(path),
    "pathlib": lambda data, path: path,
    "bytesio": lambda data, path: io.BytesIO(data),
    "bytesio-at-end": lambda data, path: _exhausted(data),
    "read-only-object": lambda data, path: ReadOnlyUpload(data),
}


@pytest.mark.parametrize("fmt", ["PNG", "DICOM"])
@pytest.mark.parametrize("kind", list(SOURCES))
def test_every_source_gives_the_same_result(tmp_path, kind, fmt):
    data = encode(Image.fromarray(GRAY), "PNG") if fmt == "PNG" else dicom_bytes(three_bands())
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    expected = load_xray(data)
    xray = load_xray(SOURCES[kind](data, path))
    np.testing.assert_array_equal(xray.pixels, expected.pixels)
    assert xray.metadata == expected.metadata


def test_jpeg_path_does_not_import_pydicom(tmp_path):
    path = tmp_path / "train.jpg"
    path.write_bytes(encode(Image.fromarray(GRAY), "JPEG"))
    code = ("import sys; from model.inputs.intake import load_xray; "
            f"load_xray({str(path)!r}); print('pydicom' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.stdout.strip() == "False"


# --------------------------------------------------------------------------- refusals


def _corrupt_png() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + np.random.default_rng(1).integers(0, 256, 400, dtype=np.uint8).tobytes()


def _cut_before_pixel_data() -> bytes:
    data = dicom_bytes(three_bands())
    return data[: data.index(b"\xe0\x7f\x10\x00") - 3]  # ends inside the Pixel Data tag


def _palette_dicom() -> bytes:
    ds = dicom_dataset(three_bands(), photometric="PALETTE COLOR")
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


SMALL_PNG = encode(Image.fromarray(GRAY), "PNG")
FAILURE_CASES = [
    # id, source, keyword arguments, words the message must contain
    ("empty", b"", {}, ["empty"]),
    ("none", None, {}, ["No image"]),
    ("not-a-source", 12345, {}, ["not an image file"]),
    ("random-bytes", np.random.default_rng(2).integers(0, 256, 300, dtype=np.uint8).tobytes(), {},
     ["not a recognised image type", "PNG, JPEG, DICOM"]),
    ("text", b"patient list\nnothing to see here\n", {}, ["contains text", "PNG, JPEG, DICOM"]),
    ("pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", {}, ["PDF document"]),
    ("gif", encode(Image.fromarray(GRAY), "GIF"), {}, ["This is a GIF image, which is not read here", "PNG, JPEG"]),
    ("webp", encode(Image.fromarray(GRAY), "WEBP"), {}, ["This is a WebP image"]),
    ("corrupt-png", _corrupt_png(), {}, ["could not be read", "corrupt"]),
    ("truncated-png", truncated_png(), {}, ["incomplete"]),
    ("truncated-jpeg", encode(Image.fromarray(GRAY), "JPEG")[:600], {}, ["incomplete"]),
    ("too-large", SMALL_PNG, {"max_bytes": 100}, ["larger than the 100 bytes limit"]),
    ("too-many-pixels", SMALL_PNG, {"max_pixels": 5000}, ["128 x 96 pixels", "more than the limit of 5,000"]),
    ("header-claims-too-many", png_header_only(9000, 9000), {}, ["9,000 x 9,000", "50,000,000"]),
    ("decompression-bomb", png_header_only(100_000, 100_000), {"max_pixels": 10**12}, ["too large to open safely"]),
    ("too-small", encode(Image.fromarray(gradient(40, 300)), "PNG"), {}, ["only 300 x 40", "minimum of 64"]),
    ("float-tiff", encode(Image.fromarray(GRAY.astype(np.float32)), "TIFF"), {}, ["unsupported pixel format (F)"]),
    ("dicom-multiframe", dicom_bytes(np.zeros((3, 64, 96)), NumberOfFrames=3), {}, ["3 frames"]),
    ("dicom-no-pixels", no_pixel_dicom(), {}, ["no pixel data"]),
    ("dicom-jpeg2000", dicom_bytes(three_bands(), ts=JPEG2000), {}, ["JPEG 2000 Image Compression"]),
    ("dicom-jpegls", dicom_bytes(three_bands(), ts=JPEGLSLossless), {}, ["JPEG-LS Lossless Image Compression"]),
    ("dicom-truncated-pixels", dicom_bytes(three_bands())[:-1000], {}, ["incomplete or does not match"]),
    ("dicom-corrupt", dicom_bytes(three_bands())[:200], {}, ["DICOM file could not be read"]),
    ("dicom-cut-before-pixels", _cut_before_pixel_data(), {}, ["DICOM file could not be read"]),
    ("dicom-palette", _palette_dicom(), {}, ["PALETTE COLOR", "not supported"]),
    ("dicom-too-small", dicom_bytes(three_bands(height=20)), {}, ["only 96 x 20"]),
]


@pytest.mark.parametrize("source, kwargs, words", [case[1:] for case in FAILURE_CASES],
                         ids=[case[0] for case in FAILURE_CASES])
def test_each_failure_has_a_clear_one_sentence_message(source, kwargs, words):
    with pytest.raises(XrayInputError) as caught:
        load_xray(source, **kwargs)
    message = str(caught.value)
    assert_one_sentence(message)
    for word in words:
        assert word in message


def test_failure_messages_are_distinct():
    messages = {}
    for case_id, source, kwargs, _ in FAILURE_CASES:
        with pytest.raises(XrayInputError) as caught:
            load_xray(source, **kwargs)
        messages.setdefault(str(caught.value), []).append(case_id)
    shared = {message: ids for message, ids in messages.items() if len(ids) > 1}
    # Only the same failure on two formats may share a message.
    assert shared == {
        "This image file is incomplete (it ends too early); please export it again.":
            ["truncated-png", "truncated-jpeg"],
        "This DICOM file could not be read: it may be corrupt or truncated; please export it again.":
            ["dicom-corrupt", "dicom-cut-before-pixels"],
    }


def test_size_limit_message_gives_both_sizes():
    data = SMALL_PNG + bytes(int(1.5 * 1024 * 1024))  # trailing padding after IEND
    with pytest.raises(XrayInputError, match=r"^This file is 1\.6 MB, larger than the 1 MB limit; "):
        load_xray(data, max_bytes=1024 * 1024)


def test_header_size_is_checked_before_decoding():
    # The file has no pixel data: had decoding been attempted, the message would say "incomplete".
    with pytest.raises(XrayInputError, match="more than the limit"):
        load_xray(png_header_only(9000, 9000))


def test_oversized_file_on_disk_is_refused_from_its_size(tmp_path):
    path = tmp_path / "huge.dcm"
    with open(path, "wb") as handle:
        handle.truncate(41_200_000)  # sparse: instant, and never read
    with pytest.raises(XrayInputError) as caught:
        load_xray(path)
    assert str(caught.value) == ("This file is 41.2 MB, larger than the 30 MB limit; "
                                 "please use a smaller export.")


def _file(directory: Path, name: str, content: bytes) -> Path:
    (directory / name).write_bytes(content)
    return directory / name


@pytest.mark.parametrize("make_path, words", [
    (lambda tmp: tmp / "missing.png", "No file was found"),
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: _file(tmp, "Doe_Jane.png", b"Doe^Jane was here\n"), "contains text"),
    (lambda tmp: _file(tmp, "Doe_Jane.dcm", b""), "empty"),
], ids=["missing", "directory", "text-file", "empty-file"])
def test_path_failures(tmp_path, make_path, words):
    path = make_path(tmp_path)
    with pytest.raises(XrayInputError) as caught:
        load_xray(path)
    message = str(caught.value)
    assert_one_sentence(message)
    assert words in message
    assert str(tmp_path) not in message and "Doe" not in message  # paths may carry patient names


def _mutations(data: bytes, count: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        mutated = bytearray(data)
        for position in rng.integers(0, len(data), 8):
            mutated[position] = int(rng.integers(0, 256))
        yield bytes(mutated[: int(rng.integers(len(data) // 2, len(data) + 1))])


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the mutated UIDs it reads
@pytest.mark.parametrize("original", [SMALL_PNG, encode(Image.fromarray(GRAY), "JPEG"),
                                      dicom_bytes(three_bands(), WindowCenter=500, WindowWidth=200)],
                         ids=["png", "jpeg", "dicom"])
def test_damaged_files_raise_only_xray_input_error(original):
    for data in _mutations(original, 40, seed=len(original)):
        try:
            assert_valid_xray(load_xray(data))
        except XrayInputError as error:
            assert_one_sentence(str(error))


def test_public_constants():
    assert (DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, DEFAULT_MIN_SIDE) == (30_000_000, 50_000_000, 64)
    assert issubclass(XrayInputError, ValueError)


def test_colourfulness_separates_a_photo_from_a_radiograph_saved_as_rgb():
    import io as _io

    from PIL import Image as _Image

    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
    gray_rgb = np.repeat(rng.integers(0, 256, (80, 80, 1), dtype=np.uint8), 3, axis=-1)
    scores = []
    for array in (photo, gray_rgb):
        buffer = _io.BytesIO()
        _Image.fromarray(array).save(buffer, format="PNG")
        scores.append(load_xray(buffer.getvalue()).metadata["colourfulness"])
    assert scores[0] > 50 and scores[1] == 0.0


ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_by_hand(pixels: np.ndarray, interlace: bool, keep: float = 1.0) -> bytes:
    """An 8-bit grey PNG written here (Pillow cannot write Adam7), its pixel stream cleanly
    compressed but holding only the first `keep` share of its rows (Pillow itself refuses a cut
    inside a row, but fills missing whole rows with black)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    height, width = pixels.shape
    parts = [pixels[y0::dy, x0::dx] for x0, y0, dx, dy in ADAM7] if interlace else [pixels]
    rows = [b"\x00" + row.tobytes() for part in parts if part.size for row in part]
    raw = b"".join(rows[:max(1, int(len(rows) * keep))])
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, int(interlace))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("interlace", [False, True], ids=["plain", "adam7"])
@pytest.mark.parametrize("size", [(70, 70), (97, 131), (64, 3000)])
def test_png_pixel_stream_must_hold_every_row(interlace, size):
    height, width = size
    pixels = (np.arange(height * width) % 251).astype(np.uint8).reshape(height, width)
    complete = load_xray(_png_by_hand(pixels, interlace))
    np.testing.assert_allclose(complete.pixels, pixels / 255.0, atol=1e-6)
    for keep in (0.05, 0.99):  # Pillow would fill the missing rows with black
        with pytest.raises(XrayInputError, match="incomplete"):
            load_xray(_png_by_hand(pixels, interlace, keep))
