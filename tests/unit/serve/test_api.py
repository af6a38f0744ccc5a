"""The HTTP API through a REAL server: uvicorn on a free localhost port, called with httpx.

A real photo must get exactly the JSON that `python -m asl_core predict --json` prints for the
same file (only `path` differs: the API reports the uploaded file name), and bad uploads must
get the right 4xx with a message a person can act on.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from asl_core.__main__ import main as cli_main
from asl_core.export.checkpoint_export import export_checkpoint
from asl_core.inference.predictor import (
    GREYSCALE_UNSURE_HINT,
    ThresholdDefault,
    default_model_path,
    threshold_default,
)
from asl_core.labels import LETTERS
from asl_core.models.checkpoint import checkpoint_paths, read_meta
from asl_core.serve.api import MAX_UPLOAD_BYTES, create_app, decode_slots_for_memory
from asl_core.serve.api import main as api_main
from asl_core.settings import REPO_ROOT
from tests.helpers.checkpoints import copy_shipped, edit_meta
from tests.helpers.photos import massey_photo

STARTUP_TIMEOUT_S = 60


REQUEST_TIMEOUT_S = 30


BOUNDARY = "aslboundary"


MULTIPART_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
    "Content-Type: image/jpeg\r\n\r\n"
).encode()


class LiveServer:
    """uvicorn serving `create_app(model, **options)` in a thread, on a free localhost port."""

    def __init__(self, model: Path | None = None, **options: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = create_app(model, **options)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@pytest.fixture(scope="module")
def server(data_root: Path) -> Iterator[LiveServer]:
    with LiveServer() as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as http:
        yield http


def shipped_threshold() -> ThresholdDefault:
    """The shipped model's default threshold and its source, as /health says them."""
    return threshold_default([(read_meta(default_model_path()), "model.json")])


def cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    """What `python -m asl_core predict --json ARGS` prints, one object per line."""
    capsys.readouterr()
    cli_main(["predict", "--json", *args])
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def as_api(from_cli: dict, name: str) -> dict:
    """What the API answers for a photo the command line answered `from_cli`: the same JSON,
    `path` the uploaded name, and a note's remedy in the API's words (`classes=all`)."""
    expected = {**from_cli, "path": name}
    if "note" in expected:
        expected["note"] = expected["note"].replace("use --classes all", "use classes=all")
    return expected


def upload(client: httpx.Client, data: bytes, name: str = "photo.jpg", **params: object):
    return client.post("/predict", files={"file": (name, data, "image/jpeg")}, params=params)


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    return buffer.getvalue()


def read_status_line(connection: socket.socket) -> str:
    connection.settimeout(REQUEST_TIMEOUT_S)
    data = b""
    while b"\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_health_and_labels(client: httpx.Client) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    architecture = read_meta(default_model_path()).architecture
    assert health.json() == {
        "status": "ok",
        "model": f"default model ({architecture})",
        "threshold": 0.72,
        "threshold_source": shipped_threshold().source,
    }
    labels = client.get("/labels").json()["labels"]
    assert "A" in labels and "0" in labels and len(labels) == len(set(labels))


def test_real_photos_get_exactly_the_command_lines_json(
    client: httpx.Client, massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = [massey_photo(massey_root, label, signer) for label, signer in
              (("a", "hand1"), ("7", "hand2"), ("w", "hand5"), ("m", "hand4"))]  # fmt: skip
    expected = cli_json(capsys, *map(str, photos))
    for photo, from_cli in zip(photos, expected, strict=True):
        response = upload(client, photo.read_bytes(), name=photo.name)
        assert response.status_code == 200, response.text
        assert response.json() == as_api(from_cli, photo.name)


@pytest.mark.parametrize(
    ("params", "cli_args"),
    [
        ({"classes": "letters"}, ["--classes", "letters"]),
        ({"classes": "digits", "threshold": 0.95}, ["--classes", "digits", "--threshold", "0.95"]),
        ({"mirror": "false"}, ["--no-mirror"]),
        ({"top": 2}, ["--top", "2"]),
        ({"top": 1, "classes": "all"}, ["--top", "1", "--classes", "all"]),
    ],
)
def test_query_parameters_mean_what_the_cli_options_mean(
    params: dict,
    cli_args: list[str],
    client: httpx.Client,
    massey_root: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    photo = massey_photo(massey_root, "o", "hand3")
    (from_cli,) = cli_json(capsys, *cli_args, str(photo))
    response = upload(client, photo.read_bytes(), name=photo.name, **params)
    assert response.json() == as_api(from_cli, photo.name)


def test_the_cli_and_the_api_answer_letters_unless_asked_as_the_app_does(
    client: httpx.Client, massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = massey_photo(massey_root, "7", "hand2")
    (default,) = cli_json(capsys, str(photo))
    (every_class,) = cli_json(capsys, "--classes", "all", str(photo))
    assert every_class["label"] == "7"
    assert default["label"] in LETTERS and all(label in LETTERS for label, _ in default["top"])
    assert upload(client, photo.read_bytes(), name=photo.name).json()["label"] == default["label"]


def test_a_digit_read_as_letters_names_the_apis_parameter(
    client: httpx.Client, massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same answer as the command line's; only the remedy differs, each its own way."""
    photo = massey_photo(massey_root, "5", "hand1")
    (from_cli,) = cli_json(capsys, "--classes", "letters", str(photo))
    response = upload(client, photo.read_bytes(), name=photo.name, classes="letters")
    assert response.json()["note"] == "looks like the digit 5: use classes=all"
    assert from_cli["note"] == "looks like the digit 5: use --classes all"
    assert response.json() == as_api(from_cli, photo.name)


def test_a_photo_without_a_hand_says_so(
    client: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty_room = png_bytes(np.full((240, 320, 3), 90, dtype=np.uint8))
    (tmp_path / "wall.png").write_bytes(empty_room)
    (from_cli,) = cli_json(capsys, str(tmp_path / "wall.png"))
    response = upload(client, empty_room, name="wall.png")
    assert response.status_code == 200
    assert response.json() == as_api(from_cli, "wall.png")
    assert response.json()["hand"] is False and response.json()["label"] is None
    assert "advice" in response.json()  # the likely cause, or null when none shows


def test_a_dark_photo_without_a_hand_gets_the_clis_advice(
    client: httpx.Client, massey_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The background of a real Massey photo (no hand in it) at a tenth of its brightness."""
    with Image.open(massey_photo(massey_root, "5", "hand4")) as img:
        corner = img.convert("RGB").crop((0, 0, 96, 96))
    Image.eval(corner, lambda v: v // 10).save(tmp_path / "dark.png")
    (from_cli,) = cli_json(capsys, str(tmp_path / "dark.png"))
    response = upload(client, (tmp_path / "dark.png").read_bytes(), name="dark.png")
    assert response.json() == as_api(from_cli, "dark.png")
    assert response.json()["advice"].startswith("The photo is very dark")


def test_an_unsure_greyscale_photo_gets_the_clis_colour_advice(
    client: httpx.Client, data_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A real aslhg P (0.99 in colour) as a greyscale copy: a hand, unsure, and the advice."""
    with Image.open(data_root / "aslhg" / "images/P/P6_P_582.jpg") as img:
        img.convert("L").convert("RGB").save(tmp_path / "grey.png")
    (from_cli,) = cli_json(capsys, str(tmp_path / "grey.png"))
    assert from_cli["hand"] is True and from_cli["accepted"] is False
    assert from_cli["advice"] == GREYSCALE_UNSURE_HINT
    response = upload(client, (tmp_path / "grey.png").read_bytes(), name="grey.png")
    assert response.json() == as_api(from_cli, "grey.png")


def test_a_file_that_is_not_an_image_gets_415_saying_what_it_is(client: httpx.Client) -> None:
    response = upload(client, b"%PDF-1.7\n" + b"x" * 2000, name="scan.pdf")
    assert response.status_code == 415
    assert "not an image" in response.json()["detail"] and "PDF" in response.json()["detail"]


def test_a_truncated_photo_gets_422(client: httpx.Client, massey_root: Path) -> None:
    data = massey_photo(massey_root, "b").read_bytes()
    response = upload(client, data[: len(data) // 3])
    assert response.status_code == 422
    assert "truncated" in response.json()["detail"]


def test_a_tiny_image_gets_422(client: httpx.Client) -> None:
    response = upload(client, png_bytes(np.zeros((12, 12, 3), dtype=np.uint8)), name="dot.png")
    assert response.status_code == 422
    assert "too small" in response.json()["detail"]


def test_an_empty_file_gets_415(client: httpx.Client) -> None:
    response = upload(client, b"", name="empty.jpg")
    assert response.status_code == 415
    assert "empty" in response.json()["detail"]


def test_the_wrong_field_or_no_multipart_gets_told_how_to_send(
    client: httpx.Client, massey_root: Path
) -> None:
    data = massey_photo(massey_root, "c").read_bytes()
    wrong_field = client.post("/predict", files={"photo": ("c.jpg", data, "image/jpeg")})
    assert wrong_field.status_code == 422
    assert "'file'" in wrong_field.json()["detail"]
    raw_body = client.post("/predict", content=data, headers={"content-type": "image/jpeg"})
    assert raw_body.status_code == 415
    assert "multipart/form-data" in raw_body.json()["detail"]


def test_bad_query_parameters_get_422(client: httpx.Client, massey_root: Path) -> None:
    data = massey_photo(massey_root, "c").read_bytes()
    assert upload(client, data, threshold=1.5).status_code == 422
    assert upload(client, data, classes="vowels").status_code == 422


@pytest.mark.parametrize("classes", ["foo", "vowels", "Letters", ""])
def test_a_bad_classes_gets_422_with_the_command_lines_message(
    client: httpx.Client, massey_root: Path, classes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line, as top and threshold, where it was pydantic's list of errors."""
    response = upload(client, massey_photo(massey_root, "c").read_bytes(), classes=classes)
    assert response.status_code == 422
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_main(["predict", "--classes", classes, "photo.jpg"])
    cli_message = capsys.readouterr().err.strip().split("argument --classes: ", 1)[1]
    assert response.json() == {"detail": cli_message}
    assert cli_message == f"classes must be one of letters, digits, all, got {classes!r}"


@pytest.mark.parametrize("mirror", ["maybe", "2", ""])
def test_a_bad_mirror_gets_422_with_one_line(
    client: httpx.Client, massey_root: Path, mirror: str
) -> None:
    response = upload(client, massey_photo(massey_root, "c").read_bytes(), mirror=mirror)
    assert response.status_code == 422
    assert response.json() == {"detail": f"mirror must be true or false, got {mirror!r}"}


@pytest.mark.parametrize("top", ["0", "6", "-1", "two"])
def test_a_bad_top_gets_422_with_the_command_lines_message(
    client: httpx.Client, massey_root: Path, top: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = upload(client, massey_photo(massey_root, "c").read_bytes(), top=top)
    assert response.status_code == 422
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_main(["predict", "--top", top, "photo.jpg"])
    cli_message = capsys.readouterr().err.strip().split("argument --top: ", 1)[1]
    assert response.json() == {"detail": cli_message}
    assert cli_message.startswith("top must be ") and "1 to 5" in cli_message


@pytest.mark.parametrize("threshold", ["nan", "inf", "1.5", "-0.1", "high"])
def test_a_bad_threshold_gets_422_with_the_command_lines_message(
    client: httpx.Client, massey_root: Path, threshold: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = upload(client, massey_photo(massey_root, "c").read_bytes(), threshold=threshold)
    assert response.status_code == 422
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_main(["predict", "--threshold", threshold, "photo.jpg"])
    cli_message = capsys.readouterr().err.strip().split("argument --threshold: ", 1)[1]
    assert response.json() == {"detail": cli_message}
    assert cli_message.startswith("threshold must be ") and "from 0 to 1, got " in cli_message


def test_an_upload_over_the_limit_gets_413(client: httpx.Client) -> None:
    response = upload(client, b"\xff" * (MAX_UPLOAD_BYTES + 1), name="huge.jpg")
    assert response.status_code == 413
    assert "100 MB" in response.json()["detail"]


def test_a_declared_oversize_upload_is_refused_before_its_body_is_sent(
    server: LiveServer,
) -> None:
    """Only the headers and 1 KB of a body claimed over the limit are sent: the 413 must come."""
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(
            b"POST /predict HTTP/1.1\r\nHost: localhost\r\n"
            + f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
            + f"Content-Length: {MAX_UPLOAD_BYTES + 2**20}\r\n\r\n".encode()
            + MULTIPART_HEAD
            + b"\xff" * 1024
        )
        assert read_status_line(connection).startswith("HTTP/1.1 413")


def test_a_chunked_upload_is_cut_off_at_the_limit(server: LiveServer) -> None:
    """No Content-Length: the server stops reading once the limit is passed. The body is never
    finished here, so a server that waited for all of it would time out instead of answering."""
    chunk = b"\xff" * 65536
    with socket.create_connection(("127.0.0.1", server.port)) as connection:
        connection.sendall(
            b"POST /predict HTTP/1.1\r\nHost: localhost\r\n"
            + f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        payload = MULTIPART_HEAD + chunk
        while sent < MAX_UPLOAD_BYTES + 2 * 2**20:
            connection.sendall(b"%x\r\n" % len(payload) + payload + b"\r\n")
            sent += len(payload)
            payload = chunk
        assert read_status_line(connection).startswith("HTTP/1.1 413")


def test_serves_an_exported_onnx_model(
    tmp_path: Path, massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = export_checkpoint(default_model_path(), "onnx", output=tmp_path / "m.onnx").path
    photo = massey_photo(massey_root, "k", "hand2")
    (from_cli,) = cli_json(capsys, "--model", str(exported), str(photo))
    with LiveServer(exported) as live, httpx.Client(base_url=live.url) as http:
        model = f"{exported} ({read_meta(default_model_path()).architecture})"
        assert http.get("/health").json() == {
            "status": "ok",
            "model": model,
            "threshold": 0.72,  # the record travels inside the export
            "threshold_source": shipped_threshold().source,
        }
        response = upload(http, photo.read_bytes(), name=photo.name)
    assert response.json() == as_api(from_cli, photo.name)


@pytest.mark.slow
def test_the_documented_command_starts_the_server(
    data_root: Path, massey_root: Path, tmp_path: Path
) -> None:
    """`python -m asl_core.serve.api --port N` in a subprocess, against the CLI in a subprocess;
    neither prints MediaPipe's start-up log lines."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = REPO_ROOT
    env = {**os.environ, "PYTHONPATH": str(root)}
    server_err = (tmp_path / "server.err").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "asl_core.serve.api", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=server_err,
    )
    try:
        photo = massey_photo(massey_root, "l", "hand5")
        cli = subprocess.run(
            [sys.executable, "-m", "asl_core", "predict", "--json", str(photo)],
            cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        from_cli = json.loads(cli.stdout)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=REQUEST_TIMEOUT_S) as http:
            while True:
                try:
                    if http.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline and process.poll() is None, "no server"
                time.sleep(0.2)
            response = upload(http, photo.read_bytes(), name=photo.name)
        assert response.json() == as_api(from_cli, photo.name)
    finally:
        process.terminate()
        process.wait(timeout=20)
        server_err.close()
    logs = cli.stderr + (tmp_path / "server.err").read_text()
    assert "Uvicorn running" in logs  # the server's own lines still come through
    for marker in ("XNNPACK", "absl::InitializeLog", "inference_feedback_manager"):
        assert marker not in logs, logs


# --- Issue 17: F1 malformed multipart, F2 bounded decoding, F3 formats by content, timeout ---


@pytest.fixture(scope="module")
def tight(data_root: Path) -> Iterator[LiveServer]:
    """A server with one decoding slot, a 0.5 s wait for it and a 1 s read timeout."""
    with LiveServer(decode_slots=1, slot_wait_s=0.5, read_timeout_s=1.0) as live:
        yield live


def _jpeg(photo: Path, size: tuple[int, int] | None = None, fmt: str = "JPEG") -> bytes:
    with Image.open(photo) as img:
        rgb = img.convert("RGB")
    if size is not None:
        rgb = rgb.resize(size, Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    rgb.save(buffer, fmt, quality=90)
    return buffer.getvalue()


MALFORMED = {
    "wrong boundary": (b"garbage body", "boundary=zzz"),
    "garbage after the boundary": (b"--zzz\r\nnonsense\r\n\r\n\x00\x01", "boundary=zzz"),
    "unterminated boundary quote": (
        b'--zzz\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        b"abc\r\n--zzz--\r\n",
        'boundary="zzz',
    ),
    "boundary over 70 characters": (b"x", "boundary=" + "z" * 200),
    "no boundary": (b"garbage", ""),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_multipart_body_gets_400_with_the_reason(
    client: httpx.Client, case: str
) -> None:
    body, parameter = MALFORMED[case]
    content_type = "multipart/form-data" + (f"; {parameter}" if parameter else "")
    response = client.post("/predict", content=body, headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["detail"]  # the parser's reason, not "Internal Server Error"


def test_an_eps_named_jpg_is_refused_by_content(client: httpx.Client, massey_root: Path) -> None:
    eps = _jpeg(massey_photo(massey_root, "a"), fmt="EPS")
    response = upload(client, eps, name="photo.jpg")
    assert response.status_code == 415
    assert "PostScript or EPS" in response.json()["detail"]


def test_heic_and_avif_photos_are_answered(
    client: httpx.Client, massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """AVIF: a real photo, answered as the CLI answers its JPEG. HEIC: plumbing only, on the
    synthetic fixture (the lock's pi-heif cannot encode; tests/fixtures/README.md): answered
    as a photo with no hand, not refused as a format."""
    photo = massey_photo(massey_root, "b", "hand2")
    response = upload(client, _jpeg(photo, fmt="AVIF"), name="b.avif")
    assert response.status_code == 200, response.text
    assert response.json()["hand"] is True
    (from_cli,) = cli_json(capsys, str(photo))
    assert response.json()["label"] == from_cli["label"]
    heic = (REPO_ROOT / "tests" / "fixtures" / "synthetic_quadrants.heic").read_bytes()
    response = upload(client, heic, name="IMG_0001.HEIC")
    assert response.status_code == 200, response.text
    assert response.json()["hand"] is False and response.json()["label"] is None


def test_a_50_mp_phone_photo_is_answered(client: httpx.Client, massey_root: Path) -> None:
    """8160x6120: refused as too large before issue 14; now decoded at a quarter of its size."""
    data = _jpeg(massey_photo(massey_root, "v", "hand3"), (8160, 6120))
    response = upload(client, data, name="phone.jpg")
    assert response.status_code == 200, response.text
    assert response.json()["hand"] is True


def test_with_every_decoding_slot_busy_past_the_wait_the_answer_is_503_with_retry_after(
    tight: LiveServer, massey_root: Path
) -> None:
    data = massey_photo(massey_root, "c").read_bytes()
    slots = tight.app.state.decode_slots
    with httpx.Client(base_url=tight.url, timeout=REQUEST_TIMEOUT_S) as http:
        assert slots.try_acquire()  # another upload is being decoded, for longer than 0.5 s
        try:
            busy = upload(http, data)
        finally:
            slots.release()
        assert busy.status_code == 503
        assert busy.headers["retry-after"].isdigit()
        assert "busy" in busy.json()["detail"] and "within 0.5 s" in busy.json()["detail"]
        assert slots.waiting == 0
        assert upload(http, data).status_code == 200  # the slot came back


def _burst(url: str, photos: list[Path], before_release: Any = None) -> list[httpx.Response]:
    """Upload every photo at once (one thread each, started together by a barrier)."""
    start = threading.Barrier(len(photos))
    responses: list[httpx.Response | None] = [None] * len(photos)

    def send(i: int) -> None:
        with httpx.Client(base_url=url, timeout=REQUEST_TIMEOUT_S) as http:
            start.wait()
            responses[i] = upload(http, photos[i].read_bytes(), name=photos[i].name)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(photos))]
    for thread in threads:
        thread.start()
    if before_release is not None:
        before_release()
    for thread in threads:
        thread.join(timeout=2 * REQUEST_TIMEOUT_S)
    assert all(response is not None for response in responses), "a request never came back"
    return responses  # type: ignore[return-value]


def _classroom(massey_root: Path) -> list[Path]:
    """Eight real photos: four people, two signs each."""
    return [massey_photo(massey_root, label, signer) for label in ("a", "b")
            for signer in ("hand1", "hand2", "hand3", "hand4")]  # fmt: skip


def test_a_classroom_burst_of_8_uploads_on_4_slots_is_all_answered(
    massey_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The 4 slots are held until all 8 uploads wait (before the bounded wait, all 8 got 503
    at once); freed, every upload is answered, as the command line answers it."""
    photos = _classroom(massey_root)
    expected = cli_json(capsys, *map(str, photos))
    with LiveServer(decode_slots=4, slot_wait_s=REQUEST_TIMEOUT_S) as live:
        slots = live.app.state.decode_slots
        assert all(slots.try_acquire() for _ in range(4))  # four photos being decoded

        def release_once_all_wait() -> None:
            deadline = time.monotonic() + REQUEST_TIMEOUT_S
            while slots.waiting < len(photos) and time.monotonic() < deadline:
                time.sleep(0.02)
            waiting.append(slots.waiting)
            for _ in range(4):
                slots.release()

        waiting: list[int] = []
        responses = _burst(live.url, photos, release_once_all_wait)
    assert waiting == [8]
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    for response, photo, from_cli in zip(responses, photos, expected, strict=True):
        assert response.json() == as_api(from_cli, photo.name)


def test_a_burst_of_8_real_uploads_with_the_default_wait_is_all_answered(
    massey_root: Path,
) -> None:
    with LiveServer(decode_slots=4) as live:
        responses = _burst(live.url, _classroom(massey_root))
    assert [r.status_code for r in responses] == [200] * 8, [r.text for r in responses]
    assert all(r.json()["hand"] for r in responses)


def test_an_upload_beyond_the_waiting_line_gets_503_at_once(massey_root: Path) -> None:
    data = massey_photo(massey_root, "c").read_bytes()
    with LiveServer(decode_slots=1, max_waiting=1, slot_wait_s=REQUEST_TIMEOUT_S) as live:
        slots = live.app.state.decode_slots
        assert slots.try_acquire()
        first: list[httpx.Response] = []
        with httpx.Client(base_url=live.url, timeout=REQUEST_TIMEOUT_S) as http:
            waiter = threading.Thread(target=lambda: first.append(upload(http, data)))
            waiter.start()
            deadline = time.monotonic() + REQUEST_TIMEOUT_S
            while slots.waiting < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert slots.waiting == 1  # the line (one place) is full
            refused = upload(http, data)
            assert refused.status_code == 503 and refused.headers["retry-after"].isdigit()
            # refused at once, so it must not claim a wait (it said "none came free within 30 s")
            assert refused.json() == {
                "detail": "The server is busy: 1 upload is already waiting; try again in a moment."
            }
            assert slots.waiting == 1  # the waiting upload still waits
            slots.release()
            waiter.join(timeout=REQUEST_TIMEOUT_S)
        assert [r.status_code for r in first] == [200]


def test_decode_slots_are_sized_to_memory() -> None:
    assert decode_slots_for_memory(512 * 1024**2) == 1  # never zero
    assert decode_slots_for_memory(4 * 1024**3) == min(2, 2 * (os.cpu_count() or 1))
    assert decode_slots_for_memory(1024**4) == 2 * (os.cpu_count() or 1)  # CPU-bound cap


def test_a_stalled_upload_gets_408(tight: LiveServer) -> None:
    """Headers and 1 KB of a declared 100 KB body, then nothing: the server must give up."""
    with socket.create_connection(("127.0.0.1", tight.port)) as connection:
        connection.sendall(
            b"POST /predict HTTP/1.1\r\nHost: localhost\r\n"
            + f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n".encode()
            + b"Content-Length: 100000\r\n\r\n"
            + MULTIPART_HEAD
            + b"\xff" * 1024
        )
        assert read_status_line(connection).startswith("HTTP/1.1 408")


# --- Start-up: a bad model or port is one line and exit 2, before uvicorn starts ---


def _truncate_weights(meta: Path) -> None:
    weights, _ = checkpoint_paths(meta)
    weights.write_bytes(weights.read_bytes()[:1000])


def _edit_classes(meta: Path) -> None:
    edit_meta(meta, lambda raw: raw["class_names"].reverse())


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no model at"),
        ("photo", "pass a checkpoint .json (runs/<run>/checkpoint.json) or an exported .onnx"),
        ("truncated", "model.safetensors"),
        ("classes edited", "model.json"),
    ],
)
def test_a_bad_model_stops_the_server_command_with_one_line(
    case: str,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(args))
    if case == "missing":
        model = tmp_path / "nonexistent.json"
    elif case == "photo":
        model = tmp_path / "photo.jpg"
        model.write_bytes(b"\xff\xd8\xff\xe0")
    else:
        model = copy_shipped(tmp_path)
        (_truncate_weights if case == "truncated" else _edit_classes)(model)
    capsys.readouterr()
    assert api_main(["--port", "8612", "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert expected in err
    assert started == []


def test_a_tampered_model_under_the_uvicorn_command_is_one_log_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    """The README's `ASL_MODEL=M uvicorn asl_core.serve.api:app`, in a subprocess, with one
    byte of the weights flipped: the reason is logged on one line and start-up fails (uvicorn's
    exit 3), where it printed a 37-line traceback ending in CheckpointError."""
    model = copy_shipped(tmp_path)
    weights, _ = checkpoint_paths(model)
    tampered = bytearray(weights.read_bytes())
    tampered[-10] ^= 0xFF
    weights.write_bytes(bytes(tampered))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uvicorn_command = Path(sys.executable).parent / "uvicorn"
    result = subprocess.run(
        [str(uvicorn_command), "asl_core.serve.api:app", "--port", str(port)],
        cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "ASL_MODEL": str(model)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert errors == [
        "ERROR:    model.safetensors does not match the checksum in model.json: the weights are "
        "corrupted, truncated or belong to another checkpoint",
        "ERROR:    Application startup failed. Exiting.",
    ], result.stderr
    assert "Traceback" not in result.stderr and "CheckpointError" not in result.stderr


def test_a_run_folder_is_served(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: started.append(app))
    copy_shipped(tmp_path / "runs" / "run1", "checkpoint")
    assert api_main(["--model", str(tmp_path / "runs" / "run1")]) == 0
    with TestClient(started[0]) as http:
        assert http.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http"])
def test_a_bad_port_is_an_argparse_error(
    port: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)  # never serve
    with pytest.raises(SystemExit) as exit_info:
        api_main(["--port", port])
    assert exit_info.value.code == 2
    assert "argument --port: " in capsys.readouterr().err


def test_help_names_the_real_module(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        api_main(["--help"])
    assert capsys.readouterr().out.startswith("usage: python -m asl_core.serve.api ")
