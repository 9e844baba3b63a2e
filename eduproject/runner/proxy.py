"""The judge's view of learner objects: a :class:`Link` to the learner process and its proxies.

Test code runs in the judge (``judge.py``), a trusted process; learner code runs in the
sandboxed learner process. Values cross between them as tagged JSON (``wire.py``):

* plain data (numbers, strings, lists, dicts, arrays, DataFrames...) arrives as the judge's own
  values, rebuilt with the judge's classes: comparing it is the judge's business;
* any other learner object arrives as a :class:`Proxy`. Using a proxy -- calling it, reading
  an attribute or an item, iterating, arithmetic, ``with`` -- is a request to the learner
  process. The same learner object is always the same proxy, so ``is`` works;
* what a test hands to learner code crosses the other way: plain values by value (and the
  arguments of a call come back as learner code left them: in-place changes are seen), the
  learner's own objects as themselves, and the judge's functions and objects as handles that
  learner code may call back (:class:`Handles`), only while the test that handed them runs.

Notebook semantics with one exception: where learner code would decide whether a test passes
by comparing its object with a plain expected value (a learner ``__eq__``, ``__bool__``,
``__contains__``...), the comparison still runs as in the notebook, but the link records the
fact (:attr:`Link.learner_decided`); a test that passes that way is marked for review instead of
earning its points silently.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import io
import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from eduproject.runner import wire
from eduproject.runner.channel import Channel, ChannelTimeout, WireError
from eduproject.runner.wire import Codec, Refused, merge_into
from eduproject.runner.wire import Protocol as WireProtocol

__all__ = [
    "GRADER_SIDE_MODULES",
    "Handles",
    "LearnerError",
    "LearnerGone",
    "Link",
    "Proxy",
    "TooMuchData",
    "is_proxy",
    "learner_exception",
    "merge_into",
]

# Pure libraries whose modules and classes the judge uses itself instead of proxying.
GRADER_SIDE_MODULES = frozenset(
    [
        "math", "cmath", "statistics", "decimal", "fractions", "numbers", "collections",
        "itertools", "functools", "operator", "string", "re", "json", "textwrap", "heapq",
        "bisect", "copy", "datetime", "calendar", "enum", "typing", "dataclasses",
        "unicodedata", "numpy", "pandas",
    ]
)  # fmt: skip
# Attributes of learner objects a test may read besides public ones.
_READABLE_DUNDERS = frozenset(
    [
        "__doc__", "__name__", "__qualname__", "__module__", "__annotations__",
        "__defaults__", "__kwdefaults__", "__dict__", "__wrapped__", "__self__", "__func__",
        "__mro__", "__bases__", "__slots__", "__code__",
    ]
)  # fmt: skip
_NON_PLAIN_BUILTINS = (SystemExit, KeyboardInterrupt, GeneratorExit, BaseExceptionGroup)
# What a test may decode from learner replies, in total (each reply is capped by the channel).
DEFAULT_TEST_BYTES = 256 << 20


class LearnerGone(BaseException):
    """The learner process timed out or ended: no test can catch this and go on."""

    def __init__(self, message: str, *, timeout: bool) -> None:
        super().__init__(message)
        self.timeout = timeout


class LearnerError(Exception):
    """Learner code raised an exception that has no plain builtin counterpart."""


class TooMuchData(Exception):
    """Learner code sent more data to one test than a test may read."""


def is_proxy(value: Any) -> bool:
    return type(value) is Proxy


# -- the link ----------------------------------------------------------------------------------


class Link:
    """The judge's conversation with one learner process, with a moving deadline.

    Once a request times out or the process is gone, :attr:`failure` holds why and every
    further request raises :class:`LearnerGone`. :meth:`switch` moves the conversation to a
    copy of the process (a spare snapshot): references stay valid, the copy was forked with
    the same table of learner objects.
    """

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.deadline = time.monotonic() + 30.0
        self.failure: WireError | None = None
        self.handles = Handles(self)
        self.codec = Codec(self._encode_ref, self._decode_ref, self._identity)
        # Copies of learner containers seen during this test, by the learner's id: the same
        # learner list is the same judge list, and goes back as the original.
        self.lids: dict[int, Any] = {}
        self.lid_of: dict[int, int] = {}
        self.lid_sent: dict[int, str] = {}  # what each copy was when last in step
        self.proxies: dict[int, Proxy] = {}
        self.mirrors: dict[int, type] = {}  # learner exception class ref -> judge class
        self.learner_decided: list[str] = []  # why a verdict came from learner code
        self.byte_budget = DEFAULT_TEST_BYTES
        self.printed: Callable[[str, str], None] | None = None  # where learner output goes

    # -- raw requests ----------------------------------------------------------------------

    def _gone(self) -> LearnerGone:
        assert self.failure is not None
        return LearnerGone(str(self.failure), timeout=isinstance(self.failure, ChannelTimeout))

    def ask_raw(self, msg: dict[str, Any], *, fds: tuple[int, ...] = ()) -> dict[str, Any]:
        if self.failure is not None:
            raise self._gone()
        if self.lids and msg.get("op") != "forget":
            changed = self._changed_copies()
            if changed:  # the test changed a learner container's copy: the original first
                msg = {**msg, "pins": changed}
        before = self.channel.received
        try:
            reply = self.channel.ask(
                msg,
                self.deadline - time.monotonic(),
                fds=fds,
                on_request=self.handles.answer,
            )
        except WireError as exc:
            self.failure = exc
            raise self._gone() from None
        except BaseException:
            # Interrupted mid-request (a test's own time ran out): the reply may still come,
            # so this conversation is out of step for good.
            self.failure = ChannelTimeout("a request was interrupted")
            raise
        self.byte_budget -= self.channel.received - before
        pins = reply.get("pins")
        if type(pins) is dict:  # learner code changed containers this test holds copies of
            for lid, data in pins.items():
                cached = self.lids.get(int(lid)) if lid.isdigit() else None
                if cached is not None:
                    with contextlib.suppress(WireProtocol, Refused, RecursionError, TypeError):
                        merge_into(cached, self.codec.decode(data))
                        self.lid_sent[int(lid)] = _fingerprint(data)
        if self.byte_budget < 0:
            raise TooMuchData(
                f"your code sent more than {DEFAULT_TEST_BYTES >> 20} MB of data to one test"
            )
        out = reply.get("out")
        if type(out) is dict and self.printed is not None:
            for stream in ("stdout", "stderr"):
                if type(out.get(stream)) is str:
                    self.printed(stream, out[stream])
        return reply

    def ask(self, msg: dict[str, Any]) -> Any:
        """The decoded value of a request's reply; the learner's exception as an exception."""
        reply = self.ask_raw(msg)
        if reply.get("ok") is True:
            if reply.get("stop") is True:
                raise StopIteration
            return self.decode(reply.get("value"))
        raise self.exception(reply.get("error"))

    def switch(self, channel: Channel) -> None:
        self.channel = channel
        self.failure = None

    # -- values ----------------------------------------------------------------------------

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

    def fetch(self, names: list[str], *, op: str = "get") -> dict[str, Any]:
        """The learner's values of ``names`` that exist (refused ones raise TypeError)."""
        if not names:
            return {}
        reply = self.ask_raw({"op": op, "names": names})
        values = reply.get("value")
        if reply.get("ok") is not True or type(values) is not dict:
            raise self.exception(reply.get("error"))
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
        if type(value) is Proxy:
            if object.__getattribute__(value, "_link") is not self:
                raise Refused("a learner object of another process")
            return {"$ref": object.__getattribute__(value, "_ref")}
        ref = getattr(value, "_eduproject_learner_ref", None)  # a mirrored exception class
        if type(ref) is int and isinstance(value, type):
            return {"$ref": ref}
        if type(value) is type(builtins):
            return {"$import": value.__name__}
        library = _library_spec(value)
        if library is not None:  # a class or function of a library: the learner's own copy
            return {"$import": library[0], "attr": library[1]}
        base = wire.builtin_base(type(value))
        if base is not None:  # the judge's own subclass of a builtin (an IntEnum): its value
            return self.codec.encode(wire.plain_view(value, base))
        return self.handles.make(value)

    def _identity(self, value: Any, depth: int) -> dict[str, Any] | None:
        lid = self.lid_of.get(id(value))
        if lid is None or self.lids.get(lid) is not value:
            return None
        return {"$lid": lid, "v": self.codec.encode_value(value, depth)}

    def _changed_copies(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for lid, value in self.lids.items():
            before = self.lid_sent.get(lid)
            if before is None or len(before) > PIN_SYNC_LIMIT:
                continue
            try:
                data = self.codec.encode_value(value)
            except (Refused, RecursionError):
                continue
            now = _fingerprint(data)
            if now != before:
                self.lid_sent[lid] = now
                out[str(lid)] = data
        return out

    def pass_value(self, value: Any) -> Any:
        """A container handed to learner code: the learner's own original if it came from
        there (as this test changed it), else a copy that comes back as this very object."""
        if self._identity(value, 0) is not None:
            return self.encode(value)
        return self.handles.send_by_value(value)

    def forget(self) -> None:
        """The test ended: its copies of learner containers are its own from now on."""
        self.lids.clear()
        self.lid_of.clear()
        self.lid_sent.clear()
        if self.failure is None:
            self.deadline = time.monotonic() + 5.0
            with contextlib.suppress(Exception, LearnerGone):
                self.ask_raw({"op": "forget"})

    def _decode_ref(self, data: dict[str, Any]) -> Any:
        if "$lid" in data:
            lid = data["$lid"]
            value = self.codec.decode(data.get("v"))
            if type(lid) is not int:
                raise WireProtocol("bad identity")
            self.lid_sent[lid] = _fingerprint(data.get("v"))
            cached = self.lids.get(lid)
            if cached is not None and type(cached) is type(value):
                merge_into(cached, value)
                return cached
            self.lids[lid] = value
            self.lid_of[id(value)] = lid
            return value
        if "$jref" in data:
            return self.handles.returned(data)
        if "$judge" in data:
            return self.handles.get(data["$judge"])
        ref = data.get("$ref")
        if type(ref) is not int:
            raise WireProtocol("bad reference")
        library = _grader_side(data.get("import"))
        if library is not None:
            return library
        exception = data.get("exception")
        if type(exception) is dict:
            return self.mirror_class(ref, exception)
        found = self.proxies.get(ref)
        if found is None:
            kind = data.get("type")
            found = Proxy(self, ref, kind if type(kind) is str else "object", data)
            self.proxies[ref] = found
        return found

    # -- exceptions ------------------------------------------------------------------------

    def mirror_class(self, ref: int, info: dict[str, Any]) -> type:
        """The judge's class standing for a learner-defined exception class (one per class)."""
        found = self.mirrors.get(ref)
        if found is not None:
            return found
        parent_data = info.get("parent")
        if type(parent_data) is dict and "$ref" in parent_data:
            parent = self.decode(parent_data)
        else:
            parent = getattr(builtins, str(info.get("base")), Exception)
        if not (isinstance(parent, type) and issubclass(parent, Exception)) or issubclass(
            parent, _NON_PLAIN_BUILTINS
        ):
            parent = Exception
        name = str(info.get("name", "LearnerException"))[:100]
        if not name.isidentifier():
            name = "LearnerException"
        mirror = type(
            name,
            (parent,),
            {
                "__module__": "learner",
                "_eduproject_learner_ref": ref,
                "__getattr__": _mirror_getattr,
            },
        )
        self.mirrors[ref] = mirror
        return mirror

    def exception(self, error: Any) -> BaseException:
        """An exception for the judge to raise, shaped after the learner's."""
        if type(error) is not dict:
            return LearnerError("the learner process sent a malformed error")
        message = str(error.get("message", ""))[:2000]
        classes = error.get("classes")
        if type(classes) is list and classes:
            try:
                cls = self.decode(classes[0])
            except TypeError:
                cls = None
            if isinstance(cls, type) and issubclass(cls, BaseException):
                args = self._args(error, message)
                try:
                    exc = cls(*args)
                except Exception:
                    exc = cls(message)
                obj = error.get("obj")
                if type(obj) is dict and "$ref" in obj:
                    object.__setattr__(exc, "_eduproject_learner_obj", obj["$ref"])
                    object.__setattr__(exc, "_eduproject_link", self)
                return exc
        return learner_exception(error)

    def _args(self, error: dict[str, Any], message: str) -> tuple[Any, ...]:
        try:
            args = self.codec.decode(error.get("args"))
        except (WireProtocol, Refused, RecursionError):
            args = None
        return tuple(args) if type(args) is tuple else (message,)

    def flag(self, reason: str) -> None:
        if reason not in self.learner_decided:
            self.learner_decided.append(reason)


PIN_SYNC_LIMIT = 256 * 1024  # characters of a copy's encoding still compared per request


def _fingerprint(data: Any) -> str:
    return json.dumps(data, allow_nan=False, default=str)


def _mirror_getattr(self: BaseException, name: str) -> Any:
    # Attributes of a learner exception (its own fields) are read from the learner's object.
    if name.startswith("__") or name.startswith("_eduproject"):
        raise AttributeError(name)
    link = self.__dict__.get("_eduproject_link")
    ref = self.__dict__.get("_eduproject_learner_obj")
    if link is None or ref is None:
        raise AttributeError(name)
    return link.ask({"op": "getattr", "ref": ref, "name": name})


def _library_spec(value: Any) -> tuple[str, str] | None:
    """``(module, qualname)`` of a library class or function (not one a test defined)."""
    if not (isinstance(value, type) or callable(value)):
        return None
    module = getattr(value, "__module__", None)
    qualname = getattr(value, "__qualname__", None)
    if type(module) is not str or type(qualname) is not str or module in ("__test__", "learner"):
        return None
    if "<" in qualname:
        return None
    found: Any = importlib.import_module(module) if module in __import__("sys").modules else None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return (module, qualname) if found is value else None


def _grader_side(spec: Any) -> Any:
    """The judge's own module or class named by ``[module, qualname]``, if it is trusted."""
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
    """A builtin exception shaped after the learner's (plain text only)."""
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


# -- the judge's objects in learner hands ------------------------------------------------------


class Handles:
    """Objects of the judge that learner code holds (functions, test-made objects, iterators).

    A handle is valid until the test that handed it over ends (:meth:`revoke`); what learner
    code may do with it is narrow: call it if it is callable, iterate it, read PUBLIC
    attributes of objects made by test code or of simple library objects (a StringIO),
    compare, hash and print it. Never a dunder, never a function's or a generator's insides.
    """

    _SAFE_TYPES = (io.StringIO, io.BytesIO)

    def __init__(self, link: Link) -> None:
        self.link = link
        self.objects: dict[int, Any] = {}  # every object handed over (identity: `is` works)
        self.ids: dict[int, int] = {}
        self.live: set[int] = set()  # handles learner code may use now (this test's)
        self.sent: dict[int, Any] = {}  # plain values passed by value whose identity matters
        self.counter = itertools.count(1)

    def make(self, value: Any) -> dict[str, Any]:
        handle = self.ids.get(id(value))
        if handle is None or self.objects.get(handle) is not value:
            handle = next(self.counter)
            self.objects[handle] = value
            self.ids[id(value)] = handle
        self.live.add(handle)
        kinds = []
        if callable(value):
            kinds.append("call")
        if hasattr(type(value), "__next__"):
            kinds.append("next")
        return {"$judge": handle, "kinds": kinds}

    def send_by_value(self, value: Any) -> Any:
        """``value`` encoded with its identity: it comes back as this very object (while the
        test that passed it runs)."""
        handle = next(self.counter)
        self.sent[handle] = value
        self.live.add(handle)
        return {"$jref": handle, "v": self.link.codec.encode(value)}

    def returned(self, data: dict[str, Any]) -> Any:
        handle = data["$jref"]
        value = self.sent.get(handle)
        if value is None:
            raise WireProtocol("unknown value handle")
        current = self.link.codec.decode(data.get("v"))
        if handle not in self.live:
            # Kept by learner code from an earlier test: changing that test's object now (an
            # expected value a later test compares with) would decide a verdict. A copy.
            self.link.flag("learner code gave back a value an earlier test had passed to it")
            return current
        merge_into(value, current)
        return value

    def get(self, handle: Any) -> Any:
        if type(handle) is not int or handle not in self.objects:
            raise WireProtocol("unknown handle")
        return self.objects[handle]

    def revoke(self) -> None:
        """The test ended: the objects it handed over can no longer be used (only returned)."""
        self.live = set()

    def answer(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Answer learner code's use of a handle (see the class docstring)."""
        try:
            if msg.get("op") != "cb":
                raise WireProtocol("unexpected request")
            if msg.get("h") not in self.live:
                raise RuntimeError(
                    "a function or object from a test can only be used while that test runs"
                )
            value = self.get(msg.get("h"))
            act = msg.get("act")
            if act == "next":
                try:
                    return {"ok": True, "value": self.link.encode(next(value))}
                except StopIteration:
                    return {"ok": True, "stop": True}
            return {"ok": True, "value": self.link.encode(self._act(value, act, msg))}
        except LearnerGone:
            raise
        except BaseException as exc:  # test code may raise anything
            base = next(
                (k.__name__ for k in type(exc).__mro__ if getattr(builtins, k.__name__, None) is k),
                "Exception",
            )
            if base in ("SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"):
                base = "RuntimeError"
            return {"ok": False, "error": {"base": base, "message": str(exc)[:2000]}}

    def _act(self, value: Any, act: Any, msg: dict[str, Any]) -> Any:
        link = self.link
        if act == "call":
            if not callable(value):
                raise TypeError("this object from the test cannot be called")
            args = link.decode(msg.get("args"))
            kwargs = {str(k): v for k, v in link.decode(msg.get("kwargs"))}
            return value(*args, **kwargs)
        if act == "getattr":
            name = msg.get("name")
            if type(name) is not str or name.startswith("_") or not self._attributes_ok(value):
                raise AttributeError(f"{name!s:.50}: not readable from learner code")
            return getattr(value, name)
        if act == "iter":
            return iter(value)
        if act == "len":
            return len(value)
        if act == "getitem":
            return value[link.decode(msg.get("key"))]
        if act == "contains":
            return link.decode(msg.get("item")) in value
        if act == "eq":
            return bool(value == link.decode(msg.get("other")))
        if act == "bool":
            return bool(value)
        if act == "repr":
            return repr(value)[:2000]
        raise WireProtocol(f"unknown use of a test's object: {act!r:.30}")

    def _attributes_ok(self, value: Any) -> bool:
        if isinstance(value, self._SAFE_TYPES):
            return True
        module = getattr(type(value), "__module__", None)
        return module == "__test__" and not isinstance(value, type)


# -- proxies ----------------------------------------------------------------------------------

_CMP_SYMBOL = {
    "__eq__": "==",
    "__ne__": "!=",
    "__lt__": "<",
    "__le__": "<=",
    "__gt__": ">",
    "__ge__": ">=",
}


def _compare(name: str) -> Callable[[Proxy, Any], Any]:
    def method(self: Proxy, other: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        meta = object.__getattribute__(self, "_meta")
        judged: Any = NotImplemented
        if type(other) is not Proxy and "plain" in meta:
            # A subclass of a builtin: its plain value, compared here, decides -- unless the
            # subclass has its own comparison and that one disagrees (then: review).
            judged = getattr(object.__getattribute__(self, "_plain")(), name)(other)
            if name not in meta.get("custom", ()):
                return judged
        reply = link.ask_raw(
            {"op": "compare", "ref": object.__getattribute__(self, "_ref"), "cmp": name,
             "other": link.encode(other)}
        )  # fmt: skip
        if reply.get("ok") is not True:
            raise link.exception(reply.get("error"))
        body = reply.get("value")
        if type(body) is not dict:
            raise TypeError("a malformed comparison reply")
        result = link.decode(body.get("value"))
        kind = _short_type(self)
        if type(other) is Proxy:
            if type(result) is not bool:
                raise TypeError(
                    f"{kind}.{name} returned {type(result).__name__}, not True or False"
                )
        elif body.get("custom") is True and (judged is NotImplemented or result != judged):
            link.flag(
                f"{kind}.{name} (learner code) decided `{_CMP_SYMBOL[name]}` against a plain value"
            )
        return result

    return method


def _short_type(proxy: Proxy) -> str:
    """The learner class's own name (``AlwaysEqual``, not ``f.<locals>.AlwaysEqual``)."""
    return str(object.__getattribute__(proxy, "_type")).rsplit(".", 1)[-1]


def _binop(name: str, *, reflected: bool = False) -> Callable[[Proxy, Any], Any]:
    def method(self: Proxy, other: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        return self._ask("binop", bop=name, other=link.encode(other), reflected=reflected)

    return method


def _unop(name: str) -> Callable[[Proxy], Any]:
    def method(self: Proxy) -> Any:
        return self._ask("unop", uop=name)

    return method


class Proxy:
    # A learner object in the judge. No docstring on purpose: __doc__ is the learner's.
    __slots__ = ("__weakref__", "_hash", "_link", "_meta", "_ref", "_type")

    def __init__(self, link: Link, ref: int, kind: str, meta: dict[str, Any]) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", kind)
        object.__setattr__(self, "_meta", meta)
        object.__setattr__(self, "_hash", None)

    def _ask(self, op: str, **fields: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        return link.ask({"op": op, "ref": object.__getattribute__(self, "_ref"), **fields})

    def _plain(self) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        return link.decode(object.__getattribute__(self, "_meta")["plain"])

    # A property: the class attribute __doc__ would shadow the learner's docstring.
    @property
    def __doc__(self) -> Any:  # type: ignore[override]
        return self._ask("getattr", name="__doc__")

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        return self._ask("type")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__") and name not in _READABLE_DUNDERS:
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        link: Link = object.__getattribute__(self, "_link")
        self._ask("setattr", name=name, value=link.encode(value))

    def __delattr__(self, name: str) -> None:
        self._ask("delattr", name=name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        link: Link = object.__getattribute__(self, "_link")
        encoded = []
        sync = []
        originals: dict[str, Any] = {}
        for i, value in enumerate(args):
            if type(value) in _BY_VALUE_MUTABLE or _is_frame(value):
                sync.append(i)
                originals[str(i)] = value
                encoded.append(link.pass_value(value))
            else:
                encoded.append(link.encode(value))
        kw = []
        ksync = []
        for key, value in kwargs.items():
            if type(value) in _BY_VALUE_MUTABLE or _is_frame(value):
                ksync.append(key)
                originals[key] = value
                kw.append([key, link.pass_value(value)])
            else:
                kw.append([key, link.encode(value)])
        msg: dict[str, Any] = {
            "op": "call", "ref": object.__getattribute__(self, "_ref"), "args": encoded,
            "kwargs": kw,
        }  # fmt: skip
        if sync:
            msg["sync"] = sync
        if ksync:
            msg["ksync"] = ksync
        reply = link.ask_raw(msg)
        if reply.get("ok") is not True:
            raise link.exception(reply.get("error"))
        after = reply.get("after")
        if type(after) is dict:
            for key, data in after.items():
                if key in originals:
                    merge_into(originals[key], link.decode(data))
        return link.decode(reply.get("value"))

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=object.__getattribute__(self, "_link").encode(key))

    def __setitem__(self, key: Any, value: Any) -> None:
        link: Link = object.__getattribute__(self, "_link")
        self._ask("setitem", key=link.encode(key), value=link.encode(value))

    def __delitem__(self, key: Any) -> None:
        self._ask("delitem", key=object.__getattribute__(self, "_link").encode(key))

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int or n < 0:
            raise TypeError("len() of a learner object did not give a plain int")
        return n

    def __iter__(self) -> Any:
        return self._ask("iter")

    def __next__(self) -> Any:
        return self._ask("next")

    def __reversed__(self) -> Any:
        return self._ask("unop", uop="reversed")

    def __enter__(self) -> Any:
        return self._ask("unop", uop="enter")

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Any:
        base = None
        if isinstance(kind, type):
            base = next(
                (k.__name__ for k in kind.__mro__ if getattr(builtins, k.__name__, None) is k),
                "Exception",
            )
        return self._ask("exit", exc=base, message=str(exc)[:2000] if exc is not None else "")

    def __contains__(self, item: Any) -> bool:
        link: Link = object.__getattribute__(self, "_link")
        body = self._ask("contains", item=link.encode(item))
        if type(body) is not dict or type(body.get("value")) is not bool:
            raise TypeError("a malformed membership reply")
        if body.get("custom") is True:
            link.flag(f"{_short_type(self)}.__contains__ (learner code) decided `in`")
        return body["value"]

    def __bool__(self) -> bool:
        link: Link = object.__getattribute__(self, "_link")
        body = self._ask("truth")
        if type(body) is not dict or type(body.get("value")) is not bool:
            raise TypeError("a malformed truth-value reply")
        if body.get("custom") is True:
            link.flag(f"{_short_type(self)}.__bool__/__len__ (learner code) decided a truth value")
        return body["value"]

    def __hash__(self) -> int:
        cached = object.__getattribute__(self, "_hash")
        if cached is None:
            cached = self._ask("hash")
            if type(cached) is not int:
                raise TypeError("__hash__ of a learner object did not give a plain int")
            object.__setattr__(self, "_hash", cached)
        return int(cached)

    def __instancecheck__(self, instance: Any) -> bool:
        link: Link = object.__getattribute__(self, "_link")
        return self._ask("isinstance", value=link.encode(instance), reverse=True) is True

    def __subclasscheck__(self, subclass: Any) -> bool:
        link: Link = object.__getattribute__(self, "_link")
        return self._ask("issubclass", value=link.encode(subclass), reverse=True) is True

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

    def __format__(self, spec: str) -> str:
        text = self._ask("format", spec=spec)
        return text if type(text) is str else repr(self)

    def __dir__(self) -> list[str]:
        names = self._ask("dir")
        return [n for n in names if type(n) is str] if type(names) is list else []

    __eq__ = _compare("__eq__")
    __ne__ = _compare("__ne__")
    __lt__ = _compare("__lt__")
    __le__ = _compare("__le__")
    __gt__ = _compare("__gt__")
    __ge__ = _compare("__ge__")

    __add__, __radd__ = _binop("add"), _binop("add", reflected=True)
    __sub__, __rsub__ = _binop("sub"), _binop("sub", reflected=True)
    __mul__, __rmul__ = _binop("mul"), _binop("mul", reflected=True)
    __matmul__, __rmatmul__ = _binop("matmul"), _binop("matmul", reflected=True)
    __truediv__, __rtruediv__ = _binop("truediv"), _binop("truediv", reflected=True)
    __floordiv__, __rfloordiv__ = _binop("floordiv"), _binop("floordiv", reflected=True)
    __mod__, __rmod__ = _binop("mod"), _binop("mod", reflected=True)
    __pow__, __rpow__ = _binop("pow"), _binop("pow", reflected=True)
    __lshift__, __rlshift__ = _binop("lshift"), _binop("lshift", reflected=True)
    __rshift__, __rrshift__ = _binop("rshift"), _binop("rshift", reflected=True)
    __and__, __rand__ = _binop("and_"), _binop("and_", reflected=True)
    __or__, __ror__ = _binop("or_"), _binop("or_", reflected=True)
    __xor__, __rxor__ = _binop("xor"), _binop("xor", reflected=True)
    __divmod__, __rdivmod__ = _binop("divmod"), _binop("divmod", reflected=True)
    __neg__ = _unop("neg")
    __pos__ = _unop("pos")
    __abs__ = _unop("abs")
    __invert__ = _unop("invert")
    __int__ = _unop("int")
    __float__ = _unop("float")
    __complex__ = _unop("complex")
    __index__ = _unop("index")
    __round__ = _unop("round")


# Plain values a test passes by value that come back as themselves (and, mutable, as changed).
_BY_VALUE_MUTABLE: tuple[type, ...] = (list, dict, set, bytearray, tuple)


def _is_frame(value: Any) -> bool:
    """numpy arrays and pandas frames passed to learner code: synced back after the call."""
    t = type(value)
    return (t.__name__ == "ndarray" and t.__module__ == "numpy") or (
        t.__module__.startswith("pandas") and t.__name__ in ("DataFrame", "Series")
    )
