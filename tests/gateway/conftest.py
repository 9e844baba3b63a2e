"""Fixtures of the gateway tests: an isolated environment, a small course, a running gateway."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.gateway.service import TutorService

from .gateway_support import (
    CELLS,
    LESSON,
    Gateway,
    StartGateway,
    fake_model,
    running_gateway,
    write_config,
)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No user config, no EDUPROJECT_* variables, an empty working folder."""
    for name in list(os.environ):
        if name.startswith(("EDUPROJECT_", "JUPYTERHUB_")):
            monkeypatch.delenv(name)
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(tmp_path / "home" / sub))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture
def course(write_lesson: Callable[..., Path], tmp_path: Path) -> Path:
    """A course folder (``tmp_path``) with one lesson, ``fns``, under exercises/."""
    write_lesson(CELLS, name=LESSON)
    return tmp_path


@pytest.fixture
def start_gateway(course: Path) -> StartGateway:
    """``with start_gateway(replies=[...], allowance=5) as gw:`` -- model=False: no route."""

    @contextlib.contextmanager
    def start(
        replies: list[str] | None = None,
        *,
        model: bool = True,
        fake_options: dict[str, Any] | None = None,
        **config: Any,
    ) -> Iterator[Gateway]:
        with contextlib.ExitStack() as stack:
            fake = (
                stack.enter_context(fake_model(replies, **(fake_options or {}))) if model else None
            )
            write_config(course, base_url=fake.base_url if fake else None, **config)
            service = TutorService.from_course(course)
            tokens = dict(service.tokens.issue(["ada", "bob"]).tokens)
            admin = service.tokens.issue(["teacher"], role="admin").tokens[0][1]
            url = stack.enter_context(running_gateway(service))
            yield Gateway(url, service, tokens, admin, fake)

    return start
