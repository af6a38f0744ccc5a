"""The per-image feature cache: MediaPipe runs once per photo, ever.

For every photo the cache holds what the models are fed: the detection
(`HandDetection.to_dict()`), the landmark vector, the hand crop and the skeleton image at a
fixed cache size (224 px), or the fact that no hand was found. One `.npz` per photo (no
pickle: read with `allow_pickle=False`), written atomically, under

    cache_dir()/features/pipeline-<PIPELINE_VERSION>-<size>px/<sha[:2]>/<sha256>.npz

keyed by the sha256 of the photo's content and `views.PIPELINE_VERSION`: a photo
renamed or copied to another dataset hits the same entry; a change of the pipeline (a new
version) misses every entry and recomputes. Crops and skeletons are stored as PNG (lossless,
so training sees exactly what `hand_crop` produced; about 60 KB per photo).

`extract_features` fills the cache for a list of samples with a progress line and, when many
photos are missing, a pool of worker processes (2 by default, each with its own
HandDetector). It is resumable: an interrupted extraction keeps every photo it finished.
Photos with no hand are cached as such, counted and listed in the report, never dropped
silently: training leaves them out, evaluation counts them as wrong.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from asl_core.data.sources import Sample, read_sample_rgb
from asl_core.io.files import atomic_write_bytes
from asl_core.io.progress import ProgressLine
from asl_core.settings import cache_dir
from asl_core.vision import views
from asl_core.vision.hands import HandDetection, HandDetector
from asl_core.vision.spec import IMAGE_REPRESENTATIONS, Representation
from asl_core.vision.tensors import VIEW_SIZE

CACHE_IMAGE_SIZE = VIEW_SIZE  # 224: the size the Predictor draws its crops and skeletons at


IN_PROCESS_BELOW = 300
"""Fewer missing photos than this are extracted in this process: starting two spawned workers
costs about 8 s on two cores (torch and MediaPipe imports), what 200-400 photos take here."""


@dataclass(frozen=True, eq=False)
class Features:
    """What the cache holds for one photo. `error` is set when the photo could not be read."""

    detection: HandDetection | None
    landmarks: np.ndarray | None
    crop_png: bytes | None = field(default=None, repr=False)
    skeleton_png: bytes | None = field(default=None, repr=False)
    error: str | None = None

    @property
    def has_hand(self) -> bool:
        return self.detection is not None

    def image(self, representation: Representation) -> np.ndarray:
        """The crop or the skeleton, RGB uint8 (size x size x 3)."""
        data = {Representation.CROP: self.crop_png,
                Representation.SKELETON: self.skeleton_png}.get(representation)  # fmt: skip
        if representation not in IMAGE_REPRESENTATIONS:
            raise ValueError(f"representation must be crop or skeleton, not {representation!r}")
        if data is None:
            raise ValueError("this photo has no hand, hence no crop or skeleton")
        return decode_png(data)


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError("PNG encoding failed")
    return buffer.tobytes()


def decode_png(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("cached image is not a readable PNG")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def compute_features(
    rgb: np.ndarray, detector: HandDetector, size: int = CACHE_IMAGE_SIZE
) -> Features:
    """Run MediaPipe on one photo and build every representation the models use."""
    detection = detector.detect(rgb)
    if detection is None:
        return Features(None, None)
    return Features(
        detection=detection,
        landmarks=views.landmark_vector(detection),
        crop_png=encode_png(views.hand_crop(rgb, detection, size=size)),
        skeleton_png=encode_png(views.skeleton_image(detection, size=size)),
    )


def _bytes_array(data: bytes | None) -> np.ndarray:
    return np.frombuffer(data or b"", dtype=np.uint8)


class FeatureCache:
    """On-disk cache of `Features` keyed by content sha256 and pipeline version."""

    def __init__(
        self,
        root: str | Path | None = None,
        *,
        size: int = CACHE_IMAGE_SIZE,
        pipeline_version: str | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.size = size
        # Read at construction (not import) time, so a bumped version is always honoured.
        self.pipeline_version = pipeline_version or views.PIPELINE_VERSION
        self.directory = self.root / "features" / f"pipeline-{self.pipeline_version}-{size}px"

    def path_for(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.npz"

    def __contains__(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, sha256: str, features: Features) -> Path:
        detection = json.dumps(features.detection.to_dict()) if features.detection else ""
        landmarks = (
            features.landmarks
            if features.landmarks is not None
            else np.zeros(views.LANDMARK_DIM, np.float32)
        )
        buffer = io.BytesIO()
        np.savez(
            buffer,
            pipeline_version=np.array(self.pipeline_version),
            has_hand=np.array(features.has_hand),
            detection_json=_bytes_array(detection.encode()),
            landmarks=np.asarray(landmarks, dtype=np.float32),
            crop_png=_bytes_array(features.crop_png),
            skeleton_png=_bytes_array(features.skeleton_png),
            error=np.array(features.error or ""),
        )
        path = self.path_for(sha256)
        atomic_write_bytes(path, buffer.getvalue())
        return path

    def _open(self, sha256: str) -> Any | None:
        path = self.path_for(sha256)
        if not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # a damaged entry is recomputed

    def get(self, sha256: str) -> Features | None:
        """The cached features, or None when this photo was never processed."""
        archive = self._open(sha256)
        if archive is None:
            return None
        with archive:
            has_hand = bool(archive["has_hand"])
            detection = None
            if has_hand:
                detection = HandDetection.from_dict(json.loads(archive["detection_json"].tobytes()))
            return Features(
                detection=detection,
                landmarks=archive["landmarks"] if has_hand else None,
                crop_png=archive["crop_png"].tobytes() or None,
                skeleton_png=archive["skeleton_png"].tobytes() or None,
                error=str(archive["error"]) or None,
            )

    def summary(self, sha256: str) -> tuple[bool, np.ndarray, str | None] | None:
        """(has_hand, landmark vector, error) without decoding the images; None if missing."""
        archive = self._open(sha256)
        if archive is None:
            return None
        with archive:
            return (
                bool(archive["has_hand"]),
                np.array(archive["landmarks"], dtype=np.float32),
                str(archive["error"]) or None,
            )

    def image(self, sha256: str, representation: Representation) -> np.ndarray:
        """Decode only the crop or the skeleton of one photo."""
        key = {Representation.CROP: "crop_png",
               Representation.SKELETON: "skeleton_png"}.get(representation)  # fmt: skip
        if key is None:
            raise ValueError(f"representation must be crop or skeleton, not {representation!r}")
        archive = self._open(sha256)
        if archive is None:
            raise KeyError(f"{sha256} is not in the feature cache {self.directory}")
        with archive:
            return decode_png(archive[key].tobytes())


@dataclass
class ExtractionReport:
    """What one pass over a dataset found."""

    total: int = 0
    cached: int = 0
    computed: int = 0
    landmark_rows: int = 0
    no_hand: list[str] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "cached": self.cached,
            "computed": self.computed,
            "landmark_rows": self.landmark_rows,
            "no_hand_count": len(self.no_hand),
            "no_hand": list(self.no_hand),
            "unreadable_count": len(self.unreadable),
            "unreadable": list(self.unreadable),
            "seconds": round(self.seconds, 2),
        }


@dataclass
class FeatureTable:
    """Features of a list of samples, aligned with it: what the torch Dataset reads.

    Landmark vectors live in memory (63 floats each); crops and skeletons are decoded from the
    cache on access, so a whole dataset never sits decoded in memory.
    """

    samples: list[Sample]
    has_hand: np.ndarray  # bool (N,)
    landmarks: np.ndarray  # float32 (N, 63); zeros where there is no hand
    cache: FeatureCache
    report: ExtractionReport

    def image(self, index: int, representation: Representation) -> np.ndarray:
        sha = self.samples[index].sha256
        if sha is None:
            raise ValueError(f"{self.samples[index].source} has no image")
        return self.cache.image(sha, representation)

    def no_hand_sources(self, indices: Sequence[int] | None = None) -> list[str]:
        indices = range(len(self.samples)) if indices is None else indices
        return [self.samples[i].source for i in indices if not self.has_hand[i]]


def _process_one(sample: Sample, detector: HandDetector, cache: FeatureCache) -> Features:
    """Read, detect, cache; an unreadable photo is cached as 'no hand' with its error."""
    from asl_core.io.images import ImageError

    try:
        rgb = read_sample_rgb(sample)
    except (ImageError, OSError) as error:
        features = Features(None, None, error=f"{type(error).__name__}: {error}")
    else:
        features = compute_features(rgb, detector, cache.size)
    assert sample.sha256 is not None
    cache.put(sample.sha256, features)
    return features


# Worker-process state: one detector per process, created by the pool initializer.
_WORKER: dict[str, Any] = {}


def _worker_init(root: str, size: int, pipeline_version: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER["cache"] = FeatureCache(root, size=size, pipeline_version=pipeline_version)
    _WORKER["detector"] = HandDetector(mode="image")


def _worker_run(sample: Sample) -> tuple[str, bool, str | None]:
    features = _process_one(sample, _WORKER["detector"], _WORKER["cache"])
    return sample.sha256 or "", features.has_hand, features.error


def extract_features(
    samples: Sequence[Sample],
    cache: FeatureCache | None = None,
    *,
    workers: int = 2,
    progress: bool = True,
    detector_factory: Callable[[], HandDetector] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FeatureTable:
    """Make sure every sample is in the cache, then return the aligned FeatureTable.

    Landmark-CSV rows skip MediaPipe. Only missing photos are processed (resumable). With
    `workers` > 1 and enough missing photos, a spawn-started process pool does the work (spawn,
    not fork: MediaPipe and torch threads do not survive a fork); otherwise this process does,
    with `detector_factory()` (default: an image-mode HandDetector). `on_progress(done,
    missing)` is called after each photo processed (a page's progress bar).
    """
    cache = cache or FeatureCache()
    started = time.monotonic()
    report = ExtractionReport(total=len(samples))
    samples = list(samples)
    missing: list[Sample] = []
    seen: set[str] = set()
    for sample in samples:
        if not sample.needs_detection:
            report.landmark_rows += 1
        elif sample.sha256 is None:
            raise ValueError(f"{sample.source} has no sha256 to key the cache")
        elif sample.sha256 in cache or sample.sha256 in seen:
            report.cached += 1
        else:
            seen.add(sample.sha256)
            missing.append(sample)
    if missing:
        line = ProgressLine(len(missing), "MediaPipe", enabled=progress, unit="photos")
        if workers > 1 and len(missing) >= IN_PROCESS_BELOW:
            context = multiprocessing.get_context("spawn")
            init_args = (str(cache.root), cache.size, cache.pipeline_version)
            with context.Pool(workers, initializer=_worker_init, initargs=init_args) as pool:
                for done, _ in enumerate(pool.imap_unordered(_worker_run, missing, chunksize=4)):
                    line.advance()
                    if on_progress is not None:
                        on_progress(done + 1, len(missing))
        else:
            factory = detector_factory or (lambda: HandDetector(mode="image"))
            with factory() as detector:
                for done, sample in enumerate(missing, start=1):
                    _process_one(sample, detector, cache)
                    line.advance()
                    if on_progress is not None:
                        on_progress(done, len(missing))
        line.close()
        report.computed = len(missing)

    has_hand = np.zeros(len(samples), dtype=bool)
    landmarks = np.zeros((len(samples), views.LANDMARK_DIM), dtype=np.float32)
    for index, sample in enumerate(samples):
        if not sample.needs_detection:
            has_hand[index] = True
            landmarks[index] = sample.landmarks
            continue
        assert sample.sha256 is not None
        summary = cache.summary(sample.sha256)
        if summary is None:  # written a moment ago; only a vanished cache folder gets here
            raise RuntimeError(f"feature cache entry for {sample.source} is missing")
        found, vector, error = summary
        has_hand[index] = found
        if found:
            landmarks[index] = vector
        elif error:
            report.unreadable.append({"source": sample.source, "error": error})
        else:
            report.no_hand.append(sample.source)
    report.seconds = time.monotonic() - started
    return FeatureTable(samples, has_hand, landmarks, cache, report)
