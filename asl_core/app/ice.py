"""WebRTC set-up: ICE/TURN servers from the environment or secrets, secure contexts, help."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})


CAMERA_CONSTRAINTS = {
    "video": {"width": 640, "height": 480, "frameRate": 30},
    "audio": False,
}
"""What the live and capture pages ask of the browser's camera (getUserMedia constraints)."""


ICE_ENV = "ASL_ICE_SERVERS"


TURN_URL_ENV = "ASL_TURN_URL"


TURN_USERNAME_ENV = "ASL_TURN_USERNAME"


TURN_CREDENTIAL_ENV = "ASL_TURN_CREDENTIAL"


class IceConfigError(ValueError):
    """The ICE servers given in the secrets or the environment cannot be read."""


def host_of(url_or_host: str | None) -> str | None:
    """'https://example.org:8501/Live' or 'example.org:8501' -> 'example.org'."""
    if not url_or_host:
        return None
    text = url_or_host if "//" in url_or_host else f"//{url_or_host}"
    return urlsplit(text).hostname


def is_local_host(url_or_host: str | None) -> bool:
    """The browser reaches the app on this machine (where the camera needs no HTTPS)."""
    host = host_of(url_or_host)
    return host is None or host in LOCAL_HOSTS or host.endswith(".localhost")


def _normalise_servers(value: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise IceConfigError(f"{where} is not valid JSON: {error}") from error
    if isinstance(value, Mapping) and "iceServers" in value:
        value = value["iceServers"]
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list | tuple):
        raise IceConfigError(f"{where} must be a list of ICE servers ({{'urls': ...}})")
    servers = []
    for server in value:
        if not isinstance(server, Mapping) or "urls" not in server:
            raise IceConfigError(f"every ICE server in {where} needs 'urls', got {server!r}")
        servers.append({str(k): v for k, v in server.items()})  # secrets are read-only mappings
    return servers


def configured_ice_servers(
    secrets: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]] | None:
    """ICE servers someone configured, first found wins; None when nobody did.

    1. `ice_servers` in `.streamlit/secrets.toml` (a list of {urls, username, credential});
    2. `ASL_ICE_SERVERS`: the same list as JSON;
    3. one TURN server from `ASL_TURN_URL` (+ `ASL_TURN_USERNAME`, `ASL_TURN_CREDENTIAL`).
    """
    env = os.environ if env is None else env
    if secrets and "ice_servers" in secrets:
        return _normalise_servers(secrets["ice_servers"], "secrets ice_servers")
    if env.get(ICE_ENV, "").strip():
        return _normalise_servers(env[ICE_ENV], ICE_ENV)
    turn_url = env.get(TURN_URL_ENV, "").strip()
    if turn_url:
        server: dict[str, Any] = {"urls": [url.strip() for url in turn_url.split(",")]}
        if env.get(TURN_USERNAME_ENV):
            server["username"] = env[TURN_USERNAME_ENV]
        if env.get(TURN_CREDENTIAL_ENV):
            server["credential"] = env[TURN_CREDENTIAL_ENV]
        return [server]
    return None


def rtc_configuration(
    url: str | None,
    secrets: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any] | None:
    """What to pass as `webrtc_streamer(rtc_configuration=...)`.

    Configured servers win. Otherwise on localhost no servers at all (`{"iceServers": []}`):
    host candidates connect directly and ICE does not wait on a STUN host it cannot reach.
    Otherwise None, which lets streamlit-webrtc pick servers itself (Cloudflare, Twilio or
    Hugging Face credentials from the environment, else Google's public STUN).
    """
    servers = configured_ice_servers(secrets, env)
    if servers is not None:
        return {"iceServers": servers}
    if is_local_host(url):
        return {"iceServers": []}
    return None


CONNECT_TIMEOUT_S = 8.0
"""The first frame normally reaches the callback 0.6-3 s after START (measured here)."""


class ConnectionStatus(StrEnum):
    IDLE = "idle"  # START not pressed
    CONNECTING = "connecting"  # START pressed, no video yet, still within the timeout
    LIVE = "live"
    NO_VIDEO = "no_video"  # START pressed longer than the timeout ago and no video
    STOPPED = "stopped"  # video came, then stopped arriving while still "playing"


@dataclass
class ConnectionWatch:
    """Remembers when START was pressed, across reruns (kept in session state)."""

    timeout_s: float = CONNECT_TIMEOUT_S
    requested_at: float | None = None

    def observe(self, *, playing: bool, signalling: bool, now: float) -> None:
        """Feed the component's state on every full rerun (`ctx.state`)."""
        active = playing or signalling
        if active and self.requested_at is None:
            self.requested_at = now
        elif not active:
            self.requested_at = None

    def status(self, last_frame_at: float | None, now: float) -> ConnectionStatus:
        if self.requested_at is None:
            return ConnectionStatus.IDLE
        if last_frame_at is not None and last_frame_at >= self.requested_at:
            if now - last_frame_at > self.timeout_s:
                return ConnectionStatus.STOPPED
            return ConnectionStatus.LIVE
        if now - self.requested_at > self.timeout_s:
            return ConnectionStatus.NO_VIDEO
        return ConnectionStatus.CONNECTING

    def waited_s(self, now: float) -> float:
        return 0.0 if self.requested_at is None else now - self.requested_at


SECURE_CONTEXT_HELP = (
    "Browsers only let a web page use the camera when the page is served over **HTTPS** or "
    "opened on this computer as **localhost**. This page was opened as `{url}`: open it "
    "through an HTTPS address (or a tunnel that gives one), or on localhost."
)


PERMISSION_HELP = (
    "**Camera permission.** The browser may have blocked the camera, or another program "
    "(a video call) may be using it. Click the camera icon in the address bar, allow the "
    "camera for this site, close other apps that use it, and press START again."
)


TURN_HELP = (
    "**Network relay (TURN).** The app runs on another machine, and the video has to cross "
    "firewalls to reach it. Without a relay (TURN) server that often fails silently. Whoever "
    "hosts the app can add one: `ice_servers` in `.streamlit/secrets.toml`, or the "
    f"environment variables `{ICE_ENV}` (JSON list) or `{TURN_URL_ENV}`, "
    f"`{TURN_USERNAME_ENV}`, `{TURN_CREDENTIAL_ENV}`."
)


NO_CAMERA_HELP = (
    "**No camera found.** If the video box says *NotFoundError* or *Requested device not "
    "found*, the browser sees no camera: connect one (or choose it with SELECT DEVICE) and "
    "press START again. Without a camera, photos can still be read on the **Classify** page."
)


LOCAL_NETWORK_HELP = (
    "**Local connection.** The app runs on this computer, so no relay is needed; a browser "
    "extension or a strict privacy setting that blocks WebRTC can still stop the video."
)


SNAPSHOT_HELP = (
    "Meanwhile **snapshot mode** works without live video (it needs the camera, not WebRTC): "
    "take one photo at a time with the camera button; each photo is read by the same model, "
    "and you add its letter to the text."
)


def is_secure_url(url: str | None) -> bool:
    """Whether the browser would allow the camera on this page address."""
    if not url:
        return True  # unknown (tests, old browsers): do not warn
    return urlsplit(url).scheme == "https" or is_local_host(url)


def insecure_context_warning(url: str | None) -> str | None:
    """The warning to show before START when the camera cannot work at this address."""
    if is_secure_url(url):
        return None
    return SECURE_CONTEXT_HELP.format(url=url)


def connection_help(
    status: ConnectionStatus,
    *,
    url: str | None,
    ice_configured: bool,
    waited_s: float = 0.0,
) -> list[str]:
    """Plain-words paragraphs: why the video did not start and what to do (empty if fine)."""
    if status is ConnectionStatus.NO_VIDEO:
        lines = [f"The video has not started {waited_s:.0f} seconds after START. Likely causes:"]
    elif status is ConnectionStatus.STOPPED:
        lines = ["The video stopped arriving. Press STOP and START again. If it keeps stopping:"]
    else:
        return []
    warning = insecure_context_warning(url)
    if warning:
        lines.append(warning)
    lines.append(PERMISSION_HELP)
    lines.append(NO_CAMERA_HELP)
    if is_local_host(url):
        lines.append(LOCAL_NETWORK_HELP)
    elif not ice_configured:
        lines.append(TURN_HELP)
    else:
        lines.append(
            "**Network relay (TURN).** A relay server is configured; check that it is "
            "reachable and that its username and credential are still valid."
        )
    lines.append(SNAPSHOT_HELP)
    return lines
