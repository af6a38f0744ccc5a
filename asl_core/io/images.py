"""Decode whatever users upload into one predictable array: RGB, uint8, H x W x 3.

Users send phone photos (EXIF-rotated), screenshots (RGBA), scans (greyscale, CMYK),
16-bit PNGs, GIFs, and sometimes a PDF or a half-uploaded file. Everything downstream
(MediaPipe, the crops, the models) assumes one layout, so every oddity is settled here,
and every refusal is an `ImageError` whose message can be shown to the user as it is.

Decisions worth knowing:
- Transparent pixels are composited on BLACK, because the training photos (Massey) show a
  hand cut out on black, and crops are padded with black too: a cut-out hand PNG then looks
  like the data the models learnt from.
- 16-bit images are scaled by 255/65535 (not clipped), so a full-range 16-bit photo keeps its
  tones; 32-bit integer and float images are scaled by their own range when it is not 8-bit.
- Animated images give their first frame.
- Size limits are checked from the header, before any pixel is decoded, so a small file that
  claims 80,000 x 80,000 pixels (a decompression bomb) costs nothing.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_PIXELS = 40_000_000
"""Largest image (width x height) accepted for decoding: 40 MP covers every phone camera."""


MIN_SIDE = 32
"""Smallest side accepted: below this MediaPipe cannot find the 21 landmarks of a hand."""


DETECTION_MAX_SIDE = 1280
"""Longest side used for hand detection; MediaPipe works on 192-256 px inputs internally."""


# Pillow's own guard, used by every Pillow call in the process (training loaders included):
# warn above MAX_PIXELS, refuse above twice that. load_image refuses above `max_pixels` itself.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class ImageError(ValueError):
    """An upload that cannot be used as a photo; the message is meant for the user."""


class NotAnImageError(ImageError):
    """The bytes are not an image format Pillow can read (PDF, text, video, ...)."""


class TruncatedImageError(ImageError):
    """The file ends before the picture does (interrupted upload or copy)."""


class ImageTooLargeError(ImageError):
    """More pixels than `max_pixels`; refused before decoding."""


class ImageTooSmallError(ImageError):
    """Too small to show a hand with its landmarks."""


# Signatures of files people upload by mistake, to say what the file looks like.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "a PDF"),
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


# Signatures of the image formats Pillow reads; a file that starts like one but cannot be
# identified was cut off.
_IMAGE_MAGIC: tuple[bytes, ...] = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)


def _describe_non_image(data: bytes) -> str:
    """A short guess at what a non-image file is, for the error message."""
    head = data[:64]
    for magic, name in _SIGNATURES:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"hevc", b"hevx"):
            return "a HEIC/HEIF photo, which this app cannot read; export it as JPEG or PNG"
        if brand in (b"avif", b"avis"):
            return "an AVIF image, which this app cannot read; export it as JPEG or PNG"
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


def _read_bytes(source: bytes | bytearray | memoryview | str | Path | BinaryIO) -> bytes:
    """All the bytes of the source; reading once lets us sniff the type and rewind freely."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | Path):
        return Path(source).read_bytes()
    if hasattr(source, "seek"):
        # Rewind: Streamlit reruns hand over an UploadedFile that was read before. An
        # unseekable stream is read from where it is.
        with contextlib.suppress(OSError, ValueError):
            source.seek(0)
    data = source.read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"expected a binary file object, got one that returns {type(data)!r}")
    return bytes(data)


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}"


def _too_large(width: int, height: int, max_pixels: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"The image is {_megapixels(width * height)} megapixels ({width}x{height}); "
        f"the limit is {max_pixels / 1e6:g} megapixels. Resize it and upload it again."
    )


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open the header only and refuse bombs, unreadable and tiny images before decoding."""
    if not data:
        raise NotAnImageError("This file is empty (0 bytes); upload the photo again.")
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        # Pillow refused from the header (above 2 x Image.MAX_IMAGE_PIXELS); its message
        # carries the pixel count, which is the useful part for the user.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        pixels = int(found.group(1)) if found else 0
        limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or max_pixels))
        raise ImageTooLargeError(
            f"The image is {_megapixels(pixels)} megapixels; "
            f"the limit is {limit / 1e6:g} megapixels. Resize it and upload it again."
        ) from exc
    except UnidentifiedImageError as exc:
        if data.startswith(_IMAGE_MAGIC):
            # An image signature with too few bytes after it for Pillow to parse the header.
            raise TruncatedImageError(_TRUNCATED_MESSAGE) from exc
        kind = _describe_non_image(data)
        raise NotAnImageError(f"This file is not an image (it looks like {kind}).") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        # The header itself is damaged (e.g. a file cut off within its first bytes).
        if _looks_truncated(exc) or len(data) < 64:
            raise TruncatedImageError(_TRUNCATED_MESSAGE) from exc
        raise ImageError(f"The image could not be read ({exc}); re-save or re-upload it.") from exc
    width, height = img.size
    if width * height > max_pixels:
        raise _too_large(width, height, max_pixels)
    if min(width, height) < MIN_SIDE:
        raise ImageTooSmallError(
            f"The image is {width}x{height} pixels, too small to show a hand; "
            f"it needs at least {MIN_SIDE} pixels on each side."
        )
    return img


_TRUNCATED_MESSAGE = (
    "The image is truncated: the file ends before the picture does; re-save or re-upload it."
)


def _looks_truncated(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "truncated" in text or "broken data stream" in text or "premature end" in text


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
            f"The image could not be decoded ({exc}); re-save or re-upload it."
        ) from exc
    return img


def _exif_upright(img: Image.Image) -> Image.Image:
    """Rotate as the camera's EXIF orientation says; a damaged EXIF block is ignored."""
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # damaged EXIF must not make a good picture unreadable
        return img


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
) -> np.ndarray:
    """Decode an uploaded photo to an upright RGB uint8 array of shape (H, W, 3).

    `source` is the raw bytes, a path, or a binary file object (Streamlit's UploadedFile).
    Raises an `ImageError` subclass with a message fit for the user; a missing path raises
    FileNotFoundError as usual.
    """
    data = _read_bytes(source)
    img = _open(data, max_pixels)
    with img:
        img = _decode(img)
        upright = _exif_upright(img)
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
