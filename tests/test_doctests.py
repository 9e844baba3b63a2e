"""The examples in the docstrings of these modules run, so they cannot drift from the code.

pytest does not collect doctests here (no ``--doctest-modules``: many modules' examples are
sketches that need a course on disk). The modules below hold examples that are real; add a
module when its examples are.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "eduproject.bench.metrics",
    "eduproject.models.checks",
    "eduproject.tutor.malformed",
    "eduproject.util.stats",
]


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, report=False)
    assert result.attempted > 0, f"{name} has no examples left: drop it from MODULES"
    assert result.failed == 0, f"{result.failed} of the examples in {name} fail (python -m doctest)"
