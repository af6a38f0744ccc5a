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
- Hand crops only, all off by default (`ImageTrainPreset`): `background`, the probability
  that a crop whose background is free (a photo of a hand on black: the datasets named in
  `background_datasets`, massey36) gets a new one: the near-black pixels connected to the
  crop's border (`black_background_mask`, the affine's black fill included) become a random
  colour, noise or a blurred random texture (`replace_background`), every other pixel is
  kept; `saturation` and `hue` (torchvision ColorJitter semantics) beside brightness and
  contrast; `blur`, the probability of a Gaussian blur of sigma up to `blur_sigma` pixels at
  the model's size. Scale and crop jitter are the affine's `scale` and `translate`.
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
    saturation: float = 0.0
    hue: float = 0.0
    blur: float = 0.0
    blur_sigma: float = 1.5
    background: float = 0.0
    background_datasets: tuple[str, ...] = ("massey36",)

    def __post_init__(self) -> None:
        self.scale = (float(self.scale[0]), float(self.scale[1]))
        self.background_datasets = tuple(str(name) for name in self.background_datasets)
        for key in ("blur", "background"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"augmentation.{key} must be a probability in [0, 1]")
        if not 0 <= self.hue <= 0.5:
            raise ValueError("augmentation.hue must be in [0, 0.5] (a share of the colour circle)")
        if self.saturation < 0 or self.blur_sigma <= 0:
            raise ValueError("augmentation.saturation must be >= 0 and blur_sigma > 0 pixels")
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


BLACK_THRESHOLD = 40
"""Largest channel value (0-255) of a background pixel in a photo of a hand on black: the
Massey backgrounds are 0-25 after JPEG, the darkest skin in their crops about 60."""


def black_background_mask(image: np.ndarray, threshold: int = BLACK_THRESHOLD) -> np.ndarray:
    """(H, W) bool: the background of a hand on black in an HWC uint8 image.

    The pixels whose every channel is <= `threshold` and that are connected (4-neighbours) to
    the image border through such pixels: a dark crease inside the hand is not connected and
    stays. Only meaningful for photos whose background is black (`background_datasets`).
    """
    dark = (image.max(axis=2) <= threshold).astype(np.uint8)
    _, labels = cv2.connectedComponents(dark, connectivity=4)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    touching = np.unique(border[border > 0])
    return np.isin(labels, touching)


def random_background(height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8: one of a plain random colour, a random colour with pixel noise, or a
    blurred random texture (random colours on a 2-8 cell grid, smoothly enlarged, with noise).
    Uses torch's global RNG."""
    kind = int(torch.randint(3, ()))
    base = torch.randint(256, (3,)).numpy().astype(np.float32)
    if kind == 0:
        return np.broadcast_to(base.astype(np.uint8), (height, width, 3)).copy()
    noise = torch.randn(height, width, 3).numpy() * float(torch.empty(()).uniform_(5, 40))
    if kind == 1:
        return np.clip(base + noise, 0, 255).astype(np.uint8)
    cells = int(torch.randint(2, 9, ()))
    grid = torch.randint(256, (cells, cells, 3)).numpy().astype(np.float32)
    smooth = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + noise * 0.5, 0, 255).astype(np.uint8)


def replace_background(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of the HWC uint8 `image` whose `mask` pixels come from `random_background`;
    every other pixel is unchanged."""
    out = np.array(image, copy=True)
    if mask.any():
        out[mask] = random_background(*mask.shape)[mask]
    return out


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
        strengths = (self.config.brightness, self.config.contrast, self.config.saturation)
        self.colour = colour and bool(any(strengths) or self.config.hue)
        # Photo-like changes (background, blur) never apply to skeleton drawings either.
        self.photo = colour

    def _uniform(self, low: float, high: float) -> float:
        return float(torch.empty(()).uniform_(low, high))

    def __call__(
        self, image: np.ndarray | torch.Tensor, *, free_background: bool = False
    ) -> torch.Tensor:
        """`free_background`: the photo is a hand on black, whose background may be replaced
        (`config.background`); the dataset says so (`AslDataset`'s `black_background`)."""
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
        replace = self.photo and free_background and config.background > 0
        if replace and self._uniform(0.0, 1.0) < config.background:
            pixels = replace_background(pixels, black_background_mask(pixels))
        if self.colour and config.hue:
            hsv = cv2.cvtColor(np.ascontiguousarray(pixels), cv2.COLOR_RGB2HSV)
            shift = round(self._uniform(-config.hue, config.hue) * 180)  # OpenCV hue: 0-179
            hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
            pixels = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        values = pixels.astype(np.float32) / 255.0
        if self.colour:
            # torchvision ColorJitter semantics: brightness scales, contrast blends with the
            # mean grey level, saturation with each pixel's own grey level.
            luma = np.array([0.299, 0.587, 0.114], np.float32)
            if config.brightness:
                values = values * self._uniform(1 - config.brightness, 1 + config.brightness)
            if config.contrast:
                grey = float((values @ luma).mean())
                factor = self._uniform(1 - config.contrast, 1 + config.contrast)
                values = (values - grey) * factor + grey
            if config.saturation:
                grey_pixels = (values @ luma)[..., None]
                factor = self._uniform(max(0.0, 1 - config.saturation), 1 + config.saturation)
                values = (values - grey_pixels) * factor + grey_pixels
        if self.photo and config.blur and self._uniform(0.0, 1.0) < config.blur:
            sigma = self._uniform(min(0.3, config.blur_sigma), config.blur_sigma)
            values = cv2.GaussianBlur(values, (0, 0), sigma)
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
        # As ImageTrainPreset decides: never on skeletons, and off when every strength is 0.
        skeleton = (representation or spec.representation) == Representation.SKELETON
        strengths = (config.brightness, config.contrast, config.saturation, config.hue)
        colour = not skeleton and any(strengths)
        if colour:
            keys = (*keys, "brightness", "contrast", "saturation", "hue")
        if not skeleton and config.blur:
            keys = (*keys, "blur", "blur_sigma")
        if not skeleton and config.background:
            keys = (*keys, "background", "background_datasets")
        applied = {"space": "image", "colour_jitter": colour}
    return {"enabled": True, **applied, **{key: getattr(config, key) for key in keys}}
