"""Property-based fuzzing of model.inputs.intake with hypothesis.

For any bytes at all, and for valid PNG, JPEG, TIFF, BMP and DICOM files with bytes changed, cut off or
inserted, `load_xray` must either return a valid image (finite float32 HxW in [0, 1], C-contiguous) or
raise `XrayInputError` with one sentence; any other exception, or taking longer than the deadline, fails.
"""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from model.inputs.intake import XrayInputError, load_xray
from tests.support import (
    assert_one_sentence,
    assert_valid_xray,
    dicom_bytes,
    encode,
    gradient,
    png_header_only,
    three_bands,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom warns about the damaged values it reads

# Generous for one small input on a loaded 2-core machine; a hang or a runaway allocation takes far longer.
FUZZ = settings(max_examples=150, deadline=timedelta(seconds=3), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

GRAY = gradient(64, 80)
SEEDS = {
    "png": encode(Image.fromarray(GRAY), "PNG"),
    "png16": encode(Image.fromarray(GRAY.astype(np.uint16) * 257), "PNG"),
    "png-palette": encode(Image.fromarray(GRAY).convert("P"), "PNG"),
    "jpeg": encode(Image.fromarray(GRAY), "JPEG"),
    "jpeg-progressive": encode(Image.fromarray(GRAY).convert("RGB"), "JPEG", progressive=True),
    "tiff": encode(Image.fromarray(GRAY), "TIFF"),
    "bmp": encode(Image.fromarray(GRAY).convert("RGB"), "BMP"),
    "dicom": dicom_bytes(three_bands(), WindowCenter=500, WindowWidth=200),
    "dicom-monochrome1": dicom_bytes(three_bands(), photometric="MONOCHROME1", RescaleSlope=2,
                                     RescaleIntercept=-1000),
    "dicom-no-preamble": dicom_bytes(three_bands())[132:],
}
# Starts that send random tails down each decoder rather than straight to "not an image".
MAGIC = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM" + bytes(12) + b"\x28\x00\x00\x00",
         bytes(128) + b"DICM", b"DICM", b"\x08\x00\x05\x00CS", b"\x02\x00\x00\x00UL", b"%PDF"]


def intake_holds_its_promise(data: bytes) -> None:
    try:
        xray = load_xray(data)
    except XrayInputError as error:
        assert_one_sentence(str(error))
        event("refused")
        return
    assert_valid_xray(xray)
    event("decoded")


@st.composite
def damaged(draw) -> bytes:
    """A valid file with a few bytes overwritten, a piece cut out or inserted, and possibly truncated."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 12))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data) - 1))
        data[start:start + draw(st.integers(0, 64))] = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        data = data[: draw(st.integers(1, len(data)))]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x00" * 132)
@example(png_header_only(1, 2**31 - 1))
def test_arbitrary_bytes(data):
    intake_holds_its_promise(data)


@FUZZ
@given(st.sampled_from(MAGIC), st.binary(max_size=2048))
def test_recognised_start_with_arbitrary_rest(magic, rest):
    intake_holds_its_promise(magic + rest)


@settings(FUZZ, max_examples=400)
@given(damaged())
def test_damaged_valid_files(data):
    intake_holds_its_promise(data)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_is_itself_valid(name):
    # Otherwise the damaged files would start from a refusal and explore little of the decoders.
    assert_valid_xray(load_xray(SEEDS[name]))
