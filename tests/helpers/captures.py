"""Captures made of real photos, and cut-down checkpoints, for capture and personalisation tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


BURSTS_START = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


BURSTS_APART = timedelta(minutes=10)


def burst_time(signer_rank: int, photo: int) -> datetime:
    """When `capture_real_photos` says the `photo`-th photo of a sign by its `signer_rank`-th
    Massey signer was taken: each signer's photos are one burst, one photo a second, the
    signers' bursts 10 minutes apart (a later session of the same user)."""
    return BURSTS_START + signer_rank * BURSTS_APART + timedelta(seconds=photo)


def capture_real_photos(
    folder: Path,
    massey_root: Path,
    plan: dict[str, tuple[str, int]],
    signer: str = "Ann",
    *,
    massey_signers: tuple[str, ...] = ("hand1", "hand2", "hand3", "hand4"),
) -> CaptureStore:
    """Save real Massey photos as captures: {capture label: (massey class, photos)}, taken
    evenly from `massey_signers` (round robin), through the same `CaptureStore.save` the page
    uses. Each Massey signer's photos of a sign are one burst, in the order given
    (`burst_time`): the one after the other, as a user's later sessions."""
    store = CaptureStore(folder, who=signer)
    with HandDetector(mode="image") as detector:
        for label, (source, count) in plan.items():
            by_signer = [
                sorted((massey_root / "images" / source).glob(f"{name}_*.jpeg"))
                for name in massey_signers
            ]
            # Round robin over the signers (hand3 and hand4 have only 5 photos per class).
            interleaved = [
                (rank, number, path)
                for number, group in enumerate(zip_longest(*by_signer))
                for rank, path in enumerate(group)
                if path is not None
            ]
            for rank, number, path in interleaved[:count]:
                rgb = load_image(path)
                detection = detector.detect(rgb)
                if detection is not None:
                    store.save(
                        rgb, label, signer, detection=detection, when=burst_time(rank, number)
                    )
    store.release()
    return store
