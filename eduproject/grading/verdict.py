"""Run one test in the grader process, against learner objects seen only as plain data.

A test's source comes from the sealed bundle and runs here, in the trusted grader. The names
it uses but does not define (its *free names*, from the AST) are fetched from the learner
process: plain data arrives as ordinary values (decoded by :class:`~wire.Codec`), anything
else as a :class:`Proxy`. Calling a proxy, reading its attributes or items, its length or its
iteration become requests to the learner process, whose answers come back the same way.
Proxies refuse ``==``, ``!=``, ordering, ``bool``, ``hash`` and ``in`` with a clear TypeError:
those are exactly the places where a learner object could decide a verdict.

Builtin names always mean the grader's builtins (a learner's ``len = ...`` or patched
``AssertionError`` never reaches a test). Modules of a few pure libraries (math, numpy,
pandas...) and their classes resolve to the grader's own copies, so ``pd.testing`` or
``np.isclose`` run here, not in the learner's process.

    >>> outcome = run_test(test, link, timeout=30)       # doctest: +SKIP
    >>> outcome.passed, outcome.message
    (False, "greet('Ada') should return 'Hello, Ada!', got None")
"""

from __future__ import annotations

import ast
import builtins
import ctypes
import functools
import importlib
import io
import itertools
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Protocol

from eduproject.authoring.model import TestCase
from eduproject.grading.channel import ChannelTimeout, WireError
from eduproject.grading.sandbox import ChildExit
from eduproject.grading.wire import Codec, Refused
from eduproject.grading.wire import Protocol as WireProtocol

__all__ = ["LearnerGone", "LearnerProcess", "Link", "Proxy", "TestRun", "free_names", "run_test"]

BUILTIN_NAMES = frozenset(dir(builtins))
WATCHDOG_GRACE = 0.5  # seconds
# Pure libraries whose modules and classes the grader uses itself instead of proxying.
GRADER_SIDE_MODULES = frozenset(
    [
        "math",
        "cmath",
        "statistics",
        "decimal",
        "fractions",
        "numbers",
        "collections",
        "itertools",
        "functools",
        "operator",
        "string",
        "re",
        "json",
        "textwrap",
        "heapq",
        "bisect",
        "copy",
        "datetime",
        "calendar",
        "enum",
        "typing",
        "dataclasses",
        "unicodedata",
        "numpy",
        "pandas",
    ]
)
_READABLE_DUNDERS = frozenset(
    [
        "__doc__",
        "__name__",
        "__qualname__",
        "__module__",
        "__annotations__",
        "__defaults__",
        "__kwdefaults__",
        "__dict__",
        "__wrapped__",
        "__self__",
        "__func__",
    ]
)
_NON_PLAIN_BUILTINS = (SystemExit, KeyboardInterrupt, GeneratorExit, BaseExceptionGroup)


class LearnerProcess(Protocol):
    """Where learner code runs (a sandboxed fork, or a Jupyter kernel).

    ``snapshot`` returns a copy of the process as it is now (or None where copies are not
    possible, e.g. a kernel); ``end`` stops it and says how it ended.
    """

    def ask(self, msg: dict[str, Any], timeout: float) -> dict[str, Any]: ...

    def snapshot(self, timeout: float) -> LearnerProcess | None: ...

    def end(self, *, kill: bool = False) -> ChildExit: ...


class LearnerGone(BaseException):
    """The learner process timed out or ended: no test can catch this and go on."""

    def __init__(self, message: str, *, timeout: bool) -> None:
        super().__init__(message)
        self.timeout = timeout


class TestTimeout(BaseException):
    """Raised inside a test's thread when its grader-side time runs out."""


class LearnerError(Exception):
    """Learner code raised an exception that has no plain builtin counterpart."""


class Link:
    """The engine's conversation with one learner process, with a moving deadline.

    Once a request times out or the process is gone, :attr:`failure` holds why and every
    further request raises :class:`LearnerGone`.
    """

    def __init__(self, process: LearnerProcess) -> None:
        self.process = process
        self.deadline = time.monotonic() + 30.0
        self.failure: WireError | None = None
        self.codec = Codec(self._encode_ref, self._decode_ref)

    def ask_raw(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.failure is not None:
            raise LearnerGone(str(self.failure), timeout=isinstance(self.failure, ChannelTimeout))
        try:
            return self.process.ask(msg, self.deadline - time.monotonic())
        except WireError as exc:
            self.failure = exc
            raise LearnerGone(str(exc), timeout=isinstance(exc, ChannelTimeout)) from None
        except BaseException:
            # Interrupted mid-request (a test's TestTimeout): the reply may still come, so
            # this conversation is out of step for good.
            self.failure = ChannelTimeout("a request was interrupted")
            raise

    def snapshot(self) -> Link | None:
        """A Link to a copy of the learner process as it is now (None: copies not possible)."""
        if self.failure is not None:
            raise LearnerGone(str(self.failure), timeout=isinstance(self.failure, ChannelTimeout))
        try:
            copy = self.process.snapshot(self.deadline - time.monotonic())
        except WireError as exc:
            self.failure = exc
            raise LearnerGone(str(exc), timeout=isinstance(exc, ChannelTimeout)) from None
        return None if copy is None else Link(copy)

    def ask(self, msg: dict[str, Any]) -> Any:
        reply = self.ask_raw(msg)
        if reply.get("ok") is True:
            if reply.get("stop") is True:
                raise StopIteration
            return self.decode(reply.get("value"))
        raise learner_exception(reply.get("error"))

    def decode(self, data: Any) -> Any:
        try:
            return self.codec.decode(data)
        except (WireProtocol, Refused, RecursionError) as exc:
            raise TypeError(f"the learner's value could not be read: {exc}") from None

    def encode(self, value: Any) -> Any:
        try:
            return self.codec.encode(value)
        except Refused as exc:
            raise TypeError(f"cannot pass this value to learner code: {exc}") from None

    def fetch(self, names: list[str]) -> dict[str, Any]:
        """The learner's values of ``names`` that exist (refused ones raise TypeError)."""
        if not names:
            return {}
        reply = self.ask_raw({"op": "get", "names": names})
        values = reply.get("value")
        if reply.get("ok") is not True or type(values) is not dict:
            raise learner_exception(reply.get("error"))
        out = {}
        for name in names:
            if name not in values:
                continue
            data = values[name]
            if type(data) is dict and set(data) == {"$refused"}:
                raise TypeError(f"{name}: {str(data['$refused'])[:500]}")
            out[name] = self.decode(data)
        return out

    def _encode_ref(self, value: Any) -> dict[str, Any]:
        if type(value) is Proxy and object.__getattribute__(value, "_link") is self:
            return {"$ref": object.__getattribute__(value, "_ref")}
        raise Refused(f"a {type(value).__name__} from the test cannot be sent to learner code")

    def _decode_ref(self, data: dict[str, Any]) -> Any:
        ref = data.get("$ref")
        if type(ref) is not int:
            raise WireProtocol("bad reference")
        library = _grader_side(data.get("import"))
        if library is not None:
            return library
        kind = data.get("type")
        return Proxy(self, ref, kind if type(kind) is str else "object")


def _grader_side(spec: Any) -> Any:
    """The grader's own module or class named by ``[module, qualname]``, if it is trusted."""
    if type(spec) is not list or len(spec) != 2 or not all(type(s) is str for s in spec):
        return None
    module_name, qualname = spec
    if module_name.split(".")[0] not in GRADER_SIDE_MODULES:
        return None
    try:
        found: Any = importlib.import_module(module_name)
        for part in filter(None, qualname.split(".")):
            found = getattr(found, part)
    except Exception:
        return None
    return found if not qualname or isinstance(found, type) else None


def learner_exception(error: Any) -> BaseException:
    """An exception for the grader to raise, shaped after the learner's (plain text only)."""
    if type(error) is not dict:
        return LearnerError("the learner process sent a malformed error")
    name = str(error.get("type", "Exception"))[:200]
    base = str(error.get("base", "Exception"))
    message = str(error.get("message", ""))[:2000]
    cls = getattr(builtins, base, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)) or issubclass(
        cls, _NON_PLAIN_BUILTINS
    ):
        return LearnerError(f"{name}: {message}")
    short = name.rsplit(".", 1)[-1]
    if short != base and short.isidentifier():
        cls = type(short, (cls,), {"__module__": "learner"})
    try:
        return cls(message)
    except Exception:
        return LearnerError(f"{name}: {message}")


def _refuse(what: str) -> Any:
    def method(self: Proxy, *args: Any) -> Any:
        kind = object.__getattribute__(self, "_type")
        raise TypeError(
            f"{what} a learner object ({kind}) is not allowed: the test must compare plain "
            f"values (numbers, strings, lists, dicts, DataFrames...), so return one"
        )

    return method


class Proxy:
    # A learner object in the grader. No docstring on purpose: __doc__ is the learner's.
    __slots__ = ("_link", "_ref", "_type")

    def __init__(self, link: Link, ref: int, kind: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", kind)

    def _ask(self, op: str, **fields: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        return link.ask({"op": op, "ref": object.__getattribute__(self, "_ref"), **fields})

    # A property: the class attribute __doc__ would shadow the learner's docstring.
    @property
    def __doc__(self) -> Any:  # type: ignore[override]  # the class attribute would shadow the learner's docstring
        return self._ask("getattr", name="__doc__")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in _READABLE_DUNDERS:
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError("a test cannot change a learner object; call its methods instead")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        encoded_kwargs = [[k, link.encode(v)] for k, v in kwargs.items()]
        return self._ask("call", args=link.encode(list(args)), kwargs=encoded_kwargs)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=object.__getattribute__(self, "_link").encode(key))

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of a learner object did not give a plain int")
        return n

    def __iter__(self) -> Any:
        return self._ask("iter")

    def __next__(self) -> Any:
        return self._ask("next")

    def __instancecheck__(self, instance: Any) -> bool:
        link: Link = object.__getattribute__(self, "_link")
        return self._ask("isinstance", value=link.encode(instance)) is True

    def __repr__(self) -> str:
        try:
            text = self._ask("repr")
        except Exception:
            text = None
        kind = object.__getattribute__(self, "_type")
        return text if type(text) is str else f"<learner {kind}>"

    def __str__(self) -> str:
        try:
            text = self._ask("repr", str=True)
        except Exception:
            text = None
        return text if type(text) is str else repr(self)

    __eq__ = _refuse("comparing (==)")
    __ne__ = _refuse("comparing (!=)")
    __lt__ = _refuse("ordering (<)")
    __le__ = _refuse("ordering (<=)")
    __gt__ = _refuse("ordering (>)")
    __ge__ = _refuse("ordering (>=)")
    __bool__ = _refuse("taking the truth value of")
    __hash__ = _refuse("hashing")
    __contains__ = _refuse("asking `in` of")


# -- free names ------------------------------------------------------------------------------


def free_names(source: str) -> list[str]:
    """Names ``source`` reads but never binds, except builtins (they stay the grader's).

    >>> free_names("got = greet('Ada')\\nassert len(got) == 11")
    ['greet']
    """
    tree = ast.parse(source)
    loaded: set[str] = set()
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (loaded if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return sorted(loaded - bound - BUILTIN_NAMES)


def python_source(source: str) -> str:
    """``source`` as plain Python (IPython magics in a test cell become calls)."""
    try:
        ast.parse(source)
        return source
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)


# -- running one test ------------------------------------------------------------------------


@dataclass(frozen=True)
class TestRun:
    """What happened when one test ran. ``gone`` is set when the learner process went away."""

    passed: bool
    message: str
    printed: str = ""
    timed_out: bool = False
    gone: LearnerGone | None = None


class _Watchdog:
    """One daemon thread that raises TestTimeout in a test's thread past its deadline.

    A single shared thread (not a timer per test): arming and disarming cost microseconds.
    """

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.armed: dict[int, tuple[int, float]] = {}  # token -> (thread id, deadline)
        self.tokens = itertools.count()
        self.thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        with self.cond:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="test-watchdog", daemon=True)
                self.thread.start()
            token = next(self.tokens)
            self.armed[token] = (threading.get_ident(), time.monotonic() + max(seconds, 0.0))
            self.cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self.cond:
            if self.armed.pop(token, None) is None:
                # It fired: drop the exception if it is still pending in this thread.
                _async_raise(threading.get_ident(), None)

    def _loop(self) -> None:
        with self.cond:
            while True:
                now = time.monotonic()
                for token, (thread_id, deadline) in list(self.armed.items()):
                    if deadline <= now:
                        del self.armed[token]
                        _async_raise(thread_id, TestTimeout)
                soonest = min((d for _, d in self.armed.values()), default=now + 3600)
                self.cond.wait(timeout=max(soonest - now, 0.001))


_WATCHDOG = _Watchdog()


@functools.lru_cache(maxsize=4096)
def _compiled(source: str, filename: str) -> tuple[Any, tuple[str, ...]]:
    """The code object and free names of a test (the same tests run for every learner)."""
    python = python_source(source)
    return compile(python, filename, "exec", dont_inherit=True), tuple(free_names(python))


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc is not None else ctypes.c_void_p(0)
    )


def run_test(test: TestCase, link: Link, timeout: float) -> TestRun:
    """Run ``test`` (source from the bundle) in this process; learner names via ``link``."""
    filename = f"<test {test.name}>"
    printed = io.StringIO()

    def test_print(*args: Any, sep: str | None = " ", end: str | None = "\n", **_: Any) -> None:
        if printed.tell() < 20_000:
            printed.write((sep if sep is not None else " ").join(str(a) for a in args))
            printed.write(end if end is not None else "\n")

    link.deadline = time.monotonic() + timeout
    source = test.source
    try:
        code, names = _compiled(source, filename)
        # A little later than the link's deadline: a hang in learner code is the learner's
        # timeout (LearnerGone), only grader-side test code meets the watchdog.
        token = _WATCHDOG.arm(timeout + WATCHDOG_GRACE)
        try:
            namespace: dict[str, Any] = {"__builtins__": builtins, "__name__": "__test__"}
            namespace.update(link.fetch(list(names)))
            namespace["print"] = test_print
            exec(code, namespace)
        except TestTimeout:
            return TestRun(
                False, f"timed out after {timeout:g} s", printed.getvalue(), timed_out=True
            )
        finally:
            _WATCHDOG.disarm(token)
    except LearnerGone as gone:
        what = f"timed out after {timeout:g} s" if gone.timeout else "the learner's process ended"
        return TestRun(False, what, printed.getvalue(), timed_out=gone.timeout, gone=gone)
    except BaseException as exc:  # any failure of the test, also from the learner's values
        return TestRun(False, _failure_message(exc, filename, source), printed.getvalue())
    return TestRun(True, "", printed.getvalue())


def _failure_message(exc: BaseException, filename: str, source: str) -> str:
    line_no = next(
        (
            f.lineno
            for f in reversed(traceback.extract_tb(exc.__traceback__))
            if f.filename == filename
        ),
        None,
    )
    text = str(exc).strip()
    where = ""
    if line_no is not None:
        lines = source.splitlines()
        if 0 < line_no <= len(lines):
            where = f" (line {line_no}: {lines[line_no - 1].strip()})"
    if isinstance(exc, AssertionError):
        return text if text else f"AssertionError{where}"
    name = type(exc).__name__
    return f"{name}: {text}{where}" if text else f"{name}{where}"
