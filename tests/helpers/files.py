"""Files a user might upload, good and bad, and tiny checkpoints, for tests."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from asl_core.models.checkpoint import save_checkpoint
from asl_core.models.registry import create_model
from tests.helpers.photos import massey_photo

# A PDF renamed to .jpg: what people upload by mistake, and an extension the uploader accepts.
NON_IMAGE = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n"


HUGE_SIZE = (8000, 7000)  # 56 megapixels, above the 50 MP limit of asl_core.io.images for PNG


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def grey_photo(width: int = 640, height: int = 480) -> bytes:
    """A flat grey picture: a valid image with no hand in it."""
    return png_bytes(np.full((height, width, 3), 128, dtype=np.uint8))


def truncated_jpeg(photo: Path) -> bytes:
    """The first half of a real photo: an interrupted upload."""
    data = photo.read_bytes()
    return data[: len(data) // 2]


@functools.cache
def huge_png(width: int = HUGE_SIZE[0], height: int = HUGE_SIZE[1]) -> bytes:
    """A real, valid 56 MP PNG of one flat colour, written row by row (a few hundred KB).

    Streaming the rows through zlib avoids holding the 150 MB of pixels in memory.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    row = b"\x00" + bytes((90, 120, 150)) * width  # filter byte 0, then RGB pixels
    compressor = zlib.compressobj(6)
    compressed = [compressor.compress(row) for _ in range(height)]
    compressed.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", b"".join(compressed))
        + chunk(b"IEND", b"")
    )


def side_by_side(left: Path, right: Path) -> bytes:
    """Two real photos next to each other: a picture with two hands."""
    images = [np.asarray(Image.open(path).convert("RGB")) for path in (left, right)]
    height = min(image.shape[0] for image in images)
    return png_bytes(np.concatenate([image[:height] for image in images], axis=1))


def two_hand_photos(massey_root: Path) -> tuple[Path, Path]:
    """A (larger hand) and B of the same signer: MediaPipe finds both hands side by side."""
    return massey_photo(massey_root, "a", "hand5"), massey_photo(massey_root, "b", "hand5")


def tiny_checkpoint(path: Path, metrics: dict | None = None) -> Path:
    model = create_model("landmark_mlp", num_classes=3, hidden=[8])
    return save_checkpoint(
        path,
        model,
        ["A", "B", "C"],
        architecture="landmark_mlp",
        arch_kwargs={"hidden": [8]},
        metrics=metrics or {"loso_mean_acc": 0.5, "random_split_acc": 0.9},
    )
