"""Captures made of real photos, and cut-down checkpoints, for capture and personalisation tests."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

from asl_core.capture.store import CaptureStore
from asl_core.inference.predictor import default_model_path
from asl_core.io.images import load_image
from asl_core.models.checkpoint import load_checkpoint, save_checkpoint
from asl_core.models.registry import create_model
from asl_core.training.optim import transfer_weights
from asl_core.vision.hands import HandDetector


def cut_down_checkpoint(folder: Path, classes: list[str]) -> Path:
    """The shipped model answering only `classes` (its other weights unchanged)."""
    shipped = load_checkpoint(default_model_path())
    meta = shipped.meta
    model = create_model(meta.architecture, len(classes), **meta.arch_kwargs)
    transfer_weights(shipped.model, meta.class_names, model, classes)
    return save_checkpoint(
        folder / "base",
        model,
        classes,
        architecture=meta.architecture,
        arch_kwargs=meta.arch_kwargs,
        data={"datasets": ["massey36"]},
    )


def capture_real_photos(
    folder: Path, massey_root: Path, plan: dict[str, tuple[str, int]], signer: str = "Ann"
) -> CaptureStore:
    """Save real Massey photos as captures: {capture label: (massey class, photos)}, taken
    evenly from hand1-hand4, through the same `CaptureStore.save` the page uses."""
    store = CaptureStore(folder, who=signer)
    with HandDetector(mode="image") as detector:
        for label, (source, count) in plan.items():
            by_signer = [
                sorted((massey_root / "images" / source).glob(f"hand{n}_*.jpeg"))
                for n in range(1, 5)
            ]
            # Round robin over the signers (hand3 and hand4 have only 5 photos per class).
            interleaved = [p for group in zip_longest(*by_signer) for p in group if p is not None]
            files = interleaved[:count]
            for path in files:
                rgb = load_image(path)
                detection = detector.detect(rgb)
                if detection is not None:
                    store.save(rgb, label, signer, detection=detection)
    store.release()
    return store
