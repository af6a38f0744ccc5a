"""HTTP prediction API (seed 000, section 4.4.8: server deployment with FastAPI).

Start it with one command (the model is loaded once, at start-up):

    .venv/bin/uvicorn asl_core.serve.api:app --port 8000
    .venv/bin/python -m asl_core.serve.api --port 8000 [--host 0.0.0.0] [--model M.onnx]

`ASL_MODEL` chooses the model (a checkpoint `.json`, a training run folder, or an exported
`.onnx`; default: the shipped model). `python -m asl_core.serve.api` loads and checks the model
before it starts the server, and exits 2 with one line saying what is wrong; under `uvicorn`
a bad model is one logged line (`ERROR: ...`, the same message) and start-up fails (exit 3,
`OneLineStartupFailure`). Endpoints:

- `POST /predict` with the photo as multipart field `file` and optional query parameters
  `threshold` (0-1, default the model's own calibrated threshold, as /health says: the
  shipped model's is 0.72, and a model that records none gets 0.72 too), `classes` (letters,
  the default as in the app | digits | all), `mirror` (true|false) and `top` (classes listed, 1-5,
  default 5); `threshold`, `top` and `classes` are checked as the command line's
  `--threshold`, `--top` and `--classes` (`answers.check_threshold`, `check_top`,
  `labels.check_class_filter`), with the same messages, and `mirror` says "mirror must be
  true or false" (422 `{"detail": message}` for each). It answers
  exactly what `python -m asl_core predict --json` prints for that photo, `path` the upload's
  name:
  `{"path", "label", "confidence", "accepted", "hand", "top": [[label, p], ...]}` (`top`: the
  `top` most likely classes, as the command line's `--top`), plus `"note"` when a still
  photo cannot be the answer (J, Z) or an unsure answer under `classes=letters` (or digits) is
  confidently the other group ("looks like the digit 5: use classes=all"; the command line
  says "use --classes all") and, with no hand found (`"hand": false`), `"advice"`: the
  likely cause and what to do ("The photo is very dark ..."), or null when none shows; an
  unsure answer on a greyscale photo has `"advice"` too ("... a colour photo helps").
  `curl -F file=@photo.jpg 'http://localhost:8000/predict?classes=letters'`
- `GET /health`: `{"status": "ok", "model": WHAT, "threshold": T, "threshold_source": WHY}`
  (WHAT: "default model (ARCHITECTURE)" for the shipped model, else the file as given and its
  architecture; T: the default threshold of /predict, WHY: where it comes from,
  `Predictor.threshold_source`) after one real inference (an all-zero input of the model's
  declared shape gives one finite logit per class); 503 with the reason if not.
- `GET /labels`: `{"labels": [class names]}`.

Errors are `{"detail": message}` with the status saying what went wrong: 400 for a malformed
multipart body (bad boundary, garbage), with the parser's reason; 408 when the upload stalls
(no bytes for `READ_TIMEOUT_S`); 413 for an upload over `MAX_UPLOAD_BYTES` (refused from its
Content-Length before the body is read, or as soon as a body without one passes the limit) or
an image over the pixel limit; 415 for a file that is not one of the accepted photo formats,
judged by its content (the message says what it looks like) or a request that is not
multipart; 422 for a truncated, too small or undecodable image, a missing `file` field, or bad
query parameters; 503 with `Retry-After` when the server is busy (below).

Memory and bursts: photos are decoded at reduced scale (`asl_core.io.images`), so one upload
costs at most about `DECODE_PEAK_BYTES`; at most `decode_slots` uploads are decoded and
answered at once, sized to the machine's memory (`decode_slots_for_memory`). When every slot
is busy an upload (already read, spooled to disk past 1 MB) waits in line for one, up to
`SLOT_WAIT_S` (5 s), so a class uploading together is answered; it gets 503 with
`Retry-After` only if no slot came free in that time, or at once when `WAITING_PER_SLOT`
uploads per slot are already waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from asl_core.inference.answers import TOP_K, Interface, check_threshold, check_top
from asl_core.inference.predictor import ModelNotAvailable, Predictor
from asl_core.io.images import (
    MAX_FILE_BYTES,
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
    load_image,
)
from asl_core.labels import CLASS_FILTERS, DEFAULT_CLASS_FILTER, ClassFilter, check_class_filter
from asl_core.models.checkpoint import CheckpointError, FolderWithoutModel, check_inference
from asl_core.runs.model_folder import why_no_model

MAX_UPLOAD_BYTES = MAX_FILE_BYTES
"""Largest photo accepted: the limit of every photo reader (100 MB, a 200 MP phone JPEG)."""


READ_TIMEOUT_S = 30.0
"""A request body that sends nothing for this long is answered 408 (a stalled upload)."""


DECODE_PEAK_BYTES = 350 * 1024 * 1024
"""Most memory one upload costs while decoded and answered: the file (up to MAX_UPLOAD_BYTES)
plus its reduced-scale decode, about 210 MB for a 200 MP JPEG (bench/hard_photos.py)."""


DECODE_MEMORY_SHARE = 0.25
"""Share of the machine's physical memory that concurrent decodes may take together."""


RETRY_AFTER_S = 2


SLOT_WAIT_S = 5.0
"""How long an upload waits for a decoding slot before it is answered 503. A class uploading
together sends a burst of photos at once (6-8, more than the 4 slots of a small machine).
Measured here (2 CPU cores, 4 slots, 8 uploads started together, timed by hand around the
burst of tests/unit/serve/test_api.py): 8 real Massey photos were all answered within 0.5 s,
where 4 of them got 503 without the wait (two runs); the same 8 resized to 12 MP JPEGs within
0.7-0.9 s each. A few seconds covers a slower machine or a larger burst; a server still full
after that is overloaded, and says so rather than holding connections open."""


WAITING_PER_SLOT = 4
"""At most this many uploads per decoding slot wait for one (16 with 4 slots); beyond that the
answer is 503 at once. A waiting upload has been read already, spooled to a temporary file
past 1 MB (Starlette's form parser), so waiting costs little memory."""


SLOT_POLL_S = 0.01
"""How often a waiting upload looks for a free slot."""


MULTIPART_ALLOWANCE = 64 * 1024
"""Room for the multipart envelope (boundaries, part headers) around the file itself."""


FILE_FIELD = "file"


MODEL_ENV = "ASL_MODEL"


class UploadTooLarge(Exception):
    """Raised from inside the body stream as soon as the limit is passed."""


class UploadStalled(Exception):
    """Raised from inside the body stream when no bytes came for the read timeout."""


def decode_slots_for_memory(total_bytes: int | None = None) -> int:
    """How many uploads may be decoded at once: DECODE_MEMORY_SHARE of the physical memory
    (default: this machine's) over DECODE_PEAK_BYTES, at least 1, at most 2 per CPU core
    (decoding and detection are CPU-bound: more would only queue in memory)."""
    if total_bytes is None:
        try:
            total_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total_bytes = 4 * 1024**3
    by_memory = int(DECODE_MEMORY_SHARE * total_bytes // DECODE_PEAK_BYTES)
    return max(1, min(by_memory, 2 * (os.cpu_count() or 1)))


class SlotAnswer(Enum):
    """What `DecodeSlots.acquire` got: a slot, or why not."""

    TAKEN = "taken"
    LINE_FULL = "line full"  # refused at once: `max_waiting` uploads already wait
    TIMED_OUT = "timed out"  # waited `wait_s` in line, no slot came free


class DecodeSlots:
    """At most `slots` uploads decoded and answered at once. When all are busy, up to
    `max_waiting` more wait for one, first come first served (the first `slots` in line may
    take a slot that comes free), each for at most `wait_s`; the rest are refused.

    Thread-safe: the endpoint acquires and releases on the event loop, and anything else (a
    test holding a slot) may use `try_acquire` and `release` from another thread.
    """

    def __init__(self, slots: int, *, wait_s: float, max_waiting: int) -> None:
        if slots < 1:
            raise ValueError(f"decode_slots must be at least 1, got {slots}")
        if max_waiting < 0 or wait_s < 0:
            raise ValueError(f"max_waiting and wait_s must be >= 0, got {max_waiting}, {wait_s}")
        self.slots, self.wait_s, self.max_waiting = slots, wait_s, max_waiting
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._line: list[object] = []

    @property
    def waiting(self) -> int:
        """Uploads waiting for a slot now."""
        return len(self._line)

    def try_acquire(self) -> bool:
        """Take a free slot without waiting (ahead of any waiting upload)."""
        return self._free.acquire(blocking=False)

    def release(self) -> None:
        self._free.release()

    async def acquire(self) -> SlotAnswer:
        """A slot (`TAKEN`), at once or after waiting in line; `LINE_FULL` at once when
        `max_waiting` uploads already wait, `TIMED_OUT` when no slot came free within `wait_s`."""
        ticket = object()
        with self._lock:
            if not self._line and self._free.acquire(blocking=False):
                return SlotAnswer.TAKEN
            if len(self._line) >= self.max_waiting:
                return SlotAnswer.LINE_FULL
            self._line.append(ticket)
        deadline = time.monotonic() + self.wait_s
        try:
            while True:
                with self._lock:
                    if self._line.index(ticket) < self.slots and self._free.acquire(blocking=False):
                        return SlotAnswer.TAKEN
                if time.monotonic() >= deadline:
                    return SlotAnswer.TIMED_OUT
                await asyncio.sleep(SLOT_POLL_S)
        finally:  # taken, timed out, or the client went away (cancelled)
            with self._lock:
                self._line.remove(ticket)


def _busy_message(answer: SlotAnswer, slots: DecodeSlots) -> str:
    """The 503's detail: the line was full (refused at once), or the upload waited in vain."""
    if answer is SlotAnswer.LINE_FULL:
        waiting = slots.max_waiting
        uploads = "1 upload is" if waiting == 1 else f"{waiting} uploads are"
        return f"The server is busy: {uploads} already waiting; try again in a moment."
    return (
        "The server is busy reading other photos (none came free "
        f"within {slots.wait_s:g} s); try again in a few seconds."
    )


_BOOL = TypeAdapter(bool)


def _check_mirror(value: str) -> bool:
    """The query's `mirror` as pydantic reads a bool (true/false, 1/0, yes/no, on/off), with one
    line saying so otherwise, as `top`, `threshold` and `classes` are checked."""
    try:
        return _BOOL.validate_python(value)
    except ValidationError:
        raise ValueError(f"mirror must be true or false, got {value!r}") from None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": message})


def _too_large_message() -> str:
    return (
        f"The upload is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB; send a smaller photo "
        "(resize or re-save it as JPEG)."
    )


def _bounded(
    receive: Callable[[], Awaitable[Message]], limit: int, timeout_s: float
) -> Callable[[], Awaitable[Message]]:
    """Wrap the ASGI receive channel so reading stops once `limit` body bytes have come in (a
    body without Content-Length, chunked, is never read past the limit), and so that waiting
    more than `timeout_s` for the next piece of the body raises UploadStalled."""
    received = 0

    async def bounded_receive() -> Message:
        nonlocal received
        try:
            message = await asyncio.wait_for(receive(), timeout_s)
        except TimeoutError as exc:
            raise UploadStalled from exc
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise UploadTooLarge
        return message

    return bounded_receive


def _status_for(error: ImageError) -> int:
    if isinstance(error, ImageTooLargeError):
        return 413
    if isinstance(error, NotAnImageError):
        return 415
    return 422  # truncated, too small, undecodable: an image, but not a usable one


def _model_path(model: str | os.PathLike[str] | None) -> list[Path] | None:
    chosen = model or os.environ.get(MODEL_ENV)
    return [Path(chosen)] if chosen else None


def _load_predictor(model: str | os.PathLike[str] | None) -> Predictor:
    """The predictor the API serves: `model` (else `ASL_MODEL`, else the shipped model), its
    notes worded for the API ("use classes=all"), after one real inference per model
    (`check_inference`). Raises ModelNotAvailable, ValueError (CheckpointError) or OSError
    saying what is wrong: both start-ups (`main` and the lifespan) turn it into one line."""
    predictor = Predictor(_model_path(model), interface=Interface.API)
    try:
        for loaded in predictor.models:
            check_inference(loaded.model, loaded.meta, loaded.path.name)
    except BaseException:
        predictor.close()
        raise
    return predictor


class StartupRefused(Exception):
    """The model cannot be served; the message is the one line the server logs."""


class OneLineStartupFailure:
    """ASGI middleware: when the lifespan raises StartupRefused, the server is told
    `lifespan.startup.failed` with that one line (uvicorn logs it, then "Application startup
    failed. Exiting." and exits 3) instead of the whole traceback Starlette puts there. Any
    other start-up failure passes through unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold_startup_failure(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                held.append(message)  # sent below, once the exception is known
            else:
                await send(message)

        try:
            await self.app(scope, receive, hold_startup_failure)
        except StartupRefused as refused:
            await send({"type": "lifespan.startup.failed", "message": str(refused)})
        except BaseException:
            for message in held:
                await send(message)
            raise


# The request body of /predict for the OpenAPI page: the endpoint reads the multipart form
# itself (to bound the read), so FastAPI cannot infer it.
_PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FILE_FIELD],
                    "properties": {FILE_FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def create_app(
    model: str | os.PathLike[str] | None = None,
    *,
    decode_slots: int | None = None,
    slot_wait_s: float = SLOT_WAIT_S,
    max_waiting: int | None = None,
    read_timeout_s: float = READ_TIMEOUT_S,
    predictor: Predictor | None = None,
) -> FastAPI:
    """The API serving `model` (default: `ASL_MODEL`, else the shipped model).

    `predictor`: one already loaded (by `main`, to refuse a bad model before the server
    starts); the app then serves it instead of loading `model`, and closes it at shutdown.

    The model and the hand detector are loaded once, when the server starts; requests share
    them (the detector serialises its own calls; model inference is thread-safe).
    `decode_slots`: uploads decoded and answered at once (default `decode_slots_for_memory()`);
    `slot_wait_s` and `max_waiting`: how long and how many uploads wait for a slot when all
    are busy (defaults `SLOT_WAIT_S` and `WAITING_PER_SLOT` per slot; `DecodeSlots`);
    `read_timeout_s`: the stalled-upload timeout.
    """
    preloaded = predictor
    slots = decode_slots if decode_slots is not None else decode_slots_for_memory()
    waiting = WAITING_PER_SLOT * slots if max_waiting is None else max_waiting
    decoding = DecodeSlots(slots, wait_s=slot_wait_s, max_waiting=waiting)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            loaded = preloaded or await run_in_threadpool(_load_predictor, model)
        except (ModelNotAvailable, ValueError, OSError) as error:  # CheckpointError: ValueError
            raise StartupRefused(_one_line(error)) from error
        app.state.predictor = loaded
        try:
            yield
        finally:
            loaded.close()

    app = FastAPI(
        title="ASL hand-sign recogniser",
        description="Recognise an American Sign Language letter or digit in a photo.",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(OneLineStartupFailure)
    app.state.decode_slots = decoding

    @app.get("/health", response_model=None)
    def health(request: Request) -> dict[str, Any] | JSONResponse:
        # One real inference per model, so "ok" means the model can answer (issue 17, F5).
        predictor: Predictor = request.app.state.predictor
        try:
            for loaded in predictor.models:
                check_inference(loaded.model, loaded.meta, loaded.path.name)
        except CheckpointError as error:
            return _error(503, f"The model cannot answer: {error}")
        return {
            "status": "ok",
            "model": predictor.description,
            "threshold": predictor.default_threshold,
            "threshold_source": predictor.threshold_source,
        }

    @app.get("/labels")
    def labels(request: Request) -> dict[str, list[str]]:
        return {"labels": list(request.app.state.predictor.class_names)}

    @app.post("/predict", openapi_extra=_PREDICT_BODY, response_model=None)
    async def predict(
        request: Request,
        threshold: Annotated[
            str | None,
            Query(description="0 to 1 (default: the model's own threshold, as GET /health says)"),
        ] = None,
        classes: Annotated[
            str, Query(description=f"{', '.join(CLASS_FILTERS)} (default {DEFAULT_CLASS_FILTER})")
        ] = DEFAULT_CLASS_FILTER,
        mirror: Annotated[str, Query(description="true or false (default true)")] = "true",
        top: Annotated[
            str | None, Query(description=f"classes listed, 1 to {TOP_K} (default {TOP_K})")
        ] = None,
    ) -> dict[str, Any] | JSONResponse:
        # Read as text and checked as the command line checks its options, with its messages.
        try:
            listed = TOP_K if top is None else check_top(top)
            sure = None if threshold is None else check_threshold(threshold)  # None: the model's
            which = check_class_filter(classes)
            mirrored = _check_mirror(mirror)
        except ValueError as error:
            return _error(422, str(error))
        limit = MAX_UPLOAD_BYTES + MULTIPART_ALLOWANCE
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return _error(413, _too_large_message())  # refused before reading the body
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return _error(
                415,
                f"Send the photo as multipart/form-data in the field {FILE_FIELD!r} "
                f"(e.g. curl -F {FILE_FIELD}=@photo.jpg ...), not as {content_type or 'no type'}.",
            )
        bounded = Request(request.scope, _bounded(request.receive, limit, read_timeout_s))
        try:
            form = await bounded.form(max_files=1, max_fields=4)
        except UploadTooLarge:
            return _error(413, _too_large_message())
        except UploadStalled:
            return _error(
                408, f"The upload stalled: no data for {read_timeout_s:g} s; send it again."
            )
        except (MultiPartException, ValueError) as error:
            # python-multipart's parse errors are ValueErrors (bad boundary, garbage).
            message = f"The multipart body is malformed ({error}); send the photo as a file "
            return _error(400, message + f"in the field {FILE_FIELD!r} (curl -F file=@photo.jpg).")
        slots: DecodeSlots = request.app.state.decode_slots
        try:
            upload = form.get(FILE_FIELD)
            if not isinstance(upload, UploadFile):
                message = (
                    f"No file in the field {FILE_FIELD!r}: send the photo as {FILE_FIELD}=@..."
                )
                return _error(422, message)
            if upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
                return _error(413, _too_large_message())
            answer = await slots.acquire()
            if answer is not SlotAnswer.TAKEN:
                return JSONResponse(
                    status_code=503,
                    content={"detail": _busy_message(answer, slots)},
                    headers={"Retry-After": str(RETRY_AFTER_S)},
                )
            data = await upload.read()
            name = upload.filename or FILE_FIELD
        finally:
            await form.close()
        try:
            return await _answer(
                request.app.state.predictor, data, name, sure, mirrored, which, listed
            )
        finally:
            slots.release()

    return app


async def _answer(
    predictor: Predictor,
    data: bytes,
    name: str,
    threshold: float | None,
    mirror: bool,
    classes: ClassFilter,
    top: int,
) -> dict[str, Any] | JSONResponse:
    """Decode and answer one upload (the caller holds a decoding slot)."""
    try:
        rgb = await run_in_threadpool(load_image, data)
    except ImageError as error:
        return _error(_status_for(error), str(error))
    try:
        prediction = await run_in_threadpool(
            predictor.predict_image, rgb, threshold=threshold, mirror=mirror, classes=classes
        )
    except ValueError as error:  # e.g. classes=digits for a letters-only model
        return _error(422, str(error))
    return prediction.to_json(name, top=top)


app = create_app()
"""The app `uvicorn asl_core.serve.api:app` serves (the model loads when the server starts)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m asl_core.serve.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to accept other machines")
    parser.add_argument("--port", type=_port, default=8000, help="1 to 65535 (default 8000)")
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help=f"checkpoint .json, run folder or .onnx; default: ${MODEL_ENV} or shipped",
    )
    args = parser.parse_args(argv)
    try:  # load and check the model first: a bad one is one line and exit 2, before uvicorn
        predictor = _load_predictor(args.model)
    except (ModelNotAvailable, ValueError, OSError) as error:  # CheckpointError is a ValueError
        print(f"error: {_one_line(error)}", file=sys.stderr)
        return 2
    import uvicorn

    uvicorn.run(create_app(args.model, predictor=predictor), host=args.host, port=args.port)
    return 0


def _one_line(error: BaseException) -> str:
    """The error's message on one line (a start-up failure is one log line); for a folder
    with no model, what it is (an interrupted run and its resume command, a group of runs:
    the CLI's words, `runs.model_folder.why_no_model`)."""
    message = str(error)
    if isinstance(error, FolderWithoutModel):
        message = why_no_model(error.folder) or message
    return " ".join(message.split())


def _port(text: str) -> int:
    """argparse type: a TCP port number, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1 to 65535)")
    return value


if __name__ == "__main__":
    sys.exit(main())
