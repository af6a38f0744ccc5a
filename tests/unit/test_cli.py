"""`python -m asl_core predict` on folders users really have: every file gets a line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

import asl_core.io.images  # noqa: F401  (registers the HEIC codec used to make test files)
from asl_core.__main__ import main
from tests.helpers.photos import massey_photo


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
    """Photos in four formats beside the files people leave in photo folders."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "phone").mkdir()
    (folder / ".thumbnails").mkdir()
    photo = massey_photo(massey_root, "b", "hand2")
    (folder / "b.jpg").write_bytes(photo.read_bytes())
    _save(photo, folder / "phone" / "b.heic", "HEIF")
    _save(photo, folder / "phone" / "b.avif", "AVIF")
    _save(photo, folder / "b.png", "PNG")
    (folder / "notes.txt").write_text("B is a flat hand, thumb across the palm\n")
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
    by_name = {Path(line["path"]).relative_to(messy_folder).as_posix(): line for line in lines}
    assert sorted(by_name) == [
        "b.jpg", "b.png", "empty.jpg", "notes.txt", "phone/b.avif", "phone/b.heic", "video.jpg"
    ]  # fmt: skip
    assert code == 1
    for name in ("b.jpg", "b.png", "phone/b.heic", "phone/b.avif"):
        assert by_name[name]["hand"] is True, name
    assert by_name["phone/b.heic"]["label"] == by_name["b.jpg"]["label"]
    assert "empty (0 bytes)" in by_name["empty.jpg"]["error"]
    assert "text file" in by_name["notes.txt"]["error"]
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
