"""Names of signs and signers, and the errors capture reports."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from asl_core.labels import DIGITS, LETTERS, normalise_label

BUILTIN_CLASSES: tuple[str, ...] = (*DIGITS, *LETTERS)


MAX_NAME_LENGTH = 32


# Device names Windows refuses as file names, whatever the extension (a folder `CON` cannot
# be created there); refused everywhere so that a capture folder can move between machines.
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


class CaptureError(Exception):
    """A capture refused; the message is written for the person using the app."""


class InvalidNameError(CaptureError, ValueError):
    """A class or signer name that is empty, too long or not safe as a folder or file name."""


class DiskFullError(CaptureError):
    """Too little free space to save photos safely."""


class ReadOnlyFolderError(CaptureError):
    """The capture folder cannot be written."""


class FolderLockedError(CaptureError):
    """Another session is writing to the capture folder."""


class NotCaptureFolderError(CaptureError):
    """A folder the Capture page did not make (a dataset, anything else): never written."""


def validate_name(text: str | None, what: str = "sign name") -> str:
    """The name trimmed, NFKC-normalised and with inner spaces collapsed; or InvalidNameError.

    Allowed: 1-32 characters, letters and digits (any script), spaces, `-` and `_`, with at
    least one letter or digit. Everything else (dots, slashes, colons, control characters) is
    refused rather than replaced, so two different names can never map to one folder.
    """
    if text is None or not text.strip():
        raise InvalidNameError(f"The {what} is empty; type a name.")
    # NFKC: full-width and other compatibility forms become plain letters and digits, so a
    # name looks the same in every file system.
    name = " ".join(unicodedata.normalize("NFKC", text).split())
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"The {what} is {len(name)} characters long; use at most {MAX_NAME_LENGTH}."
        )
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in " -_")})
    if bad:
        shown = " ".join(repr(ch) for ch in bad)
        raise InvalidNameError(
            f"The {what} {name!r} contains {shown}; use only letters, digits, spaces, "
            "'-' and '_' (no dots or slashes: the name becomes a folder name)."
        )
    if not any(ch.isalnum() for ch in name):
        raise InvalidNameError(f"The {what} {name!r} needs at least one letter or digit.")
    if name.upper() in _WINDOWS_RESERVED:
        raise InvalidNameError(f"{name!r} is a reserved device name on Windows; pick another.")
    return name


def class_name(text: str | None, existing: Iterable[str] = ()) -> str:
    """A safe class label: `a` -> `A` (one spelling per class, `labels.normalise_label`).

    A name that differs from an existing class only in case is that class (`hello` joins
    `HELLO`): on case-insensitive file systems (macOS, Windows) they would share a folder.
    """
    name = normalise_label(validate_name(text, "sign name"))
    for label in (*BUILTIN_CLASSES, *existing):
        if label.casefold() == name.casefold():
            return label
    return name


def signer_name(text: str | None) -> str:
    """A safe signer name (it goes into every file name and the manifest)."""
    return validate_name(text, "signer name")


def file_stem_part(name: str) -> str:
    """A validated name as part of a file name: spaces become '-'."""
    return name.replace(" ", "-")
