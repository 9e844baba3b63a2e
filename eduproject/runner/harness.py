"""The learner process: runs learner cells with IPython and answers the grader's questions.

Runs on the learner's side of the grading trust boundary, in a child the zygote forked
(``zygote.py``) -- or injected into a Jupyter kernel by the kernel engine. It imports only the
standard library at import time (IPython when a shell is made) and nothing from eduproject
but its sibling ``wire.py``. It never receives test code.

* :class:`Session` answers the grader's requests about learner names (``get``, ``call``,
  ``getattr``, ``getitem``, ``len``, ``iter``/``next``, ``repr``, ``isinstance``) with plain
  data or references (see ``wire.py``).
* :func:`make_shell` and :func:`run_cell`: an IPython ``InteractiveShell`` whose outputs
  (stream, display_data, execute_result, error; nbformat-shaped) are captured and capped.
* :func:`serve`: the JSON-lines loop over the socket to the grader.
"""

from __future__ import annotations

import base64
import builtins
import contextlib
import importlib
import io
import json
import operator
import os
import socket
import sys
import threading
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if __package__ or TYPE_CHECKING:
    from . import wire
else:  # started in the sandbox: wire.py is bound next to this file
    import wire

MAX_TEXT = 2000  # characters of a repr or an exception message sent back
MAX_CAPTURED = 200_000  # characters of learner output sent back with one reply to the judge

# Captured before any learner code runs: learner code may rebind these module attributes.
_exit = os._exit
_fork_process = os.fork
_open = builtins.open
_isinstance = builtins.isinstance
_type_dict = type.__dict__["__dict__"].__get__
_type_module = type.__dict__["__module__"].__get__
_type_name = type.__dict__["__name__"].__get__
_exception_args = BaseException.__dict__["args"].__get__  # a learner property cannot lie

# -- the session: answering the judge's requests ---------------------------------------------


def _safe_text(fn: Callable[[], Any]) -> str:
    try:
        text = fn()
        text = text if type(text) is str else "<not a string>"
    except BaseException as exc:  # a learner __repr__/__str__ may raise anything
        text = f"<{type(exc).__name__} while formatting>"
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def _learner_class(klass: type) -> bool:
    """Was ``klass`` written by the learner (in the notebook), not by a library?"""
    try:
        module = _type_module(klass)
        name = _type_name(klass)
    except Exception:
        return True
    if module == "__main__" or type(module) is not str:
        return True
    found = sys.modules.get(module)
    return found is None or getattr(found, name, None) is not klass


def custom_method(obj: Any, name: str) -> bool:
    """Does learner code decide ``name`` (e.g. ``__eq__``) for ``obj``?

    Looked up along the real type's MRO with type's own getters: the first class that defines
    ``name`` decides; it is the learner's when the learner wrote that class.
    """
    for klass in wire.mro(type(obj)):
        if name in _type_dict(klass):
            return _learner_class(klass)
    return False


def describe_exception(exc: BaseException, session: Session | None = None) -> dict[str, Any]:
    """Name, nearest builtin base class and message of an exception raised by learner code.

    With a ``session``, learner-defined exception classes also travel as references (the judge
    mirrors them, so ``pytest.raises(LearnerError)`` and ``except LearnerError`` work), and the
    exception's arguments as plain data when they are.
    """
    t = type(exc)
    base = next(
        (_type_name(k) for k in wire.mro(t) if getattr(builtins, _type_name(k), None) is k),
        "Exception",
    )
    info: dict[str, Any] = {
        "type": wire.type_name(t),
        "base": base,
        "message": _safe_text(lambda: str(exc)),
    }
    if session is not None:
        chain = [k for k in wire.mro(t) if getattr(builtins, _type_name(k), None) is not k]
        if chain:
            info["classes"] = [session.ref_of_class(k) for k in chain]
            info["obj"] = session.codec.make_ref(exc) if session.codec.make_ref else None
        with contextlib.suppress(Exception):
            info["args"] = wire.Codec(None, None).encode(_exception_args(exc))
    return info


class JudgeStub:
    # An object of the judge (a function or object a test handed to learner code). Every use
    # is a request back to the judge, answered while the judge's own request is in progress.
    __slots__ = ("_h", "_kinds", "_session")

    def __init__(self, session: Session, handle: int, kinds: list[str]) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_h", handle)
        object.__setattr__(self, "_kinds", kinds)

    def _ask(self, act: str, **fields: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        return session.callback(object.__getattribute__(self, "_h"), act, fields)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        return self._ask(
            "call",
            args=session.codec.encode(list(args)),
            kwargs=[[k, session.codec.encode(v)] for k, v in kwargs.items()],
        )

    def __getattr__(self, name: str) -> Any:
        return self._ask("getattr", name=name)

    def __iter__(self) -> Any:
        return self if "next" in object.__getattribute__(self, "_kinds") else self._ask("iter")

    def __next__(self) -> Any:
        return self._ask("next")

    def __len__(self) -> int:
        return int(self._ask("len"))

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=object.__getattribute__(self, "_session").codec.encode(key))

    def __contains__(self, item: Any) -> bool:
        return (
            self._ask("contains", item=object.__getattribute__(self, "_session").codec.encode(item))
            is True
        )

    def __eq__(self, other: object) -> bool:
        return (
            self._ask("eq", other=object.__getattribute__(self, "_session").codec.encode(other))
            is True
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash(("judge", object.__getattribute__(self, "_h")))

    def __bool__(self) -> bool:
        return self._ask("bool") is True

    def __repr__(self) -> str:
        text = self._ask("repr")
        return text if type(text) is str else "<object from a test>"


class Session:
    """Answers the judge's requests about the names in ``namespace``.

    Learner objects that are not plain data cross as references (``{"$ref": n}``); the same
    object always gets the same reference, so identity survives the crossing. Objects the judge
    hands over cross back as themselves (``$jref``) or as :class:`JudgeStub` s.

    >>> s = Session({"f": lambda x: x + 1})
    >>> ref = s.handle({"op": "get", "names": ["f"]})["value"]["f"]["$ref"]
    >>> s.handle({"op": "call", "ref": ref, "args": [1], "kwargs": []})["value"]
    2
    """

    def __init__(self, namespace: dict[str, Any], conversation: Conversation | None = None) -> None:
        self.namespace = namespace
        self.conversation = conversation
        self.objects: dict[int, Any] = {}
        self.refs: dict[
            int, int
        ] = {}  # id(object) -> reference (objects stay alive: ids stay unique)
        self.originals: dict[str, Any] = {}
        self.from_judge: dict[int, tuple[int, Any]] = {}  # id(object) -> (judge handle, object)
        self.stubs: dict[int, JudgeStub] = {}
        self.pinned: dict[int, Any] = {}  # learner containers the judge holds copies of
        self.pinned_sent: dict[int, str] = {}  # ...and what it last got of each
        self.depth = 0  # judge requests in progress (callbacks are allowed only then)
        self.codec = wire.Codec(self._make_ref, self._resolve_ref, self._identity)

    # -- references ------------------------------------------------------------------------

    def _make_ref(self, obj: Any) -> dict[str, Any]:
        if type(obj) is JudgeStub:  # the judge's own object goes back as itself
            return {"$judge": object.__getattribute__(obj, "_h")}
        key = id(obj)
        found = self.from_judge.get(key)
        if found is not None and found[1] is obj:
            return {"$judge": found[0]}
        ref = self.refs.get(key)
        if ref is None or self.objects.get(ref) is not obj:
            ref = len(self.objects) + 1
            self.objects[ref] = obj
            self.refs[key] = ref
        t = type(obj)
        out: dict[str, Any] = {"$ref": ref, "type": wire.type_name(t)}
        library = _library_name(obj)
        if library is not None:
            out["import"] = library
        if callable(obj):
            out["callable"] = True
        base = wire.builtin_base(t)
        if base is not None:
            try:
                out["plain"] = wire.Codec(None, None).encode(wire.plain_view(obj, base))
                out["custom"] = [n for n in _COMPARISONS if custom_method(obj, n)]
            except Exception:
                pass
        if _isinstance(obj, type) and issubclass(obj, BaseException):
            out["exception"] = self._exception_class(obj)
        return out

    def ref_of_class(self, klass: type) -> dict[str, Any]:
        return self._make_ref(klass)

    def _exception_class(self, klass: type) -> dict[str, Any]:
        chain = wire.mro(klass)
        base = next(
            (_type_name(k) for k in chain if getattr(builtins, _type_name(k), None) is k),
            "Exception",
        )
        parent = next(
            (k for k in chain[1:] if getattr(builtins, _type_name(k), None) is not k), None
        )
        return {
            "name": _safe_text(lambda: _type_name(klass)),
            "base": base,
            "parent": None if parent is None else self._make_ref(parent),
        }

    def _identity(self, obj: Any, depth: int) -> dict[str, Any] | None:
        found = self.from_judge.get(id(obj))
        if found is not None and found[1] is obj:
            return {"$jref": found[0], "v": self.codec.encode_value(obj, depth)}
        if type(obj) not in wire.SHARED and not wire.is_array_like(type(obj)):
            return None
        # A learner container: its identity holds on the judge's side while a test runs (kept
        # alive until then, so its id names it alone).
        value = self.codec.encode_value(obj, depth)
        self.pinned[id(obj)] = obj
        self.pinned_sent[id(obj)] = _fingerprint(value)
        return {"$lid": id(obj), "v": value}

    def take_pins(self, pins: dict[str, Any]) -> None:
        """What the test did to its copies of our containers, applied to the originals."""
        for lid, data in pins.items():
            original = self.pinned.get(int(lid)) if lid.isdigit() else None
            if original is None:
                continue
            value = self.codec.decode(data)
            if type(value) is type(original):
                wire.merge_into(original, value)
                self.pinned_sent[int(lid)] = _fingerprint(data)

    def changed_pins(self) -> dict[str, Any]:
        """The containers the judge holds copies of that learner code changed since it got
        them (small ones: a big frame is compared only when it crosses again)."""
        out: dict[str, Any] = {}
        for lid, obj in list(self.pinned.items()):
            before = self.pinned_sent.get(lid)
            if before is None or len(before) > PIN_SYNC_LIMIT:
                continue
            try:
                value = self.codec.encode_value(obj)
            except Exception:
                continue
            now = _fingerprint(value)
            if now != before:
                self.pinned_sent[lid] = now
                out[str(lid)] = value
        return out

    def _resolve_ref(self, data: dict[str, Any]) -> Any:
        if "$ref" in data:
            ref = data["$ref"]
            if type(ref) is not int or ref not in self.objects:
                raise wire.Protocol("unknown reference")
            return self.objects[ref]
        if "$import" in data:
            name = wire.as_str(data["$import"])
            found: Any = sys.modules.get(name) or importlib.import_module(name)
            for part in wire.as_str(data.get("attr", "")).split("."):
                if part:
                    found = getattr(found, part)
            return found
        if "$judge" in data:
            handle = data["$judge"]
            if type(handle) is not int:
                raise wire.Protocol("bad handle")
            stub = self.stubs.get(handle)
            if stub is None:
                kinds = data.get("kinds", [])
                if type(kinds) is not list:
                    raise wire.Protocol("bad handle")
                stub = self.stubs[handle] = JudgeStub(self, handle, [str(k) for k in kinds])
            return stub
        if "$lid" in data:  # one of ours, maybe changed by the test: the original, updated
            value = self.codec.decode(data.get("v"))
            original = self.pinned.get(data["$lid"]) if type(data["$lid"]) is int else None
            if original is None or type(original) is not type(value):
                return value
            wire.merge_into(original, value)
            return original
        if "$jref" in data:  # a plain value of the judge whose identity must come back
            handle = data["$jref"]
            if type(handle) is not int:
                raise wire.Protocol("bad handle")
            value = self.codec.decode(data.get("v"))
            self.from_judge[id(value)] = (handle, value)
            return value
        raise wire.Protocol("unexpected reference")

    # -- requests --------------------------------------------------------------------------

    def handle(self, msg: dict[str, Any]) -> dict[str, Any]:
        self.depth += 1
        try:
            op = msg.get("op")
            if op == "get":
                return {"ok": True, "value": self._get(msg["names"], self.namespace)}
            if op == "original":
                return {"ok": True, "value": self._get(msg["names"], self.originals)}
            if op == "next":
                try:
                    item = next(self._obj(msg))
                except StopIteration:
                    return {"ok": True, "stop": True}
                return {"ok": True, "value": self.codec.encode(item)}
            if op == "call":
                return self._call(msg)
            handler = _OPS.get(op)  # type: ignore[arg-type]
            if handler is None:
                raise wire.Protocol(f"unknown request {op!r}")
            return {"ok": True, "value": handler(self, msg)}
        except wire.Refused as exc:
            return {
                "ok": False,
                "error": {"type": "TypeError", "base": "TypeError", "message": str(exc)},
            }
        except BaseException as exc:  # learner code may raise anything, SystemExit included
            return {"ok": False, "error": describe_exception(exc, self)}
        finally:
            self.depth -= 1

    def handle_json(self, text: str, max_size: int) -> str:
        """:meth:`handle` with the request and reply as JSON text."""
        try:
            return encode_reply(self.handle(json.loads(text)), max_size)
        except Exception as exc:
            return encode_reply({"ok": False, "error": describe_exception(exc)}, max_size)

    def callback(self, handle: int, act: str, fields: dict[str, Any]) -> Any:
        """Ask the judge about one of its objects (only while a judge request is in progress)."""
        if self.conversation is None or self.depth <= 0:
            raise RuntimeError(
                "a function or object from a test can only be used while that test runs"
            )
        reply = self.conversation.request({"op": "cb", "h": handle, "act": act, **fields}, self)
        if reply.get("ok") is True:
            if reply.get("stop") is True:
                raise StopIteration
            return self.codec.decode(reply.get("value"))
        error = reply.get("error")
        if type(error) is not dict:
            raise RuntimeError("the test's function failed")
        cls = getattr(builtins, str(error.get("base")), None)
        message = str(error.get("message", ""))[:MAX_TEXT]
        if isinstance(cls, type) and issubclass(cls, Exception):
            raise cls(message)
        raise RuntimeError(message)

    def _get(self, names: Any, where: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in names:
            if type(name) is str and name in where:
                try:
                    out[name] = self.codec.encode(where[name])
                except wire.Refused as exc:
                    out[name] = {"$refused": str(exc)}
        return out

    def _obj(self, msg: dict[str, Any]) -> Any:
        return self._resolve_ref({"$ref": msg.get("ref")})

    def _call(self, msg: dict[str, Any]) -> dict[str, Any]:
        fn = self._obj(msg)
        args = self.codec.decode(msg["args"])
        kwargs = {wire.as_str(k): v for k, v in self.codec.decode(msg["kwargs"])}
        value = self.codec.encode(fn(*args, **kwargs))
        # Arguments the judge passed by value: their state after the call, so that the judge
        # sees what learner code did to them (in-place mutation).
        after: dict[str, Any] = {}
        for index in msg.get("sync", []):
            if type(index) is int and 0 <= index < len(args):
                after[str(index)] = self.codec.encode(args[index])
        for name in msg.get("ksync", []):
            if type(name) is str and name in kwargs:
                after[name] = self.codec.encode(kwargs[name])
        reply: dict[str, Any] = {"ok": True, "value": value}
        if after:
            reply["after"] = after
        return reply

    def _remember(self, msg: dict[str, Any]) -> Any:
        for name in msg["names"]:
            if type(name) is str and name in self.namespace:
                self.originals[name] = self.namespace[name]
        return None

    def _assign(self, msg: dict[str, Any]) -> Any:
        self.namespace[wire.as_str(msg["name"])] = self.codec.decode(msg["value"])
        return None

    def _forget(self, msg: dict[str, Any]) -> Any:
        """The test ended: the judge drops its copies, so we drop our pins."""
        self.pinned.clear()
        self.pinned_sent.clear()
        return None

    def _unassign(self, msg: dict[str, Any]) -> Any:
        return self.namespace.pop(wire.as_str(msg["name"]), _MISSING) is not _MISSING

    def _exit(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(
            _exit_context(self._obj(msg), msg.get("exc"), str(msg.get("message", "")))
        )

    def _getattr(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(getattr(self._obj(msg), wire.as_str(msg["name"])))

    def _setattr(self, msg: dict[str, Any]) -> Any:
        setattr(self._obj(msg), wire.as_str(msg["name"]), self.codec.decode(msg["value"]))
        return None

    def _delattr(self, msg: dict[str, Any]) -> Any:
        delattr(self._obj(msg), wire.as_str(msg["name"]))
        return None

    def _getitem(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(self._obj(msg)[self.codec.decode(msg["key"])])

    def _setitem(self, msg: dict[str, Any]) -> Any:
        self._obj(msg)[self.codec.decode(msg["key"])] = self.codec.decode(msg["value"])
        return None

    def _delitem(self, msg: dict[str, Any]) -> Any:
        del self._obj(msg)[self.codec.decode(msg["key"])]
        return None

    def _len(self, msg: dict[str, Any]) -> Any:
        return len(self._obj(msg))

    def _iter(self, msg: dict[str, Any]) -> Any:
        return self._make_ref(iter(self._obj(msg)))

    def _repr(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        return _safe_text(lambda: str(obj) if msg.get("str") else repr(obj))

    def _format(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        spec = wire.as_str(msg.get("spec", ""))
        return _safe_text(lambda: format(obj, spec))

    def _truth(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        custom = custom_method(obj, "__bool__") or custom_method(obj, "__len__")
        return {"value": bool(obj), "custom": custom}

    def _hash(self, msg: dict[str, Any]) -> Any:
        value = hash(self._obj(msg))
        if type(value) is not int:
            raise TypeError("__hash__ did not return an int")
        return value

    def _compare(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        other = self.codec.decode(msg["other"])
        name = wire.as_str(msg["cmp"])
        result = _COMPARE[name](other, obj) if msg.get("reflected") else _COMPARE[name](obj, other)
        custom = custom_method(obj, name) or custom_method(other, _REFLECTED.get(name, name))
        if type(result).__name__ == "bool_" and type(result).__module__ == "numpy":
            result = bool(result)
        return {"value": self.codec.encode(result), "custom": custom}

    def _contains(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        result = self.codec.decode(msg["item"]) in obj
        return {"value": result, "custom": custom_method(obj, "__contains__")}

    def _binop(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        other = self.codec.decode(msg["other"])
        fn = _BINOPS[wire.as_str(msg["bop"])]
        return self.codec.encode(fn(other, obj) if msg.get("reflected") else fn(obj, other))

    def _unop(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(_UNOPS[wire.as_str(msg["uop"])](self._obj(msg)))

    def _isinstance(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        if msg.get("reverse"):  # obj is a learner class: is the value an instance of it?
            value = self.codec.decode(msg["value"])
            # The real type's MRO by identity: a learner metaclass cannot lie about it.
            return _isinstance(obj, type) and any(k is obj for k in wire.mro(type(value)))
        return _isinstance(obj, _library_class(msg["cls"]))

    def _issubclass(self, msg: dict[str, Any]) -> Any:
        obj = self._obj(msg)
        if msg.get("reverse"):  # issubclass(value, obj)
            value = self.codec.decode(msg["value"])
            return _isinstance(value, type) and any(k is obj for k in wire.mro(value))
        klass = _library_class(msg["cls"])
        return _isinstance(obj, type) and any(k is klass for k in wire.mro(obj))

    def _type(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(type(self._obj(msg)))

    def _dir(self, msg: dict[str, Any]) -> Any:
        return [n for n in dir(self._obj(msg)) if type(n) is str]

    def _vars(self, msg: dict[str, Any]) -> Any:
        return self.codec.encode(dict(vars(self._obj(msg))))

    def _callable(self, msg: dict[str, Any]) -> Any:
        return callable(self._obj(msg))

    def _names(self, msg: dict[str, Any]) -> Any:
        return sorted(n for n in self.namespace if type(n) is str and not n.startswith("_"))

    def _import(self, msg: dict[str, Any]) -> Any:
        module = importlib.import_module(wire.as_str(msg["module"]))
        return self._make_ref(module)

    def _read_file(self, msg: dict[str, Any]) -> Any:
        with _open(wire.as_str(msg["path"]), "rb") as fh:
            data = fh.read(int(msg.get("limit", 64 << 20)) + 1)
        return {"$bytes": base64.b64encode(data).decode("ascii")}

    def _write_file(self, msg: dict[str, Any]) -> Any:
        data = self.codec.decode(msg["data"])
        if type(data) is not bytes:
            raise wire.Protocol("bad file data")
        with _open(wire.as_str(msg["path"]), "ab" if msg.get("append") else "wb") as fh:
            fh.write(data)
        return None


_MISSING = object()
PIN_SYNC_LIMIT = 256 * 1024  # characters of a container's encoding still compared per request
# Requests that run no learner code: nothing the judge holds can have changed.
_QUIET_OPS = frozenset(
    {"get", "original", "names", "type", "dir", "callable", "import", "forget", "remember",
     "assign", "unassign", "isinstance", "issubclass"}
)  # fmt: skip


def _fingerprint(value: Any) -> str:
    return json.dumps(value, sort_keys=False, allow_nan=False, default=str)


_COMPARISONS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "__eq__": operator.eq,
    "__ne__": operator.ne,
    "__lt__": operator.lt,
    "__le__": operator.le,
    "__gt__": operator.gt,
    "__ge__": operator.ge,
}
_REFLECTED = {"__lt__": "__gt__", "__gt__": "__lt__", "__le__": "__ge__", "__ge__": "__le__"}
_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    name: getattr(operator, name)
    for name in (
        "add", "sub", "mul", "matmul", "truediv", "floordiv", "mod", "pow",
        "lshift", "rshift", "and_", "or_", "xor",
    )
}  # fmt: skip
_BINOPS["divmod"] = divmod
_UNOPS: dict[str, Callable[[Any], Any]] = {
    "neg": operator.neg,
    "pos": operator.pos,
    "abs": abs,
    "invert": operator.invert,
    "int": int,
    "float": float,
    "complex": complex,
    "index": operator.index,
    "round": round,
    "reversed": lambda obj: iter(reversed(obj)),
    "enter": lambda obj: obj.__enter__(),
}


def _exit_context(obj: Any, base: Any, message: str) -> Any:
    cls = getattr(builtins, base, None) if type(base) is str else None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return obj.__exit__(None, None, None)
    return obj.__exit__(cls, cls(message), None)


_OPS: dict[str, Callable[[Session, dict[str, Any]], Any]] = {
    "remember": Session._remember,
    "assign": Session._assign,
    "unassign": Session._unassign,
    "forget": Session._forget,
    "exit": Session._exit,
    "getattr": Session._getattr,
    "setattr": Session._setattr,
    "delattr": Session._delattr,
    "getitem": Session._getitem,
    "setitem": Session._setitem,
    "delitem": Session._delitem,
    "len": Session._len,
    "iter": Session._iter,
    "repr": Session._repr,
    "format": Session._format,
    "truth": Session._truth,
    "hash": Session._hash,
    "compare": Session._compare,
    "contains": Session._contains,
    "binop": Session._binop,
    "unop": Session._unop,
    "isinstance": Session._isinstance,
    "issubclass": Session._issubclass,
    "type": Session._type,
    "dir": Session._dir,
    "vars": Session._vars,
    "callable": Session._callable,
    "names": Session._names,
    "import": Session._import,
    "read_file": Session._read_file,
    "write_file": Session._write_file,
}


def _library_class(spec: Any) -> type:
    """The library class named ``[module, qualname]`` (as the judge names its own classes)."""
    if type(spec) is not list or len(spec) != 2 or not all(type(p) is str for p in spec):
        raise wire.Protocol("bad class name")
    found: Any = sys.modules.get(spec[0]) or importlib.import_module(spec[0])
    for part in spec[1].split("."):
        found = getattr(found, part)
    if not _isinstance(found, type):
        raise wire.Protocol("not a class")
    return found


def _library_name(obj: Any) -> list[str] | None:
    """``[module, qualname]`` when ``obj`` is a module or the library object at that name.

    The judge then uses its own copy of that module or object (for the pure libraries it
    trusts), instead of a proxy into the learner's process.
    """
    if type(obj) is types.ModuleType:
        name = obj.__dict__.get("__name__")
        return [name, ""] if type(name) is str and sys.modules.get(name) is obj else None
    try:
        if _isinstance(obj, type):  # type's own getters: a metaclass cannot lie about them
            module = _type_module(obj)
            qualname = type.__dict__["__qualname__"].__get__(obj)
        else:
            module, qualname = obj.__module__, obj.__qualname__
    except Exception:
        return None
    if type(module) is not str or type(qualname) is not str or module == "__main__":
        return None
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    return [module, qualname] if found is obj else None


# -- the learner process: IPython with captured, capped outputs ------------------------------


class Outputs:
    """The nbformat outputs of the running cell, within a budget of characters per submission."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: list[dict[str, Any]] = []
        self.enabled = True
        self.truncated = False
        # While the judge's request runs learner code: printed text goes back to the judge
        # (a test may capture it), never into the notebook.
        self.captured: dict[str, list[str]] | None = None
        self.captured_size = 0

    def _take(self, size: int) -> bool:
        if not self.enabled:
            return False
        if size <= self.budget:
            self.budget -= size
            return True
        if not self.truncated:
            self.truncated = True
            self.items.append(
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "parts": [
                        "[output truncated: this notebook printed more than the grader keeps]\n"
                    ],
                }
            )
        self.budget = 0
        return False

    def stream(self, name: str, text: str) -> None:
        if self.captured is not None:
            if self.captured_size < MAX_CAPTURED:
                self.captured.setdefault(name, []).append(text[: MAX_CAPTURED - self.captured_size])
                self.captured_size += len(text)
            return
        if not self._take(len(text)):
            return
        last = self.items[-1] if self.items else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["parts"].append(text)  # joined once in take(): += here would be quadratic
        else:
            self.items.append({"output_type": "stream", "name": name, "parts": [text]})

    def take(self) -> list[dict[str, Any]]:
        """The finished outputs of the cell (and a fresh list for the next one)."""
        items, self.items = self.items, []
        for item in items:
            if "parts" in item:
                item["text"] = "".join(item.pop("parts"))
        return items

    def display(
        self, kind: str, data: dict[str, Any], metadata: dict[str, Any], count: int
    ) -> None:
        try:
            text = json.dumps(data, allow_nan=False, default=str)
            meta = json.loads(json.dumps(metadata, allow_nan=False, default=str))
        except ValueError:
            return
        if not self._take(len(text)):
            return
        out: dict[str, Any] = {"output_type": kind, "data": json.loads(text), "metadata": meta}
        if kind == "execute_result":
            out["execution_count"] = count
        self.items.append(out)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        tb = [line for line in traceback if type(line) is str][-40:]
        if self._take(sum(len(line) for line in tb) + len(evalue)):
            self.items.append(
                {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": tb}
            )

    def clear(self) -> None:
        if self.enabled:
            self.items = []


class Stream(io.TextIOBase):
    """sys.stdout / sys.stderr of the learner process: text goes into :class:`Outputs`."""

    def __init__(self, outputs: Outputs, name: str) -> None:
        self.outputs = outputs
        self.name_ = name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if type(text) is not str:
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.outputs.stream(self.name_, text)
        return len(text)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def isatty(self) -> bool:
        return False


def make_shell(outputs: Outputs) -> Any:
    """An IPython InteractiveShell whose displays, results and errors land in ``outputs``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    class Hook(DisplayHook):
        def start_displayhook(self) -> None:
            pass

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: Any, md_dict: Any = None) -> None:
            box.outputs.display("execute_result", format_dict, md_dict or {}, self.prompt_count)

        def finish_displayhook(self) -> None:
            pass

    class Publisher(DisplayPublisher):
        def publish(self, data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> None:
            box.outputs.display("display_data", data, metadata or {}, 0)

        def clear_output(self, wait: bool = False) -> None:
            box.outputs.clear()

    class Shell(InteractiveShell):
        displayhook_class = Type(Hook)
        display_pub_class = Type(Publisher)

        def _showtraceback(self, etype: Any, evalue: Any, stb: Any) -> None:
            name = _safe_text(lambda: type.__dict__["__name__"].__get__(etype))
            box.outputs.error(name, _safe_text(lambda: str(evalue)), list(stb))

        def ask_exit(self) -> None:
            self.exit_now = True  # serve() ends the process after this cell

        def enable_gui(self, gui: Any = None) -> None:
            pass

    config = Config()
    config.HistoryManager.enabled = False
    config.InteractiveShell.colors = "nocolor"
    box = types.SimpleNamespace(outputs=outputs)
    shell: Any = Shell.instance(config=config)
    shell.eduproject_box = box  # the child swaps in its own Outputs after the fork
    refuse_shell_escapes(shell)
    return shell


# Cell magics that run their cell in another process.
_PROCESS_CELL_MAGICS = ("bash", "sh", "script", "perl", "ruby", "pypy", "python2", "python3")


def refuse_shell_escapes(shell: Any) -> None:
    """Make ``!cmd``, ``!!cmd``, ``%pip``/``%conda`` installs, ``%system``/``%sx`` and
    ``%%bash``-style cells print a note instead of running.

    Validation and grading never run a lesson's or a learner's shell commands or package
    installs (the import report lists them as requirements): they would change the grading
    environment, or the instructor's, and their outcome is not the learner's code.
    """

    def refused(command: str, *args: Any, **kwargs: Any) -> None:
        print(f"[eduproject: shell command not run in validation or grading: {command}]")

    def refused_output(command: str, *args: Any, **kwargs: Any) -> list[str]:
        refused(command)
        return []

    shell.system = shell.system_raw = shell.system_piped = refused
    shell.getoutput = refused_output
    for name in _PROCESS_CELL_MAGICS:

        def cell_magic(line: str, cell: str = "", _name: str = name) -> None:
            refused(f"%%{_name} {line}".strip())

        shell.register_magic_function(cell_magic, "cell", name)


def run_cell(shell: Any, code: str) -> dict[str, Any]:
    """Run one learner cell; return ``{status, outputs, error, execution_count}``."""
    outputs: Outputs = shell.eduproject_box.outputs
    outputs.items = []
    outputs.enabled = True
    result = shell.run_cell(code, store_history=True, silent=False)
    exc = result.error_before_exec or result.error_in_exec
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # learner code may have replaced them
            stream.flush()
    reply: dict[str, Any] = {
        "status": "ok" if exc is None else "error",
        "outputs": outputs.take(),
        "execution_count": result.execution_count,
    }
    if exc is not None:
        reply["error"] = describe_exception(exc)
    if shell.exit_now:
        reply["exit"] = True  # exit() / quit(): the process ends after this reply
    return reply


def encode_reply(reply: dict[str, Any], max_size: int) -> str:
    """``reply`` as one line of JSON, or an error reply when it would exceed ``max_size``."""
    try:
        text = json.dumps(reply, allow_nan=False, ensure_ascii=True)
    except Exception as exc:  # e.g. an output the learner built to be unserialisable
        text = json.dumps({"ok": False, "error": describe_exception(exc)})
    if len(text) >= max_size:
        err = {
            "type": "ValueError",
            "base": "ValueError",
            "message": "value too large to send to the grader",
        }
        text = json.dumps({"ok": False, "error": err})
    return text


class Conversation:
    """JSON lines with the judge, file descriptors included (SCM_RIGHTS).

    The judge's requests nest: while learner code runs for one of them, learner code may use an
    object of the judge (a :class:`JudgeStub`), which sends a request the other way and
    answers the judge's nested requests until its own reply arrives.
    """

    def __init__(self, sock: socket.socket, shell: Any, max_line: int, *, snapshot: bool) -> None:
        self.sock = sock
        self.shell = shell
        self.max_line = max_line
        self.snapshot = snapshot
        self.buffer = bytearray()
        self.fds: list[int] = []
        self.session = Session(shell.user_ns, self)
        self.thread = threading.get_ident()

    def read(self) -> dict[str, Any] | None:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                msg = json.loads(line)
                if type(msg) is not dict:
                    raise wire.Protocol("a message that is not an object")
                return msg
            if len(self.buffer) > self.max_line:
                return None
            data, fds, _, _ = socket.recv_fds(self.sock, 1 << 20, 4)
            self.fds.extend(fds)
            if not data:
                return None
            self.buffer += data

    def send(self, reply: dict[str, Any]) -> None:
        self.sock.sendall((encode_reply(reply, self.max_line) + "\n").encode("ascii"))

    def dispatch(self, msg: dict[str, Any], *, nested: bool = False) -> dict[str, Any]:
        """Answer one request of the judge."""
        try:
            op = msg.get("op")
            if op == "run_cell" and not self.snapshot and not nested:
                return run_cell(self.shell, msg["code"])
            if op == "fork" and self.fds and not nested:
                return _fork(self, self.fds.pop(0))
            if op == "seal" and not nested:  # from now on hidden tests only: no learner cell
                self.snapshot = True
                return {"ok": True}
            if op in ("run_cell", "fork"):
                raise ValueError(f"{op} is not possible here")
            outputs: Outputs = self.shell.eduproject_box.outputs
            saved = outputs.captured, outputs.captured_size
            outputs.captured, outputs.captured_size = {}, 0
            try:
                if type(msg.get("pins")) is dict:
                    self.session.take_pins(msg["pins"])
                reply = self.session.handle(msg)
                if op not in _QUIET_OPS and self.session.pinned:
                    changed = self.session.changed_pins()
                    if changed:
                        reply["pins"] = changed
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                if outputs.captured:
                    reply["out"] = {k: "".join(v) for k, v in outputs.captured.items()}
            finally:
                outputs.captured, outputs.captured_size = saved
            return reply
        except Exception as exc:
            return {"ok": False, "error": describe_exception(exc)}

    def loop(self) -> None:
        """Serve requests until the judge closes the conversation."""
        while True:
            try:
                msg = self.read()
            except Exception as exc:
                self.send({"ok": False, "error": describe_exception(exc)})
                continue
            if msg is None:
                return
            self.send(self.dispatch(msg))
            if self.shell.exit_now:  # exit() / quit(): like ipykernel, the process ends
                return

    def request(self, msg: dict[str, Any], session: Session) -> dict[str, Any]:
        """Send a request to the judge; answer its nested requests until the reply comes."""
        if threading.get_ident() != self.thread:
            raise RuntimeError("a function or object from a test can only be used by the test")
        self.send(msg)
        while True:
            incoming = self.read()
            if incoming is None:
                _exit(0)  # the judge is gone: nothing left to answer
            if "op" in incoming:
                self.send(self.dispatch(incoming, nested=True))
            else:
                return incoming


def serve(sock: socket.socket, shell: Any, max_line: int, *, snapshot: bool = False) -> None:
    """Answer the judge's JSON-line requests on ``sock`` until it closes the conversation.

    ``{"op": "fork"}`` (with a socket passed along) forks a *snapshot*: a copy of this process
    as it is now -- its learner objects and their references included -- serving the judge on
    that socket. Hidden tests run on snapshots taken at their place in the notebook after every
    learner cell has run, so hidden test inputs only ever reach a process that runs no further
    learner cell (``run_cell`` is refused there). The hidden tests after the last learner cell
    and visible test run in this process itself, once ``{"op": "seal"}`` has made it refuse
    ``run_cell`` like a snapshot.
    """
    Conversation(sock, shell, max_line, snapshot=snapshot).loop()


def _fork(conversation: Conversation, fd: int) -> dict[str, Any]:
    pid = _fork_process()
    if pid == 0:
        code = 0
        try:
            conversation.sock.close()
            conversation.sock = socket.socket(fileno=fd)
            conversation.buffer = bytearray()
            conversation.fds = []
            conversation.snapshot = True
            conversation.loop()
        except BaseException:
            code = 70
        finally:
            _exit(code)
    os.close(fd)
    return {"ok": True, "value": pid}
