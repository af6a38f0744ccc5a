"""load_image on every odd format users upload, each made at test time from a real photo,
except HEIC: the lock's decoder (pi-heif) cannot encode, so HEIC is checked on a committed
synthetic file (tests/fixtures/synthetic_quadrants.heic, see tests/fixtures/README.md)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import asl_core.io.images
from asl_core.io.images import (
    DECODE_MAX_SIDE,
    MAX_PIXELS,
    MAX_SOURCE_PIXELS,
    PHOTO_FORMATS,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    check_photo_file,
    downscale_for_detection,
    from_bgr,
    load_image,
    photo_suffixes,
    sniff_format,
    to_bgr,
)
from tests.helpers.photos import massey_photo

EXIF_ORIENTATION = 0x0112
SYNTHETIC_HEIC = Path(__file__).resolve().parents[2] / "fixtures" / "synthetic_quadrants.heic"
HEIC_QUADRANTS = {  # centre (row, column) of each 48x32 quadrant: its colour when made
    (16, 24): (220, 40, 40),
    (16, 72): (40, 170, 70),
    (48, 24): (40, 70, 210),
    (48, 72): (240, 220, 50),
}


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
    assert str(info.value) == (
        "This file is not an image (it looks like a PDF). "
        "Photos are read as JPEG, PNG, WebP, HEIC, AVIF, BMP, GIF or TIFF."
    )


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


# --- The allow-list: content decides, and only photo formats are decoded (issue 17, F3) ---


@pytest.mark.parametrize(
    ("fmt", "kwargs"),
    [("AVIF", {"quality": 90}), ("WEBP", {}), ("TIFF", {})],
    ids=["avif", "webp", "tiff"],
)
def test_phone_and_web_formats_decode(photo: Image.Image, fmt: str, kwargs: dict) -> None:
    data = _encode(photo, fmt, **kwargs)
    assert sniff_format(data[:64]) is not None
    rgb = load_image(data)
    assert rgb.shape == (400, 400, 3)
    assert _mean_abs_diff(rgb, np.asarray(photo)) < 8


def test_a_heic_file_decodes_to_its_size_and_colours() -> None:
    """Plumbing only (a synthetic file, see tests/fixtures/README.md): sniffed as HEIC by
    content, decoded by libheif to 96x64 RGB with each quadrant's colour (HEVC is lossy)."""
    data = SYNTHETIC_HEIC.read_bytes()
    assert sniff_format(data[:64]).name == "HEIC"
    with Image.open(SYNTHETIC_HEIC) as img:
        assert img.format == "HEIF"  # the HEIC decoder, not another that accepts the bytes
    rgb = load_image(data)
    assert rgb.shape == (64, 96, 3) and rgb.dtype == np.uint8
    for (row, column), colour in HEIC_QUADRANTS.items():
        centre = rgb[row - 8 : row + 8, column - 12 : column + 12].reshape(-1, 3)
        assert np.abs(centre.astype(int) - colour).max() <= 6, (row, column)


def test_heic_is_decoded_but_never_encoded() -> None:
    """The lock ships pi-heif, a decoder only: no GPL x265 encoder (pillow-heif had one)."""
    assert "HEIF" in Image.OPEN and "HEIF" not in Image.SAVE
    with pytest.raises(KeyError):
        Image.new("RGB", (64, 64)).save(io.BytesIO(), "HEIF")


def test_without_a_heic_codec_a_heic_file_gets_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(asl_core.io.images, "HEIF_AVAILABLE", False)
    assert ".heic" not in photo_suffixes()
    with pytest.raises(NotAnImageError) as info:
        load_image(SYNTHETIC_HEIC)
    assert str(info.value) == (
        "This file is not an image (it looks like a HEIC/HEIF photo, which this installation "
        "cannot read; export it as JPEG). "
        "Photos are read as JPEG, PNG, WebP, AVIF, BMP, GIF or TIFF."
    )


def test_every_accepted_suffix_belongs_to_one_format() -> None:
    suffixes = photo_suffixes()
    assert ".heic" in suffixes and ".avif" in suffixes and ".jpg" in suffixes
    assert len(suffixes) == len(set(suffixes))
    assert {f.pillow for f in PHOTO_FORMATS} == {
        "JPEG", "PNG", "WEBP", "HEIF", "AVIF", "BMP", "GIF", "TIFF"
    }  # fmt: skip


def test_eps_named_jpg_is_refused_without_reaching_ghostscript(
    photo: Image.Image, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import EpsImagePlugin

    data = _encode(photo, "EPS")
    assert data.startswith(b"%!PS")

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the EPS decoder (Ghostscript) was reached")

    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", never)
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(NotAnImageError) as info:
            load_image(source)
        assert "PostScript or EPS" in str(info.value)
        assert "Photos are read as JPEG" in str(info.value)


@pytest.mark.parametrize("fmt", ["PCX", "TGA", "PPM", "ICO", "DDS", "SGI"])
def test_formats_pillow_reads_but_photos_never_use_are_refused(
    photo: Image.Image, fmt: str
) -> None:
    data = _encode(photo.resize((64, 64)), fmt)
    with Image.open(io.BytesIO(data)) as check:  # Pillow itself would decode it
        assert check.format == fmt
    with pytest.raises(NotAnImageError):
        load_image(data)


def test_a_png_named_jpg_is_read_as_the_png_it_is(photo: Image.Image, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(_encode(photo, "PNG"))
    np.testing.assert_array_equal(load_image(path), np.asarray(photo))


# --- Big files: sizes checked before reading, big JPEGs decoded small (issue 14, 17 F2/F15) ---


def test_a_2_gb_file_is_refused_from_its_size_without_being_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "huge.jpg"
    with path.open("wb") as handle:  # sparse: 2 GB on paper, nothing on disk
        handle.write(b"\xff\xd8\xff\xe0")
        handle.truncate(2 * 1024**3)

    def never(self: Path) -> bytes:
        raise AssertionError("the whole file was read")

    monkeypatch.setattr(Path, "read_bytes", never)
    with pytest.raises(ImageTooLargeError) as info:
        load_image(path)
    assert "The file is 2.1 GB; the limit for a photo is 100.0 MB" in str(info.value)
    with pytest.raises(ImageTooLargeError):
        check_photo_file(path)


def test_a_zero_byte_file_is_empty_not_text(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    for check in (load_image, check_photo_file):
        with pytest.raises(NotAnImageError) as info:
            check(path)
        assert "empty (0 bytes)" in str(info.value)
        assert "text" not in str(info.value)


def test_check_photo_file_reads_only_the_head(photo_path: Path, tmp_path: Path) -> None:
    assert check_photo_file(photo_path) == photo_path.stat().st_size
    text = tmp_path / "notes.jpg"
    text.write_text("my signs\n" * 1000)
    with pytest.raises(NotAnImageError) as info:
        check_photo_file(text)
    assert "text file" in str(info.value)
    with pytest.raises(IsADirectoryError):
        check_photo_file(tmp_path)


def test_an_oversized_file_object_is_refused(photo_path: Path) -> None:
    data = photo_path.read_bytes()
    with pytest.raises(ImageTooLargeError):
        load_image(io.BytesIO(data), max_bytes=len(data) - 1)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_bytes=len(data) - 1)
    assert load_image(io.BytesIO(data), max_bytes=len(data)).shape == (400, 400, 3)


def _big_jpeg(photo: Image.Image, size: tuple[int, int], **kwargs: object) -> bytes:
    return _encode(photo.resize(size, Image.Resampling.BILINEAR), "JPEG", quality=90, **kwargs)


def test_a_big_jpeg_is_decoded_at_reduced_scale(photo: Image.Image) -> None:
    data = _big_jpeg(photo, (2400, 1800))
    rgb = load_image(data, max_side=1000)  # libjpeg decodes at 1/4: 600x450
    assert rgb.shape == (450, 600, 3)
    expected = np.asarray(photo.resize((600, 450), Image.Resampling.BOX))
    assert _mean_abs_diff(rgb, expected) < 6
    assert load_image(data).shape == (1800, 2400, 3)  # within DECODE_MAX_SIDE: full size
    assert max(load_image(data, max_side=2000).shape) <= 2000


def test_a_big_png_is_reduced_after_decoding(photo: Image.Image) -> None:
    rgb = load_image(_encode(photo.resize((2400, 1800)), "PNG"), max_side=1000)
    assert rgb.shape == (600, 800, 3)  # reduced by 3: whole factors only


def test_exif_rotation_survives_the_reduced_scale_decode(photo: Image.Image) -> None:
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    data = _big_jpeg(photo.crop((0, 0, 400, 250)), (2400, 1500), exif=exif.tobytes())
    assert load_image(data, max_side=1000).shape == (600, 375, 3)


def _claim_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its SOF header claiming another size (a decompression bomb)."""
    at = jpeg.index(b"\xff\xc0")  # baseline start-of-frame: length(2) precision(1) H(2) W(2)
    return jpeg[: at + 5] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + jpeg[at + 9 :]


def test_a_jpeg_bomb_is_refused_from_its_header(photo_path: Path) -> None:
    bomb = _claim_size(photo_path.read_bytes(), 20000, 15000)  # 300 MP in a 30 kB file
    with pytest.raises(ImageTooLargeError) as info:
        load_image(bomb)
    message = str(info.value)
    assert "300.0 megapixels (20000x15000)" in message
    assert f"the limit is {MAX_SOURCE_PIXELS / 1e6:g} megapixels for a JPEG" in message


def test_a_big_progressive_jpeg_is_held_to_the_full_scale_limit(photo: Image.Image) -> None:
    data = _big_jpeg(photo, (2400, 1800), progressive=True)
    with pytest.raises(ImageTooLargeError) as info:
        load_image(data, max_pixels=4_000_000, max_side=1000)
    assert "progressive JPEG" in str(info.value)
    assert load_image(data, max_side=1000).shape == (450, 600, 3)


@pytest.mark.slow
def test_a_200_mp_phone_jpeg_is_answered_within_a_memory_bound(
    photo: Image.Image, tmp_path: Path
) -> None:
    """16320x12240 baseline JPEG made from a real photo; decoded in a fresh process whose
    peak resident memory (VmHWM: the kernel's high-water mark, which unlike ru_maxrss is not
    inherited from this big parent) must stay under 1 GB, the issue's bound for one photo."""
    import subprocess
    import sys

    path = tmp_path / "200mp.jpg"
    big = photo.resize((16320, 12240), Image.Resampling.BILINEAR)
    big.save(path, "JPEG", quality=90)
    del big
    script = (
        "import sys; from pathlib import Path; from asl_core.io.images import load_image; "
        "rgb = load_image(sys.argv[1]); "
        "hwm = [l for l in Path('/proc/self/status').read_text().splitlines() "
        "if l.startswith('VmHWM:')][0].split()[1]; "
        "print(rgb.shape[0], rgb.shape[1], hwm)"
    )
    from asl_core.settings import REPO_ROOT

    out = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    height, width, peak_kib = map(int, out)
    assert max(height, width) <= DECODE_MAX_SIDE
    assert (height, width) == (3060, 4080)
    assert peak_kib * 1024 < 1e9
