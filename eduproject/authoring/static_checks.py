"""What release can catch without running anything.

:func:`check_compiles` turns a syntax error in a setup, solution or test cell into a format
error naming the cell and the line (at release, not as "the solution fails" at validate);
:func:`lesson_warnings` lists what is legal but probably a mistake (a test mixing visible and
hidden lines, lesson files too large to copy into every grading run).

    >>> check_compiles("def f(:\\n    pass", CellRef("nb.ipynb", 3), "the solution")
    Traceback (most recent call last):
    eduproject.errors.LessonFormatError: nb.ipynb, cell 3: line 1 of the solution does not compile: ...
      -> fix the syntax there (run the cell in JupyterLab to see the error)
"""

from __future__ import annotations

import re
import warnings

from eduproject.authoring.markers import CellRef
from eduproject.core.lesson import Lesson

__all__ = ["check_compiles", "lesson_warnings"]

# Lesson files above this size together: copied into every grading run, worth a warning.
LARGE_FILES_BYTES = 200_000_000
# IPython syntax (magics, shell escapes, help) that plain compile() rejects.
_IPYTHON_LINE = re.compile(r"^\s*(?:%|!)|\?\s*$", re.MULTILINE)


def check_compiles(source: str, where: CellRef, what: str, *, line_offset: int = 0) -> None:
    """Raise a LessonFormatError when ``source`` (one cell, or a part of one) does not compile.

    ``what`` names the code in the message ("the solution", "test 'basics'");
    ``line_offset`` turns a line of ``source`` into a line of the cell.
    """
    problem = syntax_error(source)
    if problem is None:
        return
    line = (problem.lineno or 1) + line_offset
    text = (problem.text or "").rstrip("\n")
    shown = f": `{text.strip()}`" if text.strip() else ""
    raise where.error(
        f"line {line} of {what} does not compile: {problem.msg}{shown}",
        "fix the syntax there (run the cell in JupyterLab to see the error)",
    )


def syntax_error(source: str) -> SyntaxError | None:
    """The SyntaxError of ``source`` as Python or IPython code, or None when it compiles."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "invalid escape sequence" is not our business
            compile(source, "<cell>", "exec")
        return None
    except SyntaxError as exc:
        first = exc
    except ValueError:  # null bytes
        return SyntaxError("the cell holds a null byte")
    if not _IPYTHON_LINE.search(source):
        return first
    # Magics are fine in a notebook: judge the code IPython would run. Line numbers stay.
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        transformed = TransformerManager().transform_cell(source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(transformed, "<cell>", "exec")
    except SyntaxError:
        return first
    return None


def lesson_warnings(lesson: Lesson) -> list[str]:
    """Legal but worth the author's attention: tests that mix visible and hidden lines
    (learners read only the visible part's message); very large lesson files."""
    notes = []
    mixed = [
        f"{test.name!r} ({exercise.id})"
        for exercise in lesson.exercises
        for test in exercise.tests
        if test.hidden and test.visible_source.strip() and test.open_lines
    ]
    if mixed:
        notes.append(
            f"{len(mixed)} test(s) mix visible and hidden lines: {', '.join(mixed)}. Learners "
            "read the message of a failing visible line; a failing hidden line shows only as "
            "'failed'. For its own verdict, points and message, give the hidden part its own "
            "`### TEST name` line"
        )
    size = sum((lesson.folder / rel).stat().st_size for rel in lesson.data_files)
    if size > LARGE_FILES_BYTES:
        notes.append(
            f"the lesson's files beside the notebook hold {size / 1e6:.0f} MB: every learner's "
            "copy and every grading run gets all of them; move what the notebook does not read "
            "out of the lesson folder"
        )
    return notes
