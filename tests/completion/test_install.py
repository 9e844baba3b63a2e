"""The prebuilt front end is in the package and registers with Jupyter; requests in flight."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from eduproject import _jupyter_labextension_paths, _jupyter_server_extension_points
from eduproject.completion.install import NAME, SOURCE, install
from eduproject.learner.completion_backends import Inflight, is_instructor_source

REPO = Path(__file__).resolve().parents[2]


def test_the_built_extension_is_committed_and_current() -> None:
    built = json.loads((SOURCE / "package.json").read_text())
    source = json.loads((REPO / "labextension" / "package.json").read_text())
    assert built["name"] == source["name"] == NAME
    assert built["dependencies"] == source["dependencies"]
    # The entry point JupyterLab loads exists: a fresh clone needs no build.
    assert (SOURCE / built["jupyterlab"]["_build"]["load"]).is_file()
    assert _jupyter_labextension_paths() == [{"src": "completion/labextension", "dest": NAME}]
    assert _jupyter_server_extension_points() == [
        {"module": "eduproject.learner.completion_server"},
        {"module": "eduproject.learner.jupyter_server"},
    ]


def test_install_links_the_extension_and_enables_the_server_part(tmp_path: Path) -> None:
    done = install(tmp_path)
    link = tmp_path / "share" / "jupyter" / "labextensions" / NAME
    assert link.resolve() == SOURCE and len(done) == 2
    config = tmp_path / "etc" / "jupyter" / "jupyter_server_config.d" / "eduproject.json"
    assert json.loads(config.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"eduproject": True}}
    }
    assert install(tmp_path) == []  # nothing to do the second time


def test_a_new_request_of_the_same_tab_replaces_the_one_in_flight() -> None:
    async def scenario() -> list[object]:
        inflight = Inflight()
        stopped = asyncio.Event()

        async def slow() -> tuple[int, dict[str, object]]:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                stopped.set()
                raise
            return 200, {}

        async def fast() -> tuple[int, dict[str, object]]:
            return 200, {"text": "x"}

        first = asyncio.ensure_future(inflight.run("tab", slow()))
        await asyncio.sleep(0.01)  # the model call has begun
        second = await inflight.run("tab", fast())
        other = asyncio.ensure_future(inflight.run("other-tab", slow()))
        await asyncio.sleep(0.01)  # the model call has begun
        inflight.cancel("other-tab")  # the cancel route
        return [await first, second, await other, stopped.is_set()]

    assert asyncio.run(scenario()) == [None, (200, {"text": "x"}), None, True]


def test_instructor_sources_are_the_notebooks_in_exercises() -> None:
    assert is_instructor_source("course/exercises/01-functions/01-functions.ipynb")
    assert not is_instructor_source("notebooks/01-functions/01-functions.ipynb")
    assert not is_instructor_source("exercises.ipynb")
