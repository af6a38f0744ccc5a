"""Turn one hand detection into the tensor a model's `InputSpec` asks for.

Training (from cached views) and prediction (from a fresh photo) both go through
`view_image` + `to_model_tensor`, so a model sees the same pixels in both.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from asl_core.vision.hands import HandDetection
from asl_core.vision.spec import InputSpec, Representation
from asl_core.vision.views import hand_crop, landmark_vector, skeleton_image

VIEW_SIZE = 224
"""Side of the crop and skeleton images as cached and as first drawn; models resize from it."""


def view_image(
    rgb: np.ndarray, det: HandDetection, representation: Representation | str
) -> np.ndarray:
    """The hand crop or the landmark skeleton (seed 000, 4.5.3), VIEW_SIZE square, uint8."""
    if representation == Representation.CROP:
        return hand_crop(rgb, det, size=VIEW_SIZE)
    if representation == Representation.SKELETON:
        return skeleton_image(det, size=VIEW_SIZE)
    raise ValueError(f"no image view called {representation!r} (crop or skeleton)")


def image_to_tensor(image: np.ndarray, spec: InputSpec) -> torch.Tensor:
    """uint8 HxWx3 RGB -> float C x size x size, greyscale when the spec has 1 channel,
    scaled to [0, 1] and normalised with the spec's mean and std.

    In numpy, not torch: each torch op on one image runs on torch's thread pool, and on a busy
    two-core machine every op waited about 80 ms for the second thread (0.3 ms in numpy).
    """
    if image.shape[0] != spec.size or image.shape[1] != spec.size:
        image = cv2.resize(image, (spec.size, spec.size), interpolation=cv2.INTER_AREA)
    if spec.channels == 1:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    pixels = np.ascontiguousarray(image.transpose(2, 0, 1)).astype(np.float32) / np.float32(255)
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)
    return torch.from_numpy((pixels - mean) / std)


def to_model_tensor(
    spec: InputSpec, *, image: np.ndarray | None = None, vector: np.ndarray | None = None
) -> torch.Tensor:
    """One sample (no batch axis) for the spec: a landmark vector, an image, or a sequence of
    `sequence_length` copies of the image (a still photo has no motion)."""
    if spec.kind == "landmarks":
        if vector is None:
            raise ValueError("a landmark model needs the landmark vector")
        return torch.as_tensor(np.asarray(vector, dtype=np.float32))
    if image is None:
        raise ValueError(f"an {spec.kind} model needs the {spec.representation} image")
    frame = image_to_tensor(image, spec)
    if spec.kind == "sequence":
        return frame.unsqueeze(0).expand(spec.sequence_length, *frame.shape).contiguous()
    return frame


def detection_input(rgb: np.ndarray, det: HandDetection, spec: InputSpec) -> torch.Tensor:
    """The model input for one detection in one image (no batch axis)."""
    if spec.kind == "landmarks":
        return to_model_tensor(spec, vector=landmark_vector(det))
    return to_model_tensor(spec, image=view_image(rgb, det, spec.representation))
