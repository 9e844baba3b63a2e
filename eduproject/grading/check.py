"""``eduproject.check("<exercise>")``: run an exercise's visible tests in the learner's kernel.

This is the learner's quick self-check, not grading: it runs only the tests the learner can
already see (``visible_source`` from ``lesson.json``; wholly hidden tests are listed by name as
"checked when graded"), each in its own copy of the learner's namespace so that one failing test
never stops the others and test variables never leak into the notebook. Failing comparisons are
explained ("gave 4, expected 6"), and errors raised by learner code become one friendly line,
never a traceback.

    import eduproject
    eduproject.check("sum_evens")      # shows a ✓/✗ table under the cell
"""

from __future__ import annotations

import ast
import html
import linecache
import operator
import reprlib
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eduproject.tutor.tutor import TestResult

__all__ = ["CheckResult", "check"]

# Test code is compiled under names with this prefix so that its frames can be told from
# learner code; linecache holds its lines so tracebacks can quote the failing line.
_TEST_FILENAME = "<eduproject check"
_ASSERT_HELPER = "__eduproject_assert__"

_OPS: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}
_OP_FUNCS = dict(_OPS.values())

_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60
_short.maxlist = _short.maxtuple = _short.maxset = _short.maxdict = 8


@dataclass(frozen=True)
class CheckResult:
    """What ``check`` found: one :class:`TestResult` per visible test, in lesson order.

    ``hidden`` names the wholly hidden tests (only run when graded); ``partly_hidden`` names
    visible tests that have more checks at grading time. Shown as an HTML table in Jupyter
    and as plain text elsewhere (``str(result)``).
    """

    exercise: str
    results: tuple[TestResult, ...]
    hidden: tuple[str, ...] = ()
    partly_hidden: tuple[str, ...] = ()
    # The cell in which check() already showed this result, so that IPython's displayhook
    # does not show it a second time when check(...) is the cell's last expression.
    _shown_in_cell: int | None = field(default=None, compare=False, repr=False)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def all_passed(self) -> bool:
        return self.passed == self.total

    def summary(self) -> str:
        """One line, e.g. ``sum_evens: 1 of 2 visible tests passed``."""
        if not self.results:
            return f"{self.exercise}: no visible tests (checked when graded)"
        noun = "test" if self.total == 1 else "tests"
        return f"{self.exercise}: {self.passed} of {self.total} visible {noun} passed"

    def text(self) -> str:
        lines = [self.summary()]
        for r in self.results:
            mark = "✓" if r.passed else "✗"
            extra = " (+ hidden checks when graded)" if r.name in self.partly_hidden else ""
            msg = f" -- {r.message}" if r.message and not r.passed else ""
            lines.append(f"  {mark} {r.name}{msg}{extra}")
        lines.extend(f"  · {name}: hidden, checked when graded" for name in self.hidden)
        return "\n".join(lines)

    def html(self) -> str:
        rows = []
        for r in self.results:
            colour, mark = ("#1a7f37", "✓") if r.passed else ("#cf222e", "✗")
            note = _inline_code(r.message) if not r.passed else "passed"
            if r.name in self.partly_hidden:
                note += " · more checks when graded"
            rows.append(_row(f"color:{colour};font-weight:bold", mark, r.name, "", note))
        rows.extend(
            _row("color:#6e7781", "·", name, "color:#6e7781", "hidden: checked when graded")
            for name in self.hidden
        )
        colour = "#1a7f37" if self.all_passed and self.results else "#9a6700"
        return (
            '<div class="eduproject-check">'
            f'<div style="font-weight:bold;color:{colour};margin:2px 0">'
            f"{html.escape(self.summary())}</div>"
            f'<table style="border-collapse:collapse;margin:0">{"".join(rows)}</table>'
            "</div>"
        )

    def __str__(self) -> str:
        return self.text()

    def _bundle(self) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def _ipython_display_(self) -> None:
        from IPython import get_ipython
        from IPython.display import display

        shell = get_ipython()
        if shell is not None and self._shown_in_cell == shell.execution_count:
            return  # check() showed it already in this very cell
        display(self._bundle(), raw=True)


# Jupyter's output styles right-align, stripe and highlight table rows: these cells undo that.
_CELL = "padding:1px 8px 1px 0;text-align:left;vertical-align:top;background:none;border:none"


def _row(mark_style: str, mark: str, name: str, note_style: str, note_html: str) -> str:
    return (
        f'<tr style="background:none"><td style="{_CELL};{mark_style}">{mark}</td>'
        f'<td style="{_CELL}"><code>{html.escape(name)}</code></td>'
        f'<td style="{_CELL};{note_style}">{note_html}</td></tr>'
    )


def _inline_code(message: str) -> str:
    """Escape a message and show its `backticked` parts as code."""
    parts = html.escape(message).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: leave them as they are
        return html.escape(message)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def check(
    exercise: str,
    *,
    pack: Any = None,
    namespace: Mapping[str, Any] | None = None,
    display: bool = True,
) -> CheckResult:
    """Run the visible tests of ``exercise`` against the learner's current definitions.

    ``pack`` is the lesson pack (default: ``lesson.json`` found next to the notebook);
    ``namespace`` the learner's names (default: the IPython user namespace, or the calling
    module's globals outside IPython). With ``display`` the result is shown at once.

        result = eduproject.check("sum_evens", display=False)
        result.passed, result.total        # (1, 2)
    """
    from eduproject.tutor.errorhook import enable_error_help

    enable_error_help()  # our own errors (a mistyped id) then show as one message, no traceback
    if pack is None:
        from eduproject.tutor.pack import LessonPack

        pack = LessonPack.find()
    ex = pack.exercise(exercise)
    if namespace is None:
        namespace = _learner_namespace()

    results: list[TestResult] = []
    hidden: list[str] = []
    partly: list[str] = []
    interrupted = False
    for test in ex.tests:
        if not test.visible_source.strip():
            hidden.append(test.name)
            continue
        if test.hidden:
            partly.append(test.name)
        if interrupted:
            results.append(TestResult(test.name, False, "not run (check was interrupted)"))
            continue
        outcome = run_test(test.name, test.visible_source, namespace)
        interrupted = outcome.message.startswith("interrupted")
        results.append(outcome)

    shown_in = _show_now(display)
    result = CheckResult(exercise, tuple(results), tuple(hidden), tuple(partly), shown_in)
    if display:
        _show(result)
    return result


def run_test(name: str, source: str, namespace: Mapping[str, Any]) -> TestResult:
    """Run one test's code in a copy of ``namespace``; never raises (Ctrl-C included)."""
    try:
        code = _compile_test(source, f"{_TEST_FILENAME} {name}>")
    except SyntaxError as exc:
        return TestResult(name, False, f"the test code does not compile: {exc.msg}")
    scope = dict(namespace)
    scope[_ASSERT_HELPER] = _assert_helper
    try:
        exec(code, scope)
    except _ComparisonFailed as exc:
        return TestResult(name, False, str(exc))
    except KeyboardInterrupt:
        return TestResult(name, False, "interrupted (does your code loop forever?)")
    except BaseException as exc:  # learner code may raise anything, SystemExit included
        return TestResult(name, False, friendly_error(exc))
    return TestResult(name, True, "")


def friendly_error(exc: BaseException) -> str:
    """One line explaining an exception from a test run, pointing at learner code if it raised."""
    if isinstance(exc, AssertionError):
        frames = _frames(exc)
        line = frames[-1].line if frames and _is_test(frames[-1]) else None
        return str(exc) or (f"`{line}` failed" if line else "an assertion failed")
    if isinstance(exc, NameError) and _raised_in_test(exc):
        name = getattr(exc, "name", None) or str(exc)
        return f"`{name}` is not defined: run the cell that defines it first"
    learner = [f for f in _frames(exc) if not _is_test(f)]
    where = ""
    if learner:
        frame = learner[-1]
        where = f" (in `{frame.name}`, line {frame.lineno})" if frame.name != "<module>" else ""
    if isinstance(exc, NotImplementedError):
        return f"not written yet: your code still raises NotImplementedError{where}"
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    kind = type(exc).__name__
    return (
        f"your code raised {kind}: {message}{where}"
        if message
        else f"your code raised {kind}{where}"
    )


def _frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames below ``run_test``: test code and the learner code it called."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]


def _raised_in_test(exc: BaseException) -> bool:
    frames = _frames(exc)
    return bool(frames) and _is_test(frames[-1])


def _is_test(frame: traceback.FrameSummary) -> bool:
    return frame.filename.startswith(_TEST_FILENAME)


class _ComparisonFailed(AssertionError):
    pass


def _assert_helper(
    left: Any, right: Any, op: str, left_src: str, src: str, msg: Callable[[], Any] | None
) -> None:
    if _OP_FUNCS[op](left, right):
        return
    if msg is not None:  # the instructor's own message says it best
        raise _ComparisonFailed(str(msg()))
    if op == "==":
        detail = f"{left_src} gave {_short.repr(left)}, expected {_short.repr(right)}"
    else:
        shown = _short.repr(left)
        detail = f"expected `{src}`" + (f", but {left_src} is {shown}" if left_src != shown else "")
    raise _ComparisonFailed(detail)


class _ExplainAsserts(ast.NodeTransformer):
    """Turn ``assert a OP b, msg`` into a helper call that can say what ``a`` and ``b`` were."""

    def __init__(self, source: str) -> None:
        self.source = source

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        test = node.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return node
        op = _OPS.get(type(test.ops[0]))
        if op is None:
            return node
        left_src = ast.get_source_segment(self.source, test.left) or "the value"
        src = ast.get_source_segment(self.source, test) or left_src
        msg: ast.expr = (
            ast.Lambda(
                args=ast.arguments(
                    posonlyargs=[], args=[], kwonlyargs=[], kw_defaults=[], defaults=[]
                ),
                body=node.msg,
            )
            if node.msg is not None
            else ast.Constant(None)
        )
        call = ast.Call(
            func=ast.Name(_ASSERT_HELPER, ast.Load()),
            args=[
                test.left,
                test.comparators[0],
                ast.Constant(op[0]),
                ast.Constant(left_src),
                ast.Constant(src),
                msg,
            ],
            keywords=[],
        )
        return ast.copy_location(ast.Expr(call), node)


def _compile_test(source: str, filename: str) -> Any:
    tree = ast.parse(source, filename)
    tree = ast.fix_missing_locations(_ExplainAsserts(source).visit(tree))
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    return compile(tree, filename, "exec")


def _learner_namespace() -> Mapping[str, Any]:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        return shell.user_ns
    # Plain Python: the globals of whoever called eduproject.check (skip this module's frames).
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
    return frame.f_globals


def _show_now(display: bool) -> int | None:
    if not display:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return None if shell is None else int(shell.execution_count)


def _show(result: CheckResult) -> None:
    from IPython import get_ipython

    if get_ipython() is None:
        print(result.text())
        return
    from IPython.display import display

    display(result._bundle(), raw=True)
