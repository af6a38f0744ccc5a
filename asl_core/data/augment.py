"""Training and evaluation presets, in the style of torchvision's references/classification
`presets.py`: one callable per (kind, train/eval) that turns a cached view into a tensor.
Images are handled with OpenCV and numpy (see ImageTrainPreset for why).

Images (the hand crop or the skeleton, RGB uint8 at the cache size):
- eval: resize to the model's size, greyscale when it wants 1 channel, scale to [0, 1] and
  normalise with the model's mean/std. Nothing random.
- train: the same, with a random affine (rotation +-15 degrees, scale, translation; seeds 000
  4.2 and 003) filled with black like the crops' own padding, and brightness/contrast jitter
  (seed 003 "lighting adjustments"). Colour jitter is off for skeletons: their colours name
  the fingers and are never lit differently.
- Horizontal flip is off by default (`hflip_prob: 0`). The Predictor sees one handedness:
  landmark vectors are mirrored onto it and images can be predicted on both the photo and its
  mirror (views.mirror_image), so a model need not learn both hands, and a flipped
  right hand is a left hand, which the training photos never show. Seeds 000/003/004 flip at
  50%: their configs set `hflip_prob: 0.5` to reproduce them.

Landmark vectors (63 values, wrist-centred, largest wrist distance 1, one handedness):
- eval: the vector as a tensor.
- train: the same geometric family applied in landmark space: an in-plane rotation about the
  wrist (+-15 degrees), independent x/y scaling (the `scale` range: an aspect change, as a
  tilted camera gives), optional out-of-plane tilt, and small Gaussian jitter; then the vector
  is normalised again (wrist at the origin, radius 1), because every vector the model sees
  at prediction time is. Translation and uniform scaling are therefore no-ops in this space
  (normalisation removes them) and are not applied. Never flipped: handedness is normalised.

Hand-frame features (`handframe-v1`, 301 values computed from the landmark vector):
- eval: `vision.tensors.landmark_input`, as the Predictor computes it.
- train (`HandframeTrainPreset`): the hand is changed in landmark space first, then the
  features are computed: each bone's length scaled by its own factor (`bone_jitter`, the
  standard deviation of the factor; other people's hands), each finger turned about the palm's
  normal at its knuckle (`spread_jitter` degrees: fingers held further apart or closer), an
  aspect change (`scale`), a 3-D turn (`landmark_tilt` degrees about both image axes, then
  `rotation` in the image plane: a hand turned to or away from the camera), Gaussian noise
  (`landmark_jitter`, in units of the hand's largest wrist distance) and, with probability
  `drop_point`, one landmark collapsed onto the one it hangs from (a point MediaPipe guessed
  behind other fingers); with probability `hflip_prob`, the other hand (x -> -x), so that
  the model reads right and left hands alike and a wrong handedness label from MediaPipe no
  longer matters. Which of these help was measured on held-out people (model card).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from asl_core.vision.handframe import FINGER_CHAINS, PARENT, hand_frame, handframe_features
from asl_core.vision.spec import InputSpec, Representation
from asl_core.vision.tensors import image_to_tensor, landmark_input


@dataclass
class AugmentConfig:
    """Augmentation settings (the `augmentation:` block of a training config)."""

    enabled: bool = True
    rotation: float = 15.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.1
    brightness: float = 0.2
    contrast: float = 0.2
    hflip_prob: float = 0.0
    landmark_jitter: float = 0.01
    landmark_tilt: float = 0.0
    bone_jitter: float = 0.0
    spread_jitter: float = 0.0
    drop_point: float = 0.0

    def __post_init__(self) -> None:
        self.scale = (float(self.scale[0]), float(self.scale[1]))
        if not 0 < self.scale[0] <= self.scale[1]:
            raise ValueError("augmentation.scale must be (low, high) with 0 < low <= high")
        if not 0 <= self.hflip_prob <= 1:
            raise ValueError("augmentation.hflip_prob must be in [0, 1]")
        if not 0 <= self.drop_point <= 1:
            raise ValueError("augmentation.drop_point must be in [0, 1]")
        if not 0 <= self.bone_jitter <= 0.3:
            raise ValueError("augmentation.bone_jitter must be in [0, 0.3] (a factor's spread)")
        if self.spread_jitter < 0:
            raise ValueError("augmentation.spread_jitter must be >= 0 degrees")


def resize_square(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an HWC uint8 image to size x size: INTER_AREA when shrinking (no aliasing),
    INTER_LINEAR when enlarging (the policy of views.hand_crop)."""
    height, width = image.shape[:2]
    if (height, width) == (size, size):
        return image
    shrinking = size < max(height, width)
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _as_array(image: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(image, torch.Tensor):  # CHW uint8 tensor
        return image.permute(1, 2, 0).numpy()
    return image


class ImageEvalPreset:
    """Resize, [0, 1], optional greyscale, normalise. Nothing random.

    `asl_core.vision.tensors.image_to_tensor`, which the Predictor uses on a fresh photo: a model
    sees the same numbers in evaluation as in use.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec

    def __call__(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        return image_to_tensor(np.ascontiguousarray(_as_array(image)), self.spec)


class ImageTrainPreset:
    """Resize first (every later step then works at the model's size), then an optional flip,
    a random affine (rotation, scale, translation; black fill like the crops' padding), and
    brightness/contrast jitter, then the Predictor's conversion (greyscale, normalisation).

    OpenCV and numpy rather than torchvision.transforms.v2: v2.RandomAffine costs about 40 ms
    per 224 px image on this CPU, cv2.warpAffine well under 1 ms. Randomness comes from torch's
    global RNG, which the training loop seeds per epoch (and the DataLoader per worker).
    """

    def __init__(
        self,
        spec: InputSpec,
        config: AugmentConfig | None = None,
        *,
        colour: bool = True,
    ) -> None:
        self.spec = spec
        self.config = config or AugmentConfig()
        self.colour = colour and bool(self.config.brightness or self.config.contrast)

    def _uniform(self, low: float, high: float) -> float:
        return float(torch.empty(()).uniform_(low, high))

    def __call__(self, image: np.ndarray | torch.Tensor) -> torch.Tensor:
        config, size = self.config, self.spec.size
        pixels = resize_square(_as_array(image), size)
        if config.hflip_prob > 0 and self._uniform(0.0, 1.0) < config.hflip_prob:
            pixels = pixels[:, ::-1]
        angle = self._uniform(-config.rotation, config.rotation) if config.rotation else 0.0
        scale = self._uniform(*config.scale)
        shift = config.translate * size
        dx = self._uniform(-shift, shift) if shift else 0.0
        dy = self._uniform(-shift, shift) if shift else 0.0
        if angle or scale != 1.0 or dx or dy:
            matrix = cv2.getRotationMatrix2D((size / 2.0, size / 2.0), angle, scale)
            matrix[:, 2] += (dx, dy)
            pixels = cv2.warpAffine(
                np.ascontiguousarray(pixels),
                matrix,
                (size, size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0, 0, 0),
            )
        values = pixels.astype(np.float32) / 255.0
        if self.colour:
            # torchvision ColorJitter semantics: brightness scales, contrast blends with the
            # mean grey level.
            if config.brightness:
                values = values * self._uniform(1 - config.brightness, 1 + config.brightness)
            if config.contrast:
                grey = float((values @ np.array([0.299, 0.587, 0.114], np.float32)).mean())
                factor = self._uniform(1 - config.contrast, 1 + config.contrast)
                values = (values - grey) * factor + grey
        # Back to 8-bit, like any photo, then the Predictor's conversion.
        pixels = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
        return image_to_tensor(pixels, self.spec)


def normalise_landmarks(points: torch.Tensor) -> torch.Tensor:
    """(21, 3) points: wrist to the origin, largest wrist distance to 1 (as landmark_vector)."""
    centred = points - points[0]
    radius = centred.norm(dim=1).max()
    if radius < 1e-9:
        return torch.zeros_like(points)
    return centred / radius


def _rotation_z(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rotation_x(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rotation_y(angle: float) -> torch.Tensor:
    c, s = math.cos(angle), math.sin(angle)
    return torch.tensor([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


class LandmarkEvalPreset:
    """The landmark vector in the model's representation (`landmark_input`). Nothing random."""

    def __init__(self, spec: InputSpec | None = None) -> None:
        self.spec = spec

    def __call__(self, vector: np.ndarray | torch.Tensor) -> torch.Tensor:
        vector = np.asarray(vector, dtype=np.float32)
        if self.spec is None:
            return torch.as_tensor(vector)
        return torch.from_numpy(landmark_input(vector, self.spec))


class LandmarkTrainPreset:
    """Rotation, aspect scaling, tilt and jitter in landmark space, then re-normalisation.

    Uses torch's global RNG (seeded per run; per worker by the DataLoader), like v2.
    """

    def __init__(self, config: AugmentConfig | None = None) -> None:
        self.config = config or AugmentConfig()

    def _uniform(self, low: float, high: float) -> float:
        return float(torch.empty(()).uniform_(low, high))

    def __call__(self, vector: np.ndarray | torch.Tensor) -> torch.Tensor:
        config = self.config
        points = torch.as_tensor(np.asarray(vector, dtype=np.float32)).reshape(21, 3).clone()
        if config.rotation:
            angle = math.radians(self._uniform(-config.rotation, config.rotation))
            points = points @ _rotation_z(angle).T
        if config.landmark_tilt:
            tilt = math.radians(config.landmark_tilt)
            rotation = _rotation_x(self._uniform(-tilt, tilt)) @ _rotation_y(
                self._uniform(-tilt, tilt)
            )
            points = points @ rotation.T
        low, high = config.scale
        if low != high:
            factors = torch.tensor([self._uniform(low, high), self._uniform(low, high), 1.0])
            points = points * factors
        if config.landmark_jitter:
            points = points + torch.randn_like(points) * config.landmark_jitter
        return normalise_landmarks(points).reshape(-1)


def _axis_turns(axis: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(len(angles), 3, 3) rotations by each angle (radians) about one unit `axis` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    sin, cos = np.sin(angles)[:, None, None], np.cos(angles)[:, None, None]
    return np.eye(3) + sin * k + (1 - cos) * (k @ k)


def euler_rotation(x: float, y: float, z: float) -> np.ndarray:
    """Rotation about x, then y, then z (radians), as one 3x3 matrix."""
    cx, sx, cy, sy, cz, sz = (
        math.cos(x),
        math.sin(x),
        math.cos(y),
        math.sin(y),
        math.cos(z),
        math.sin(z),
    )
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rx


def _ancestors() -> np.ndarray:
    """(21, 21) 0/1: row k marks the bones (named by their outer landmark) from the wrist to k,
    so that `_ANCESTORS @ bones` rebuilds every landmark from its bone vectors."""
    table = np.zeros((21, 21))
    for k in range(1, 21):
        j = k
        while j != 0:
            table[k, j] = 1.0
            j = PARENT[j]
    return table


_ANCESTORS = _ancestors()


_PARENTS = np.array(PARENT)


_FINGER_OUTER = np.array([chain[2:] for chain in FINGER_CHAINS])  # (5, 3) past each knuckle


_FINGER_KNUCKLE = np.array([chain[1] for chain in FINGER_CHAINS])  # (5,)


class HandframeTrainPreset:
    """A changed hand in landmark space, then its hand-frame features (module doc).

    Randomness comes from torch's global RNG, which the training loop seeds per epoch (so
    runs repeat), as for the other presets. Input: the 63-value landmark vector; output:
    float32 (301,).
    """

    def __init__(self, config: AugmentConfig | None = None) -> None:
        self.config = config or AugmentConfig()

    def augment(self, vector: np.ndarray | torch.Tensor) -> np.ndarray:
        """The changed hand: (21, 3) float64, wrist at the origin, largest wrist distance 1."""
        config = self.config
        # Every random number of this hand in two torch calls (each numpy or torch call costs
        # more than the arithmetic here): 92 standard normals and 8 uniforms in [0, 1).
        normal = torch.randn(92, dtype=torch.float64).numpy()
        uniform = torch.rand(8, dtype=torch.float64).numpy()
        points = np.asarray(vector, dtype=np.float64).reshape(21, 3)
        points = points - points[0]
        radius = float(np.sqrt((points * points).sum(axis=1)).max())
        if radius < 1e-9:
            return points
        points = points / radius
        if config.bone_jitter:
            sd = config.bone_jitter
            factors = np.clip(1.0 + sd * normal[:21, None], 1 - 3 * sd, 1 + 3 * sd)
            points = _ANCESTORS @ ((points - points[_PARENTS]) * factors)
        if config.spread_jitter:
            axis = hand_frame(points)[1][2]
            turns = _axis_turns(axis, np.radians(config.spread_jitter * normal[21:26]))
            knuckles = points[_FINGER_KNUCKLE][:, None, :]  # (5, 1, 3)
            outer = points[_FINGER_OUTER] - knuckles  # (5, 3, 3)
            points[_FINGER_OUTER] = knuckles + outer @ np.swapaxes(turns, 1, 2)
        low, high = config.scale
        if low != high:
            points = points * np.array([*(low + (high - low) * uniform[:2]), 1.0])
        tilt, spin = math.radians(config.landmark_tilt), math.radians(config.rotation)
        if tilt or spin:
            x, y, z = (2 * uniform[2:5] - 1) * np.array([tilt, tilt, spin])
            points = points @ euler_rotation(x, y, z).T
        if config.landmark_jitter:
            points = points + config.landmark_jitter * normal[26:89].reshape(21, 3)
        if config.drop_point and uniform[5] < config.drop_point:
            k = 1 + min(int(uniform[6] * 20), 19)
            points[k] = points[PARENT[k]] + 0.03 * normal[89:92]
        if config.hflip_prob and uniform[7] < config.hflip_prob:
            points = points * np.array([-1.0, 1.0, 1.0])
        return points

    def __call__(self, vector: np.ndarray | torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(handframe_features(self.augment(vector)))


def train_preset(
    spec: InputSpec,
    config: AugmentConfig | None = None,
    representation: Representation | None = None,
):  # -> Callable[[array], Tensor]
    """The training transform for a model's input; the eval one when augmentation is off."""
    config = config or AugmentConfig()
    if not config.enabled:
        return eval_preset(spec)
    if spec.kind == "landmarks":
        if spec.representation == Representation.HANDFRAME:
            return HandframeTrainPreset(config)
        return LandmarkTrainPreset(config)
    representation = representation or spec.representation
    return ImageTrainPreset(spec, config, colour=representation != Representation.SKELETON)


def eval_preset(spec: InputSpec):  # -> Callable[[array], Tensor]
    if spec.kind == "landmarks":
        return LandmarkEvalPreset(spec)
    return ImageEvalPreset(spec)


def describe(config: AugmentConfig, spec: InputSpec, representation: Representation | None) -> dict:
    """What config.json records about augmentation for this model."""
    if not config.enabled:
        return {"enabled": False}
    if spec.kind == "landmarks":
        keys: Sequence[str] = ("rotation", "scale", "landmark_tilt", "landmark_jitter")
        applied = {"space": "landmarks", "renormalised": True, "flip": False}
        if spec.representation == Representation.HANDFRAME:
            keys = (*keys, "bone_jitter", "spread_jitter", "drop_point", "hflip_prob")
            applied["flip"] = bool(config.hflip_prob)
    else:
        keys = ("rotation", "scale", "translate", "hflip_prob")
        # As ImageTrainPreset decides: never on skeletons, and off when both strengths are 0.
        skeleton = (representation or spec.representation) == Representation.SKELETON
        colour = not skeleton and bool(config.brightness or config.contrast)
        if colour:
            keys = (*keys, "brightness", "contrast")
        applied = {"space": "image", "colour_jitter": colour}
    return {"enabled": True, **applied, **{key: getattr(config, key) for key in keys}}
