"""Run the app for real and drive it with Debian's Chromium through Playwright.

Facts this relies on (checked on the project's machines, see ../shared/NOTES.md):
- `playwright install` downloads a browser and fails offline; Debian's `chromium` package works,
  launched with `executable_path="/usr/bin/chromium"`.
- As root Chromium needs `--no-sandbox`; without the `--disable-*` flags below it keeps trying
  to reach the (closed) network. Playwright gives every launch a fresh profile directory, which
  is the fresh `--user-data-dir` the notes ask for.
- Camera tests add `--use-fake-ui-for-media-stream --use-fake-device-for-media-stream
  --use-file-for-fake-video-capture=<clip.y4m|.mjpeg>` through `launch_browser(extra_args)`.

Typical use in a test::

    chromium = require_chromium()
    with start_app(free_port()) as url, launch_browser(executable=chromium) as browser:
        page = browser.new_page()
        page.goto(url)
        wait_for_app(page)
        assert_no_exception(page)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


REPO_ROOT = Path(__file__).resolve().parents[2]


DEFAULT_CHROMIUM = "/usr/bin/chromium"


# Always passed: root needs --no-sandbox; the rest keeps Chromium off the network.
BASE_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


APP_START_TIMEOUT_S = 90.0


# What Streamlit renders for an uncaught exception, and for its own error boxes.
EXCEPTION_SELECTOR = '[data-testid="stException"]'


class BrowserUnavailable(RuntimeError):
    """No Chromium and no way to install one here; the message says why."""


def find_chromium() -> str | None:
    """Path of a Chromium binary: $ASL_CHROMIUM, /usr/bin/chromium, or one on PATH."""
    candidates = (
        os.environ.get("ASL_CHROMIUM"),
        DEFAULT_CHROMIUM,
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    )
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _may_install() -> bool:
    # Installing a system package is only acceptable on a throw-away CI machine as root.
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    return is_root and os.environ.get("CI", "").lower() == "true"


def install_chromium(timeout_s: float = 900) -> str:
    """`apt-get install -y chromium` (Debian's package); only as root with CI=true."""
    if not _may_install():
        raise BrowserUnavailable(
            "Chromium is not installed (looked for $ASL_CHROMIUM, /usr/bin/chromium and "
            "`chromium` on PATH). Install it with `sudo apt-get install -y chromium`; the test "
            "installs it itself only when run as root with CI=true."
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise BrowserUnavailable(
                f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr[-500:]}"
            )
    found = find_chromium()
    if found is None:
        raise BrowserUnavailable("apt-get installed chromium but no binary was found")
    return found


def ensure_chromium() -> str:
    """A Chromium binary, installing Debian's package where allowed; BrowserUnavailable if not."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        raise BrowserUnavailable(f"the playwright package is not installed ({error})") from None
    return find_chromium() or install_chromium()


def require_chromium() -> str:
    """`ensure_chromium` for pytest: skips the test with the reason instead of failing."""
    import pytest

    try:
        return ensure_chromium()
    except BrowserUnavailable as reason:
        pytest.skip(str(reason))


@contextlib.contextmanager
def launch_browser(
    extra_args: Sequence[str] = (),
    *,
    executable: str | None = None,
    headless: bool = True,
    **launch_options: Any,
) -> Iterator[Browser]:
    """Playwright's chromium on the system binary, with BASE_FLAGS + `extra_args`."""
    from playwright.sync_api import sync_playwright

    executable = executable or ensure_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=headless,
            args=[*BASE_FLAGS, *extra_args],
            **launch_options,
        )
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200 and response.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextlib.contextmanager
def start_app(
    port: int | None = None,
    script: str = "Home.py",
    *,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
    timeout_s: float = APP_START_TIMEOUT_S,
) -> Iterator[str]:
    """`streamlit run script` on 127.0.0.1:port as a subprocess; yields its base URL.

    Waits for `/_stcore/health` to answer "ok"; raises RuntimeError with the end of the
    server's log if it exits or does not come up in time. The server (and anything it
    started) is stopped on exit; its log is kept in the temporary folder until then.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        script,
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        *extra_args,
    ]
    child_env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **(env or {})}
    with tempfile.TemporaryDirectory(prefix="streamlit-e2e-") as folder:
        log_path = Path(folder) / "streamlit.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=REPO_ROOT,
                env=child_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one below
            )
            try:
                deadline = time.monotonic() + timeout_s
                while not _healthy(url):
                    if process.poll() is not None:
                        raise RuntimeError(
                            f"streamlit exited with {process.returncode}:\n{_tail(log_path)}"
                        )
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"streamlit did not answer {url}/_stcore/health within "
                            f"{timeout_s:.0f} s:\n{_tail(log_path)}"
                        )
                    time.sleep(0.25)
                yield url
            finally:
                _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def wait_for_app(page: Page, timeout_s: float = 60.0, settle_s: float = 1.0) -> None:
    """Wait until the script run is over: the app is shown and its 'running' widget has been
    gone for `settle_s` (Streamlit renders while the script runs)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout_s * 1000)
    running = page.locator('[data-testid="stStatusWidget"]')
    deadline = time.monotonic() + timeout_s
    idle_since: float | None = None
    while time.monotonic() < deadline:
        if running.count() == 0 or not running.first.is_visible():
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle_s:
                return
        else:
            idle_since = None
        page.wait_for_timeout(200)
    raise TimeoutError(f"the app was still running after {timeout_s:.0f} s")


def inner_text(page: Page, selector: str) -> str:
    """Text of the last element matching `selector` ('' if none). While a fragment reruns,
    Streamlit can briefly show the old element next to the new one: the last one is current."""
    return page.evaluate(
        "(selector) => { const all = document.querySelectorAll(selector);"
        " return all.length ? all[all.length - 1].innerText : ''; }",
        selector,
    )


def exception_texts(page: Page) -> list[str]:
    """Texts of Streamlit's exception boxes, plus the page text if it mentions a traceback."""
    found = [box.inner_text() for box in page.locator(EXCEPTION_SELECTOR).all()]
    body = page.locator("body").inner_text()
    if "Traceback (most recent call last)" in body:
        found.append(body[body.index("Traceback") :][:2000])
    return found


def assert_no_exception(page: Page) -> None:
    problems = exception_texts(page)
    assert not problems, f"{page.url} shows an exception:\n" + "\n---\n".join(problems)


def broken_images(page: Page) -> list[str]:
    """Sources of images the browser could not load (a 500 from /media, a missing file)."""
    return page.evaluate(
        "Array.from(document.images)"
        ".filter(img => img.complete && img.naturalWidth === 0)"
        ".map(img => img.currentSrc || img.src)"
    )


def wait_for_images(page: Page, timeout_s: float = 15.0) -> None:
    """Wait until every <img> on the page has finished loading (or failed)."""
    page.wait_for_function(
        "Array.from(document.images).every(img => img.complete)", timeout=timeout_s * 1000
    )


def assert_images_load(page: Page) -> None:
    wait_for_images(page)
    broken = broken_images(page)
    assert not broken, f"{page.url}: {len(broken)} images did not load: {broken[:3]}"


def screenshot_whole_app(page: Page, path: str | os.PathLike[str], width: int = 1400) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside its own container, so
    Playwright's full_page sees one viewport: grow the viewport to the content instead."""
    height = page.evaluate(
        "() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
        " return main ? main.scrollHeight : document.body.scrollHeight; }"
    )
    page.set_viewport_size({"width": width, "height": max(600, int(height))})
    page.wait_for_timeout(500)  # let the charts re-layout to the new size
    page.screenshot(path=str(path))
