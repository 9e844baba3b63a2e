"""Hostile submissions for the BASIC lesson: the attacks of issue 3 as plain data.

Every entry pairs a trick with WRONG code (an honest grader awards 0 of 6 points). The attack
tests assert that on the sandboxed engine; the differential test grades the same corpus on
the kernel engine too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from grading_support import cells_with_role

WRONG_DOUBLE = "def double(x):\n    return 0\n"
WRONG_WORDS = "def words(text):\n    return []\n"


def always_equal(base: str) -> str:
    return (
        f"class Sneaky({base}):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
    )


EQ_MAKERS = {
    "object": "Sneaky()",
    "int": "Sneaky(0)",
    "str": "Sneaky('')",
    "list": "Sneaky()",
    "dict": "Sneaky()",
}


def always_equal_answers(base: str) -> dict[str, str]:
    make = EQ_MAKERS[base]
    code = (
        always_equal(base)
        + f"def double(x):\n    return {make}\ndef words(text):\n    return {make}\n"
    )
    return {"double": code, "words": ""}


PATCHED_BUILTINS = (
    "import builtins, sys\n"
    "class Never(BaseException):\n    pass\n"
    "builtins.AssertionError = Never\n"
    "AssertionError = Never\n"
    "builtins.len = lambda obj: 2\n"
    "builtins.isinstance = lambda *args: True\n"
    "builtins.abs = lambda x: 0\n"
    "sys.excepthook = lambda *args: None\n"
    "len = lambda obj: 2\n"
)
REWRITING_HOOKS = (
    "ip = get_ipython()\n"
    "ip.input_transformers_cleanup.append(lambda lines: ['print(\"PASS all tests\")\\n'])\n"
    "ip.events.register('pre_run_cell', lambda info: print('skipping', info.raw_cell[:20]))\n"
    "ip.events.register('post_run_cell', lambda result: print('All tests passed!'))\n"
)
SHOWTRACEBACK = (
    "ip = get_ipython()\n"
    "ip.showtraceback = lambda *a, **k: print('no error here')\n"
    "ip._showtraceback = lambda *a, **k: None\n"
    "ip.showsyntaxerror = lambda *a, **k: None\n"
    "raise RuntimeError('hidden?')\n"
)
EXITS = {  # trick -> the status of the exercise whose cell holds it
    "import sys\nsys.exit(0)": "error",
    "raise SystemExit('all tests passed')": "error",
    "import os\nos._exit(0)": "killed",
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)": "error",
    "import os, signal\nos.kill(1, signal.SIGKILL)": "error",
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)": "killed",
    "import os, signal\nos.killpg(0, signal.SIGKILL)": "killed",
    "exit()": "killed",
}
FAKE_RESULTS = (
    "print('PASS small: 1/1 points')\nprint('PASS large (hidden): 2/2 points')\n"
    "from IPython.display import display, JSON\ndisplay(JSON({'score': 6, 'max_score': 6}))\n"
)
NETWORK = (
    "import socket\n"
    "for host in ['127.0.0.1', '10.0.0.1']:\n"
    "    try:\n"
    "        socket.create_connection((host, 80), timeout=1).sendall(b'answers please')\n"
    "    except OSError as exc:\n"
    "        print('no network:', type(exc).__name__)\n"
)
LIBRARY_PATCHES = (
    "import math, operator\nmath.isclose = lambda *a, **k: True\noperator.eq = lambda a, b: True\n"
)
TOO_BIG = (
    "def double(x):\n    v = []\n    for _ in range(500):\n        v = [v]\n    return v\n"
    "def words(text):\n    return 'x' * (70 * 1024**2)\n"
)
IGNORE_SIGNALS_AND_LOOP = (
    "import signal\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
    "while True:\n    pass\n"
)

Edit = Callable[[dict[str, Any]], None]


def _on_tests(change: Callable[[dict[str, Any], list[dict[str, Any]]], object]) -> Edit:
    def edit(nb: dict[str, Any]) -> None:
        change(nb, cells_with_role(nb, "tests"))

    return edit


TAMPERING: dict[str, tuple[Edit, str]] = {  # name -> (edit of the notebook, detail it earns)
    "edit": (_on_tests(lambda nb, t: [c.update(source="assert True") for c in t]), "was edited"),
    "delete": (_on_tests(lambda nb, t: [nb["cells"].remove(c) for c in t]), "was deleted"),
    "duplicate": (
        _on_tests(lambda nb, t: nb["cells"].extend(json.loads(json.dumps(t)))),
        "(duplicated)",
    ),
    "points": (
        _on_tests(lambda nb, t: [c["metadata"]["eduproject"].update(points=1000) for c in t]),
        "changed to 1000",
    ),
    "nbgrader-points": (
        _on_tests(
            lambda nb, t: [
                c["metadata"].update(nbgrader={"points": 1000, "grade": True}) for c in t
            ]
        ),
        "changed to 1000",
    ),
}


def before(trick: str, where: str = "double") -> dict[str, str]:
    """The trick placed before the wrong code of ``where``."""
    answers = {"double": WRONG_DOUBLE, "words": WRONG_WORDS}
    answers[where] = trick + "\n" + answers[where]
    return answers


def corpus() -> dict[str, tuple[dict[str, str], Edit | None]]:
    """Every hostile submission that behaves the same on any learner-process engine.

    Left out: memory exhaustion (the kernel engine sets no address-space limit), ``exit()``
    (ipykernel stops its loop 0.1 s later, so the next request races it) and tricks that need
    a test-side server or files (covered by test_attacks only).
    """
    out: dict[str, tuple[dict[str, str], Edit | None]] = {}
    for base in EQ_MAKERS:
        out[f"eq-{base}"] = (always_equal_answers(base), None)
    out["eq-nested"] = (
        {
            "double": WRONG_DOUBLE
            + always_equal("object")
            + "def words(text):\n    return [Sneaky()]\n",
            "words": "",
        },
        None,
    )
    out["builtins"] = (before(PATCHED_BUILTINS), None)
    out["hooks"] = (before(REWRITING_HOOKS), None)
    out["showtraceback"] = (before(SHOWTRACEBACK, "words"), None)
    for i, trick in enumerate(EXITS):
        if trick != "exit()":  # ipykernel stops 0.1 s after exit(): a race, not a verdict
            out[f"exit-{i}"] = (before(WRONG_DOUBLE + trick), None)
    out["fake-results"] = (before(FAKE_RESULTS), None)
    out["network"] = (before(NETWORK), None)
    out["library"] = (before(LIBRARY_PATCHES), None)
    out["too-big"] = ({"double": TOO_BIG, "words": ""}, None)
    out["signals"] = ({"double": IGNORE_SIGNALS_AND_LOOP, "words": WRONG_WORDS}, None)
    for name, (edit, _) in TAMPERING.items():
        out[f"tamper-{name}"] = (before(""), edit)
    return out
