"""The examples in the docstrings of every module of the package run, so none can drift from
the code.

The modules are found with pkgutil: a new module's examples are tested without being listed
here. They run with ``ELLIPSIS`` (``...`` in an expected output matches anything) in a fresh
folder holding a copy of the sample course as ``exercises/``, the folder that the examples'
relative paths name; what they write (``notebooks/``, ``build/``) stays there. An example that
needs a real part -- a kernel, a sandbox, a gradebook, a model server, a notebook of another
tool -- says so in its docstring and is marked ``# doctest: +SKIP``: nothing here starts one.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import shutil
from pathlib import Path

import pytest

import eduproject

PACKAGE = Path(eduproject.__file__).resolve().parent


def _raise(name: str) -> None:
    raise ImportError(f"{name} cannot be imported: its examples would go untested")


def package_modules() -> list[str]:
    """Every module of eduproject but ``__main__`` ones (importing one runs the CLI)."""
    found = pkgutil.walk_packages([str(PACKAGE)], "eduproject.", onerror=_raise)
    names = ["eduproject", *(m.name for m in found)]
    return sorted(n for n in names if n.rpartition(".")[2] != "__main__")


MODULES = package_modules()


@pytest.fixture
def course(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding the sample course as ``exercises/``, made the working directory."""
    shutil.copytree(PACKAGE / "sample_course", tmp_path / "exercises")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_module_of_the_package_is_found() -> None:
    # Packages, their modules and the modules of subpackages, found without a list.
    for name in (
        "eduproject",
        "eduproject.models.checks",
        "eduproject.models.providers.openai",
        "eduproject.authoring.importers.otter",
        "eduproject.tutor.malformed",
    ):
        assert name in MODULES
    assert "eduproject.cli.__main__" not in MODULES
    on_disk = {p for p in PACKAGE.rglob("*.py") if p.name != "__main__.py"}
    assert len(MODULES) == len(on_disk)


@pytest.mark.parametrize("name", MODULES)
def test_the_docstring_examples_run(name: str, course: Path) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, (
        f"{result.failed} of the {result.attempted} examples in {name} fail "
        "(the doctest report is in the captured output above)"
    )
