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
callable also rejects any code block that passes the exercise's tests.

    >>> verdict = check_leak("Think about what `%` tells you.", guard)   # doctest: +SKIP
    >>> verdict.leak
    False
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eduproject.core.codetext import (
    Token,
    canonical,
    fragments,
    normalized_code_tokens,
    parse_code,
    salted,
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
        signals.append((1.0, "uses a word or phrase the instructor asked the tutor to avoid"))

    ngrams = set(guard.get("ngrams", ()))
    if ngrams:
        seen = {salted(salt, "ngram", canonical(w)) for s in streams for w in windows(s, NGRAM)}
        short = {
            salted(salt, "ngram", canonical(w))
            for s in streams
            for n in range(1, NGRAM)
            for w in windows(s, n)
        }
        share = len(ngrams & (seen | short)) / len(ngrams)
        if share > 0:
            signals.append(
                (
                    _share_score(share),
                    f"repeats {share:.0%} of the solution's code (names may differ)",
                )
            )

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
                signals.append(
                    (0.6 + 0.4 * length / longest, "states a key expression of the solution")
                )
                break

    names = set(guard.get("functions", ()))
    if names and (name := _writes_function(text, names)):
        signals.append((0.9, f"writes the exercise's function `{name}` in full"))

    params = set(guard.get("params", ()))
    if params and _answer_return(text, params, code):
        signals.append((0.8, "writes a return line that computes the answer from the inputs"))

    best = max(signals, key=lambda s: s[0])
    if best[0] < 0.5 and run_tests is not None and _passing_block(text, run_tests):
        best = (1.0, PASSES_TESTS)
    leak = best[0] >= 0.5
    return GuardVerdict(ok=not leak, leak=leak, score=round(best[0], 3), reason=best[1])


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
    words = list(avoid_words(strip_markdown(text)))
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
    for frag in fragments(text):
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
    own = _statements(code)
    for frag in fragments(text):
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
) -> GuardVerdict:
    """Reject replies a learner should not see: empty or content-free, looping, template
    tokens, not English or not Python, invented test names, too long, the instructions
    echoed, or "your code is correct" while a test fails.

    ``test_names`` are the exercise's tests (visible and hidden names are both public);
    ``known_names`` are identifiers a test-like word may legitimately be (the learner's
    functions); ``instructions`` is the prompt's guidance, which a reply must not parrot;
    ``tests_failing`` says that a visible test fails on the learner's code.
    """
    problem = reply_problem(
        text,
        task,
        set(test_names),
        set(known_names),
        instructions,
        tests_failing=tests_failing,
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
) -> GuardVerdict:
    """Both guards in order: malformed first (cheap), then the leak guard.

    ``info`` is the ``ExerciseInfo`` (or None for a question without an exercise);
    ``code`` is the learner's code, whose names a reply may mention freely -- but a reply
    that rewrites one of the learner's functions in full is refused even without an
    exercise: the tutor explains, it does not write the learner's code.
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
    )
    if not verdict.ok:
        return verdict
    if info is not None:
        verdict = check_leak(text, info, run_tests=run_tests, code=code)
        if not verdict.ok:
            return verdict
    own = set(defined_functions(code)) if code.strip() else set()
    name = _writes_function(text, own) if own else None
    if name:
        return GuardVerdict(False, True, 0.9, f"rewrites your function `{name}` in full")
    return verdict
