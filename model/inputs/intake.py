"""Image intake: every image the project reads (upload, CLI, training) enters here.

`load_xray` turns bytes, a path or an uploaded file into an `Xray`: float32 grayscale
pixels in [0, 1] plus a small dict of non-identifying metadata. The format is detected
from the content (magic bytes), never from the file name:

* PNG, JPEG, TIFF and BMP are decoded with Pillow. 16-bit grayscale keeps its depth.
  Colour is reduced to luminance (ITU-R BT.601 weights, as Pillow's "L" conversion),
  and an alpha channel is composited onto black, so transparent areas read as 0 (air).
* DICOM is decoded with pydicom (imported only when a DICOM file arrives), applying
  the Modality LUT (rescale slope/intercept), then the VOI LUT or first window, and
  inverting MONOCHROME1 so that bone is always bright. Without a window, 8-bit values
  that need no rescale are read as grey levels (as in a PNG of the same pixels);
  anything else is stretched to the data's own range.

Every failure raises `XrayInputError` whose message is one plain sentence for a
clinician. Patient identifiers are never read, returned, logged or put into messages;
for the same reason file paths (which often contain names) are not quoted either.
"""
from __future__ import annotations

import io
import math
import os
import re
import stat
import struct
import warnings
import zlib
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageOps

from model.policy import CHEST_PARTS, FRONTAL_VIEWS, LATERAL_VIEWS, MAX_AGE, RADIOGRAPH_MODALITIES

MEGABYTE = 1_000_000
DEFAULT_MAX_BYTES = 30_000_000  # 30 MB, decimal as browsers and Streamlit's uploader count
DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MIN_SIDE = 64

_ACCEPTED = "a PNG, JPEG, DICOM (.dcm), TIFF or BMP file"
_MSG_EMPTY = "This file is empty (0 bytes); please choose the image file again."
_MSG_NO_SOURCE = "No image was provided; please choose an image file."
_MSG_BAD_SOURCE = "This input is not an image file or image data; please provide a file path or the file's contents."
_MSG_NOT_FOUND = "No file was found at the given location; please check the folder and file name."
_MSG_IS_DIRECTORY = "The given location is a folder, not an image file; please choose a single image file."
_MSG_NO_ACCESS = "This file could not be opened because access to it was denied; please check its permissions."
_MSG_CANNOT_OPEN = "This file could not be opened; please check that it is available and try again."
_MSG_TEXT_STREAM = "This file was opened as text instead of binary data; please open it in binary mode."
_MSG_UNSUPPORTED = f"This file is not a recognised image type; please use {_ACCEPTED}."
_MSG_OTHER_IMAGE = "This is a {kind} image, which is not read here; please export the X-ray as " + _ACCEPTED + "."
# Image formats people may try that are refused by name (a GIF or WebP screenshot, a HEIC phone photo).
_OTHER_IMAGES = ((b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"RIFF", "WebP"), (b"\x00\x00\x00\x18ftypheic", "HEIC"),
                 (b"\x00\x00\x00\x1cftypheic", "HEIC"), (b"\x00\x00\x00 ftypheic", "HEIC"))
_MSG_TEXT = f"This file contains text, not an image; please use {_ACCEPTED}."
_MSG_PDF = f"This file is a PDF document, not an image; please export the X-ray itself as {_ACCEPTED}."
_MSG_CORRUPT = "This file could not be read as an image: it may be corrupt; please export it again."
_MSG_TRUNCATED = "This image file is incomplete (it ends too early); please export it again."
_MSG_BOMB = "This image claims to be far too large to open safely; please export it at a lower resolution."
_MSG_MEMORY = "This image is too large to decode with the memory available; please export it at a lower resolution."
_MSG_PIXEL_FORMAT = ("This image uses an unsupported pixel format ({mode}); "
                     "please export it as an 8- or 16-bit grayscale PNG.")
_MSG_NOT_FINITE = "This image contains invalid (not-a-number) pixel values; please export it again."
_MSG_DICOM_CORRUPT = "This DICOM file could not be read: it may be corrupt or truncated; please export it again."
_MSG_DICOM_NO_PIXELS = ("This DICOM file contains no image (no pixel data), for example a report; "
                        "please export the X-ray image itself.")
_MSG_DICOM_FRAMES = ("This DICOM file contains {frames} frames, but only single X-ray images are supported; "
                     "please export one image per file.")
_MSG_DICOM_COLOUR = ("This DICOM file uses the {pi} colour format, which is not supported; "
                     "please export it as a grayscale (MONOCHROME2) image.")
_MSG_DICOM_NO_DECODER = ("This DICOM file is compressed with {ts}, which this system cannot decode; "
                         "please export it uncompressed (Explicit VR Little Endian).")
_MSG_DICOM_DECODE_FAILED = ("This DICOM file's image data, compressed with {ts}, could not be decoded and may be "
                            "damaged; please export it again, preferably uncompressed.")
_MSG_DICOM_PIXELS_BROKEN = ("The image data in this DICOM file is incomplete or does not match its header; "
                            "please export it again.")

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
# Sizes of the BMP info headers Pillow understands; "BM" alone is too weak a signature.
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_DICOM_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR "
                       b"US UT UV".split())
# Bytes found in text files (the heuristic of the `file` command): printable, whitespace, ESC, BEL, BS.
_TEXT_BYTES = bytes(sorted({7, 8, 9, 10, 12, 13, 27} | set(range(0x20, 0x100)) - {0x7F}))
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_PIL_BITS = {"1": 1, "L": 8, "LA": 8, "La": 8, "P": 8, "PA": 8, "RGB": 8, "RGBA": 8, "RGBa": 8, "RGBX": 8,
             "CMYK": 8, "YCbCr": 8, "LAB": 8, "HSV": 8, "I;16": 16, "I;16L": 16, "I;16B": 16, "I;16N": 16}
_DICOM_MONO = frozenset({"MONOCHROME1", "MONOCHROME2"})
# pydicom's pixel_array converts these to RGB, so a luminance reduction is all that is left to do.
_DICOM_RGB_LIKE = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"})
# Code strings (VR CS) such as "PA" or "CHEST"; anything else is dropped rather than risk free text.
_CODE_STRING = re.compile(r"[A-Z0-9_ ]{1,16}")


class XrayInputError(ValueError):
    """An image could not be used; the message is one sentence for a person."""

    def __init__(self, message: str) -> None:
        # Collapse whitespace so the message is always a single line, whatever is formatted into it.
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class Xray:
    """A decoded radiograph: float32 grayscale pixels in [0, 1] and non-identifying metadata."""

    pixels: np.ndarray
    metadata: dict = field(default_factory=dict)


def load_xray(source, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS,
              min_side: int = DEFAULT_MIN_SIDE) -> Xray:
    """Decode an X-ray image from bytes, a path or a file-like object.

    Args:
        source: the file's contents (bytes, bytearray or memoryview), a path (str or
            os.PathLike) or an object with ``.read()`` such as a Streamlit UploadedFile
            (read from its start when it can seek).
        max_bytes: largest accepted file size in bytes, checked before anything is decoded.
        max_pixels: largest accepted width * height, checked from the header before the
            pixels are decoded. For Pillow formats, Pillow's own decompression-bomb limit
            (about 179 megapixels) still applies above it.
        min_side: smallest accepted width and height in pixels.

    Returns:
        An `Xray` whose pixels are a C-contiguous float32 HxW array in [0, 1] (after EXIF
        rotation) and whose metadata holds width, height, bit_depth, format, mode and
        colourfulness (Hasler & Suesstrunk, 0 for gray images: a photo scores high, a radiograph
        saved as RGB near 0), plus modality, view_position, body_part_examined,
        photometric_interpretation and patient_age_years (whole years, or None; the dates it may
        come from are never kept) for DICOM.

    Raises:
        XrayInputError: for every problem; the message is one sentence for a clinician.
    """
    data = _read_source(source, max_bytes)
    kind = _sniff_format(data)
    if kind == "DICOM":
        pixels, metadata = _decode_dicom(data, max_pixels, min_side)
    else:
        pixels, metadata = _decode_raster(data, kind, max_pixels, min_side)
    return Xray(pixels=_finish(pixels), metadata=metadata)


# --------------------------------------------------------------------------- reading the source


def _read_source(source, max_bytes: int) -> bytes:
    """Return the raw bytes of `source`, refusing empty and over-sized input before decoding."""
    if source is None:
        raise XrayInputError(_MSG_NO_SOURCE)
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = _bytes_like(source, max_bytes)
    elif isinstance(source, (str, os.PathLike)):
        data = _read_path(source, max_bytes)
    elif callable(getattr(source, "read", None)):
        data = _read_stream(source, max_bytes)
    else:
        raise XrayInputError(_MSG_BAD_SOURCE)
    if not data:
        raise XrayInputError(_MSG_EMPTY)
    return data


def _bytes_like(source, max_bytes: int) -> bytes:
    """Bytes of an in-memory buffer; the size is checked before a copy is made."""
    size = source.nbytes if isinstance(source, memoryview) else len(source)
    if size > max_bytes:
        raise XrayInputError(_too_large_message(size, max_bytes))
    if isinstance(source, memoryview):
        return source.tobytes()
    return bytes(source)


def _read_path(source, max_bytes: int) -> bytes:
    """Read a file from disk, checking with os.stat that it is a file of acceptable size first."""
    try:
        path = os.fspath(source)
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):  # ValueError: e.g. a NUL byte in the path.
        raise XrayInputError(_MSG_NOT_FOUND) from None
    except OSError as error:
        raise XrayInputError(_os_error_message(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise XrayInputError(_MSG_IS_DIRECTORY)
    if not stat.S_ISREG(info.st_mode):  # A pipe or device could block or never end.
        raise XrayInputError(_MSG_CANNOT_OPEN)
    if info.st_size > max_bytes:
        raise XrayInputError(_too_large_message(info.st_size, max_bytes))
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise XrayInputError(_os_error_message(error)) from None
    # The file may have grown between stat and read.
    if len(data) > max_bytes:
        raise XrayInputError(_too_large_message(None, max_bytes))
    return data


def _os_error_message(error: OSError) -> str:
    """A message for an OSError; the error's own text is not used because it quotes the path."""
    if isinstance(error, FileNotFoundError):
        return _MSG_NOT_FOUND
    if isinstance(error, IsADirectoryError):
        return _MSG_IS_DIRECTORY
    if isinstance(error, PermissionError):
        return _MSG_NO_ACCESS
    return _MSG_CANNOT_OPEN


def _read_stream(stream, max_bytes: int) -> bytes:
    """Read a file-like object from its start, never more than max_bytes + 1 bytes."""
    size = getattr(stream, "size", None)  # Streamlit's UploadedFile knows its size before reading.
    if isinstance(size, int) and size > max_bytes:
        raise XrayInputError(_too_large_message(size, max_bytes))
    try:
        # A Streamlit rerun hands over the same UploadedFile, possibly already read to the end.
        if callable(getattr(stream, "seek", None)):
            stream.seek(0)
        data = stream.read(max_bytes + 1)
    except (OSError, ValueError, TypeError):  # ValueError: a closed file; TypeError: read() takes no size.
        raise XrayInputError(_MSG_CANNOT_OPEN) from None
    if isinstance(data, str):
        raise XrayInputError(_MSG_TEXT_STREAM)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise XrayInputError(_MSG_BAD_SOURCE)
    if len(data) > max_bytes:
        raise XrayInputError(_too_large_message(None, max_bytes))
    return bytes(data)


def _describe_bytes(size: int, *, round_up: bool = False) -> str:
    """A size such as "41.2 MB" (decimal megabytes, as the browser and the upload widget count them); rounded
    up for the file so it never looks equal to the limit."""
    for unit, scale in (("MB", MEGABYTE), ("KB", 1000)):
        if size >= scale:
            value = math.ceil(size * 10 / scale) / 10 if round_up else math.floor(size * 10 / scale) / 10
            return f"{value:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size:,} bytes"


def _too_large_message(size: int | None, max_bytes: int) -> str:
    limit = _describe_bytes(max_bytes)
    if size is None:
        return f"This file is larger than the {limit} limit; please use a smaller export."
    return f"This file is {_describe_bytes(size, round_up=True)}, larger than the {limit} limit; " \
           "please use a smaller export."


# --------------------------------------------------------------------------- format detection


def _sniff_format(data: bytes) -> str:
    """Name the format from the leading bytes ("PNG", "JPEG", "TIFF", "BMP" or "DICOM")."""
    # DICOM first: its 128-byte preamble may itself start like a TIFF (dual-format files).
    if data[128:132] == b"DICM" or data.startswith(b"DICM"):
        return "DICOM"
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data.startswith(b"BM") and len(data) >= 18 and int.from_bytes(data[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if _looks_like_bare_dicom(data):
        return "DICOM"
    if data.startswith(b"%PDF"):
        raise XrayInputError(_MSG_PDF)
    for magic, kind in _OTHER_IMAGES:
        if data.startswith(magic) and (kind != "WebP" or data[8:12] == b"WEBP"):
            raise XrayInputError(_MSG_OTHER_IMAGE.format(kind=kind))
    if not data[:4096].translate(None, _TEXT_BYTES):
        raise XrayInputError(_MSG_TEXT)
    raise XrayInputError(_MSG_UNSUPPORTED)


def _looks_like_bare_dicom(data: bytes) -> bool:
    """Whether data is a DICOM stream without preamble: it starts with a group 0002 or 0008 element.

    Only such data is later read with pydicom's ``force=True``, which would otherwise
    accept almost any bytes.
    """
    if len(data) < 8 or int.from_bytes(data[0:2], "little") not in (0x0002, 0x0008):
        return False
    # Explicit VR shows a two-letter VR after the tag; implicit VR a 4-byte length that fits in the file.
    return data[4:6] in _DICOM_VRS or int.from_bytes(data[4:8], "little") < len(data)


def _check_dimensions(width: int, height: int, max_pixels: int, min_side: int) -> None:
    """Refuse images with too many pixels or a too-short side; called before decoding pixels."""
    if width * height > max_pixels:
        raise XrayInputError(f"This image is {width:,} x {height:,} pixels, more than the limit of "
                             f"{max_pixels:,} pixels; please export it at a lower resolution.")
    if min(width, height) < min_side:
        raise XrayInputError(f"This image is only {width:,} x {height:,} pixels, below the minimum of "
                             f"{min_side:,} pixels per side; please use the full-resolution X-ray.")


def _finish(pixels: np.ndarray) -> np.ndarray:
    """Guarantee the documented output: finite float32 HxW in [0, 1], C-contiguous."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if not np.isfinite(pixels).all():
        raise XrayInputError(_MSG_NOT_FINITE)
    return np.ascontiguousarray(np.clip(pixels, 0.0, 1.0, out=pixels))


# --------------------------------------------------------------------------- Pillow formats


def _decode_raster(data: bytes, kind: str, max_pixels: int, min_side: int) -> tuple[np.ndarray, dict]:
    """Decode PNG/JPEG/TIFF/BMP with Pillow into grayscale pixels and metadata."""
    try:
        image = _open_checked(data, kind, max_pixels, min_side)
        mode = image.mode
        colour = colourfulness(np.asarray(image.convert("RGB"))) if mode not in _GRAY_MODES else 0.0
        pixels, bits = _pil_to_gray(image)
    except XrayInputError:
        raise
    except MemoryError:
        raise XrayInputError(_MSG_MEMORY) from None
    except Image.DecompressionBombError:
        raise XrayInputError(_MSG_BOMB) from None
    except Exception as exc:  # Pillow raises OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error...
        raise XrayInputError(_MSG_TRUNCATED if _looks_truncated(exc) else _MSG_CORRUPT) from exc
    height, width = pixels.shape
    return pixels, {"width": width, "height": height, "bit_depth": bits, "format": kind, "mode": mode,
                    "colourfulness": round(colour, 2)}


def colourfulness(rgb: np.ndarray) -> float:
    """Colourfulness of an RGB image (Hasler & Suesstrunk 2003) on the 0-255 scale.

    M = sqrt(sd(rg)^2 + sd(yb)^2) + 0.3 * sqrt(mean(rg)^2 + mean(yb)^2), with rg = R - G and
    yb = (R + G) / 2 - B. Gray images score 0; the paper calls 15 "slightly", 33 "moderately" and
    above 59 "quite" colourful. Float images in [0, 1] are scaled to 0-255 first.

    Raises:
        ValueError: the array is not H x W x 3 (or x 4; alpha is ignored).
    """
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or image.size == 0:
        raise ValueError(f"rgb must be an H x W x 3 image, got shape {image.shape}")
    values = image[..., :3].astype(np.float64)
    if np.issubdtype(image.dtype, np.floating) and values.max(initial=0.0) <= 1.0:
        values = values * 255.0
    elif image.dtype == np.uint16:
        values = values / 257.0
    red, green, blue = values[..., 0], values[..., 1], values[..., 2]
    rg, yb = red - green, 0.5 * (red + green) - blue
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def _open_checked(data: bytes, kind: str, max_pixels: int, min_side: int) -> Image.Image:
    """Open with Pillow, check the header's size, then decode and apply the EXIF orientation."""
    with warnings.catch_warnings():
        # Our own max_pixels check just below is the guard; Pillow's warning would only duplicate it.
        # Pillow still raises DecompressionBombError for absurd sizes, which the caller maps to a message.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data), formats=[kind])
    _check_dimensions(image.width, image.height, max_pixels, min_side)
    image.load()
    if kind == "PNG" and not _png_pixel_data_complete(data):
        # Pillow accepts a PNG whose compressed pixel stream ends cleanly but early and fills the
        # missing rows with black; a half-black radiograph must not reach the model.
        raise XrayInputError(_MSG_TRUNCATED)
    try:
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # noqa: BLE001 - broken EXIF must not block a readable image: show it as stored, as viewers do.
        pass
    return image


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _png_pixel_data_complete(data: bytes) -> bool:
    """Whether a PNG's IDAT stream decompresses to every row its header promises.

    Reads the chunks (no CRC check: Pillow did that), decompresses at most the expected size plus
    one byte and compares. A file whose structure cannot be followed is left to Pillow's verdict.
    """
    try:
        position, idat, header = 8, [], None
        while position + 8 <= len(data):
            length = struct.unpack(">I", data[position:position + 4])[0]
            kind = data[position + 4:position + 8]
            body = data[position + 8:position + 8 + length]
            if kind == b"IHDR":
                header = struct.unpack(">IIBBBBB", body[:13])
            elif kind == b"IDAT":
                idat.append(body)
            elif kind == b"IEND":
                break
            position += 12 + length
        if header is None:
            return True
        width, height, depth, colour, _, _, interlace = header
        bits = _PNG_CHANNELS[colour] * depth
        passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
        expected = 0
        for x0, y0, dx, dy in passes:
            pass_width, pass_height = -(-max(width - x0, 0) // dx), -(-max(height - y0, 0) // dy)
            if pass_width and pass_height:
                expected += pass_height * (1 + -(-pass_width * bits // 8))
        produced = len(zlib.decompressobj().decompress(b"".join(idat), expected + 1))
    except (struct.error, KeyError, zlib.error):
        return True
    return produced >= expected


def _pil_to_gray(image: Image.Image) -> tuple[np.ndarray, int]:
    """Grayscale float32 in [0, 1] scaled by the true bit depth, and that depth in bits.

    Alpha is composited onto black, so fully transparent areas become 0 (like air).
    """
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.float32) / 65535.0, 16
    if mode == "I":
        values = np.asarray(image)
        # 16-bit PNGs may open as "I"; other 32-bit integer images are scaled by the 32-bit range.
        bits = 16 if values.max(initial=0) <= 65535 else 32
        return values.astype(np.float32) / np.float32(2 ** bits - 1), bits
    if mode not in _PIL_BITS:  # "F", "I;32"...: no defined black and white level to scale by.
        raise XrayInputError(_MSG_PIXEL_FORMAT.format(mode=mode))
    if mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA")).astype(np.float32) / 255.0
        return (rgba[..., :3] @ _LUMA) * rgba[..., 3], _PIL_BITS[mode]
    if mode != "L":
        # RGB, palette, CMYK, YCbCr, 1-bit...: Pillow's "L" conversion uses the same BT.601 luminance.
        image = image.convert("L")
    return np.asarray(image).astype(np.float32) / 255.0, _PIL_BITS[mode]


def _looks_truncated(exc: Exception) -> bool:
    """Tell a file that ends early from a damaged one, for a more useful message.

    Pillow reports missing data as "image file is truncated" (or EOFError), reliably for
    PNG and JPEG cut at any point after the header.
    """
    return isinstance(exc, EOFError) or "truncated" in str(exc).lower()


# --------------------------------------------------------------------------- DICOM


def _decode_dicom(data: bytes, max_pixels: int, min_side: int) -> tuple[np.ndarray, dict]:
    """Decode a single-frame DICOM image into display-ready grayscale pixels and safe metadata."""
    try:
        ds = _read_dicom(data)
        _check_dicom_header(ds, max_pixels, min_side)
        values = _dicom_pixel_values(ds)
        pixels = _dicom_to_unit(values, ds)
        metadata = _dicom_metadata(ds)
    except XrayInputError:
        raise
    except MemoryError:
        raise XrayInputError(_MSG_MEMORY) from None
    except Exception:  # noqa: BLE001 - turned into one sentence below
        # pydicom raises many types while parsing lazily. `from None` keeps its text, which can
        # quote element values, out of tracebacks and logs.
        raise XrayInputError(_MSG_DICOM_CORRUPT) from None
    return pixels, metadata


def _read_dicom(data: bytes):
    """Parse the dataset; ``force=True`` only for a stream already recognised as preamble-less DICOM."""
    import pydicom  # Lazy: training reads only JPEG/PNG and should not pay for the import.

    if data.startswith(b"DICM"):
        data = bytes(128) + data  # Some writers drop the preamble but keep the "DICM" marker.
    has_marker = data[128:132] == b"DICM"
    ds = pydicom.dcmread(io.BytesIO(data), force=not has_marker)
    _ensure_transfer_syntax(ds)
    return ds


def _ensure_transfer_syntax(ds) -> None:
    """Record the encoding pydicom detected when a preamble-less file has no file meta."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    if getattr(ds, "file_meta", None) is None:
        ds.file_meta = FileMetaDataset()
    if "TransferSyntaxUID" in ds.file_meta:
        return
    implicit, little = ds.original_encoding
    if implicit:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _check_dicom_header(ds, max_pixels: int, min_side: int) -> None:
    """Refuse what cannot be shown as one grayscale X-ray, before any pixel data is decoded."""
    if not any(name in ds for name in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise XrayInputError(_MSG_DICOM_CORRUPT if _dicom_looks_truncated(ds) else _MSG_DICOM_NO_PIXELS)
    frames = int(ds.get("NumberOfFrames") or 1)
    if frames > 1:
        raise XrayInputError(_MSG_DICOM_FRAMES.format(frames=frames))
    photometric = _code_value(ds, "PhotometricInterpretation")
    if photometric is None:  # Required for every image; without it the pixels cannot be interpreted.
        raise XrayInputError(_MSG_DICOM_CORRUPT)
    if photometric not in _DICOM_MONO | _DICOM_RGB_LIKE:
        raise XrayInputError(_MSG_DICOM_COLOUR.format(pi=photometric))
    _check_dimensions(int(ds.Columns), int(ds.Rows), max_pixels, min_side)


def _dicom_looks_truncated(ds) -> bool:
    """Whether a dataset without pixel data was cut short rather than being a non-image object.

    pydicom stops silently at the end of the data, so a file cut before its pixel data reads
    like a report. A real non-image object has a SOP Class UID and no image geometry (Rows),
    and its last element is complete.
    """
    from pydicom.dataelem import RawDataElement

    if "SOPClassUID" not in ds or "Rows" in ds:
        return True
    last = ds.get_item(max(ds.keys())) if len(ds) else None  # get_item: raw, without decoding the value
    return isinstance(last, RawDataElement) and last.value is not None and last.length != 0xFFFFFFFF \
        and len(last.value) < last.length


def _dicom_pixel_values(ds) -> np.ndarray:
    """Stored pixel values, with messages that name an undecodable compression."""
    from pydicom.pixels import get_decoder

    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_compressed:
        try:
            available = get_decoder(syntax).is_available
        except NotImplementedError:
            available = False
        if not available:
            raise XrayInputError(_MSG_DICOM_NO_DECODER.format(ts=_syntax_name(syntax)))
    try:
        return ds.pixel_array
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - decoders raise many types; turned into one sentence
        if syntax.is_compressed:
            raise XrayInputError(_MSG_DICOM_DECODE_FAILED.format(ts=_syntax_name(syntax))) from None
        raise XrayInputError(_MSG_DICOM_PIXELS_BROKEN) from None


def _syntax_name(syntax) -> str:
    """A transfer syntax's registered name, e.g. "JPEG 2000 Image Compression"; never free text."""
    if syntax.is_transfer_syntax and syntax.name != str(syntax):
        return syntax.name
    uid = str(syntax)  # Shown only if it looks like a UID, in case a broken file holds text there.
    return f"an unrecognised compression ({uid})" if re.fullmatch(r"[0-9.]{1,64}", uid) else "an unknown compression"


def _dicom_to_unit(values: np.ndarray, ds) -> np.ndarray:
    """Modality LUT, then VOI LUT or first window, scaled to [0, 1]; MONOCHROME1 inverted."""
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    photometric = _code_value(ds, "PhotometricInterpretation")
    if photometric not in _DICOM_MONO:
        # pydicom has already converted YBR to RGB; colour images have no modality or VOI LUT.
        return (values.astype(np.float32) @ _LUMA) / np.float32(2 ** int(ds.BitsStored) - 1)
    values = apply_modality_lut(values, ds)
    voi_range = _voi_output_range(ds)
    if voi_range is not None:
        values = apply_voi_lut(_integral_if_possible(values), ds, index=0)
        low, high = voi_range
    elif _stored_as_display_bytes(ds):
        # 8-bit unsigned values with no window and no rescale are already display grey levels: shown as
        # stored, as the same pixels saved as a PNG are, so both files give the model the same input.
        low, high = 0.0, float(2 ** int(ds.BitsStored) - 1)
    else:
        # No usable VOI in the file: stretch to the data's own range, as DICOM viewers do.
        low, high = float(np.min(values)), float(np.max(values))
    unit = (values.astype(np.float64) - low) / (high - low) if high > low else np.zeros(values.shape)
    unit = np.clip(unit, 0.0, 1.0)
    # MONOCHROME1 stores bone dark; invert so that bright always means dense, as in MONOCHROME2.
    return 1.0 - unit if photometric == "MONOCHROME1" else unit


def _stored_as_display_bytes(ds) -> bool:
    """Unsigned pixel data of at most 8 bits whose Modality LUT is the identity (no rescale, no LUT)."""
    try:
        bits = int(ds.get("BitsStored") or 0)
        unsigned = int(ds.get("PixelRepresentation") or 0) == 0
        slope, intercept = float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        return False
    return 0 < bits <= 8 and unsigned and slope == 1.0 and intercept == 0.0 and "ModalityLUTSequence" not in ds


def _voi_output_range(ds) -> tuple[float, float] | None:
    """The range the VOI step maps onto, so the window's contrast is kept rather than re-stretched.

    Mirrors pydicom's apply_voi_lut choice (VOI LUT Sequence first, else the window); returns
    None when there is no VOI or it is unusable (e.g. a zero window width).
    """
    from pydicom.pixels import apply_voi, apply_windowing

    try:
        sequence = ds.get("VOILUTSequence")
        if sequence and "LUTDescriptor" in sequence[0] and "LUTData" in sequence[0]:
            entries, first = int(sequence[0].LUTDescriptor[0]) or 65536, int(sequence[0].LUTDescriptor[1])
            mapped = apply_voi(np.arange(first, first + entries), ds, index=0)
        elif ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
            # A window sends everything below it to its lowest output and above it to its highest.
            mapped = apply_windowing(np.array([-np.inf, np.inf]), ds, index=0)
        else:
            return None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, NotImplementedError):
        return None
    low, high = float(np.min(mapped)), float(np.max(mapped))
    return (low, high) if high > low else None


def _integral_if_possible(values: np.ndarray) -> np.ndarray:
    """Integer values as int64: a VOI LUT indexes by value and pydicom warns about float input."""
    if values.dtype.kind == "f" and np.array_equal(values, np.round(values)):
        return values.astype(np.int64)
    return values


def _dicom_metadata(ds) -> dict:
    """Only non-identifying fields; identifying elements are never even read."""
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 0)  # float pixel data has no BitsStored
    colour = int(ds.get("SamplesPerPixel") or 1) > 1
    mode = "RGB" if colour else "L" if bits <= 8 else "I;16" if bits <= 16 else "I"
    return {
        "width": int(ds.Columns),
        "height": int(ds.Rows),
        "bit_depth": bits,
        "format": "DICOM",
        "mode": mode,
        "modality": _code_value(ds, "Modality", RADIOGRAPH_MODALITIES),
        "view_position": _code_value(ds, "ViewPosition", FRONTAL_VIEWS | LATERAL_VIEWS),
        "body_part_examined": _code_value(ds, "BodyPartExamined", CHEST_PARTS),
        "photometric_interpretation": _code_value(ds, "PhotometricInterpretation"),
        "patient_age_years": patient_age_years(ds),
        "patient_age_problem": patient_age_problem(ds),
    }


_AGE_STRING = re.compile(r"(\d{3})([DWMY])")
# Why a header that has an age gives none (`patient_age_problem`); `model.trust.facts` words each for the reader.
AGE_NOT_IN_FORM = "age_not_in_form"  # PatientAge is not "045Y" and the like
AGE_PLACEHOLDER = "age_placeholder"  # "999Y" in any unit, or beyond MAX_AGE years
BIRTH_AFTER_STUDY = "birth_after_study"  # no PatientAge; the birth date falls after the study's date
DATES_BEYOND_AGE = "dates_beyond_age"  # no PatientAge; the dates give more than MAX_AGE years
_DAYS_PER_UNIT = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}
_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
# The study's date, else the nearest date the header has; the birth date is used only with one of them.
_STUDY_DATES = ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate")


def patient_age_years(ds) -> int | None:
    """The patient's age in whole years at the study, from PatientAge ("006Y", "018M", "010W", "005D"),
    else from PatientBirthDate and the study's date; None when the header gives neither.

    Only this number leaves the function: the dates themselves are identifying and are never
    returned, stored or logged (raw bytes are read, so pydicom never warns with a value either).
    """
    years = _age_element_years(ds)
    if years is not None and years <= MAX_AGE:
        return years
    birth, study = _raw_date(ds, "PatientBirthDate"), _study_date(ds)
    if birth is None or study is None or study < birth:
        return None
    years = study.year - birth.year - ((study.month, study.day) < (birth.month, birth.day))
    return years if years <= MAX_AGE else None


def patient_age_problem(ds) -> str | None:
    """Why a header that gives an age gives none that can be used, so that the reader is told what to check
    rather than "not stated": PatientAge not in DICOM's form ("6 years", "ABC": `AGE_NOT_IN_FORM`), a placeholder
    ("999Y") or beyond `MAX_AGE` years (`AGE_PLACEHOLDER`); without PatientAge, a birth date after the study's
    date (`BIRTH_AFTER_STUDY`) or dates giving more than `MAX_AGE` years (`DATES_BEYOND_AGE`). None when the header
    gives an age, or none at all. Only the kind of problem leaves the function, never the element's text or a date."""
    if patient_age_years(ds) is not None:
        return None
    if _raw_text(ds, "PatientAge"):
        return AGE_NOT_IN_FORM if _AGE_STRING.fullmatch(_raw_text(ds, "PatientAge")) is None else AGE_PLACEHOLDER
    birth, study = _raw_date(ds, "PatientBirthDate"), _study_date(ds)
    if birth is None or study is None:
        return None
    return BIRTH_AFTER_STUDY if study < birth else DATES_BEYOND_AGE


def _age_element_years(ds) -> int | None:
    """PatientAge in whole years, None when absent, not in DICOM's form or the placeholder "999" in any unit
    ("999Y", "999M": 83 years), which some systems write for an age they do not have."""
    match = _AGE_STRING.fullmatch(_raw_text(ds, "PatientAge") or "")
    if not match or match.group(1) == "999":
        return None
    return int(int(match.group(1)) * _DAYS_PER_UNIT[match.group(2)] // 365.25)


def _study_date(ds):
    """The study's date, else the nearest date the header has (`_STUDY_DATES`), as a `datetime.date`."""
    return next((d for d in (_raw_date(ds, k) for k in _STUDY_DATES) if d is not None), None)


def _raw_text(ds, keyword: str) -> str | None:
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None or tag not in ds:
        return None
    value = ds.get_item(tag).value
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else str(value or "")
    return text.strip(" \x00")


def _raw_date(ds, keyword: str):
    """A DA element as a `datetime.date`, or None when absent or not a valid date."""
    from datetime import date

    match = _DATE.fullmatch(_raw_text(ds, keyword) or "")
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _code_value(ds, keyword: str, known: frozenset = frozenset()) -> str | None:
    """A code string such as "PA" or "CHEST", or None when absent or possibly free text.

    The raw bytes are read, bypassing pydicom's value validation, which would otherwise warn
    and log an invalid value verbatim (a site might have typed a name into the field). DICOM's code
    strings are upper case (PS3.5, value representation CS), but some systems write "pa" or "chest": such a
    value is taken, upper-cased, when it is one of the `known` codes, and only then (anything else in
    lower case may be free text).
    """
    text = _raw_text(ds, keyword)
    if text is not None and text.upper() in known:
        return text.upper()
    return text if text is not None and _CODE_STRING.fullmatch(text) else None
