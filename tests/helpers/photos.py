"""Real photos from ../shared/data for tests: finding one by class and signer."""

from __future__ import annotations

from pathlib import Path


def massey_photo(massey_root: Path, label: str, signer: str = "hand1", index: int = 1) -> Path:
    """One real Massey photo: massey_photo(root, 'a') is images/a/hand1_a_bot_seg_1_cropped.jpeg."""
    folder = massey_root / "images" / label.lower()
    exact = folder / f"{signer}_{label.lower()}_bot_seg_{index}_cropped.jpeg"
    if exact.exists():
        return exact
    return sorted(folder.glob(f"{signer}_*.jpeg"))[index - 1]
