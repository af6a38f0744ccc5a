"""Turn one hand detection into the tensor a model's `InputSpec` asks for.

Training (from cached views) and prediction (from a fresh photo) both go through
`view_image` + `to_model_tensor`, so a model sees the same pixels in both.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
import torch

from asl_core.vision.handframe import handframe_features
from asl_core.vision.hands import HandDetection
from asl_core.vision.spec import InputSpec, Representation
from asl_core.vision.views import (
    hand_crop,
    landmark_vector,
    mirror_detection,
    mirror_image,
    mirror_landmark_vector,
    skeleton_image,
)

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


def landmark_input(vector: np.ndarray, spec: InputSpec) -> np.ndarray:
    """What a landmark model reads, from the 63-value landmark vector: the vector itself
    (`landmarks`) or its hand-centred features (`handframe-v1`, 301 values). float32."""
    if spec.representation == Representation.HANDFRAME:
        return handframe_features(vector)
    if spec.representation != Representation.LANDMARKS:
        raise ValueError(
            f"a landmark model reads landmarks or handframe, not {spec.representation}"
        )
    return np.asarray(vector, dtype=np.float32)


def to_model_tensor(
    spec: InputSpec, *, image: np.ndarray | None = None, vector: np.ndarray | None = None
) -> torch.Tensor:
    """One sample (no batch axis) for the spec: from the 63-value landmark vector (as
    `landmark_input` turns it into the model's representation), an image, or a sequence of
    `sequence_length` copies of the image (a still photo has no motion)."""
    if spec.kind == "landmarks":
        if vector is None:
            raise ValueError("a landmark model needs the landmark vector")
        return torch.from_numpy(landmark_input(vector, spec))
    if image is None:
        raise ValueError(f"an {spec.kind} model needs the {spec.representation} image")
    frame = image_to_tensor(image, spec)
    if spec.kind == "sequence":
        return frame.unsqueeze(0).expand(spec.sequence_length, *frame.shape).contiguous()
    return frame


HandReading = Literal["detected", "other", "left"]
"""Which hand a reading takes the detection for: as detected (a hand labelled "Right" by
MediaPipe is mirrored onto the training hand), the other hand (the mirror image of that), or
a left hand whatever the label says (a signer who said they are left-handed)."""


def detection_input(
    rgb: np.ndarray, det: HandDetection, spec: InputSpec, *, reading: HandReading = "detected"
) -> torch.Tensor:
    """The model input for one detection in one image (no batch axis).

    For image models "other" and "left" are both the mirrored photo and detection. For
    landmark models they are not a mirrored photo: `landmark_vector` mirrors a hand by its
    handedness label, which flips with the photo, so the two flips would cancel. "other" is
    the landmark vector with x negated; "left" is the vector of a hand labelled "Right".
    """
    if spec.kind == "landmarks":
        if reading == "left":
            vector = landmark_vector(det, handedness="Right")
        else:
            vector = landmark_vector(det)
            vector = mirror_landmark_vector(vector) if reading == "other" else vector
        return to_model_tensor(spec, vector=vector)
    if reading != "detected":
        rgb, det = mirror_image(rgb), mirror_detection(det)
    return to_model_tensor(spec, image=view_image(rgb, det, spec.representation))
