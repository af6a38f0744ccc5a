"""`python -m asl_core predict` on folders users really have: every file gets a line."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from asl_core.__main__ import main
from asl_core.settings import REPO_ROOT
from tests.helpers.checkpoints import copy_shipped
from tests.helpers.photos import massey_photo

SYNTHETIC_HEIC = Path(__file__).resolve().parents[1] / "fixtures" / "synthetic_quadrants.heic"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict]]:
    capsys.readouterr()
    code = main(["predict", "--json", *args])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _save(photo: Path, path: Path, fmt: str) -> None:
    with Image.open(photo) as img:
        buffer = io.BytesIO()
        img.convert("RGB").save(buffer, fmt, quality=90)
    path.write_bytes(buffer.getvalue())


@pytest.fixture(scope="module")
def messy_folder(massey_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Photos in four formats beside the files people leave in photo folders. The JPEG, PNG
    and AVIF are one real photo; the HEIC is the synthetic fixture (no hand: the lock's HEIC
    codec only decodes, tests/fixtures/README.md), so it checks the plumbing only."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "phone").mkdir()
    (folder / ".thumbnails").mkdir()
    photo = massey_photo(massey_root, "b", "hand2")
    (folder / "b.jpg").write_bytes(photo.read_bytes())
    (folder / "phone" / "b.heic").write_bytes(SYNTHETIC_HEIC.read_bytes())
    _save(photo, folder / "phone" / "b.avif", "AVIF")
    _save(photo, folder / "b.png", "PNG")
    (folder / "notes.txt").write_text("B is a flat hand, thumb across the palm\n")
    (folder / "phone" / "MANIFEST.csv").write_text("name,label\nb.heic,B\n")
    (folder / "empty.jpg").touch()
    with (folder / "video.jpg").open("wb") as handle:  # sparse 2 GB "photo"
        handle.write(b"\xff\xd8\xff\xe0")
        handle.truncate(2 * 1024**3)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (folder / ".thumbnails" / "b.jpg").write_bytes(photo.read_bytes())
    return folder


def test_every_file_of_a_folder_gets_a_line_and_errors_set_the_exit_status(
    messy_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    read_sizes: list[int] = []
    original = Path.read_bytes

    def recording_read_bytes(self: Path) -> bytes:
        read_sizes.append(self.stat().st_size)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", recording_read_bytes)
    code, lines = _run(capsys, str(messy_folder))
    *answers, skipped = lines
    assert skipped == {"path": str(messy_folder), "skipped": ["notes.txt", "phone/MANIFEST.csv"]}
    by_name = {Path(line["path"]).relative_to(messy_folder).as_posix(): line for line in answers}
    assert sorted(by_name) == [
        "b.jpg", "b.png", "empty.jpg", "phone/b.avif", "phone/b.heic", "video.jpg"
    ]  # fmt: skip
    assert code == 1  # empty.jpg and video.jpg, not the skipped files
    for name in ("b.jpg", "b.png", "phone/b.avif"):
        assert by_name[name]["hand"] is True, name
    assert by_name["phone/b.avif"]["label"] == by_name["b.jpg"]["label"]
    heic = by_name["phone/b.heic"]  # decoded and answered as a photo with no hand in it
    assert "error" not in heic and heic["hand"] is False and heic["advice"], heic
    assert "empty (0 bytes)" in by_name["empty.jpg"]["error"]
    assert "upload" not in by_name["empty.jpg"]["error"]  # nothing was uploaded
    assert "The file is 2.1 GB; the limit for a photo is 100.0 MB" in by_name["video.jpg"]["error"]
    assert max(read_sizes) < 10**6  # the 2 GB file was never read


def test_a_folder_of_photos_only_exits_0_and_text_mode_says_each(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for label in ("a", "l"):
        (tmp_path / f"{label}.jpg").write_bytes(massey_photo(massey_root, label).read_bytes())
    capsys.readouterr()
    assert main(["predict", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        str(tmp_path / "a.jpg"),
        str(tmp_path / "l.jpg"),
    ]


def test_an_empty_folder_and_a_missing_path_are_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "nothing").mkdir()
    code, lines = _run(capsys, str(tmp_path / "nothing"), str(tmp_path / "gone.jpg"))
    assert code == 1
    assert lines[0] == {"path": str(tmp_path / "nothing"), "error": "no files in this folder"}
    assert lines[1]["path"] == str(tmp_path / "gone.jpg")
    assert "No such file" in lines[1]["error"]


def test_no_hand_in_text_mode_names_the_likely_cause(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The background of a real Massey photo (its top-left corner, no hand in it) at a tenth
    of its brightness: a dark photo without a hand."""
    with Image.open(massey_photo(massey_root, "5", "hand4")) as img:
        corner = img.convert("RGB").crop((0, 0, 96, 96))
    Image.eval(corner, lambda v: v // 10).save(tmp_path / "corner.png")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "corner.png")]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{tmp_path / 'corner.png'}: no hand")
    assert "very dark" in line


def test_a_dark_photo_without_a_hand_gives_the_same_advice_in_json(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Image.open(massey_photo(massey_root, "5", "hand4")) as img:
        corner = img.convert("RGB").crop((0, 0, 96, 96))
    Image.eval(corner, lambda v: v // 10).save(tmp_path / "corner.png")
    code, (line,) = _run(capsys, str(tmp_path / "corner.png"))
    assert code == 0
    assert line["hand"] is False and line["label"] is None
    assert line["advice"].startswith("The photo is very dark")
    main(["predict", str(tmp_path / "corner.png")])
    assert f"({line['advice']})" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--threshold", "1.5", "threshold must be a finite number from 0 to 1, got 1.5"),
        ("--threshold", "-1", "from 0 to 1, got -1"),
        ("--threshold", "nan", "threshold must be a finite number from 0 to 1, got nan"),
        ("--threshold", "inf", "from 0 to 1, got inf"),
        ("--threshold", "high", "threshold must be a number from 0 to 1, got 'high'"),
        ("--top", "-3", "top must be from 1 to 5 (the model lists at most 5 classes), got -3"),
        ("--top", "0", "1 to 5"),
        ("--top", "10", "at most 5 classes"),
        ("--top", "two", "top must be a whole number from 1 to 5, got 'two'"),
    ],
)
def test_out_of_range_options_are_refused(
    option: str, value: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", option, value, str(tmp_path / "photo.jpg")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and reason in err


def test_top_lists_that_many_classes(massey_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photo = str(massey_photo(massey_root, "b", "hand2"))
    (five,) = _run(capsys, photo)[1]
    (two,) = _run(capsys, "--top", "2", photo)[1]
    assert len(five["top"]) == 5 and two["top"] == five["top"][:2]
    assert {**two, "top": None} == {**five, "top": None}
    capsys.readouterr()
    main(["predict", "--top", "1", photo])
    assert capsys.readouterr().out.strip().endswith(f"[{five['label']} {five['top'][0][1]:.0%}]")


def test_a_folder_with_notes_beside_its_photos_exits_0_with_one_skipped_line(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.JPG").write_bytes(massey_photo(massey_root, "a").read_bytes())
    (tmp_path / "notes.txt").write_text("A: fist, thumb beside it\n")
    (tmp_path / "MANIFEST.csv").write_text("name,label\na.JPG,A\n")
    capsys.readouterr()
    assert main(["predict", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{tmp_path / 'a.JPG'}: ")
    assert out[1] == (
        f"{tmp_path}: skipped 2 file(s) without a photo suffix: MANIFEST.csv, notes.txt"
    )
    # Named on the command line, a file that is not a photo is still an error.
    code, (line,) = _run(capsys, str(tmp_path / "notes.txt"))
    assert code == 1 and "text file" in line["error"]


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_named_pipe_and_dev_null_are_refused_as_not_regular_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)

    def writer() -> None:  # so that a reader opening the pipe gets text instead of hanging
        try:
            with fifo.open("wb") as handle:
                handle.write(b"not a photo\n")
        except BrokenPipeError:
            pass  # released by the test's own reader below, which closes without reading

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        code, lines = _run(capsys, str(fifo), "/dev/null")
    finally:
        os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))  # release the writer if blocked
        thread.join(timeout=10)
    assert code == 1
    assert "not a regular file (a named pipe (FIFO))" in lines[0]["error"]
    assert "not a regular file (a character device" in lines[1]["error"]
    assert "text file" not in lines[1]["error"]


def test_a_run_folder_is_a_model_and_a_photo_is_not(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "runs" / "20261130-000000-handframe_mlp"
    copy_shipped(run, "checkpoint")
    photo = massey_photo(massey_root, "l")
    code, (from_run,) = _run(capsys, "--model", str(run), str(photo))
    assert code == 0
    assert from_run == _run(capsys, str(photo))[1][0]  # the same model as the shipped one
    hint = "pass a checkpoint .json (runs/<run>/checkpoint.json) or an exported .onnx"
    pick = f"holds 1 run, not one model: pick one, e.g. --model {run}"
    for wrong, says in ((photo, hint), (run.parent, pick)):
        capsys.readouterr()
        assert main(["predict", "--model", str(wrong), str(photo)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert says in err


def test_a_digit_read_as_letters_names_the_command_lines_option(
    massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The app's note says "switch to Letters and digits"; here the remedy is the option."""
    photo = massey_photo(massey_root, "5", "hand1")
    code, (line,) = _run(capsys, "--classes", "letters", str(photo))
    assert code == 0 and not line["accepted"]
    assert line["note"] == "looks like the digit 5: use --classes all"
    code, (every_class,) = _run(capsys, "--classes", "all", str(photo))
    assert every_class["label"] == "5" and every_class["accepted"]


def test_a_real_run_prints_no_mediapipe_log_lines(massey_root: Path) -> None:
    """`python -m asl_core predict` in a subprocess: MediaPipe's start-up lines (XNNPACK,
    absl's warnings) used to follow every run on stderr; now stderr holds nothing of them."""
    photo = massey_photo(massey_root, "a", "hand1")
    run = subprocess.run(
        [sys.executable, "-m", "asl_core", "predict", "--json", str(photo)],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["label"] == "A"
    for marker in ("XNNPACK", "absl::InitializeLog", "inference_feedback_manager",
                   "landmark_projection_calculator"):  # fmt: skip
        assert marker not in run.stderr, run.stderr


def test_the_default_threshold_follows_the_model(
    massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no --threshold, each model is answered at the threshold it records (the shipped
    one: 0.72); a model recording 0.9475 (answered at 0.95) leaves a 0.88 answer unsure, and
    --threshold still decides when given."""
    photo = str(massey_photo(massey_root, "v", "hand2"))
    (shipped,) = _run(capsys, "--classes", "all", photo)[1]
    assert shipped["accepted"] and 0.72 <= shipped["confidence"] < 0.95
    meta = copy_shipped(tmp_path / "strict", "checkpoint")
    raw = json.loads(meta.read_text())
    raw["extra"]["calibration"]["threshold"] = 0.9475  # `extra` is not signed: still loads
    meta.write_text(json.dumps(raw))
    code, (strict,) = _run(capsys, "--model", str(meta), "--classes", "all", photo)
    assert code == 0 and not strict["accepted"]
    assert {**strict, "accepted": None} == {**shipped, "accepted": None}
    given = _run(capsys, "--model", str(meta), "--threshold", "0.72", "--classes", "all", photo)
    assert given[1][0] == shipped
    raw["extra"]["calibration"]["threshold"] = 1.5
    meta.write_text(json.dumps(raw))
    capsys.readouterr()
    assert main(["predict", "--model", str(meta), photo]) == 2
    assert capsys.readouterr().err == (
        "error: checkpoint.json: calibration threshold 1.5 is not a number from 0 to 1; "
        "restore the file or save the checkpoint again\n"
    )


def test_the_help_says_where_the_default_threshold_comes_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert (
        "--threshold THRESHOLD 0 to 1; default: the threshold the model records (calibrated on "
        "people it never saw; the shipped model's is 0.72), else the shipped model's 0.72"
    ) in words
