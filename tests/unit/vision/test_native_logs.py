"""MediaPipe's start-up log lines never reach stderr; every other line does, in order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from asl_core.io.images import load_image
from asl_core.vision.hands import HandDetector
from asl_core.vision.native_logs import filtered, keep_lines

# As mediapipe 0.10.21 printed them on a CLI run here.
MEDIAPIPE_LINES = (
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    b"W0000 00:00:1796082036.167098   10156 inference_feedback_manager.cc:114] Feedback manager "
    b"requires a model with a single signature inference. Disabling support for feedback "
    b"tensors.\n"
    b"W0000 00:00:1796082036.244546   10155 landmark_projection_calculator.cc:186] Using "
    b"NORM_RECT without IMAGE_DIMENSIONS is only supported for the square ROI. Provide "
    b"IMAGE_DIMENSIONS or use PROJECTION_MATRIX.\n"
)
MARKERS = ("XNNPACK", "absl::InitializeLog", "inference_feedback_manager", "landmark_projection")


def test_only_mediapipes_start_up_lines_are_dropped(capfd: pytest.CaptureFixture[str]) -> None:
    real = (
        b"E0000 00:00:1796082036.3   10156 calculator_graph.cc:887] INTERNAL: a real failure\n"
        b"W0000 00:00:1796082036.4   10156 gl_context.cc:357] another warning\n"
        b"Traceback (most recent call last):\n"
    )
    with filtered():
        os.write(2, MEDIAPIPE_LINES[:60])  # written in pieces, as threads do
        os.write(2, MEDIAPIPE_LINES[60:] + real)
        with filtered():  # another thread's call, nested
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    assert capfd.readouterr().err.encode() == real
    assert keep_lines(b"no newline at the end") == b"no newline at the end"


def test_a_new_detector_reading_a_real_photo_writes_nothing_to_stderr(
    data_root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each new MediaPipe graph prints the feedback-manager warnings again (seen here): a
    fresh detector, a real photo with a hand, and stderr stays clean."""
    rgb = load_image(data_root / "aslhg" / "images" / "3" / "P2_3_145.jpg")
    capfd.readouterr()
    with HandDetector() as detector:
        assert detector.detect(rgb) is not None
        assert detector.detect(rgb) is not None  # after a hand: no longer filtered
    err = capfd.readouterr().err
    assert not any(marker in err for marker in MARKERS), err
