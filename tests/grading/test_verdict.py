"""Running tests in the grader: free names, proxies, exceptions, timeouts.

The learner side here is the real harness Session, run in this process behind a JSON round
trip (the sandboxed path is covered by test_engine and test_attacks).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eduproject.authoring.model import TestCase
from eduproject.grading.channel import ChannelClosed
from eduproject.grading.harness import Session
from eduproject.grading.sandbox import ChildExit
from eduproject.grading.verdict import Link, Proxy, free_names, learner_exception, run_test


class InProcess:
    """The harness Session behind JSON, in this process (no sandbox: for protocol tests)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.session = Session(namespace)
        self.gone = False

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]:
        if self.gone:
            raise ChannelClosed("the learner process ended")
        reply = self.session.handle(json.loads(json.dumps(msg)))
        return json.loads(json.dumps(reply, allow_nan=False))

    def snapshot(self, timeout: float) -> None:
        return None

    def end(self, *, kill: bool = False) -> ChildExit:
        return ChildExit(0, None, kill)


def learner(code: str) -> Link:
    namespace: dict[str, Any] = {}
    exec(code, namespace)
    return Link(InProcess(namespace))


def check(
    code: str, test_source: str, *, hidden: bool = False, timeout: float = 5
) -> tuple[bool, str]:
    test = TestCase("t", "ex", 1.0, test_source, "" if hidden else test_source, hidden, "cell")
    run = run_test(test, learner(code), timeout)
    return run.passed, run.message


def test_free_names_leave_out_bound_names_and_builtins() -> None:
    source = (
        "import math\nfrom pandas import DataFrame as DF\n"
        "def helper(x, *rest, k=1):\n    return x + y\n"
        "for i in range(3):\n    got = f(i)\n"
        "try:\n    g()\nexcept ValueError as err:\n    pass\n"
        "assert [z for z in zs]\n"
    )
    assert free_names(source) == ["f", "g", "y", "zs"]


def test_plain_results_are_compared_in_the_grader() -> None:
    code = "def double(x):\n    return 2 * x"
    assert check(code, "assert double(2) == 4") == (True, "")
    assert check(code, "assert double(2) == 5, f'got {double(2)}'") == (False, "got 4")
    passed, message = check(code, "assert double(2) == 5")
    assert not passed and message == "AssertionError (line 1: assert double(2) == 5)"


def test_data_frames_cross_both_ways() -> None:
    code = "def add_col(df):\n    out = df.copy()\n    out['y'] = out['x'] * 2\n    return out"
    test = (
        "import pandas as pd\n"
        "got = add_col(pd.DataFrame({'x': [1.5, 2.0]}))\n"
        "pd.testing.assert_frame_equal(got, pd.DataFrame({'x': [1.5, 2.0], 'y': [3.0, 4.0]}))"
    )
    assert check("import pandas as pd\n" + code, test) == (True, "")


def test_proxies_refuse_the_operations_that_decide_verdicts() -> None:
    link = learner(
        "class Box:\n    def __eq__(self, o): return True\n    def __bool__(self): return True\nbox = Box()"
    )
    box = link.fetch(["box"])["box"]
    assert type(box) is Proxy
    for operation in (
        lambda: box == 1,
        lambda: box != 1,
        lambda: box < 1,
        lambda: bool(box),
        lambda: hash(box),
        lambda: 1 in box,
        lambda: {box: 1},
    ):
        with pytest.raises(TypeError, match="learner object"):
            operation()


def test_proxies_call_read_iterate_and_measure_through_the_wire() -> None:
    code = (
        "class Stack:\n"
        "    '''A stack.'''\n"
        "    def __init__(self): self.items = []\n"
        "    def push(self, x): self.items.append(x); return self\n"
        "    def __len__(self): return len(self.items)\n"
        "    def __iter__(self): return iter(self.items)\n"
        "    def __getitem__(self, i): return self.items[i]\n"
        "    def __repr__(self): return f'Stack({self.items})'\n"
        "def gen(n):\n    yield from range(n)\n"
    )
    test = (
        "s = Stack().push(1).push('two')\n"
        "assert len(s) == 2 and list(s) == [1, 'two'] and s[1] == 'two'\n"
        "assert s.items == [1, 'two'] and Stack.__doc__ == 'A stack.'\n"
        "assert isinstance(s, Stack) and not isinstance(5, Stack)\n"
        "assert repr(s) == \"Stack([1, 'two'])\" and f'{s}' == \"Stack([1, 'two'])\"\n"
        "assert list(gen(3)) == [0, 1, 2]\n"
        "g = gen(2)\nassert next(g) == 0 and next(g) == 1\n"
    )
    assert check(code, test) == (True, "")


def test_builtins_in_tests_are_always_the_graders() -> None:
    code = "len = lambda x: 3\nAssertionError = ValueError\ndef f():\n    return [1]"
    assert check(
        code, "assert len(f()) == 1\ntry:\n    assert False\nexcept AssertionError:\n    pass"
    ) == (True, "")


def test_learner_exceptions_keep_their_builtin_base() -> None:
    code = "class Broke(ValueError):\n    pass\ndef f(x):\n    if x < 0:\n        raise Broke('negative')\n    return x"
    assert check(
        code,
        "try:\n    f(-1)\nexcept ValueError as e:\n    assert str(e) == 'negative'\nelse:\n    assert False",
    ) == (True, "")
    assert check(code, "f(-1)") == (False, "Broke: negative (line 1: f(-1))")
    exc = learner_exception({"type": "SystemExit", "base": "SystemExit", "message": "3"})
    assert not isinstance(exc, SystemExit) and str(exc) == "SystemExit: 3"


def test_subclass_results_fail_with_a_clear_message() -> None:
    code = "class AlwaysEqual(int):\n    def __eq__(self, o): return True\ndef f():\n    return AlwaysEqual(0)"
    passed, message = check(code, "assert f() == 5")
    assert not passed
    assert (
        message
        == "TypeError: returned a subclass of int (AlwaysEqual); return a plain int (line 1: assert f() == 5)"
    )


def test_library_modules_resolve_to_the_graders_own() -> None:
    link = learner("import math, os, numpy as np, pandas as pd\nfrom pandas import DataFrame")
    values = link.fetch(["math", "np", "pd", "DataFrame", "os"])
    assert values["math"] is math and values["np"] is np
    assert values["pd"] is pd and values["DataFrame"] is pd.DataFrame
    assert type(values["os"]) is Proxy  # os is stateful (cwd, files): it stays the learner's


def test_grader_side_time_is_bounded() -> None:
    code = "def n():\n    return 10**12"
    passed, message = check(code, "total = 0\nfor i in range(n()):\n    total += i", timeout=0.5)
    assert not passed and message == "timed out after 0.5 s"


def test_gone_learner_process_fails_every_further_request() -> None:
    link = learner("def f():\n    return 1")
    assert isinstance(link.process, InProcess)
    link.process.gone = True
    test = TestCase(
        "t", "ex", 1.0, "try:\n    f()\nexcept BaseException:\n    pass", "", False, "cell"
    )
    run = run_test(test, link, 5)
    assert not run.passed and run.gone is not None and run.message == "the learner's process ended"


def test_hidden_tests_keep_their_code_in_the_grader() -> None:
    code = "seen = []\ndef f(x):\n    seen.append(x)\n    return x"
    link = learner(code)
    test = TestCase("t", "ex", 1.0, "EXPECTED = 'sekret'\nassert f(1) == 1", "", True, "cell")
    assert run_test(test, link, 5).passed
    assert link.fetch(["seen"]) == {"seen": [1]}  # only the argument crossed, never the source
