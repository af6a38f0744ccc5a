"""Class names: one spelling everywhere (upper-case letters `A`-`Z`, digits `0`-`9`)."""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from typing import Literal

LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase)
DIGITS: tuple[str, ...] = tuple(string.digits)
ClassFilter = Literal["all", "letters", "digits"]
CLASS_FILTERS: tuple[ClassFilter, ...] = ("letters", "digits", "all")


DEFAULT_CLASS_FILTER: ClassFilter = "letters"
"""What the app's pages answer with until the user picks otherwise: letters, because O/0, V/2
and W/6 are one handshape and people mostly spell words (issue 18: one default, chosen here)."""


CLASS_FILTER_NAMES: dict[ClassFilter, str] = {
    "letters": "Letters only",
    "digits": "Digits only",
    "all": "Letters and digits",
}
"""How the pages name each filter."""


def normalise_label(name: str) -> str:
    """`a` and `A` are one class; other names (a user's own sign) are kept, trimmed."""
    name = name.strip()
    return name.upper() if len(name) == 1 else name


def sort_labels(labels: Iterable[str]) -> list[str]:
    """Digits first, then letters, then any other sign by name: the order every table uses."""

    def key(label: str) -> tuple[int, str]:
        if label in DIGITS:
            return (0, label)
        if label in LETTERS:
            return (1, label)
        return (2, label.lower())

    return sorted({normalise_label(label) for label in labels}, key=key)


def check_class_filter(value: str) -> ClassFilter:
    """`value` as a class filter (one of `CLASS_FILTERS`): the one check of the command line's
    `--classes` and the HTTP API's `classes`. Raises ValueError naming the choices otherwise."""
    for which in CLASS_FILTERS:
        if value == which:
            return which
    raise ValueError(f"classes must be one of {', '.join(CLASS_FILTERS)}, got {value!r}")


def allowed_mask(class_names: Sequence[str], which: ClassFilter) -> list[bool]:
    """Which classes may be answered when the caller wants only letters or only digits.

    Signs that are neither (a user's own) are allowed with letters, since people spelling words
    use them too.
    """
    which = check_class_filter(which)
    if which == "all":
        return [True] * len(class_names)
    if which == "digits":
        return [name in DIGITS for name in class_names]
    return [name not in DIGITS for name in class_names]
