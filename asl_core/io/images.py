"""Decode whatever users upload into one predictable array: RGB, uint8, H x W x 3.

Users send phone photos (EXIF-rotated, up to 200 megapixels), screenshots (RGBA), scans
(greyscale, CMYK), 16-bit PNGs, GIFs, HEIC and AVIF, and sometimes a PDF, an EPS or a
half-uploaded file. Everything downstream (MediaPipe, the crops, the models) assumes one
layout, so every oddity is settled here, and every refusal is an `ImageError` whose message
can be shown to the user as it is.

Decisions worth knowing:
- Only the photo formats of `PHOTO_FORMATS` are decoded, chosen by the file's CONTENT (its
  first bytes), never by its name, and Pillow is told to use that one decoder: an EPS renamed
  `photo.jpg` never reaches Ghostscript, a TIFF never reaches the JPEG decoder.
- Sizes are checked before any pixel is decoded: the file's size (from `stat` for a path,
  before reading it), then the pixel count from the header, so a small file that claims
  80,000 x 80,000 pixels (a decompression bomb) costs nothing.
- Big photos are decoded small. A JPEG larger than `DECODE_MAX_SIDE` is decoded at 1/2, 1/4 or
  1/8 scale by libjpeg itself (Pillow's draft mode), so a 200 MP phone photo never exists in
  memory at full size; other formats are decoded whole (up to `MAX_PIXELS`) and reduced at
  once. Detection works on 1280 px and the crops on a few hundred, so nothing is lost.
- Transparent pixels are composited on BLACK, because the training photos (Massey) show a
  hand cut out on black, and crops are padded with black too: a cut-out hand PNG then looks
  like the data the models learnt from.
- 16-bit images are scaled by 255/65535 (not clipped), so a full-range 16-bit photo keeps its
  tones; 32-bit integer and float images are scaled by their own range when it is not 8-bit.
- Animated images give their first frame.
"""

from __future__ import annotations

import contextlib
import errno
import io
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin, UnidentifiedImageError

try:  # HEIC/HEIF (iPhone photos): libheif + libde265 (LGPL) inside the pi-heif wheel, which
    # only decodes; pillow-heif would also ship the GPL x265 encoder. AVIF is Pillow's own.
    import pi_heif

    pi_heif.register_heif_opener()
    HEIF_AVAILABLE = True
except ImportError:  # pragma: no cover - pi-heif is in the lock
    HEIF_AVAILABLE = False


MAX_FILE_BYTES = 100_000_000
"""Largest photo file read (100 MB): a 200 MP phone JPEG is 30-60 MB."""


MAX_PIXELS = 50_000_000
"""Most pixels decoded at full scale (50 MP: 8160x6120 phone photos, 48 MP HEIC). A JPEG is
held to this after its reduced-scale decode; every other format before decoding."""


MAX_SOURCE_PIXELS = 250_000_000
"""Largest baseline JPEG read at reduced scale (250 MP: every phone camera, 200 MP included).
Above it a file is treated as a decompression bomb."""


DECODE_MAX_SIDE = 4096
"""Longest side of the decoded image: larger photos are decoded at reduced scale (see doc)."""


MIN_SIDE = 32
"""Smallest side accepted: below this MediaPipe cannot find the 21 landmarks of a hand."""


DETECTION_MAX_SIDE = 1280
"""Longest side used for hand detection; MediaPipe works on 192-256 px inputs internally."""


SNIFF_BYTES = 64
"""How many leading bytes decide a file's format."""


# Pillow's own guard, used by every Pillow call in the process (training loaders included):
# warn above MAX_PIXELS, refuse above twice that. load_image applies its own limits (above).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


@dataclass(frozen=True)
class PhotoFormat:
    """One accepted photo format: its name for people, Pillow's id, its file suffixes."""

    name: str
    pillow: str
    suffixes: tuple[str, ...]


PHOTO_FORMATS: tuple[PhotoFormat, ...] = (
    PhotoFormat("JPEG", "JPEG", (".jpg", ".jpeg", ".jpe", ".jfif")),
    PhotoFormat("PNG", "PNG", (".png",)),
    PhotoFormat("WebP", "WEBP", (".webp",)),
    PhotoFormat("HEIC", "HEIF", (".heic", ".heif")),
    PhotoFormat("AVIF", "AVIF", (".avif",)),
    PhotoFormat("BMP", "BMP", (".bmp",)),
    PhotoFormat("GIF", "GIF", (".gif",)),
    PhotoFormat("TIFF", "TIFF", (".tif", ".tiff")),
)
"""The allow-list: the only formats decoded, anywhere (API, command line, pages)."""


def readable_formats() -> tuple[PhotoFormat, ...]:
    """The formats this installation decodes (HEIC needs pi-heif)."""
    return tuple(f for f in PHOTO_FORMATS if f.pillow != "HEIF" or HEIF_AVAILABLE)


def photo_suffixes() -> tuple[str, ...]:
    """File suffixes of the readable formats, lower case with the dot ('.jpg', ...)."""
    return tuple(suffix for f in readable_formats() for suffix in f.suffixes)


def formats_sentence() -> str:
    """'JPEG, PNG, ... or TIFF': the readable formats for messages."""
    names = [f.name for f in readable_formats()]
    return ", ".join(names[:-1]) + " or " + names[-1]


class ImageError(ValueError):
    """An upload that cannot be used as a photo; the message is meant for the user."""


class NotAnImageError(ImageError):
    """Not one of the accepted photo formats (PDF, text, video, EPS, ...), or empty."""


class TruncatedImageError(ImageError):
    """The file ends before the picture does (interrupted upload or copy)."""


class ImageTooLargeError(ImageError):
    """A file over `MAX_FILE_BYTES`, or more pixels than allowed; refused before decoding."""


class ImageTooSmallError(ImageError):
    """Too small to show a hand with its landmarks."""


_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_AVIF_BRANDS = (b"avif", b"avis")


def _ftyp_brands(head: bytes) -> tuple[bytes, ...]:
    """ISO-BMFF (HEIC, AVIF, MP4) major and compatible brands; () for other files."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return ()
    size = int.from_bytes(head[:4], "big")
    end = min(len(head), max(size, 16))
    return (head[8:12], *(head[i : i + 4] for i in range(16, end - 3, 4)))


def sniff_format(head: bytes) -> PhotoFormat | None:
    """The accepted photo format whose signature starts `head` (its first `SNIFF_BYTES`
    bytes), or None. Content decides, never the file name; HEIC counts only when readable."""
    by_id = {f.pillow: f for f in readable_formats()}
    brands = _ftyp_brands(head)
    if head.startswith(b"\xff\xd8\xff"):
        kind = "JPEG"
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "PNG"
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        kind = "WEBP"
    elif head.startswith((b"GIF87a", b"GIF89a")):
        kind = "GIF"
    elif head.startswith((b"II*\x00", b"MM\x00*")):
        kind = "TIFF"
    elif head.startswith(b"BM") and len(head) >= 26:
        kind = "BMP"
    elif brands and brands[0] in _AVIF_BRANDS:
        kind = "AVIF"
    elif brands and brands[0] in _HEIF_BRANDS:
        kind = "AVIF" if any(b in _AVIF_BRANDS for b in brands[1:]) else "HEIF"
    else:
        return None
    return by_id.get(kind)


# What refused files look like, to say so in the message.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF"),
    (b"%!PS", "a PostScript or EPS file"),
    (b"\xc5\xd0\xd3\xc6", "a PostScript or EPS file"),
    (b"8BPS", "a Photoshop (PSD) file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 image"),
    (b"\x00\x00\x01\x00", "an icon (ICO)"),
    (b"PK\x03\x04", "a ZIP archive or an Office document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x1aE\xdf\xa3", "a video (WebM/MKV)"),
    (b"OggS", "an audio or video file (Ogg)"),
    (b"ID3", "an MP3 audio file"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
)


def describe_content(data: bytes) -> str:
    """A short guess at what a refused file is ('a PDF', 'a text file', ...) from its first
    bytes (a few kB make the text guess better)."""
    head = data[:SNIFF_BYTES]
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF":
        return "a video or audio file (RIFF)" if head[8:12] != b"WEBP" else "a WebP image"
    brands = _ftyp_brands(head)
    if brands:
        if brands[0] in _HEIF_BRANDS:
            return "a HEIC/HEIF photo, which this installation cannot read; export it as JPEG"
        return "a video (MP4/MOV)"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "an SVG or XML file; export it as PNG or JPEG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "a web page (HTML)"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "a file of an unknown type"
    return "a text file"


def _not_a_photo(data: bytes) -> NotAnImageError:
    return NotAnImageError(
        f"This file is not an image (it looks like {describe_content(data)}). "
        f"Photos are read as {formats_sentence()}."
    )


def _empty() -> NotAnImageError:
    return NotAnImageError(
        "This file is empty (0 bytes): it holds no photo; copy or send the photo again."
    )


_NOT_REGULAR = "it holds no photo to read; give the photo file itself."


def _file_kind(mode: int) -> str:
    """'a named pipe (FIFO)', 'a character device' ... for a `st_mode` that is not a file."""
    kinds = (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device, such as /dev/null"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((name for test, name in kinds if test(mode)), "not a file")


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size < 1e9 else f"{size / 1e9:.1f} GB"


def _file_too_large(size: int, max_bytes: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"The file is {_mb(size)}; the limit for a photo is {_mb(max_bytes)}. "
        "Resize it or re-save it as JPEG and try again."
    )


def check_photo_file(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> int:
    """Refuse a path that cannot be a photo WITHOUT reading it: its size from `stat`, then
    its first bytes. Returns the size in bytes.

    Raises NotAnImageError (empty; not a regular file, such as a named pipe, which would block
    the read forever, or /dev/null; or not an accepted format, saying what it looks like),
    ImageTooLargeError (over `max_bytes`), or OSError (missing, a folder, unreadable).
    """
    path = Path(path)
    info = path.stat()
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "this is a folder, not a photo", str(path))
    if not stat.S_ISREG(info.st_mode):
        raise NotAnImageError(
            f"This is not a regular file ({_file_kind(info.st_mode)}): {_NOT_REGULAR}"
        )
    size = info.st_size
    if size == 0:
        raise _empty()
    if size > max_bytes:
        raise _file_too_large(size, max_bytes)
    with path.open("rb") as handle:
        head = handle.read(4096)
    if sniff_format(head[:SNIFF_BYTES]) is None:
        raise _not_a_photo(head)
    return size


def _read_bytes(
    source: bytes | bytearray | memoryview | str | Path | BinaryIO, max_bytes: int
) -> bytes:
    """All the bytes of the source, refusing a file over `max_bytes` before reading it."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    elif isinstance(source, str | Path):
        check_photo_file(source, max_bytes)
        data = Path(source).read_bytes()
    else:
        if hasattr(source, "seek"):
            # Rewind: Streamlit reruns hand over an UploadedFile that was read before. An
            # unseekable stream is read from where it is.
            with contextlib.suppress(OSError, ValueError):
                size = source.seek(0, io.SEEK_END)
                source.seek(0)
                if size > max_bytes:
                    raise _file_too_large(size, max_bytes)
        data = source.read(max_bytes + 1)
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"expected a binary file object, got one that returns {type(data)!r}")
    if len(data) > max_bytes:
        raise _file_too_large(len(data), max_bytes)
    return bytes(data)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}"


def _too_large(width: int, height: int, limit: int, what: str) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"The image is {_megapixels(width * height)} megapixels ({width}x{height}); "
        f"the limit is {limit / 1e6:g} megapixels {what}. Resize it and try again."
    )


_TRUNCATED_MESSAGE = (
    "The image is truncated: the file ends before the picture does; re-save it, or copy or "
    "send it again."
)


def _looks_truncated(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "truncated" in text or "broken data stream" in text or "premature end" in text


def _open_jpeg(data: bytes, max_pixels: int, max_source_pixels: int, max_side: int) -> Image.Image:
    """A JPEG's header, with libjpeg told to decode at the scale that fits `max_side`.

    Opened through the JPEG plugin itself, not `Image.open`, whose process-wide guard would
    refuse a 200 MP photo that is only ever decoded at 1/4 scale; the limits here replace it.
    A progressive JPEG keeps every DCT coefficient of the full image in memory whatever the
    scale (libjpeg), so it is held to `max_pixels` before decoding.
    """
    img = JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    width, height = img.size
    if width * height > max_source_pixels:
        raise _too_large(width, height, max_source_pixels, "for a JPEG")
    if img.info.get("progressive") and width * height > max_pixels:
        raise _too_large(width, height, max_pixels, "for a progressive JPEG; save it as baseline")
    longer = max(width, height)
    if longer > max_side:
        # Smallest libjpeg scale (1/2, 1/4, 1/8) that brings the longer side within max_side.
        factor = next((k for k in (2, 4, 8) if math.ceil(longer / k) <= max_side), 8)
        img.draft(img.mode, (max(1, width // factor), max(1, height // factor)))
    if img.size[0] * img.size[1] > max_pixels:
        raise _too_large(*img.size, max_pixels, "after reduced-scale decoding")
    return img


def _open(data: bytes, max_pixels: int, max_source_pixels: int, max_side: int) -> Image.Image:
    """Open the header only; refuse what is not an accepted photo, bombs and tiny images."""
    if not data:
        raise _empty()
    kind = sniff_format(data[:SNIFF_BYTES])
    if kind is None:
        raise _not_a_photo(data)
    try:
        if kind.pillow == "JPEG":
            img = _open_jpeg(data, max_pixels, max_source_pixels, max_side)
        else:
            img = Image.open(io.BytesIO(data), formats=[kind.pillow])
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        # Pillow refused from the header (above 2 x Image.MAX_IMAGE_PIXELS); its message
        # carries the pixel count, which is the useful part for the user.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else 0
        raise ImageTooLargeError(
            f"The image is {_megapixels(pixels)} megapixels; the limit is "
            f"{max_pixels / 1e6:g} megapixels for {kind.name}. Resize it and try again."
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # A signature with too little (or damaged) data after it to parse the header.
        if isinstance(exc, UnidentifiedImageError | EOFError) or _looks_truncated(exc):
            raise TruncatedImageError(_TRUNCATED_MESSAGE) from exc
        if len(data) < SNIFF_BYTES:
            raise TruncatedImageError(_TRUNCATED_MESSAGE) from exc
        raise ImageError(
            f"The image could not be read ({exc}); re-save it (e.g. as JPEG) and try again."
        ) from exc
    width, height = img.size
    if kind.pillow != "JPEG" and width * height > max_pixels:
        raise _too_large(width, height, max_pixels, f"for {kind.name}")
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"The image is {width}x{height} pixels, too small to show a hand; "
            f"it needs at least {MIN_SIDE} pixels on each side."
        )
    return img


def _decode(img: Image.Image) -> Image.Image:
    """Decode the pixels of the first frame, mapping decoder failures to ImageErrors."""
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(str(exc)) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # Pillow raises OSError("image file is truncated ...") for cut-off JPEGs and PNGs.
        # We do not set ImageFile.LOAD_TRUNCATED_IMAGES: a half-grey photo would silently
        # give a wrong answer, while an error tells the user to upload again.
        if isinstance(exc, EOFError) or _looks_truncated(exc):
            raise TruncatedImageError(_TRUNCATED_MESSAGE) from exc
        raise ImageError(
            f"The image could not be decoded ({exc}); re-save it (e.g. as JPEG) and try again."
        ) from exc
    return img


# EXIF orientation -> the transpose that makes the picture upright (the table of
# ImageOps.exif_transpose, applied here after reducing so the full-size picture is never copied).
_UPRIGHT: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 = upright); a damaged EXIF block counts as upright."""
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # damaged EXIF must not make a good picture unreadable
        return 1


# Modes Image.reduce cannot work on, and the mode that keeps their content for it.
_REDUCE_AS = {"P": "RGBA", "PA": "RGBA", "1": "L", "I;16": "I", "I;16L": "I", "I;16B": "I"}


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """Reduce by a whole factor (box filter) until the longer side is at most max_side."""
    factor = math.ceil(max(img.size) / max_side)
    if factor <= 1:
        return img
    if img.mode in _REDUCE_AS:
        img = img.convert(_REDUCE_AS[img.mode])
    return img.reduce(factor)


def _high_bit_depth_to_uint8(img: Image.Image) -> np.ndarray:
    """Scale 16-bit, 32-bit integer and float greyscale to 0..255 without clipping."""
    arr = np.asarray(img)
    if img.mode.startswith("I;16"):
        values = arr.astype(np.float32) * (255.0 / 65535.0)
    else:
        values = arr.astype(np.float64)
        finite = values[np.isfinite(values)]
        lo = float(finite.min()) if finite.size else 0.0
        hi = float(finite.max()) if finite.size else 0.0
        if img.mode == "F" and lo >= 0.0 and hi <= 1.0:
            values = values * 255.0  # float image in [0, 1]
        elif lo >= 0.0 and hi <= 255.0:
            pass  # 8-bit values stored in a wider type
        elif lo >= 0.0 and hi <= 65535.0 and img.mode != "F":
            values = values * (255.0 / 65535.0)  # 16-bit values stored as 32-bit
        else:
            values = (values - lo) * (255.0 / max(hi - lo, 1e-12))
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
    grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Any Pillow mode to RGB uint8; transparency is composited on black (see module doc)."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _high_bit_depth_to_uint8(img)
    if _has_alpha(img):
        rgba = img.convert("RGBA")
        black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        img = Image.alpha_composite(black, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def load_image(
    source: bytes | str | Path | BinaryIO,
    *,
    max_pixels: int = MAX_PIXELS,
    max_bytes: int = MAX_FILE_BYTES,
    max_side: int = DECODE_MAX_SIDE,
    max_source_pixels: int = MAX_SOURCE_PIXELS,
) -> np.ndarray:
    """Decode an uploaded photo to an upright RGB uint8 array of shape (H, W, 3).

    `source` is the raw bytes, a path, or a binary file object (Streamlit's UploadedFile).
    The longer side of the result is at most about `max_side` (larger photos are decoded at
    reduced scale, see the module doc). Raises an `ImageError` subclass with a message fit for
    the user; a missing path raises FileNotFoundError as usual.
    """
    data = _read_bytes(source, max_bytes)
    img = _open(data, max_pixels, max_source_pixels, max_side)
    with img:
        decoded = _decode(img)
        orientation = _orientation(decoded)
        small = _shrink(decoded, max_side)
        upright = small.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else small
        rgb = _to_rgb_array(upright)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageError(f"The image has an unexpected layout {rgb.shape}; re-save it as JPEG.")
    return rgb


def downscale_for_detection(
    rgb: np.ndarray, max_side: int = DETECTION_MAX_SIDE
) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most `max_side`; returns (image, scale).

    Detection on a 12 MP phone photo is slow and no more accurate (MediaPipe resizes to
    a couple of hundred pixels itself). `scale` is new/old size (1.0 when unchanged), so a
    pixel coordinate p in the small image is p / scale in the original.
    """
    height, width = rgb.shape[:2]
    longer = max(height, width)
    if longer <= max_side:
        return rgb, 1.0
    scale = max_side / longer
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA)
    return small, scale


def from_bgr(bgr: np.ndarray) -> np.ndarray:
    """OpenCV/webrtc frames are BGR; everything in asl_core is RGB."""
    return np.ascontiguousarray(bgr[:, :, ::-1])


def to_bgr(rgb: np.ndarray) -> np.ndarray:
    """Back to BGR for OpenCV output (webrtc frames, cv2.imwrite)."""
    return np.ascontiguousarray(rgb[:, :, ::-1])
