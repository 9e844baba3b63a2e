"""The plain-data encoding that crosses the grading trust boundary: tagged JSON, never pickle.

Values cross between the learner process and the grader as JSON with a few tags::

    None, bool, int, float, str, list  ->  themselves (a huge int: {"$int": hex}, nan/inf:
                                           {"$float": "nan"})
    tuple, set, frozenset, dict        ->  {"$tuple": [...]}, {"$set": [...]}, ...,
                                           {"$dict": [[key, value], ...]}
    bytes, complex, range, Decimal, Fraction, date/time/datetime/timedelta, Counter,
    OrderedDict, defaultdict, deque, SimpleNamespace, namedtuple instances
    numpy arrays and scalars           ->  {"$ndarray": [dtype, shape, flat data]}, ...
    pandas DataFrame, Series, Index,   ->  {"$dataframe": [columns, index, [column, ...]]}:
    Timestamp, NaT, NA                     every column keeps its dtype; floats stay exact
    anything else                      ->  {"$ref": id, "type": "module.Name"}: a reference

Only *exact* types count as plain data. A subclass of int, str, list, dict... is refused (its
``__eq__`` could answer True to anything); stdlib containers are read through the base
type's own methods, so no learner method runs while encoding them. The decoder rebuilds values
with the receiver's own trusted classes, validates every shape, and raises
:class:`Protocol` for anything malformed.

This module is shipped into the grading sandbox next to ``harness.py`` and ``zygote.py``, so
it imports only the standard library (numpy and pandas are used when already loaded, or
imported when a tagged value needs them) and nothing from eduproject. The grader's end of the
conversation (sockets, deadlines) lives in ``channel.py``.
"""

from __future__ import annotations

import base64
import collections
import datetime
import decimal
import fractions
import math
import sys
import types
from collections.abc import Callable
from typing import Any

# A JSON integer with more than ~4,300 digits cannot be printed or parsed (CPython's
# int_max_str_digits); bigger ints travel as hex, which has no such limit.
_BIG_INT = 1 << 14000
MAX_DEPTH = 100

_NP_KINDS = "biufcUSMm"  # numpy dtype kinds that cross as data (no object/void/structured)
# Decoded arrays are allocated by the receiver: cap what a short header can make it allocate.
MAX_ITEMSIZE = 1 << 20
MAX_ARRAY_BYTES = 256 << 20
MAX_SENT_ARRAY_BYTES = 40 << 20  # its base64 must fit in one reply (64 MB by default)
# Tags that name an object instead of carrying a value (resolved by the codec's owner).
REF_TAGS = frozenset({"$ref", "$judge", "$jref", "$import", "$lid"})
# Values whose identity both sides keep while a test runs (the same learner list inside two
# values is one list in the judge too; a changed copy goes back into the original).
SHARED = (list, dict, set, bytearray)
_DEFAULT_FACTORIES = {t.__name__: t for t in (int, float, str, list, dict, set, tuple, bool)}


class Refused(Exception):
    """A value that may not cross the boundary as data (a subclass of a builtin, too deep)."""


class Protocol(Exception):
    """Malformed wire data."""


def type_name(t: type) -> str:
    """``module.qualname`` of ``t``, read with type's own getters (a metaclass cannot lie)."""
    try:
        qual = type.__dict__["__qualname__"].__get__(t)
        mod = type.__dict__["__module__"].__get__(t)
    except Exception:
        return "<unknown type>"
    if not isinstance(qual, str) or type(qual) is not str:
        return "<unknown type>"
    return qual if mod in (None, "builtins", "__main__") else f"{mod}.{qual}"


def mro(t: type) -> tuple[type, ...]:
    return type.__dict__["__mro__"].__get__(t)


PLAIN_BASES: tuple[type, ...] = (
    bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, set, frozenset
)  # fmt: skip


def builtin_base(t: type) -> type | None:
    """The builtin data type ``t`` subclasses (``int`` for an IntEnum), or None."""
    chain = mro(t)
    return next((b for b in PLAIN_BASES if b in chain), None)


def plain_view(v: Any, base: type) -> Any:
    """The plain ``base`` value inside an instance of a subclass, read with base's own methods.

    No method of the subclass runs: ``int.__int__`` is int's own slot, whatever the subclass
    defines.
    """
    if base is bool or base is int:
        return int.__int__(v)
    if base is float:
        return float.__float__(v)
    if base is complex:
        return complex(float.__float__(complex.real.__get__(v)), complex.imag.__get__(v))
    if base is str:
        return str.__str__(v)
    if base is bytes:
        return bytes(memoryview(v))
    if base is bytearray:
        return bytearray(memoryview(v))
    if base is dict:
        return dict(dict.items(v))
    if base is tuple:
        return tuple(tuple.__iter__(v))
    if base is list:
        return list(list.__iter__(v))
    if base is set:
        return set(set.__iter__(v))
    return frozenset(frozenset.__iter__(v))


def _float(x: float) -> Any:
    return x if math.isfinite(x) else {"$float": repr(x)}


def _unfloat(x: Any) -> float:
    if type(x) is float or type(x) is int:
        return float(x)
    if type(x) is dict and set(x) == {"$float"} and x["$float"] in ("nan", "inf", "-inf"):
        return float(x["$float"])
    raise Protocol("bad float")


class Codec:
    """Encode values to tagged JSON and back.

    ``make_ref(obj)`` turns a non-plain object into a ``{"$ref": ...}`` dict (the child stores
    the object; the grader refuses, except for its proxies). ``resolve_ref(data)`` turns a
    ``$ref`` dict back into an object (the child: its stored object; the grader: a proxy).

        >>> Codec(make_ref=None, resolve_ref=None).encode((1, {2}))
        {'$tuple': [1, {'$set': [2]}]}
    """

    def __init__(
        self,
        make_ref: Callable[[Any], dict[str, Any]] | None,
        resolve_ref: Callable[[dict[str, Any]], Any] | None,
        identity: Callable[[Any, int], dict[str, Any] | None] | None = None,
    ) -> None:
        self.make_ref = make_ref
        self.resolve_ref = resolve_ref
        # Called first for plain containers: a tag for an object the peer must get back as
        # the very same object (its identity crossed before), or None to encode the value.
        self.identity = identity
        self._plain: dict[type, Callable[[Any, int], Any]] = {
            list: lambda v, d: [self.encode(x, d) for x in v],
            tuple: lambda v, d: {"$tuple": [self.encode(x, d) for x in v]},
            dict: lambda v, d: {"$dict": self._pairs(v, d)},
            set: lambda v, d: {"$set": [self.encode(x, d) for x in v]},
            frozenset: lambda v, d: {"$frozenset": [self.encode(x, d) for x in v]},
            bytes: lambda v, d: {"$bytes": base64.b64encode(v).decode("ascii")},
            bytearray: lambda v, d: {"$bytearray": base64.b64encode(v).decode("ascii")},
            complex: lambda v, d: {"$complex": [_float(v.real), _float(v.imag)]},
            range: lambda v, d: {"$range": [v.start, v.stop, v.step]},
            decimal.Decimal: lambda v, d: {"$decimal": str(v)},
            fractions.Fraction: lambda v, d: {"$fraction": [v.numerator, v.denominator]},
            datetime.datetime: lambda v, d: {"$datetime": v.isoformat()},
            datetime.date: lambda v, d: {"$date": v.isoformat()},
            datetime.time: lambda v, d: {"$time": v.isoformat()},
            datetime.timedelta: lambda v, d: {"$timedelta": [v.days, v.seconds, v.microseconds]},
            collections.OrderedDict: lambda v, d: {"$ordereddict": self._pairs(v, d)},
            collections.Counter: lambda v, d: {"$counter": self._pairs(v, d)},
            collections.deque: lambda v, d: {"$deque": [self.encode(x, d) for x in v]},
            collections.defaultdict: self._defaultdict,
            types.SimpleNamespace: lambda v, d: {"$namespace": self._pairs(vars(v), d)},
        }

    # -- encode ----------------------------------------------------------------------------

    def encode(self, v: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise Refused(f"the value is nested more than {MAX_DEPTH} levels deep")
        t = type(v)
        if v is None or t is bool or t is str:
            return v
        if t is int:
            return v if -_BIG_INT < v < _BIG_INT else {"$int": hex(v)}
        if t is float:
            return _float(v)
        if self.identity is not None and (t in self._plain or is_array_like(t)):
            tagged = self.identity(v, depth)
            if tagged is not None:
                return tagged
        return self.encode_value(v, depth)

    def encode_value(self, v: Any, depth: int = 0) -> Any:
        """:meth:`encode` of ``v`` itself, without the identity hook (its items keep it)."""
        t = type(v)
        if v is None or t in (bool, str, int, float):
            return self.encode(v, depth)
        enc = self._plain.get(t)
        if enc is not None:
            # Exact stdlib types: dict.items, list.__iter__... are theirs, not the learner's.
            return enc(v, depth + 1)
        np = sys.modules.get("numpy")
        if np is not None:
            if t is np.ndarray:
                return self._ndarray(v, depth + 1)
            if t in _numpy_scalars(np):
                return self._npscalar(v, depth + 1)
        pd = sys.modules.get("pandas")
        if pd is not None:
            pandas_value = _PandasCodec(self, pd).encode(v, t, depth + 1)
            if pandas_value is not None:
                return pandas_value
        if issubclass(t, tuple) and _is_namedtuple(t):
            fields = list(type.__getattribute__(t, "_fields"))
            values = [self.encode(x, depth + 1) for x in tuple.__iter__(v)]
            return {"$namedtuple": [type.__dict__["__name__"].__get__(t), fields, values]}
        if self.make_ref is None:
            base = builtin_base(t)
            if base is not None:
                raise Refused(
                    f"returned a subclass of {base.__name__} ({type_name(t)}); "
                    f"return a plain {base.__name__}"
                )
            raise Refused(f"a {type_name(t)} cannot cross as plain data")
        return self.make_ref(v)

    def _pairs(self, v: dict[Any, Any], depth: int) -> list[list[Any]]:
        return [[self.encode(k, depth), self.encode(x, depth)] for k, x in dict.items(v)]

    def _defaultdict(self, v: Any, depth: int) -> Any:
        factory = v.default_factory
        name = next((n for n, f in _DEFAULT_FACTORIES.items() if f is factory), None)
        return {"$defaultdict": [name, self._pairs(v, depth)]}

    def _ndarray(self, v: Any, depth: int) -> Any:
        dt = v.dtype
        if dt.kind not in _NP_KINDS or dt.fields is not None or dt.subdtype is not None:
            if self.make_ref is None:
                raise Refused(f"a numpy array of dtype {dt} cannot cross as plain data")
            return self.make_ref(v)
        if v.nbytes > MAX_SENT_ARRAY_BYTES:
            if self.make_ref is not None:
                # Too big to copy: it stays where it is, and the peer uses it by reference
                # (slices, len, calls with it as an argument; small results come back as data).
                return self.make_ref(v)
            raise Refused(
                f"a numpy array of {v.nbytes / 2**20:.0f} MB is too large to send to the tests "
                f"(at most {MAX_SENT_ARRAY_BYTES >> 20} MB): pass or return a smaller part"
            )
        # The raw bytes, little-endian and C-ordered: exact, compact and fast both ways.
        raw = v.astype(dt.newbyteorder("<"), copy=False).tobytes(order="C")
        data = {"$b64": base64.b64encode(raw).decode("ascii")}
        return {"$ndarray": [dt.newbyteorder("<").str, list(v.shape), data]}

    def _npscalar(self, v: Any, depth: int) -> Any:
        dt = v.dtype
        if dt.kind not in _NP_KINDS:
            raise Refused(f"a numpy scalar of dtype {dt} cannot cross as plain data")
        value = int(v.view("i8")) if dt.kind in "Mm" else v.item()
        return {"$npscalar": [dt.str, self.encode(value, depth)]}

    # -- decode ----------------------------------------------------------------------------

    def decode(self, d: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH + 5:
            raise Protocol("value nested too deeply")
        t = type(d)
        if d is None or t is bool or t is str or t is int or t is float:
            return d
        if t is list:
            return [self.decode(x, depth + 1) for x in d]
        if t is not dict or not d:
            raise Protocol(f"unexpected JSON value of type {t.__name__}")
        if not REF_TAGS.isdisjoint(d):
            if self.resolve_ref is None:
                raise Protocol("unexpected reference")
            return self.resolve_ref(d)
        if len(d) != 1:
            raise Protocol("tagged value with extra keys")
        ((tag, body),) = d.items()
        dec = _DECODERS.get(tag)
        if dec is None:
            raise Protocol(f"unknown tag {tag!r}")
        try:
            return dec(self, body, depth + 1)
        except (Protocol, Refused):
            raise
        except Exception as exc:  # malformed bodies: wrong shapes, bad dtype strings...
            raise Protocol(f"malformed {tag} value: {type(exc).__name__}: {exc}") from None

    def items(self, body: Any, depth: int) -> list[Any]:
        if type(body) is not list:
            raise Protocol("expected a list")
        return [self.decode(x, depth) for x in body]

    def pairs(self, body: Any, depth: int) -> list[tuple[Any, Any]]:
        out = []
        for pair in self.items_raw(body):
            if type(pair) is not list or len(pair) != 2:
                raise Protocol("expected key/value pairs")
            out.append((self.decode(pair[0], depth), self.decode(pair[1], depth)))
        return out

    @staticmethod
    def items_raw(body: Any) -> list[Any]:
        if type(body) is not list:
            raise Protocol("expected a list")
        return body


def is_array_like(t: type) -> bool:
    """A numpy array or a pandas DataFrame/Series (by name: the module need not be loaded)."""
    module = type.__dict__["__module__"].__get__(t)
    name = type.__dict__["__name__"].__get__(t)
    return (module == "numpy" and name == "ndarray") or (
        type(module) is str and module.startswith("pandas") and name in ("DataFrame", "Series")
    )


def merge_into(old: Any, new: Any) -> None:
    """Make ``old`` equal to ``new`` in place, keeping the identity of nested containers."""
    t = type(old)
    if t is not type(new):
        return
    if t is list:
        for i in range(min(len(old), len(new))):
            if _mergeable(old[i], new[i]):
                merge_into(old[i], new[i])
            elif old[i] is not new[i]:
                old[i] = new[i]
        del old[len(new) :]
        old.extend(new[len(old) :])
    elif isinstance(old, dict):
        merged = {k: _merged(old[k], v) if k in old else v for k, v in new.items()}
        if list(old) != list(merged):
            old.clear()
        old.update(merged)
    elif t is set:
        old.clear()
        old.update(new)
    elif t is bytearray:
        old[:] = new
    elif t.__name__ == "deque" and t.__module__ == "collections":
        old.clear()
        old.extend(new)
    elif t.__name__ == "ndarray" and t.__module__ == "numpy":
        if old.shape == new.shape and old.dtype == new.dtype and old.flags.writeable:
            old[...] = new
    elif t.__module__.startswith("pandas") and t.__name__ in ("DataFrame", "Series"):
        old._update_inplace(new)


def _mergeable(old: Any, new: Any) -> bool:
    return type(old) is type(new) and type(old) in SHARED


def _merged(old: Any, new: Any) -> Any:
    if _mergeable(old, new):
        merge_into(old, new)
        return old
    return new


def _is_namedtuple(t: type) -> bool:
    fields = t.__dict__.get("_fields")
    return (
        mro(t)[1:] == (tuple, object)
        and type(fields) is tuple
        and all(type(f) is str and f.isidentifier() for f in fields)
    )


def _numpy_scalars(np: Any) -> frozenset[type]:
    cached = _CACHE.get("np_scalars")
    if cached is None:
        cached = frozenset(t for t in np.sctypeDict.values() if issubclass(t, np.generic))
        _CACHE["np_scalars"] = cached
    return cached


_CACHE: dict[str, Any] = {}


def _np_dtype(np: Any, text: Any) -> Any:
    if type(text) is not str or len(text) > 32:
        raise Protocol("bad dtype")
    dt = np.dtype(text)
    if dt.kind not in _NP_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise Protocol(f"dtype {text!r} may not cross")
    if dt.itemsize > MAX_ITEMSIZE:
        raise Protocol(f"dtype {text!r} has items of {dt.itemsize} bytes (at most {MAX_ITEMSIZE})")
    return dt


def _dec_ndarray(c: Codec, body: Any, depth: int) -> Any:
    import numpy as np

    dtype_text, shape, data = body
    dt = _np_dtype(np, dtype_text)
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape):
        raise Protocol("bad shape")
    if math.prod(shape) * dt.itemsize > MAX_ARRAY_BYTES:
        raise Protocol(f"an array of more than {MAX_ARRAY_BYTES >> 20} MB")
    if type(data) is dict and set(data) == {"$b64"}:
        raw = _dec_bytes(data["$b64"])
        if len(raw) != math.prod(shape) * dt.itemsize:
            raise Protocol("array data does not match its shape")
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    values = c.decode(data, depth)
    if type(values) is not list or len(values) != math.prod(shape):
        raise Protocol("array data does not match its shape")
    if dt.kind in "Mm":
        return np.array(values, dtype="i8").view(dt).reshape(shape)
    return np.array(values, dtype=dt).reshape(shape)


def _dec_npscalar(c: Codec, body: Any, depth: int) -> Any:
    import numpy as np

    dtype_text, value = body
    dt = _np_dtype(np, dtype_text)
    if dt.kind in "Mm":
        return np.array(value, dtype="i8").view(dt)[()]
    return np.array(c.decode(value, depth), dtype=dt)[()]


def _dec_namedtuple(c: Codec, body: Any, depth: int) -> Any:
    name, fields, values = body
    if type(name) is not str or not name.isidentifier():
        raise Protocol("bad namedtuple name")
    if type(fields) is not list or not all(type(f) is str for f in fields):
        raise Protocol("bad namedtuple fields")
    cls = collections.namedtuple(name, fields, rename=True)  # type: ignore[misc]
    return cls(*c.items(values, depth))


def _dec_int(c: Codec, body: Any, depth: int) -> int:
    if type(body) is not str or len(body) > 100_000:
        raise Protocol("bad big int")
    return int(body, 16)


def _dec_defaultdict(c: Codec, body: Any, depth: int) -> Any:
    name, pairs = body
    factory = _DEFAULT_FACTORIES.get(name) if name is not None else None
    return collections.defaultdict(factory, c.pairs(pairs, depth))


def _dec_bytes(body: Any) -> bytes:
    if type(body) is not str:
        raise Protocol("bad bytes")
    return base64.b64decode(body.encode("ascii"), validate=True)


def as_str(body: Any) -> str:
    if type(body) is not str:
        raise Protocol("expected a string")
    return body


def _dec_range(c: Codec, body: Any, depth: int) -> range:
    start, stop, step = body
    if not all(type(x) is int for x in (start, stop, step)):
        raise Protocol("bad range")
    return range(start, stop, step)


def _dec_fraction(c: Codec, body: Any, depth: int) -> fractions.Fraction:
    num, den = body
    if type(num) is not int or type(den) is not int:
        raise Protocol("bad fraction")
    return fractions.Fraction(num, den)


def _dec_timedelta(c: Codec, body: Any, depth: int) -> datetime.timedelta:
    days, seconds, micro = body
    if not all(type(x) is int for x in (days, seconds, micro)):
        raise Protocol("bad timedelta")
    return datetime.timedelta(days=days, seconds=seconds, microseconds=micro)


def _hashable_pairs(c: Codec, body: Any, depth: int) -> list[tuple[Any, Any]]:
    pairs = c.pairs(body, depth)
    for key, _ in pairs:
        hash(key)  # a proxy or an unhashable key is malformed data (raises -> Protocol)
    return pairs


_DECODERS: dict[str, Callable[[Codec, Any, int], Any]] = {
    "$float": lambda c, b, d: _unfloat({"$float": b}),
    "$int": _dec_int,
    "$tuple": lambda c, b, d: tuple(c.items(b, d)),
    "$dict": lambda c, b, d: dict(_hashable_pairs(c, b, d)),
    "$set": lambda c, b, d: set(c.items(b, d)),
    "$frozenset": lambda c, b, d: frozenset(c.items(b, d)),
    "$bytes": lambda c, b, d: _dec_bytes(b),
    "$bytearray": lambda c, b, d: bytearray(_dec_bytes(b)),
    "$complex": lambda c, b, d: complex(_unfloat(b[0]), _unfloat(b[1])),
    "$range": _dec_range,
    "$decimal": lambda c, b, d: decimal.Decimal(as_str(b)),
    "$fraction": _dec_fraction,
    "$datetime": lambda c, b, d: datetime.datetime.fromisoformat(as_str(b)),
    "$date": lambda c, b, d: datetime.date.fromisoformat(as_str(b)),
    "$time": lambda c, b, d: datetime.time.fromisoformat(as_str(b)),
    "$timedelta": _dec_timedelta,
    "$ordereddict": lambda c, b, d: collections.OrderedDict(_hashable_pairs(c, b, d)),
    "$counter": lambda c, b, d: collections.Counter(dict(_hashable_pairs(c, b, d))),
    "$deque": lambda c, b, d: collections.deque(c.items(b, d)),
    "$defaultdict": _dec_defaultdict,
    "$namespace": lambda c, b, d: types.SimpleNamespace(**{as_str(k): v for k, v in c.pairs(b, d)}),
    "$namedtuple": _dec_namedtuple,
    "$ndarray": _dec_ndarray,
    "$npscalar": _dec_npscalar,
}


class _PandasCodec:
    """DataFrame, Series, Index and pandas scalars; columns keep their dtypes."""

    _EXT_OK = ("Int", "UInt", "Float", "boolean", "string", "str")

    def __init__(self, codec: Codec, pd: Any) -> None:
        self.c = codec
        self.pd = pd

    def encode(self, v: Any, t: type, depth: int) -> Any:
        pd = self.pd
        if t in (pd.DataFrame, pd.Series) and self.c.make_ref is not None:
            size = v.memory_usage(index=True, deep=False)
            if int(size.sum() if t is pd.DataFrame else size) > MAX_SENT_ARRAY_BYTES:
                return self.c.make_ref(v)  # too big to copy: by reference, as arrays
        if t is pd.DataFrame:
            cols = [self.values(v.iloc[:, i], depth) for i in range(v.shape[1])]
            return {"$dataframe": [self.index(v.columns, depth), self.index(v.index, depth), cols]}
        if t is pd.Series:
            name = self.c.encode(v.name, depth)
            return {"$series": [self.values(v, depth), self.index(v.index, depth), name]}
        if t in _pandas_index_types(pd):
            return {"$pdindex": self.index(v, depth)}
        if t is pd.Timestamp:
            return {"$timestamp": [v.value, None if v.tz is None else str(v.tz), v.unit]}
        if t is pd.Timedelta:
            return {"$pdtimedelta": [v.value, v.unit]}
        if v is pd.NaT:
            return {"$nat": None}
        if v is pd.NA:
            return {"$na": None}
        return None

    def index(self, idx: Any, depth: int) -> Any:
        pd = self.pd
        t = type(idx)
        name = self.c.encode(idx.name, depth)
        if t is pd.RangeIndex:
            return {"range": [idx.start, idx.stop, idx.step], "name": name}
        if t is pd.MultiIndex:
            names = [self.c.encode(n, depth) for n in idx.names]
            return {"tuples": [self.c.encode(x, depth) for x in idx], "names": names}
        if t not in _pandas_index_types(pd):
            raise Refused(f"a pandas {type_name(t)} cannot cross as plain data")
        return {"values": self.values(idx, depth), "name": name}

    def values(self, s: Any, depth: int) -> Any:
        np = sys.modules["numpy"]
        dtype = s.dtype
        if isinstance(dtype, np.dtype):
            arr = s.to_numpy()
            if dtype.kind == "O":
                return {"object": [self.c.encode(x, depth) for x in arr.tolist()]}
            return {"array": self.c._ndarray(arr, depth)}
        if isinstance(dtype, self.pd.CategoricalDtype):
            return {
                "categorical": [
                    self.c._ndarray(
                        s.cat.codes.to_numpy() if hasattr(s, "cat") else s.codes, depth
                    ),
                    self.index(dtype.categories, depth),
                    bool(dtype.ordered),
                ]
            }
        name = str(dtype)
        if not name.startswith(self._EXT_OK):
            raise Refused(f"a pandas column of dtype {name} cannot cross as plain data")
        return {"ext": [name, [self.c.encode(x, depth) for x in s.to_numpy(dtype=object)]]}


def _pandas_index_types(pd: Any) -> tuple[type, ...]:
    return (pd.Index, pd.DatetimeIndex, pd.TimedeltaIndex, pd.CategoricalIndex)


def _pd_values(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    if type(body) is not dict or len(body) != 1:
        raise Protocol("bad column")
    ((kind, data),) = body.items()
    if kind == "array":
        return c.decode(data, depth)
    if kind == "object":
        import numpy as np

        out = np.empty(len(c.items_raw(data)), dtype=object)
        out[:] = c.items(data, depth)
        return out
    if kind == "categorical":
        codes, categories, ordered = data
        return pd.Categorical.from_codes(
            c.decode(codes, depth), categories=_pd_index(c, categories, depth), ordered=ordered
        )
    if kind == "ext":
        name, values = data
        dtype = pd.api.types.pandas_dtype(as_str(name))
        if not str(dtype).startswith(_PandasCodec._EXT_OK):
            raise Protocol(f"pandas dtype {name!r} may not cross")
        return pd.array(c.items(values, depth), dtype=dtype)
    raise Protocol(f"bad column kind {kind!r}")


def _pd_index(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    if type(body) is not dict:
        raise Protocol("bad index")
    if "range" in body:
        start, stop, step = body["range"]
        return pd.RangeIndex(start, stop, step, name=c.decode(body["name"], depth))
    if "tuples" in body:
        names = c.items(body["names"], depth)
        return pd.MultiIndex.from_tuples(c.items(body["tuples"], depth), names=names)
    return pd.Index(_pd_values(c, body["values"], depth), name=c.decode(body["name"], depth))


def _dec_dataframe(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    columns_body, index_body, cols = body
    columns = _pd_index(c, columns_body, depth)
    index = _pd_index(c, index_body, depth)
    data = [_pd_values(c, col, depth) for col in c.items_raw(cols)]
    if len(data) != len(columns):
        raise Protocol("column count does not match the column labels")
    frame = pd.DataFrame(
        {i: pd.Series(col, index=index, copy=False) for i, col in enumerate(data)}, index=index
    )
    frame.columns = columns
    return frame


def _dec_series(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    values, index, name = body
    return pd.Series(
        _pd_values(c, values, depth), index=_pd_index(c, index, depth), name=c.decode(name, depth)
    )


def _dec_timestamp(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    value, tz, unit = body
    if type(value) is not int:
        raise Protocol("bad timestamp")
    ts = pd.Timestamp(value, tz="UTC").tz_convert(tz) if tz is not None else pd.Timestamp(value)
    return ts.as_unit(unit)


def _dec_pdtimedelta(c: Codec, body: Any, depth: int) -> Any:
    import pandas as pd

    value, unit = body
    if type(value) is not int:
        raise Protocol("bad timedelta")
    return pd.Timedelta(value).as_unit(unit)


def _dec_pandas_const(name: str) -> Callable[[Codec, Any, int], Any]:
    def dec(c: Codec, body: Any, depth: int) -> Any:
        import pandas as pd

        return getattr(pd, name)

    return dec


_DECODERS.update(
    {
        "$dataframe": _dec_dataframe,
        "$series": _dec_series,
        "$pdindex": lambda c, b, d: _pd_index(c, b, d),
        "$timestamp": _dec_timestamp,
        "$pdtimedelta": _dec_pdtimedelta,
        "$nat": _dec_pandas_const("NaT"),
        "$na": _dec_pandas_const("NA"),
    }
)
