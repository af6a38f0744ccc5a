"""Capturing a user's own photos: names, the capture folder and its lock, bursts from a camera.

`names` validates sign and signer names; `lock` keeps one writer per folder (a heartbeat
claim, filelock around writes); `store` saves, lists and deletes photos with their manifest,
only in folders capture made; `session` paces a burst (countdown, rate).

May import: `asl_core.io`, `asl_core.vision`, `asl_core.labels`, `asl_core.settings`, numpy,
OpenCV, filelock, and `asl_core.data` (its feature cache) inside `store.cache_capture_features`
only: torch is loaded when that first runs, never at import (tests/unit/test_layout.py checks
it). Never streamlit or av.
"""
