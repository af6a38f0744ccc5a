"""load_image on every odd format users upload, each made at test time from a real photo."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asl_core.io.images import (
    MAX_PIXELS,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    downscale_for_detection,
    from_bgr,
    load_image,
    to_bgr,
)
from tests.helpers.photos import massey_photo

EXIF_ORIENTATION = 0x0112


@pytest.fixture(scope="module")
def photo_path(massey_root: Path) -> Path:
    return massey_photo(massey_root, "v")


@pytest.fixture(scope="module")
def photo(photo_path: Path) -> Image.Image:
    with Image.open(photo_path) as img:
        return img.convert("RGB")


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def _mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())[0, 1])


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def test_path_str_bytes_and_file_object_give_the_same_rgb_array(photo_path: Path) -> None:
    from_path = load_image(photo_path)
    assert from_path.shape == (400, 400, 3)
    assert from_path.dtype == np.uint8
    assert from_path.flags.c_contiguous
    data = photo_path.read_bytes()
    for source in (str(photo_path), data, io.BytesIO(data)):
        np.testing.assert_array_equal(load_image(source), from_path)


def test_file_object_already_read_is_rewound(photo_path: Path) -> None:
    stream = io.BytesIO(photo_path.read_bytes())
    stream.read()  # Streamlit reruns hand over an UploadedFile that was read before
    assert load_image(stream).shape == (400, 400, 3)


def test_exif_orientation_6_is_applied(photo: Image.Image) -> None:
    crop = photo.crop((0, 0, 400, 250))  # non-square: a missed rotation shows in the shape
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # "rotate 90 degrees clockwise to display"
    data = _encode(crop, "JPEG", quality=95, exif=exif.tobytes())
    rgb = load_image(data)
    assert rgb.shape == (400, 250, 3)
    expected = np.rot90(np.asarray(crop), k=-1)  # clockwise
    assert _mean_abs_diff(rgb, expected) < 6
    assert _mean_abs_diff(rgb, np.rot90(np.asarray(crop), k=1)) > 10  # not the other way


def test_greyscale_jpeg_becomes_three_equal_channels(photo: Image.Image) -> None:
    grey = photo.convert("L")
    rgb = load_image(_encode(grey, "JPEG", quality=95))
    assert rgb.shape == (400, 400, 3)
    np.testing.assert_array_equal(rgb[:, :, 0], rgb[:, :, 1])
    np.testing.assert_array_equal(rgb[:, :, 0], rgb[:, :, 2])
    assert _correlation(rgb[:, :, 0], np.asarray(grey)) > 0.99


def test_rgba_png_is_composited_on_black(photo: Image.Image) -> None:
    rgba = photo.convert("RGBA")
    pixels = np.asarray(rgba).copy()
    pixels[:, :200, :3] = 255  # white where it is transparent: must not show
    pixels[:, :200, 3] = 0
    rgb = load_image(_encode(Image.fromarray(pixels, "RGBA"), "PNG"))
    assert rgb.shape == (400, 400, 3)
    assert rgb[:, :200].max() == 0
    np.testing.assert_array_equal(rgb[:, 200:], np.asarray(photo)[:, 200:])


def test_palette_png_with_transparency(photo: Image.Image) -> None:
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    palette.info["transparency"] = 0
    rgb = load_image(_encode(palette, "PNG", transparency=0))
    assert rgb.shape == (400, 400, 3)
    assert _correlation(rgb.mean(axis=2), np.asarray(photo).mean(axis=2)) > 0.9


def test_16_bit_png_is_scaled_not_clipped(photo: Image.Image) -> None:
    grey8 = np.asarray(photo.convert("L"))
    grey16 = grey8.astype(np.uint16) * 257  # full 16-bit range
    data = _encode(Image.fromarray(grey16), "PNG")
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "I;16"
    rgb = load_image(data)
    assert rgb.dtype == np.uint8
    assert 0 < rgb.mean() < 255
    assert (rgb == 255).mean() < 0.5  # Pillow's plain convert() would clip almost all to 255
    assert _correlation(rgb[:, :, 0], grey8) > 0.999
    assert np.abs(rgb[:, :, 0].astype(int) - grey8).max() <= 1


@pytest.mark.parametrize(
    ("mode", "factor"),
    [("I", 257.0), ("I", 1.0), ("F", 1.0 / 255.0), ("F", 1000.0)],
    ids=["int32-16bit-values", "int32-8bit-values", "float-0-1", "float-wide"],
)
def test_32_bit_tiff_is_scaled_to_8_bit(photo: Image.Image, mode: str, factor: float) -> None:
    grey8 = np.asarray(photo.convert("L"))
    dtype = np.int32 if mode == "I" else np.float32
    wide = Image.fromarray((grey8.astype(np.float64) * factor).astype(dtype), mode)
    rgb = load_image(_encode(wide, "TIFF"))
    assert rgb.dtype == np.uint8
    assert 0 < rgb.mean() < 255
    assert _correlation(rgb[:, :, 0], grey8) > 0.999


def test_cmyk_jpeg(photo: Image.Image) -> None:
    data = _encode(photo.convert("CMYK"), "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as check:
        assert check.mode == "CMYK"
    rgb = load_image(data)
    assert rgb.shape == (400, 400, 3)
    assert _mean_abs_diff(rgb, np.asarray(photo)) < 6


def test_animated_gif_gives_the_first_frame(photo: Image.Image) -> None:
    first = photo
    second = Image.fromarray(255 - np.asarray(photo))
    buffer = io.BytesIO()
    first.save(buffer, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    with Image.open(io.BytesIO(buffer.getvalue())) as check:
        assert check.n_frames == 2
    rgb = load_image(buffer.getvalue())
    assert rgb.shape == (400, 400, 3)
    assert _mean_abs_diff(rgb, np.asarray(first)) < 12
    assert _mean_abs_diff(rgb, np.asarray(second)) > 100


def test_tiny_image_is_refused(photo: Image.Image) -> None:
    tiny = photo.resize((20, 20))
    with pytest.raises(ImageTooSmallError) as info:
        load_image(_encode(tiny, "PNG"))
    assert "20x20 pixels" in str(info.value)
    assert "too small" in str(info.value)
    assert "at least 32 pixels" in str(info.value)


def test_huge_flat_png_is_refused_as_a_bomb() -> None:
    # A 1-bit 9000x9000 PNG is about 10 kB on disk and 10 MB in memory to make.
    flat = Image.new("1", (9000, 9000), 1)
    data = _encode(flat, "PNG")
    assert len(data) < 200_000
    with pytest.raises(ImageTooLargeError) as info:
        load_image(data)
    assert "81.0 megapixels" in str(info.value)
    assert f"the limit is {MAX_PIXELS / 1e6:g} megapixels" in str(info.value)


def test_size_is_refused_from_the_header_before_any_pixel_is_decoded() -> None:
    # A PNG that claims 5000x5000 pixels but carries no pixel data at all: if load_image
    # decoded before checking the size it would report a truncated file instead.
    header = struct.pack(">IIBBBBB", 5000, 5000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IEND", b"")
    with pytest.raises(ImageTooLargeError) as info:
        load_image(data, max_pixels=10_000_000)
    assert "25.0 megapixels (5000x5000); the limit is 10 megapixels" in str(info.value)


def test_max_pixels_argument(photo_path: Path) -> None:
    with pytest.raises(ImageTooLargeError) as info:
        load_image(photo_path, max_pixels=100_000)
    assert "0.2 megapixels (400x400); the limit is 0.1 megapixels" in str(info.value)


def test_pdf_is_not_an_image() -> None:
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
    with pytest.raises(NotAnImageError) as info:
        load_image(pdf)
    assert str(info.value) == "This file is not an image (it looks like a PDF)."


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "sign.jpg"  # the extension lies; the content decides
    path.write_text("A B C: this is my list of signs\n")
    with pytest.raises(NotAnImageError) as info:
        load_image(path)
    assert "not an image (it looks like a text file)" in str(info.value)


def test_empty_file_is_not_an_image() -> None:
    with pytest.raises(NotAnImageError) as info:
        load_image(b"")
    assert "empty" in str(info.value)


def test_missing_path_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_image(tmp_path / "nope.jpg")


def test_truncated_jpeg(photo_path: Path) -> None:
    data = photo_path.read_bytes()
    with pytest.raises(TruncatedImageError) as info:
        load_image(data[: len(data) // 2])
    assert "The image is truncated: the file ends before the picture does" in str(info.value)


@pytest.mark.parametrize("keep", [0.5, 0.01], ids=["half", "header-only"])
def test_truncated_png(photo: Image.Image, keep: float) -> None:
    data = _encode(photo, "PNG")
    with pytest.raises(TruncatedImageError) as info:
        load_image(data[: max(12, int(len(data) * keep))])
    assert "truncated" in str(info.value)


def test_every_error_is_a_value_error() -> None:
    for cls in (NotAnImageError, TruncatedImageError, ImageTooLargeError, ImageTooSmallError):
        assert issubclass(cls, ImageError)
        assert issubclass(cls, ValueError)


def test_downscale_for_detection(photo: Image.Image) -> None:
    big = np.asarray(photo.resize((3000, 2000)))
    small, scale = downscale_for_detection(big, max_side=1280)
    assert small.shape == (853, 1280, 3)
    assert scale == pytest.approx(1280 / 3000)
    assert small.dtype == np.uint8
    same, one = downscale_for_detection(np.asarray(photo))
    assert one == 1.0
    assert same.shape == (400, 400, 3)


def test_bgr_round_trip(photo: Image.Image) -> None:
    rgb = np.asarray(photo)
    bgr = to_bgr(rgb)
    np.testing.assert_array_equal(bgr[:, :, 0], rgb[:, :, 2])
    np.testing.assert_array_equal(from_bgr(bgr), rgb)
