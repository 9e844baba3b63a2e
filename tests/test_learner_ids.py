"""Learner ids: NFKC, and refusal of ids that hide characters or look like another learner's."""

from __future__ import annotations

import pytest

from eduproject.core.learner_ids import look_alikes, normalize_learner_id, shown
from eduproject.errors import LearnerIdError


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("ada", "ada"),
        ("\uff41\uff44\uff41", "ada"),  # fullwidth
        ("jose\u0301", "jos\u00e9"),  # macOS (NFD) folder names
        ("Ada Lovelace", "Ada Lovelace"),
        ("o'neil, j", "o'neil, j"),
        ("\u00d3lafur", "\u00d3lafur"),
        ("\u674e\u660e", "\u674e\u660e"),  # Han
        ("\u674e\u660eli", "\u674e\u660eli"),  # Han and Latin: not look-alike scripts
        ("\u0395\u03bb\u03ad\u03bd\u03b7", "\u0395\u03bb\u03ad\u03bd\u03b7"),  # all Greek
        ("a\u00a0b", "a b"),  # a no-break space is a space
    ],
)
def test_ids_are_brought_to_nfkc(raw: str, normal: str) -> None:
    assert normalize_learner_id(raw) == normal


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("ada\u200b", "(U+200B ZERO WIDTH SPACE)"),
        ("a\u200dda", "(U+200D ZERO WIDTH JOINER)"),
        ("ada\u202e", "(U+202E RIGHT-TO-LEFT OVERRIDE)"),
        ("\u2066ada\u2069", "(U+2066 LEFT-TO-RIGHT ISOLATE)"),
        ("ada\u00ad", "(U+00AD SOFT HYPHEN)"),
        ("ada\ufe0f", "(U+FE0F VARIATION SELECTOR-16)"),
        ("ada\u3164", "HANGUL"),  # a filler that renders as nothing
        ("ada\ue000", "(U+E000"),  # private use
        ("ada\x85", "(U+0085"),
        ("ada\udcff", "is not valid text"),  # os.fsdecode of a non-UTF-8 name
        ("", "is empty"),
        (" ada", "space at either end"),
        ("ada  l", "two spaces in a row"),
        ("\u0430da", "mixes Cyrillic and Latin letters"),
        ("\u03b1da", "mixes Greek and Latin letters"),
    ],
)
def test_ids_that_hide_or_fake_characters_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(LearnerIdError) as caught:
        normalize_learner_id(raw)
    assert problem in caught.value.message
    assert caught.value.shown == shown(raw) and caught.value.shown.isascii()
    assert caught.value.hint


def test_look_alikes_keep_the_plain_latin_id() -> None:
    cyrillic_ace, greek_kio = "\u0430\u0441\u0435", "\u03ba\u03b9\u03bf"
    assert look_alikes(["ace", cyrillic_ace, "bob", "kim", "Kim"]) == {cyrillic_ace: "ace"}
    assert look_alikes([greek_kio, "kio"]) == {greek_kio: "kio"}
    # Neither is plain Latin: both are look-alikes of the other.
    mixed = "\u0430\u0441e"
    assert look_alikes([cyrillic_ace, mixed]) == {cyrillic_ace: mixed, mixed: cyrillic_ace}
    assert look_alikes(["ada", "Ada", "ad\u00e1"]) == {}  # different to the eye
