"""Guards on model-written text: the leak guard and the malformed/off-topic checks.

The learner's kernel never holds the reference solution. At release time
:func:`eduproject.core.fingerprints.guard_data` turns it into salted hashes (salt = lesson
version) of normalized features, stored in the learner pack ``lesson.json``:

- ``ngrams``: token windows of the solution region with identifiers renamed per window,
  so verbatim *and* renamed code match;
- ``exprs``: key expressions (return values, assigned values, conditions and their
  compound sub-expressions), normalized by ``ast.unparse``;
- ``avoid``: the instructor's words to avoid, lower-cased and lightly stemmed;
- ``functions``: the names of the functions the exercise asks for (already public in the
  stub), to spot a reply that writes one of them in full.

:func:`check_leak` computes the same features of a candidate text and scores the overlap.
Where the full lesson is at hand (``eduproject tutor check-hint``), a ``run_tests``
callable also rejects any code block that passes the exercise's tests. With an exercise's
guard data (``ExerciseInfo.guard``, read from a learner pack):

    >>> verdict = check_leak("Think about what `%` tells you.", guard)   # doctest: +SKIP
    >>> verdict.leak  # doctest: +SKIP
    False
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eduproject.core.codetext import (
    Fragment,
    Token,
    canonical,
    fragment_groups,
    fragments,
    is_structural,
    normalized_code_tokens,
    parse_code,
    salted,
    stable_cut,
    strip_markdown,
    tokens,
    windows,
)
from eduproject.core.fingerprints import (
    NGRAM,
    avoid_words,
    defined_functions,
    guard_data,
)
from eduproject.tutor.malformed import reply_problem

if TYPE_CHECKING:
    from eduproject.models.families import ModelFamily

# Share of the solution's code windows a reply may repeat before it counts as a leak.
NGRAM_LEAK_SHARE = 0.4


@dataclass(frozen=True)
class GuardVerdict:
    """The outcome of a guard: ``ok`` when the text may be shown.

    ``score`` (0..1) is the leak evidence; ``leak`` is ``score >= 0.5``. A malformed reply
    has ``ok=False, leak=False``. ``reason`` never quotes the solution.
    """

    ok: bool
    leak: bool
    score: float
    reason: str


# The reason of a rejection found by RUNNING a reply's code against the tests.
PASSES_TESTS = "contains code that passes the exercise's tests"


# -- kernel side --------------------------------------------------------------------------


def check_leak(
    text: str,
    target: Any,
    *,
    run_tests: Callable[[str], bool] | None = None,
    code: str = "",
) -> GuardVerdict:
    """Score how much of the solution ``text`` gives away.

    ``target`` is an ``ExerciseInfo`` (its ``guard`` is used), a guard-data mapping, or an
    authoring ``Exercise`` (features computed on the spot). ``run_tests(code)`` -- available
    only where the solution and hidden tests are -- returns True when a code block passes.
    ``code`` is the learner's own code: quoting it back is not a leak.
    """
    guard = _guard_of(target)
    signals: list[tuple[float, str]] = [(0.0, "no part of the solution found")]
    salt = str(guard.get("salt", ""))
    streams = _candidate_streams(text)

    avoid = {(int(n), h) for n, h in guard.get("avoid", ())}
    if avoid and _avoid_hit(text, salt, avoid):
        signals.append((1.0, _AVOID_REASON))

    ngrams = set(guard.get("ngrams", ()))
    if ngrams:
        share = len(_ngram_hits(streams, salt, ngrams)) / len(ngrams)
        if share > 0:
            signals.append((_share_score(share), _share_reason(share)))

    exprs = {(int(n), h) for n, h in guard.get("exprs", ())}
    if exprs:
        longest = max(n for n, _ in exprs)
        for length in sorted({n for n, _ in exprs}, reverse=True):
            hashes = {h for n, h in exprs if n == length}
            if any(
                salted(salt, "expr", canonical(w)) in hashes
                for s in streams
                for w in windows(s, length)
            ):
                signals.append((0.6 + 0.4 * length / longest, _EXPR_REASON))
                break

    names = set(guard.get("functions", ()))
    if names and (name := _writes_function(text, names)):
        signals.append((0.9, _function_reason(name)))

    params = set(guard.get("params", ()))
    if params and _answer_return(text, params, code):
        signals.append((0.8, _RETURN_REASON))

    best = max(signals, key=lambda s: s[0])
    if best[0] < 0.5 and run_tests is not None and _passing_block(text, run_tests):
        return _verdict([(1.0, PASSES_TESTS)])
    return _verdict(signals)


def _ngram_hits(streams: list[list[Token]], salt: str, ngrams: set[str]) -> set[str]:
    """The solution's code windows (hashes in ``ngrams``) among the streams' windows of
    1..NGRAM tokens.

    Only windows with code structure are hashed: the solution's windows all have some
    (:func:`guard_data` keeps no other), and a window without any (names, keywords, commas
    and full stops: most of a prose reply) has a canonical text no structured window has,
    so its hash could not be among them.
    """
    hits: set[str] = set()
    for stream in streams:
        # next_structural[i]: the first structural token at i or after (len: none).
        next_structural = [len(stream)] * (len(stream) + 1)
        for i in range(len(stream) - 1, -1, -1):
            next_structural[i] = i if is_structural((stream[i],)) else next_structural[i + 1]
        for n in range(1, NGRAM + 1):
            for i in range(len(stream) - n + 1):
                if next_structural[i] < i + n:
                    h = salted(salt, "ngram", canonical(stream[i : i + n]))
                    if h in ngrams:
                        hits.add(h)
    return hits


_AVOID_REASON = "uses a word or phrase the instructor asked the tutor to avoid"
_EXPR_REASON = "states a key expression of the solution"
_RETURN_REASON = "writes a return line that computes the answer from the inputs"


def _share_reason(share: float) -> str:
    return f"repeats {share:.0%} of the solution's code (names may differ)"


def _function_reason(name: str) -> str:
    return f"writes the exercise's function `{name}` in full"


def _verdict(signals: list[tuple[float, str]]) -> GuardVerdict:
    """The strongest signal decides (the first of equals)."""
    best = max(signals, key=lambda s: s[0])
    leak = best[0] >= 0.5
    return GuardVerdict(ok=not leak, leak=leak, score=round(best[0], 3), reason=best[1])


class LeakWatch:
    """:func:`check_leak` over a text that grows delta by delta, without rescanning it.

    ``feed`` appends a delta; ``verdict()`` returns exactly what ``check_leak(text, target,
    code=code)`` returns for the text fed so far. The text is read in two parts: a settled
    head, cut where nothing that follows can change how it reads (:func:`stable_cut`: after
    a prose line, outside code fences), whose evidence is kept (solution windows seen, key
    expressions, functions written); and the unsettled tail, read again at each verdict
    together with the last tokens of the head (windows that span the cut). Each character
    is thus read once as head plus a few times as tail, instead of once per verdict.

    >>> watch = LeakWatch({"salt": "", "ngrams": [], "exprs": [], "avoid": []})
    >>> watch.feed("Think about what "); watch.feed("`%` tells you.")
    >>> watch.verdict().leak
    False
    """

    def __init__(self, target: Any, *, code: str = "") -> None:
        guard = _guard_of(target)
        self._salt = str(guard.get("salt", ""))
        self._avoid = {(int(n), h) for n, h in guard.get("avoid", ())}
        self._ngrams = set(guard.get("ngrams", ()))
        self._exprs = {(int(n), h) for n, h in guard.get("exprs", ())}
        self._expr_lengths = sorted({n for n, _ in self._exprs}, reverse=True)
        self._names = set(guard.get("functions", ()))
        self._params = set(guard.get("params", ()))
        self._own = _statements(code) if self._params else set()
        # Windows of the head's token stream reach this many tokens into the tail.
        self._span = max([NGRAM, *self._expr_lengths]) - 1
        self._word_span = max([n for n, _ in self._avoid], default=1) - 1
        self._head = 0  # text[:head] is settled
        self._mid_line = False  # the head cuts a line of prose
        self._text = ""
        self._pending: list[str] = []
        self._evidence = _Evidence()
        self._carry: list[Token] = []  # the head's last tokens (as written)
        self._carry_words: list[str] = []

    @property
    def text(self) -> str:
        if self._pending:
            self._text += "".join(self._pending)
            self._pending.clear()
        return self._text

    def feed(self, delta: str) -> None:
        if delta:
            self._pending.append(delta)

    def verdict(self) -> GuardVerdict:
        text = self.text
        cut = stable_cut(text, self._head)
        if cut > self._head:
            self._read(text[self._head : cut], self._evidence, settle=True)
            self._head = cut
            self._mid_line = text[cut - 1] != "\n"
        tail = self._evidence.copy()
        if self._head < len(text):
            self._read(text[self._head :], tail, settle=False)
        return self._judge(tail)

    def _read(self, part: str, into: _Evidence, *, settle: bool) -> None:
        salt = self._salt
        fenced, inline, loose = fragment_groups(part, mid_line=self._mid_line)
        if self._ngrams or self._exprs:
            fresh = tokens(strip_markdown(part))
            streams = [self._carry + fresh]
            streams += [
                normalized_code_tokens(f.code)
                for f in fenced + inline + loose
                if parse_code(f.code) is not None
            ]
            if self._ngrams:
                into.ngrams |= _ngram_hits(streams, salt, self._ngrams)
            for length in self._expr_lengths:
                if length <= into.expr:
                    break
                hashes = {h for n, h in self._exprs if n == length}
                if any(
                    salted(salt, "expr", canonical(w)) in hashes
                    for s in streams
                    for w in windows(s, length)
                ):
                    into.expr = length
                    break
            if settle and self._span:
                self._carry = (self._carry + fresh)[-self._span :]
        if self._avoid:
            words = self._carry_words + list(avoid_words(strip_markdown(part)))
            if not into.avoid:
                into.avoid = _avoid_in(words, salt, self._avoid)
            if settle and self._word_span:
                self._carry_words = words[-self._word_span :]
        if self._names:
            for group, found in zip((fenced, inline, loose), into.functions, strict=True):
                if found[0] is None:
                    found[0] = _function_in(group, self._names)
        if self._params and not into.answer:
            into.answer = _returns_answer(fenced + inline + loose, self._params, self._own)

    def _judge(self, evidence: _Evidence) -> GuardVerdict:
        signals: list[tuple[float, str]] = [(0.0, "no part of the solution found")]
        if self._avoid and evidence.avoid:
            signals.append((1.0, _AVOID_REASON))
        if self._ngrams:
            share = len(evidence.ngrams) / len(self._ngrams)
            if share > 0:
                signals.append((_share_score(share), _share_reason(share)))
        if self._exprs and evidence.expr:
            signals.append((0.6 + 0.4 * evidence.expr / self._expr_lengths[0], _EXPR_REASON))
        name = next((f[0] for f in evidence.functions if f[0] is not None), None)
        if self._names and name:
            signals.append((0.9, _function_reason(name)))
        if self._params and evidence.answer:
            signals.append((0.8, _RETURN_REASON))
        return _verdict(signals)


@dataclass
class _Evidence:
    """What a :class:`LeakWatch` has found so far."""

    avoid: bool = False
    ngrams: set[str] = field(default_factory=set)
    expr: int = 0  # the longest key expression seen (tokens)
    # The first function written in full per fragment group (fenced, inline, loose).
    functions: tuple[list[str | None], ...] = field(
        default_factory=lambda: ([None], [None], [None])
    )
    answer: bool = False

    def copy(self) -> _Evidence:
        return _Evidence(
            self.avoid,
            set(self.ngrams),
            self.expr,
            tuple([f[0]] for f in self.functions),
            self.answer,
        )


def _guard_of(target: Any) -> Mapping[str, Any]:
    if isinstance(target, Mapping):
        return target
    guard = getattr(target, "guard", None)
    if isinstance(guard, Mapping) and guard:
        return guard
    if hasattr(target, "solution"):  # an authoring Exercise, server side
        return guard_data(target)
    return {}


def _candidate_streams(text: str) -> list[list[Token]]:
    """The reply's tokens as written, plus each code fragment normalized by the parser."""
    streams = [tokens(strip_markdown(text))]
    for frag in fragments(text):
        if parse_code(frag.code) is not None:
            streams.append(normalized_code_tokens(frag.code))
    return streams


def _share_score(share: float) -> float:
    """Map the repeated share to 0..1 so that the leak threshold lands on 0.5."""
    if share < NGRAM_LEAK_SHARE:
        return 0.5 * share / NGRAM_LEAK_SHARE
    return 0.5 + 0.5 * (share - NGRAM_LEAK_SHARE) / (1 - NGRAM_LEAK_SHARE)


def _avoid_hit(text: str, salt: str, avoid: set[tuple[int, str]]) -> bool:
    return _avoid_in(list(avoid_words(strip_markdown(text))), salt, avoid)


def _avoid_in(words: list[str], salt: str, avoid: set[tuple[int, str]]) -> bool:
    for length in {n for n, _ in avoid}:
        for i in range(len(words) - length + 1):
            if (length, salted(salt, "avoid", " ".join(words[i : i + length]))) in avoid:
                return True
    return False


def _writes_function(text: str, names: set[str]) -> str | None:
    """A definition of one of the exercise's functions with a real body.

    A skeleton (``pass``, ``...``, a bare ``return total``) is a fair hint; a body that
    loops, branches between returns or returns a computed value is the answer.
    """
    return _function_in(fragments(text), names)


def _function_in(frags: list[Fragment], names: set[str]) -> str | None:
    for frag in frags:
        tree = parse_code(frag.code)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in names and _real_body(node):
                return node.name
    return None


def _answer_return(text: str, params: set[str], code: str) -> bool:
    """A ``return`` computing a value from the exercise's parameters: a finished answer line.

    Lines the learner wrote themselves (the reply quotes their code back) do not count.
    """
    return _returns_answer(fragments(text), params, _statements(code))


def _returns_answer(frags: list[Fragment], params: set[str], own: set[str]) -> bool:
    for frag in frags:
        tree = parse_code(frag.code)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Return)
                and node.value is not None
                and not isinstance(node.value, ast.Name | ast.Constant)
                and params & {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
                and ast.unparse(node) not in own
            ):
                return True
    return False


def _statements(code: str) -> set[str]:
    tree = parse_code(code) if code.strip() else None
    if tree is None:
        return set()
    return {ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.stmt)}


def _real_body(func: ast.FunctionDef) -> bool:
    loops = any(isinstance(n, ast.For | ast.While | ast.comprehension) for n in ast.walk(func))
    returns = [n for n in ast.walk(func) if isinstance(n, ast.Return) and n.value is not None]
    computed = any(not isinstance(r.value, ast.Name | ast.Constant) for r in returns)
    # Several returns mean the body already decides between answers: that is the work.
    return computed or (loops and bool(returns)) or len(returns) >= 2


def _passing_block(text: str, run_tests: Callable[[str], bool]) -> bool:
    tried = 0
    for frag in fragments(text):
        tree = parse_code(frag.code)
        if tree is None or not any(isinstance(n, ast.stmt) for n in tree.body):
            continue
        if all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Name) for n in tree.body):
            continue  # a bare name in backticks cannot solve anything
        tried += 1
        if run_tests(textwrap.dedent(frag.code)):
            return True
        if tried >= 6:  # each try is a subprocess; a reply rarely holds more real blocks
            break
    return False


def check_malformed(
    text: str,
    *,
    task: str = "hint",
    test_names: Iterable[str] = (),
    known_names: Iterable[str] = (),
    instructions: str = "",
    tests_failing: bool = False,
    families: Iterable[ModelFamily] | None = None,
) -> GuardVerdict:
    """Reject replies a learner should not see: empty or content-free, looping, template
    tokens, not English or not Python, invented test names, too long, the instructions
    echoed, or "your code is correct" while a test fails.

    ``test_names`` are the exercise's tests (visible and hidden names are both public);
    ``known_names`` are identifiers a test-like word may legitimately be (the learner's
    functions); ``instructions`` is the prompt's guidance, which a reply must not parrot;
    ``tests_failing`` says that a visible test fails on the learner's code; ``families``
    are the model families whose template tokens a reply must not hold (by default every
    family of the default registry: eduproject's and the installed plugins').
    """
    problem = reply_problem(
        text,
        task,
        set(test_names),
        set(known_names),
        instructions,
        tests_failing=tests_failing,
        families=families,
    )
    if problem:
        return GuardVerdict(ok=False, leak=False, score=0.0, reason=problem)
    return GuardVerdict(ok=True, leak=False, score=0.0, reason="well-formed")


def check_reply(
    text: str,
    info: Any | None,
    *,
    task: str = "hint",
    instructions: str = "",
    code: str = "",
    run_tests: Callable[[str], bool] | None = None,
    tests_failing: bool = False,
    leak: GuardVerdict | None = None,
    families: Iterable[ModelFamily] | None = None,
) -> GuardVerdict:
    """Both guards in order: malformed first (cheap), then the leak guard.

    ``leak`` is the leak guard's verdict on ``text`` when already known (a
    :class:`LeakWatch` fed the same text, without ``run_tests``).

    ``info`` is the ``ExerciseInfo`` (or None for a question without an exercise);
    ``code`` is the learner's code, whose names a reply may mention freely -- but a reply
    that rewrites one of the learner's functions in full is refused even without an
    exercise: the tutor explains, it does not write the learner's code. ``families``: as
    for :func:`check_malformed`.
    """
    tests = [t.name for t in getattr(info, "visible_tests", ())] if info is not None else []
    known = {t.text for t in tokens(code) if t.kind == "name"}
    verdict = check_malformed(
        text,
        task=task,
        test_names=tests,
        known_names=known,
        instructions=instructions,
        tests_failing=tests_failing,
        families=families,
    )
    if not verdict.ok:
        return verdict
    if info is not None:
        if leak is not None and run_tests is None:
            verdict = leak
        else:
            verdict = check_leak(text, info, run_tests=run_tests, code=code)
        if not verdict.ok:
            return verdict
    own = set(defined_functions(code)) if code.strip() else set()
    name = _writes_function(text, own) if own else None
    if name:
        return GuardVerdict(False, True, 0.9, f"rewrites your function `{name}` in full")
    return verdict
