"""``eduproject.check("<exercise>")``: run an exercise's visible tests in the learner's kernel.

This is the learner's quick self-check, not grading: it runs only the tests the learner can
already see (``visible_source`` from ``lesson.json``; wholly hidden tests are listed by name as
"checked when graded"), in the learner's own namespace as the test cells would run in the
notebook (learner code sees what a test binds or deletes), one failing test never stopping the
others; afterwards the names the tests bound or deleted are put back as they were, so a check
leaves the notebook's variables as it found them. Failing comparisons are
explained ("gave 4, expected 6"), and errors raised by learner code become one friendly line,
never a traceback.

    import eduproject
    eduproject.check("sum_evens")      # shows a ✓/✗ table under the cell
"""

from __future__ import annotations

import ast
import dis
import html
import linecache
import re
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eduproject.core.results import TestResult
from eduproject.runner import asserts

__all__ = ["CheckResult", "check"]

# Test code is compiled under names with this prefix so that its frames can be told from
# learner code; linecache holds its lines so tracebacks can quote the failing line.
_TEST_FILENAME = "<eduproject check"


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

    As in the notebook and in grading, each test cell's shared code runs once, then its tests
    in order, in the learner's namespace (a test sees what earlier ones bound, and learner
    code sees the globals a test sets or deletes); the names the tests bound or deleted are
    put back afterwards (:class:`_Scope`). ``pack`` is the lesson pack (default: ``lesson.json``
    found next to the notebook); ``namespace`` the learner's names (default: the IPython user
    namespace, or the calling module's globals outside IPython). With ``display`` the result is
    shown at once.

        result = eduproject.check("sum_evens", display=False)
        result.passed, result.total        # (1, 2)
    """
    from eduproject.learner.errorhook import enable_error_help

    enable_error_help()  # our own errors (a mistyped id) then show as one message, no traceback
    if pack is None:
        from eduproject.core.pack import LessonPack

        pack = LessonPack.find()
    ex = pack.exercise(exercise)
    if namespace is None:
        namespace = _learner_namespace()

    scope = _Scope(namespace)
    try:
        results, hidden, partly = _run_tests(ex, exercise, scope)
    finally:
        scope.restore()

    shown_in = _show_now(display)
    result = CheckResult(exercise, tuple(results), tuple(hidden), tuple(partly), shown_in)
    if display:
        _show(result)
    return result


def _run_tests(
    ex: Any, exercise: str, scope: _Scope
) -> tuple[list[TestResult], list[str], list[str]]:
    results: list[TestResult] = []
    hidden: list[str] = []
    partly: list[str] = []
    interrupted = False
    shared_ran: dict[str, str | None] = {}  # test cell -> why its shared code failed, or None
    for test in ex.tests:
        if not test.visible_source.strip():
            hidden.append(readable_hidden(exercise, test.name, len(hidden) + 1))
            continue
        if test.hidden:
            partly.append(test.name)
        if interrupted:
            results.append(TestResult(test.name, False, "not run (check was interrupted)"))
            continue
        cell = getattr(test, "cell", "") or test.name
        if cell not in shared_ran:
            prelude = getattr(test, "prelude", "")
            shared = run_test("shared code", prelude, scope) if prelude.strip() else None
            shared_ran[cell] = None if shared is None or shared.passed else shared.message
            if shared is not None and shared.message.startswith("interrupted"):
                interrupted = True
                results.append(TestResult(test.name, False, "not run (check was interrupted)"))
                continue
        failed = shared_ran[cell]
        if failed is not None:
            outcome = TestResult(
                test.name, False, f"the shared code of the test cell failed: {failed}"
            )
        else:
            outcome = run_test(test.name, getattr(test, "body", test.visible_source), scope)
        interrupted = outcome.message.startswith("interrupted")
        results.append(outcome)
    return results, hidden, partly


class _Scope:
    """Where a check's tests run: the learner's own namespace, as in the notebook.

    Before each test runs, the names its code can bind or delete (read from its bytecode:
    assignments, imports, definitions, ``del``, ``global`` writes) are saved; :meth:`restore`
    puts them back, so the learner's variables are as before the check. A namespace that is
    not a dict (it cannot be a function's globals) is copied instead.
    """

    def __init__(self, namespace: Mapping[str, Any]) -> None:
        self.names: dict[str, Any] = namespace if isinstance(namespace, dict) else dict(namespace)
        self._saved: dict[str, Any] = {}
        self._absent: set[str] = set()
        self._cells = _cells_run()

    def claim(self, code: Any) -> None:
        for name in (*_bound_names(code), asserts.HELPER):
            if name in self._saved or name in self._absent:
                continue
            if name in self.names:
                self._saved[name] = self.names[name]
            else:
                self._absent.add(name)

    def restore(self) -> None:
        """Put the claimed names back. Idempotent, and retried when a Stop (an exception the
        panel raises in this thread) lands in the middle. Skipped when the learner ran a cell
        meanwhile (a test stuck in C finishing late): their new definitions win."""
        if _cells_run() != self._cells:
            return
        while True:
            try:
                for name in self._absent:
                    self.names.pop(name, None)
                self.names.update(self._saved)
                return
            except BaseException:  # raised once by the panel's Stop: finish the job
                continue


def _cells_run() -> int | None:
    """How many cells the learner's kernel has run (None outside IPython)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return None if not shell else int(shell.execution_count)


_BINDS = {"STORE_NAME", "DELETE_NAME", "STORE_GLOBAL", "DELETE_GLOBAL"}


def _bound_names(code: Any) -> set[str]:
    """Global names ``code`` (and functions it defines) may bind or delete."""
    found = {i.argval for i in dis.get_instructions(code) if i.opname in _BINDS}
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            found |= _bound_names(const)
    return found


def readable_hidden(exercise: str, name: str, number: int) -> str:
    """A hidden test's name for learners: ``sum_evens-2`` (a name release made up from the
    exercise and a cell count) reads as "hidden test 2"; an author's own name stays."""
    if re.fullmatch(rf"{re.escape(exercise)}-\d+", name):
        return f"hidden test {number}"
    return name


def run_test(name: str, source: str, scope: _Scope | dict[str, Any]) -> TestResult:
    """Run one test's code in ``scope`` (a plain dict: those names, kept); never raises."""
    if isinstance(scope, dict):
        scope = _Scope(scope)
    try:
        code = _compile_test(source, f"{_TEST_FILENAME} {name}>")
    except SyntaxError as exc:
        return TestResult(name, False, f"the test code does not compile: {exc.msg}")
    scope.claim(code)
    scope.names[asserts.HELPER] = asserts.compare
    try:
        exec(code, scope.names)
    except asserts.ComparisonFailed as exc:
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


def _compile_test(source: str, filename: str) -> Any:
    tree = asserts.explain(ast.parse(source, filename), source)
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
