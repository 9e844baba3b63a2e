"""Output checks: stop strings applied client-side, and malformed-answer detection.

Not every server honours stop strings (and some emit them before stopping), so the
router passes every streamed delta through a :class:`StopFilter`, which holds back just
enough text to never emit a stop string or a template token.

:func:`malformed_reason` then judges the finished text. A malformed answer counts as a
failure of that attempt (ledger status ``malformed``) and the router falls back::

    >>> malformed_reason("", "stop", ())
    'empty'
    >>> malformed_reason("x = 1", "length", ())
    'cut at the length limit'

The checks that any model-written text must pass are written here once, for the router's
answers and for the tutor's replies (:func:`eduproject.tutor.malformed.reply_problem` adds
its checks of prose on top): :func:`too_short`, :func:`template_token` and
:func:`find_repetition`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from eduproject.models.keys import MIN_SECRET_LEN, REDACTED

if TYPE_CHECKING:
    from eduproject.models.families import ModelFamily

# A unit of 3..200 characters repeated at least 5 times in a row, spanning >= 100 chars:
# the shape of a sampling loop ("return x\nreturn x\n..."), rare in real answers.
_REPEAT = re.compile(r"(.{3,200}?)\1{4,}", re.DOTALL)
_MIN_REPEAT_SPAN = 100
# Words of prose: runs of letters, with an apostrophe's ending ("don't", "it's").
_WORD = re.compile(r"[^\W\d_]+(?:'[a-z]+)?")
# The markers a learner must never see that no family declares (the families' own tokens,
# their ``leak_tokens``, are read from the registry: :func:`registered_tokens`): any special
# token shaped <|name|> (Llama 3's <|eot_id|>, Phi's <|end|>, ...), the sentence tokens <s>
# and </s>, and at the start of a line the headers of instruction-tuned prompts
# ("### Response", "## User") or a bare role ("assistant:").
GENERIC_MARKERS = re.compile(
    r"<\|[A-Za-z_]+\|>|</?s>|^#{2,}\s*(?:Instruction|Response|System|User|Assistant)\b"
    r"|^(?:user|assistant|system)\s*:\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass
class StopFilter:
    """Cut a stream at the first stop string or leaked template token; redact secrets.

    ``feed`` returns the text that is safe to emit now; ``flush`` the rest at the end.
    After a cut, ``stopped`` is True, ``leaked`` names the template token if that is
    what cut it, and later input is ignored.

    >>> f = StopFilter(stops=("<|im_end|>",), leaks=())
    >>> f.feed("Hello <|im_") + f.feed("end|> junk") + f.flush()
    'Hello '
    """

    stops: Sequence[str]
    leaks: Sequence[str]
    # API keys: a server that echoes one back must not get it into a notebook or the cache.
    secrets: Sequence[str] = ()
    stopped: bool = False
    leaked: str | None = None
    _pending: str = ""

    def __post_init__(self) -> None:
        self._markers = [(s, False) for s in self.stops if s]
        self._markers += [(t, True) for t in self.leaks if t and t not in self.stops]
        self._secrets = [k for k in self.secrets if len(k) >= MIN_SECRET_LEN]
        # What could still grow into a marker or a secret (their proper prefixes).
        self._prefixes = [m for m, _ in self._markers] + self._secrets
        # The emitted pieces, joined when read: a delta costs its own length, not the text's.
        self._emitted: list[str] = []

    @property
    def text(self) -> str:
        """Everything emitted so far."""
        if len(self._emitted) > 1:
            self._emitted[:] = ["".join(self._emitted)]
        return self._emitted[0] if self._emitted else ""

    def feed(self, delta: str) -> str:
        if self.stopped or not delta:
            return ""
        self._pending += delta
        for secret in self._secrets:
            self._pending = self._pending.replace(secret, REDACTED)
        cut = self._first_marker(self._pending)
        if cut is not None:
            self.stopped = True
            out, self._pending = self._pending[:cut], ""
        else:
            # Hold back only a tail that could still grow into a marker.
            split = len(self._pending) - self._partial_marker(self._pending)
            out, self._pending = self._pending[:split], self._pending[split:]
        if out:
            self._emitted.append(out)
        return out

    def flush(self) -> str:
        out, self._pending = ("" if self.stopped else self._pending), ""
        if out:
            self._emitted.append(out)
        return out

    def _partial_marker(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a marker."""
        longest = 0
        for marker in self._prefixes:
            for size in range(min(len(marker) - 1, len(text)), longest, -1):
                if text.endswith(marker[:size]):
                    longest = size
                    break
        return longest

    def _first_marker(self, text: str) -> int | None:
        best: tuple[int, str, bool] | None = None
        for marker, is_leak in self._markers:
            index = text.find(marker)
            if index >= 0 and (best is None or index < best[0]):
                best = (index, marker, is_leak)
        if best is None:
            return None
        if best[2]:
            self.leaked = best[1]
        return best[0]


def prose_words(text: str) -> list[str]:
    """The words of ``text`` (runs of letters; digits and punctuation are not words).

    >>> prose_words("Don't add 2 numbers: add_them!")
    ["Don't", 'add', 'numbers', 'add', 'them']
    """
    return _WORD.findall(text)


def too_short(text: str, *, words: int = 1, chars: int = 1) -> bool:
    """Fewer than ``words`` words and fewer than ``chars`` characters (white space around
    the text not counted). With the defaults: nothing but white space.

    Both must be short: CJK prose has few "words" but many letters.

    >>> too_short(" \\n "), too_short("1")
    (True, False)
    >>> too_short("Yes.", words=4, chars=40), too_short("Use a loop here.", words=4, chars=40)
    (True, False)
    """
    stripped = text.strip()
    return len(stripped) < chars and len(prose_words(stripped)) < words


def family_tokens(families: Iterable[ModelFamily]) -> tuple[str, ...]:
    """The template tokens of ``families`` (their ``leak_tokens``), each once, longest first.

    Longest first: where one token starts another (``### Response`` and ``### Response:``)
    the one found is the whole token.

    >>> from eduproject.models.families import default_families
    >>> tokens = family_tokens(default_families().values())
    >>> "<\uff5cend\u2581of\u2581sentence\uff5c>" in tokens, "<EOT>" in tokens
    (True, True)
    """
    found = {t for family in families for t in family.leak_tokens if t}
    return tuple(sorted(found, key=lambda t: (-len(t), t)))


@cache
def registered_tokens() -> tuple[str, ...]:
    """The template tokens of every family of the default registry: eduproject's own and
    those of every installed ``eduproject.providers`` plugin (read once per process)."""
    # Lazily: the router imports these checks and has its families already.
    from eduproject.models.registry import default_registry

    return family_tokens(default_registry().families.values())


def template_token(
    text: str,
    tokens: Sequence[str] = (),
    *,
    any_family: bool = False,
    families: Iterable[ModelFamily] | None = None,
) -> str | None:
    """The first prompt-template token found in ``text``, or None.

    ``tokens``: a family's own tokens (its ``leak_tokens``), found anywhere as written, the
    first of ``tokens`` that occurs. ``any_family``: for text whose family is not known, also
    the tokens of every registered family (``families``, by default those of the default
    registry: :func:`registered_tokens`) and the :data:`GENERIC_MARKERS` -- whichever
    comes first in ``text``.

    >>> template_token("a <|im_start|> b", ("<|im_start|>",))
    '<|im_start|>'
    >>> template_token("### Response\\nUse a loop.", ("<|im_end|>",), any_family=True)
    '### Response'
    >>> template_token("Use a loop.<\uff5cend\u2581of\u2581sentence\uff5c>", any_family=True)
    '<\uff5cend\u2581of\u2581sentence\uff5c>'
    >>> template_token("A list holds items.", ("<|im_end|>",), any_family=True) is None
    True
    """
    token = next((t for t in tokens if t and t in text), None)
    if token is not None or not any_family:
        return token
    known = registered_tokens() if families is None else family_tokens(families)
    found = [(i, t) for t in known if (i := text.find(t)) >= 0]
    match = GENERIC_MARKERS.search(text)
    if match is not None:
        found.append((match.start(), match.group(0)))
    # The earliest; at one place, the longest (min is stable: ``known`` is longest first).
    return min(found, key=lambda hit: hit[0])[1] if found else None


def find_repetition(text: str) -> str | None:
    """The repeated unit if ``text`` contains a degenerate loop, else None.

    The shortest unit that repeats from the loop's first occurrence on (here the line
    break before the first ``print`` starts it):

    >>> find_repetition("ok\\n" + "print('hi')\\n" * 12)
    "\\nprint('hi')"
    >>> find_repetition("=" * 200) is None
    True
    """
    for match in _REPEAT.finditer(text):
        unit = match.group(1)
        if len(match.group(0)) < _MIN_REPEAT_SPAN:
            continue
        # "=====" rulers and indentation are legitimate; loops repeat real content.
        if len(set(unit) - set(" \t\n")) >= 3:
            return unit
    return None


def malformed_reason(
    text: str,
    finish_reason: str | None,
    leak_tokens: Sequence[str],
    *,
    leaked: str | None = None,
    cut_ok: bool = False,
) -> str | None:
    """Why this finished answer is unusable, or None if it looks well-formed.

    ``cut_ok``: an answer cut at the length limit is still usable.
    """
    if too_short(text):
        return "empty"
    if finish_reason == "length" and not cut_ok:
        return "cut at the length limit"
    token = leaked or template_token(text, leak_tokens)
    if token is not None:
        return f"template token {token!r} leaked into the answer"
    unit = find_repetition(text)
    if unit is not None:
        return f"repetition loop ({unit.strip()[:40]!r} repeated)"
    return None
