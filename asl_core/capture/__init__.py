"""Capturing a user's own photos: names, the capture folder and its lock, bursts from a camera.

`names` validates sign and signer names; `lock` keeps one writer per folder; `store` saves,
lists and deletes photos with their manifest; `session` paces a burst (countdown, rate).

May import: `asl_core.io`, `asl_core.vision`, numpy, OpenCV. Never torch (a test checks it),
never streamlit or av.
"""
