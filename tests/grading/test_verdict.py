"""Test code in the judge: notebook semantics through the learner-object protocol.

The learner side here is the real harness ``serve`` loop in a thread of this process, on a
socket pair (the real wire; no sandbox): fast protocol tests. The sandboxed path is covered
by test_engine, test_semantics and test_attacks.
"""

from __future__ import annotations

import math
import socket
import threading
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eduproject.runner import harness
from eduproject.runner.channel import Channel
from eduproject.runner.namespace import Owners, TestNamespace, bindings, judge_code
from eduproject.runner.proxy import Link, Proxy, learner_exception
from eduproject.runner.verdict import TestRun, compiled, run_code


class Learner:
    """A learner namespace served by the real harness loop in a thread."""

    def __init__(self, code: str) -> None:
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        exec(code, self.namespace)
        shell = types.SimpleNamespace(
            user_ns=self.namespace,
            eduproject_box=types.SimpleNamespace(outputs=harness.Outputs(10_000)),
            exit_now=False,
        )
        ours, theirs = socket.socketpair()

        def serve() -> None:
            with theirs:
                harness.serve(theirs, shell, 1 << 24)

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        self.link = Link(Channel(ours))
        owners = Owners()
        owners.bind([(n, "assign") for n in self.namespace if not n.startswith("__")], "solution")
        self.tests = TestNamespace(self.link, owners)

    def run(self, source: str, *, timeout: float = 5, hidden: bool = False) -> TestRun:
        return run_code(compiled(source, "<test t>"), self.tests, timeout, mirror=not hidden)

    def close(self) -> None:
        self.link.channel.close()
        self.thread.join(timeout=5)


@pytest.fixture
def make() -> Iterator[Any]:
    made: list[Learner] = []

    def new(code: str) -> Learner:
        made.append(Learner(code))
        return made[-1]

    yield new
    for learner in made:
        learner.close()


def check(make: Any, code: str, source: str, **kwargs: Any) -> tuple[bool, str]:
    run = make(code).run(source, **kwargs)
    return run.passed, run.message


def test_bindings_and_judge_code_read_the_instructors_cells() -> None:
    source = (
        "import numpy as np\nfrom math import sqrt as root\nx = 1\nfor i in range(3): pass\n"
        "def helper(a):\n    inner = 2\nclass K: pass\nwith open('f') as fh: pass\n"
        "[z for z in range(2)]\nif True:\n    import json\ndel x\n%time y = 1"
    )
    assert bindings(source) == [
        ("np", "import"),
        ("root", "import"),
        ("x", "assign"),
        ("i", "assign"),
        ("helper", "def"),
        ("K", "class"),
        ("fh", "assign"),
        ("json", "import"),
        ("x", "delete"),
    ]  # fmt: skip  (y: bound inside a magic, found at run time)
    assert judge_code(source, defs=True) == (
        "import numpy as np\nfrom math import sqrt as root\n\ndef helper(a):\n    inner = 2"
    )
    assert judge_code(source, defs=False) == "import numpy as np\nfrom math import sqrt as root"


def test_plain_results_are_compared_in_the_judge_with_explained_failures(make: Any) -> None:
    code = "def double(x):\n    return 2 * x"
    assert check(make, code, "assert double(2) == 4") == (True, "")
    assert check(make, code, "assert double(2) == 5, f'got {double(2)}'") == (False, "got 4")
    assert check(make, code, "assert double(2) == 5") == (False, "double(2) gave 4, expected 5")
    assert check(make, code, "assert double(2) > 5") == (
        False,
        "expected `double(2) > 5`, but double(2) is 4",
    )


def test_data_frames_cross_both_ways_and_in_place_changes_come_back(make: Any) -> None:
    code = (
        "import pandas as pd\n"
        "def add_col(df):\n    df['y'] = df['x'] * 2\n"
        "def scaled(df):\n    out = df.copy()\n    out['x'] = out['x'] * 10\n    return out"
    )
    test = (
        "import pandas as pd\nframe = pd.DataFrame({'x': [1.5, 2.0]})\nadd_col(frame)\n"
        "pd.testing.assert_frame_equal(frame, pd.DataFrame({'x': [1.5, 2.0], 'y': [3.0, 4.0]}))\n"
        "pd.testing.assert_series_equal(scaled(frame)['x'], pd.Series([15.0, 20.0], name='x'))\n"
        "arr = np.zeros(3)\nfill(arr)\nassert arr.tolist() == [1, 1, 1]"
    )
    learner = make(code + "\nimport numpy as np\ndef fill(a):\n    a[:] = 1")
    assert learner.run("import numpy as np\n" + test).passed, learner.run(test).message


def test_learner_objects_compare_hash_and_contain_with_their_own_methods(make: Any) -> None:
    code = (
        "class P:\n    def __init__(self, x): self.x = x\n"
        "    def __eq__(self, o): return isinstance(o, P) and o.x == self.x\n"
        "    def __hash__(self): return hash(self.x)\n"
        "    def __lt__(self, o): return self.x < o.x\n"
    )
    test = (
        "assert P(1) == P(1) and P(1) != P(2) and P(1) < P(2)\n"
        "assert P(2) in [P(1), P(2)] and len({P(1), P(1), P(3)}) == 2\n"
        "assert sorted([P(3), P(1)]) == [P(1), P(3)]\n"
        "d = {P(1): 'one'}\nassert d[P(1)] == 'one'"
    )
    run = make(code).run(test)
    assert run.passed and run.review == (), run.message


def test_a_learner_eq_against_plain_data_is_marked_for_review(make: Any) -> None:
    code = (
        "class AlwaysEqual:\n    def __eq__(self, o): return True\n    __hash__ = None\n"
        "class Loud(int):\n    def __eq__(self, o): return True\n"
        "class Colour(int):\n    pass\n"
        "def f(): return AlwaysEqual()\ndef g(): return Loud(3)\ndef h(): return Colour(2)"
    )
    learner = make(code)
    run = learner.run("assert f() == 42")
    assert run.passed and run.review == (
        "AlwaysEqual.__eq__ (learner code) decided `==` against a plain value",
    )
    run = learner.run("assert g() == 42")  # the int inside says 3: the learner's __eq__ disagrees
    assert run.passed and "Loud.__eq__" in run.review[0]
    run = learner.run("assert g() == 3")  # both agree: nothing to review
    assert run.passed and run.review == ()
    run = learner.run("assert h() == 2 and h() + 1 == 3 and isinstance(h(), int)")
    assert run.passed and run.review == (), run.message


def test_non_bool_eq_between_learner_objects_is_an_error(make: Any) -> None:
    code = "class Odd:\n    def __eq__(self, o): return [1]\n    __hash__ = object.__hash__"
    passed, message = check(make, code, "assert Odd() == Odd()")
    assert not passed and message.startswith("TypeError: Odd.__eq__ returned list")


def test_identity_and_mutation_survive_the_crossing(make: Any) -> None:
    code = (
        "class Stack:\n    def __init__(self): self.items = []\n"
        "    def push(self, x): self.items.append(x)\n    def pop(self): return self.items.pop()\n"
        "def rev(xs): xs.reverse()\ndef nested(rows): rows[0].append(9)\n"
        "shared = [1]\ndef get(): return shared\n"
    )
    test = (
        "s = Stack()\np = object()\nbox = [1, 2]\nt = (1, 2)\ns.push(p)\ns.push(box)\ns.push(t)\n"
        "assert s.pop() is t and s.pop() is box and s.pop() is p\n"
        "nums = [1, 2, 3]\nassert rev(nums) is None and nums == [3, 2, 1]\n"
        "rows = [[1], [2]]\ninner = rows[0]\nnested(rows)\nassert inner == [1, 9] and rows[0] is inner\n"
        "assert get() is get() or get() == [1]\nassert Stack is Stack and type(s) is Stack"
    )
    run = make(code).run(test)
    assert run.passed, run.message


def test_functions_from_the_test_work_inside_learner_code(make: Any) -> None:
    code = (
        "def apply(f, xs): return [f(x) for x in xs]\n"
        "def newton(f, df, x): \n    for _ in range(20): x = x - f(x) / df(x)\n    return x\n"
        "def keep(f):\n    global kept\n    kept = f\n"
        "def later(): return kept(1)\n"
    )
    learner = make(code)
    run = learner.run(
        "import math\nassert apply(lambda x: x * 10, [1, 2]) == [10, 20]\n"
        "assert math.isclose(newton(lambda x: x**2 - 2, lambda x: 2 * x, 1.0), math.sqrt(2))\n"
        "log = []\napply(log.append, [3, 4])\nassert log == [3, 4]\nkeep(lambda x: x)"
    )
    assert run.passed, run.message
    # A function a test handed over is revoked when that test ends.
    later = learner.run("later()")
    assert not later.passed and "can only be used while that test runs" in later.message


def test_a_test_function_exposes_nothing_but_its_call(make: Any) -> None:
    code = (
        "def peek(f):\n    out = []\n"
        "    for name in ['__globals__', '__code__', 'gi_frame', '__class__']:\n"
        "        try:\n            out.append(getattr(f, name))\n"
        "        except Exception as exc:\n            out.append(type(exc).__name__)\n"
        "    return out\n"
    )
    for value in ("lambda: SECRET", "(i for i in range(3))", "Box()"):
        run = make(code).run(
            "SECRET = 'x'\nclass Box:\n    def __init__(self): self.public = 1\n"
            f"got = peek({value})\nassert got[:3] == ['AttributeError'] * 3, got"
        )
        assert run.passed, run.message


def test_exceptions_and_learner_exception_classes(make: Any) -> None:
    code = (
        "class NegativeInput(ValueError):\n    def __init__(self, x):\n"
        "        super().__init__(f'negative: {x}')\n        self.value = x\n"
        "def f(x):\n    if x < 0:\n        raise NegativeInput(x)\n    return x"
    )
    test = (
        "import pytest\nwith pytest.raises(NegativeInput, match='negative') as info:\n    f(-1)\n"
        "assert info.value.value == -1\n"
        "with pytest.raises(ValueError):\n    f(-2)\n"
        "try:\n    f(-3)\nexcept NegativeInput as exc:\n    assert str(exc) == 'negative: -3'\n"
        "assert issubclass(NegativeInput, ValueError)"
    )
    run = make(code).run(test)
    assert run.passed, run.message
    passed, message = check(make, code, "f(-1)")
    assert (passed, message) == (False, "NegativeInput: negative: -1 (line 1: f(-1))")
    exc = learner_exception({"type": "SystemExit", "base": "SystemExit", "message": "3"})
    assert not isinstance(exc, SystemExit) and str(exc) == "SystemExit: 3"


def test_builtins_are_the_judges_unless_the_solution_defines_them(make: Any) -> None:
    learner = make("def sum(xs):\n    return 99\nlen = lambda x: 3\nAssertionError = ValueError")
    learner.tests.owners.owner["len"] = "setup"  # the instructor never bound len
    learner.tests.owners.owner.pop("AssertionError")
    run = learner.run(
        "assert sum([1]) == 99\nassert len([1]) == 1\n"
        "try:\n    assert False\nexcept AssertionError:\n    pass"
    )
    assert run.passed, run.message


def test_type_isinstance_vars_dir_and_callable_answer_as_in_the_notebook(make: Any) -> None:
    code = (
        "import collections\nclass Point:\n    def __init__(self): self.x = 1\n"
        "class Bag(collections.abc.Sized):\n    def __len__(self): return 0\n"
        "def gen():\n    yield 1\nvalue = 5\n"
    )
    test = (
        "import types, collections.abc\n"
        "p = Point()\nassert type(p) == Point and type(p).__name__ == 'Point'\n"
        "assert p.__class__ is Point and isinstance(p, Point) and not isinstance(p, int)\n"
        "assert isinstance(Bag(), collections.abc.Sized) and isinstance(gen(), types.GeneratorType)\n"
        "assert vars(p) == {'x': 1} and 'x' in dir(p)\n"
        "assert 'Point' in vars() and 'value' in dir() and vars()['value'] == 5\n"
        "assert callable(Point) and not callable(value)"
    )
    run = make(code).run(test)
    assert run.passed, run.message


def test_a_global_a_visible_test_binds_is_the_learners_too(make: Any) -> None:
    learner = make("def count_above(xs):\n    return len([x for x in xs if x > THRESHOLD])")
    assert learner.run("THRESHOLD = 5\nassert count_above([1, 6, 7]) == 2").passed
    assert learner.namespace["THRESHOLD"] == 5
    hidden = make("def peek():\n    return SECRET")
    run = hidden.run("SECRET = 'expected'\nassert peek() == 'expected'", hidden=True)
    assert not run.passed and "NameError" in run.message  # a hidden test's names stay its own


def test_learner_prints_during_a_test_can_be_captured(make: Any) -> None:
    code = "def greet(name):\n    print(f'Hello, {name}!')"
    test = (
        "import io, contextlib\nbuf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n    greet('Ada')\n"
        "assert buf.getvalue() == 'Hello, Ada!\\n'"
    )
    run = make(code).run(test)
    assert run.passed, run.message


def test_library_modules_resolve_to_the_judges_own(make: Any) -> None:
    learner = make("import math, os, numpy as np, pandas as pd\nfrom pandas import DataFrame")
    values = learner.link.fetch(["math", "np", "pd", "DataFrame", "os"])
    assert values["math"] is math and values["np"] is np
    assert values["pd"] is pd and values["DataFrame"] is pd.DataFrame
    assert type(values["os"]) is Proxy  # os is stateful (cwd, files): it stays the learner's


def test_judge_side_time_is_bounded(make: Any) -> None:
    code = "def n():\n    return 10**12"
    passed, message = check(
        make, code, "total = 0\nfor i in range(n()):\n    total += i", timeout=0.5
    )
    assert not passed and message == "timed out after 0.5 s"


def test_gone_learner_process_fails_every_further_request(make: Any) -> None:
    learner = make("def f():\n    return 1")
    learner.link.channel.close()
    run = learner.run("try:\n    f()\nexcept BaseException:\n    pass")
    assert not run.passed and run.gone is not None and run.message == "the learner's process ended"


def test_hidden_tests_keep_their_code_in_the_judge(make: Any) -> None:
    learner = make("seen = []\ndef f(x):\n    seen.append(x)\n    return x")
    assert learner.run("EXPECTED = 'sekret'\nassert f(1) == 1", hidden=True).passed
    assert learner.namespace["seen"] == [1] and "EXPECTED" not in learner.namespace


def test_a_test_may_delete_and_restore_a_learner_global(make: Any) -> None:
    """nbgrader's own example course checks that sum_of_squares calls squares this way."""
    learner = make(
        "def squares(n):\n    return [i * i for i in range(1, n + 1)]\n"
        "def sum_of_squares(n):\n    return sum(squares(n))"
    )
    test = ("from nose.tools import assert_raises\n" if False else "") + (
        "orig_squares = squares\ndel squares\n"
        "try:\n    sum_of_squares(1)\n    used = False\nexcept NameError:\n    used = True\n"
        "finally:\n    squares = orig_squares\n"
        "assert used, 'sum_of_squares does not use squares'\nassert sum_of_squares(2) == 5"
    )
    run = learner.run(test)
    assert run.passed, run.message
    assert "squares" in learner.namespace  # restored for learner code too


def test_the_same_learner_container_is_the_same_object_in_a_test(make: Any) -> None:
    """A physics course compares a list holding a learner array with a list holding that same
    array: in the notebook the identical element short-circuits `==`."""
    learner = make(
        "import numpy as np\nxarray = np.arange(3.0)\n"
        "example_list = [0, 1, xarray, 'hello world', [100, 200]]\n"
        "shared = [1]\ndef grow():\n    shared.append(2)\ndef same(a, b):\n    return a is b"
    )
    run = learner.run(
        "assert example_list == [0, 1, xarray, 'hello world', [100, 200]]\n"
        "assert example_list[2] is xarray\n"
        "mine = shared\ngrow()\nassert mine == [1, 2] and mine is shared\n"
        "mine.append(3)\nassert same(mine, shared) and shared == [1, 2, 3]"
    )
    assert run.passed, run.message
    assert learner.namespace["shared"] == [1, 2, 3]  # the test's change reached the original
