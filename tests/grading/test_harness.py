"""IPython semantics in the sandboxed learner process: magics, display, capture, plots, errors."""

from __future__ import annotations

from typing import Any

import pytest

from eduproject.runner.channel import ChannelClosed
from eduproject.runner.sandbox import Zygote

from .grading_support import stdout


def cells(zygote: Zygote, *codes: str) -> list[dict[str, Any]]:
    child = zygote.spawn({})
    try:
        return [child.ask({"op": "run_cell", "code": code}, 20) for code in codes]
    finally:
        child.end()


def test_line_and_cell_magics_and_shell_commands(zygote: Zygote) -> None:
    first, second, third = cells(
        zygote,
        "%time x = 6 * 7",
        "%%capture cap\nprint('hidden')",
        "!echo from-shell\nprint(x, cap.stdout)",
    )
    assert first["status"] == "ok" and "Wall time" in stdout(first)
    assert second["status"] == "ok" and second["outputs"] == []
    # Shell lines never run in grading (issue 12): a note takes their place.
    assert stdout(third).replace("\r\n", "\n") == (
        "[eduproject: shell command not run in validation or grading: echo from-shell]\n"
        "42 hidden\n\n"
    )


def test_display_and_execute_result_are_nbformat_outputs(zygote: Zygote) -> None:
    (reply,) = cells(
        zygote, "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))\n{'a': 1}"
    )
    kinds = [o["output_type"] for o in reply["outputs"]]
    assert kinds == ["display_data", "execute_result"]
    assert reply["outputs"][0]["data"]["text/html"] == "<b>hi</b>"
    assert reply["outputs"][1]["data"]["text/plain"] == "{'a': 1}"
    assert reply["outputs"][1]["execution_count"] == 1


def test_trailing_semicolon_silences_the_result(zygote: Zygote) -> None:
    (reply,) = cells(zygote, "1 + 1;")
    assert reply["outputs"] == []


def test_inline_matplotlib_plot_becomes_a_png(zygote: Zygote) -> None:
    (reply,) = cells(
        zygote, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.title('t')\nplt.show()"
    )
    assert reply["status"] == "ok", reply
    images = [
        o
        for o in reply["outputs"]
        if o["output_type"] == "display_data" and "image/png" in o["data"]
    ]
    assert len(images) == 1


def test_errors_give_an_error_output_and_the_shell_goes_on(zygote: Zygote) -> None:
    bad, syntax, after = cells(
        zygote, "def f():\n    raise ValueError('nope')\nf()", "def g(:", "print('after')"
    )
    assert bad["status"] == "error" and bad["error"] == {
        "type": "ValueError",
        "base": "ValueError",
        "message": "nope",
    }
    (out,) = [o for o in bad["outputs"] if o["output_type"] == "error"]
    assert out["ename"] == "ValueError" and any("nope" in line for line in out["traceback"])
    assert syntax["status"] == "error" and syntax["error"]["base"] == "SyntaxError"
    assert stdout(after) == "after\n"


def test_sys_exit_does_not_end_the_process_but_exit_does(zygote: Zygote) -> None:
    child = zygote.spawn({})
    first = child.ask({"op": "run_cell", "code": "raise SystemExit(3)"}, 20)
    assert first["status"] == "error" and first["error"]["type"] == "SystemExit"
    second = child.ask({"op": "run_cell", "code": "print('alive')\nexit()"}, 20)
    assert stdout(second) == "alive\n"  # as in ipykernel: the cell finishes, then the process ends
    with pytest.raises(ChannelClosed):
        child.ask({"op": "run_cell", "code": "print('gone')"}, 5)
    assert child.end().code == 0


def test_input_fails_cleanly(zygote: Zygote) -> None:
    (reply,) = cells(zygote, "input('name? ')")
    assert reply["status"] == "error"


def test_each_submission_starts_fresh(zygote: Zygote) -> None:
    (first,) = cells(zygote, "import random\nsecret = 'from-first'\nprint(random.random())")
    (second,) = cells(zygote, "import random\nprint('secret' in globals(), random.random())")
    assert stdout(second).startswith("False ")
    assert stdout(first) != stdout(second).split()[1] + "\n"


def test_a_sealed_learner_process_refuses_learner_cells(zygote: Zygote) -> None:
    """The judge seals the learner process before the last hidden tests run there: from then
    on it answers the judge's requests but runs no learner cell, like a snapshot."""
    child = zygote.spawn({})
    try:
        assert child.ask({"op": "run_cell", "code": "x = 41"}, 20)["status"] == "ok"
        assert child.ask({"op": "seal"}, 20) == {"ok": True}
        refused = child.ask({"op": "run_cell", "code": "x = 42"}, 20)
        assert refused["ok"] is False and "run_cell is not possible here" in str(refused)
    finally:
        child.end()
