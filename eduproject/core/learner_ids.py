"""Learner ids that mean one learner: normalised, visible, and never a look-alike of another.

Learner ids come from folder names (grading) and rosters (gateway tokens) and end up in the
gradebook, exports and the gateway's attribution. Two ids that display the same must not
become two learners, so :func:`normalize_learner_id` brings an id to Unicode NFKC (fullwidth
letters U+FF41 U+FF44 U+FF41 become ``ada``; a macOS folder name ``jose`` + combining accent
becomes ``josé``) and refuses ids with

* invisible characters: zero-width spaces and joiners, text-direction (bidi) controls, other
  format and control characters, unassigned or private-use code points, default-ignorable
  characters such as variation selectors and Hangul fillers;
* spaces at either end or two in a row;
* letters of two of the scripts whose letters look alike (Latin, Greek, Cyrillic, Armenian,
  Cherokee, Coptic): ``ada`` with a Cyrillic ``a`` (U+0430) looks exactly like ``ada``.

:func:`look_alikes` finds ids of one class that display the same although each is fine on
its own (``ace`` in Cyrillic letters, U+0430 U+0441 U+0435, next to the Latin ``ace``).

    >>> normalize_learner_id("\\uff41\\uff44\\uff41")      # fullwidth
    'ada'
    >>> normalize_learner_id("ada\\u200b")
    Traceback (most recent call last):
    ...
    eduproject.errors.LearnerIdError: learner id 'ada<U+200B>' contains an invisible or text-direction character (U+200B ZERO WIDTH SPACE)
      -> rename it to the learner's user name as it displays, in plain letters
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from eduproject.errors import LearnerIdError

__all__ = ["LearnerIdError", "look_alikes", "normalize_learner_id", "shown"]

# Scripts whose letters are confused with one another (Unicode TR 39's usual suspects).
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "GREEK", "CYRILLIC", "ARMENIAN", "CHEROKEE", "COPTIC"})
# Default-ignorable code points (Unicode DerivedCoreProperties) that are not format or
# unassigned characters already: they render as nothing.
_IGNORABLE = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
# Greek and Cyrillic letters drawn like Latin ones, both cases (the common part of TR 39's
# confusables table): what an id looks like, for :func:`look_alikes`.
_LOOKS_LATIN = str.maketrans(
    "аеёіїјорсѕухһԁԛԝӏАВЕЅІЈКМНОРСТХҮԚԜαινοκρυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeëiïjopcsyxhdqwlABESIJKMHOPCTXYQWainokpuxABEZHIKMNOPTYX",
)


def shown(raw: str) -> str:
    """``raw`` with every character outside printable ASCII written as ``<U+XXXX>``.

    >>> shown("\\u0430da")
    '<U+0430>da'
    """
    return "".join(c if " " <= c <= "~" else f"<U+{ord(c):04X}>" for c in raw)


def normalize_learner_id(raw: str) -> str:
    """The NFKC form of ``raw``; :class:`LearnerIdError` if it hides or fakes characters."""
    if any(0xD800 <= ord(c) <= 0xDFFF for c in raw):
        raise _refused(raw, "is not valid text (a file name that is not UTF-8)")
    text = unicodedata.normalize("NFKC", raw)
    if not text.strip():
        raise _refused(raw, "is empty")
    for c in text:
        if _invisible(c):
            name = unicodedata.name(c, "unnamed character")
            raise _refused(
                raw, f"contains an invisible or text-direction character (U+{ord(c):04X} {name})"
            )
    if text != text.strip() or "  " in text:
        raise _refused(raw, "has a space at either end or two spaces in a row")
    scripts = sorted({s for s in map(_script, text) if s in _CONFUSABLE_SCRIPTS})
    if len(scripts) > 1:
        named = " and ".join(s.title() for s in scripts)
        raise _refused(raw, f"mixes {named} letters, which look alike")
    return text


def look_alikes(ids: Iterable[str]) -> dict[str, str]:
    """Each id that displays like another id of ``ids``, mapped to that other id.

    Of ids that look the same, the one written in Latin letters only (if any) is kept; the
    others are look-alikes of it. When none is, every one of them is a look-alike.

    >>> cyrillic_ace = "\\u0430\\u0441\\u0435"
    >>> look_alikes(["ace", cyrillic_ace, "bob"]) == {cyrillic_ace: "ace"}
    True
    """
    groups: dict[str, list[str]] = {}
    for learner in dict.fromkeys(ids):
        groups.setdefault(learner.translate(_LOOKS_LATIN), []).append(learner)
    out: dict[str, str] = {}
    for skeleton, members in groups.items():
        if len(members) < 2:
            continue
        plain = skeleton if skeleton in members else None
        for learner in members:
            if learner != plain:
                out[learner] = plain or next(m for m in members if m != learner)
    return out


def _refused(raw: str, problem: str) -> LearnerIdError:
    return LearnerIdError(raw, shown(raw), problem)


def _invisible(c: str) -> bool:
    if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return True
    if c != " " and c.isspace():
        return True
    code = ord(c)
    return any(low <= code <= high for low, high in _IGNORABLE)


def _script(c: str) -> str:
    if not unicodedata.category(c).startswith("L"):
        return ""
    return unicodedata.name(c, "").split(" ", 1)[0]
