"""The incremental leak check against the full scan: same verdict at every split point.

``LeakWatch`` reads a streamed reply delta by delta and keeps what it found in the settled
part of the text; ``check_leak`` reads the whole text. For random replies (prose, inline and
fenced code, unfenced code runs, the solution verbatim and renamed, words to avoid, partial
fences and odd line breaks) cut into random deltas, the watch's verdict after every delta
must be the full scan's verdict on the text so far.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eduproject.core.codetext import (
    Fragment,
    fragment_groups,
    stable_cut,
    strip_markdown,
    tokens,
)
from eduproject.core.fingerprints import guard_data
from eduproject.core.lesson import Exercise, TestCase
from eduproject.tutor.guards import LeakWatch, check_leak
from eduproject.tutor.tutor import release_point

from .tutor_support import sample_pack

SUM_EVENS = sample_pack("03-lists-dicts").exercise("sum_evens")
AVOIDING = guard_data(
    Exercise(
        "double",
        "Double",
        "Write double(x).",
        (TestCase("basics", "double", 1.0, "assert double(2) == 5", "", False, "c2"),),
        avoid=("odd numbers", "remainder"),
        solution="def double(x):\n    return 2 * x + 1\n",
        stub="def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n",
    ),
    salt="v1",
)
LEARNER = "def sum_evens(numbers):\n    for n in numbers:\n        return numbers[0]\n"

PIECES = [
    "```python\n", "```", "``", "`", "\n", "\n\n", "\r\n", "\r", "\x0b", "    ", "\t", ":", ". ",
    "def sum_evens(numbers):\n", "    total = 0\n", "    for n in numbers:\n",
    "        if n % 2 == 0:\n", "            total += n\n", "    return total\n",
    "return sum(n for n in numbers if n % 2 == 0)", "if n % 2 == 0:", "total += n",
    "def double(x):\n    return 2 * x + 1\n", "return 2 * x + 1", "x * 2 + 1",
    "Think about `n % 2`. ", "Use a loop. ", "It's fine. ", "x = 1", "the remainder",
    "odd numbers", "Odd number", "even", "Your line `return numbers[0]` gives the first one.",
    "return numbers[0]\n", "class A:\n", "import math\n", "for v in xs:\n", "    acc = acc + v\n",
    "Look at the loop.", "```\n", "\n```\n", "'", '"', "don't ", "print('a\nb')",
]  # fmt: skip
# Single words and operators, so that windows span line breaks (and so settled cuts).
WORDS = [
    "odd", "numbers", "remainder", " ", "\n", "\n", "n", "%", "2", "==", "0", "total", "+=",
    "if", "for", "in", ":", "return", "x", "*", "+", "1", "`",
]  # fmt: skip
GUARDS = {"sum_evens": dict(SUM_EVENS.guard), "no avoid": {**SUM_EVENS.guard, "avoid": []}}
GUARDS["double"] = AVOIDING


@st.composite
def streamed(draw: st.DrawFn) -> tuple[str, list[int]]:
    alphabet = draw(st.sampled_from([PIECES, WORDS]))
    parts = draw(
        st.lists(st.one_of(st.sampled_from(alphabet), st.text(max_size=6)), min_size=1, max_size=40)
    )
    text = "".join(parts)
    cuts = draw(st.lists(st.integers(0, len(text)), max_size=25))
    return text, sorted({*cuts, len(text)})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Windows that span a settled cut: a key expression and a phrase to avoid across a line break.
@example(("if n % 2 ==\n0 then add it", [12, 26]), "no avoid", "", [True] * 30)
@example(("odd\nnumbers", [4, 11]), "double", "", [True] * 30)
# A cut inside a line of prose: what follows it in that line is no code run of its own.
@example(("So: return sum(numbers) * 2", [4, 27]), "no avoid", "", [True] * 30)
@given(
    streamed(),
    st.sampled_from(sorted(GUARDS)),
    st.sampled_from(["", LEARNER]),
    st.lists(st.booleans(), min_size=30, max_size=30),
)
def test_the_watch_agrees_with_the_full_scan_at_every_split(
    sample: tuple[str, list[int]], guard: str, code: str, ask: list[bool]
) -> None:
    text, cuts = sample
    watch = LeakWatch(GUARDS[guard], code=code)
    start = 0
    for i, cut in enumerate(cuts):
        watch.feed(text[start:cut])
        start = cut
        # The watch may be asked after some deltas only (as the tutor does), and always
        # at the end.
        if ask[i % len(ask)] or cut == len(text):
            assert watch.text == text[:cut]
            assert watch.verdict() == check_leak(text[:cut], GUARDS[guard], code=code)


@settings(max_examples=300, deadline=None)
@given(streamed())
def test_a_stable_cut_splits_fragments_and_tokens_cleanly(sample: tuple[str, list[int]]) -> None:
    text, _ = sample
    cut = stable_cut(text)
    head, tail = text[:cut], text[cut:]
    assert cut == 0 or text[cut - 1] in "\n \t"
    assert _grouped(text) == _grouped(head, tail, mid_line=cut > 0 and text[cut - 1] != "\n")
    assert tokens(strip_markdown(text)) == tokens(strip_markdown(head)) + tokens(
        strip_markdown(tail)
    )


def _grouped(*parts: str, mid_line: bool = False) -> tuple[list[Fragment], ...]:
    """The code fragments of the parts, group by group (fenced, inline, unfenced); the
    parts after the first start inside a line when ``mid_line``."""
    out: tuple[list[Fragment], ...] = ([], [], [])
    for i, part in enumerate(parts):
        found = fragment_groups(part, mid_line=mid_line and i > 0)
        for group, more in zip(out, found, strict=True):
            group.extend(more)
    return out


def test_prose_settles_sentence_by_sentence() -> None:
    # A reply in one paragraph (no line break) is read once, not again at every check:
    # the cut goes after the last blank of a line that cannot be code.
    text = "Your loop adds every number to the total. Only some of them should count."
    assert stable_cut(text) == len(text) - len("count.")
    assert stable_cut("total = 0. Then add") == 0  # the line may be code
    assert stable_cut("total is 0") == len("total is ")  # it cannot
    assert stable_cut("Use the `total` here. Then") == len("Use the ")  # a backtick may pair later
    assert stable_cut('He said "stop. Then') == len("He said ")  # so may a quote
    assert stable_cut("It's 1. Then") == len("It's 1. ")  # not an apostrophe


def test_a_leak_is_seen_in_the_settled_part_after_more_text() -> None:
    watch = LeakWatch(SUM_EVENS)
    watch.feed("Here is the whole thing:\n```python\ndef sum_evens(numbers):\n    total = 0\n")
    watch.feed("    for n in numbers:\n        if n % 2 == 0:\n            total += n\n")
    watch.feed("    return total\n```\nThat is all.\n")
    assert watch.verdict().leak
    watch.feed("Now some more prose, which changes nothing.\n" * 20)
    assert watch.verdict() == check_leak(watch.text, SUM_EVENS)
    assert watch.verdict().leak


def _release_point_rescanning(text: str) -> int:
    """release_point as it was: the fences counted again for every candidate."""
    import re

    release_at, fence = re.compile(r"[.!?](?=\s)|\n"), re.compile(r"^\s*```", re.MULTILINE)
    best = 0
    for match in release_at.finditer(text):
        end = match.end()
        if text[:end].rstrip().endswith(":"):
            continue
        if len(fence.findall(text, 0, end)) % 2 == 0:
            best = end
    return best


@settings(max_examples=300, deadline=None)
@given(streamed())
def test_release_point_is_the_rescanning_one(sample: tuple[str, list[int]]) -> None:
    text, cuts = sample
    for cut in cuts:
        assert release_point(text[:cut]) == _release_point_rescanning(text[:cut])
