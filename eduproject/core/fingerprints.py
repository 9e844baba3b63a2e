"""Solution fingerprints: the leak guard's salted hashes of an exercise's solution.

The learner's kernel never holds the reference solution. At release time :func:`guard_data`
turns it into salted hashes (salt = lesson version) of normalized features, stored in the
learner pack ``lesson.json``:

- ``ngrams``: token windows of the solution region with identifiers renamed per window,
  so verbatim *and* renamed code match;
- ``exprs``: key expressions (return values, assigned values, conditions and their
  compound sub-expressions), normalized by ``ast.unparse``;
- ``avoid``: the instructor's words to avoid, lower-cased and lightly stemmed;
- ``functions``: the names of the functions the exercise asks for (already public in the
  stub), to spot a reply that writes one of them in full.

The tutor's leak guard (:func:`eduproject.tutor.guards.check_leak`) computes the same
features of a candidate text and scores the overlap. Authoring writes these fingerprints,
the tutor reads them: both depend on this module, neither on the other.
"""

from __future__ import annotations

import ast
import difflib
import re
import textwrap
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from eduproject.core.codetext import (
    Token,
    canonical,
    is_structural,
    normalized_code_tokens,
    parse_code,
    salted,
    tokens,
    windows,
)

if TYPE_CHECKING:
    from eduproject.core.lesson import Exercise

__all__ = [
    "GUARD_SCHEME",
    "MIN_EXPR_TOKENS",
    "NGRAM",
    "avoid_words",
    "defined_functions",
    "guard_data",
    "parameters",
    "solution_region",
]

GUARD_SCHEME = 1
NGRAM = 5
# A key expression shorter than this many tokens (``a * b``, ``len(s)``) is too generic
# to call a leak when a hint mentions it.
MIN_EXPR_TOKENS = 5

_BEGIN = re.compile(r"^[ \t]*### BEGIN SOLUTION[ \t]*$", re.MULTILINE)
_END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$", re.MULTILINE)


def solution_region(solution: str, stub: str = "") -> str:
    """The code a learner must write: the marked regions, else the lines not in the stub."""
    starts = list(_BEGIN.finditer(solution))
    if starts:
        parts = []
        for begin in starts:
            end = _END.search(solution, begin.end())
            stop = end.start() if end else len(solution)
            parts.append(textwrap.dedent(solution[begin.end() : stop]).strip("\n"))
        return "\n".join(parts)
    if not stub:
        return solution
    stub_lines = {line.strip() for line in stub.splitlines()}
    diff = difflib.ndiff(stub.splitlines(), solution.splitlines())
    added = [d[2:] for d in diff if d.startswith("+ ") and d[2:].strip() not in stub_lines]
    return textwrap.dedent("\n".join(added))


def guard_data(exercise: Exercise, salt: str = "") -> dict[str, Any]:
    """Salted hashes of the solution's features, for the learner pack.

    ``salt`` is the lesson version, so hashes differ from one lesson release to another.
    With a lesson read from its folder:

        >>> data = guard_data(lesson.exercise("sum_evens"), salt=lesson.version)  # doctest: +SKIP
        >>> sorted(data)  # doctest: +SKIP
        ['avoid', 'exprs', 'functions', 'ngrams', 'params', 'salt', 'scheme']
    """
    region = solution_region(exercise.solution, exercise.stub)
    toks = normalized_code_tokens(region)
    ngrams = sorted({salted(salt, "ngram", canonical(w)) for w in _code_windows(toks)})
    exprs = sorted(
        {(len(t), salted(salt, "expr", canonical(t))) for t in _key_expressions(region)},
        key=lambda x: (x[0], x[1]),
    )
    avoid = sorted(
        {
            (len(w), salted(salt, "avoid", " ".join(w)))
            for w in map(avoid_words, exercise.avoid)
            if w
        }
    )
    return {
        "scheme": GUARD_SCHEME,
        "salt": salt,
        "ngrams": ngrams,
        "exprs": [list(e) for e in exprs],
        "avoid": [list(a) for a in avoid],
        "functions": defined_functions(exercise.solution),
        "params": parameters(exercise.solution),
    }


def _code_windows(toks: list[Token]) -> Iterable[tuple[Token, ...]]:
    if 0 < len(toks) < NGRAM:
        return [tuple(toks)] if is_structural(toks) else []
    return [w for w in windows(toks, NGRAM) if is_structural(w)]


_COMPOUND = (
    ast.BinOp,
    ast.BoolOp,
    ast.Compare,
    ast.UnaryOp,
    ast.IfExp,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
    ast.Slice,
)


def _key_expressions(region: str) -> list[list[Token]]:
    tree = parse_code(region)
    if tree is None:
        return []
    roots: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Return | ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value:
            roots.append(node.value)
        elif isinstance(node, ast.If | ast.While):
            roots.append(node.test)
    found: list[list[Token]] = []
    for root in roots:
        for sub in ast.walk(root):
            if not isinstance(sub, ast.expr) or not any(
                isinstance(n, _COMPOUND) for n in ast.walk(sub)
            ):
                continue
            toks = tokens(ast.unparse(sub))
            if len(toks) >= MIN_EXPR_TOKENS:
                found.append(toks)
    return found


def defined_functions(solution: str) -> list[str]:
    tree = parse_code(solution)
    if tree is None:
        return sorted(set(re.findall(r"^\s*def\s+(\w+)", solution, re.MULTILINE)))
    return sorted(
        {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    )


def parameters(solution: str) -> list[str]:
    tree = parse_code(solution)
    if tree is None:
        return []
    return sorted(
        {
            a.arg
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef)
            for a in n.args.args + n.args.kwonlyargs
        }
    )


def avoid_words(text: str) -> tuple[str, ...]:
    """Lower-cased tokens with a light plural stem, for words-to-avoid matching."""
    out = []
    for tok in tokens(text.lower()):
        word = tok.text
        if tok.kind == "name" and len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return tuple(out)
