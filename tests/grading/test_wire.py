"""The plain-data encoding: exact round trips, refused subclasses, strict decoding."""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import json
import math
import types
from typing import Any

import numpy as np
import pandas as pd
import pytest

from eduproject.runner.wire import Codec, Protocol, Refused

CODEC = Codec(make_ref=None, resolve_ref=None)


def roundtrip(value: Any) -> Any:
    text = json.dumps(CODEC.encode(value), allow_nan=False)
    return CODEC.decode(json.loads(text))


Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        12345678901234567890,
        1.5,
        -0.0,
        "héllo\ud800",
        [1, [2, [3]]],
        (1, "a", (2.5,)),
        {"a": 1, 2: "b", (1, 2): None},
        {1, 2, 3},
        frozenset({"x"}),
        b"\x00\xff",
        bytearray(b"ab"),
        3 + 4j,
        range(1, 10, 2),
        decimal.Decimal("1.10"),
        fractions.Fraction(1, 3),
        datetime.datetime(2024, 3, 1, 12, 30, tzinfo=datetime.UTC),
        datetime.date(2024, 3, 1),
        datetime.time(12, 30),
        datetime.timedelta(days=1, seconds=2, microseconds=3),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.Counter("hello"),
        collections.deque([1, 2]),
        types.SimpleNamespace(a=1, b=[2]),
    ],
)
def test_plain_values_round_trip_exactly(value: Any) -> None:
    back = roundtrip(value)
    assert type(back) is type(value)
    assert back == value


def test_ints_beyond_json_digit_limits_travel_as_hex() -> None:
    big = -(10**5000) + 7
    assert "$int" in CODEC.encode(big)
    assert roundtrip(big) == big


def test_floats_keep_every_bit_and_special_values() -> None:
    for x in (0.1 + 0.2, 1e-310, 1.7976931348623157e308):
        assert roundtrip(x) == x
    assert math.isnan(roundtrip(float("nan")))
    assert roundtrip(float("-inf")) == float("-inf")
    assert math.copysign(1, roundtrip(-0.0)) == -1


def test_namedtuple_and_defaultdict_are_rebuilt_with_trusted_classes() -> None:
    back = roundtrip(Point(1, 2))
    assert back == (1, 2) and back.x == 1 and back.y == 2
    dd = collections.defaultdict(list, {"a": [1]})
    back = roundtrip(dd)
    assert back == {"a": [1]} and back["missing"] == []


def test_numpy_arrays_and_scalars_keep_dtype_and_shape() -> None:
    arrays = [
        np.arange(6, dtype=np.int32).reshape(2, 3),
        np.array([0.1, np.nan, np.inf]),
        np.array([True, False]),
        np.array(["a", "bc"]),
        np.array(["2024-01-01", "NaT"], dtype="datetime64[ns]"),
        np.array([1 + 2j]),
        np.zeros((0, 3)),
    ]
    for arr in arrays:
        back = roundtrip(arr)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)
    for scalar in (np.int64(7), np.float32(0.5), np.bool_(True), np.datetime64("2024-01-01")):
        back = roundtrip(scalar)
        assert type(back) is type(scalar) and back == scalar


def test_pandas_frames_series_and_indexes_keep_dtypes() -> None:
    frame = pd.DataFrame(
        {
            "city": ["Oslo", "Lisbon", None],
            "temp": [1.5, 17.25, float("nan")],
            "n": [1, 2, 3],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", None]),
            "kind": pd.Categorical(["a", "b", "a"], categories=["b", "a"], ordered=True),
            "maybe": pd.array([1, None, 3], dtype="Int64"),
            "obj": pd.Series([1, "x", (2, 3)], dtype=object),
        },
        index=pd.Index(["r1", "r2", "r3"], name="row"),
    )
    back = roundtrip(frame)
    pd.testing.assert_frame_equal(back, frame)
    series = frame.set_index("n")["temp"]
    pd.testing.assert_series_equal(roundtrip(series), series)
    multi = frame.set_index(["city", "n"])["temp"]
    pd.testing.assert_series_equal(roundtrip(multi), multi)
    empty = pd.DataFrame()
    pd.testing.assert_frame_equal(roundtrip(empty), empty)
    grouped = frame.groupby("kind", observed=True)["temp"].mean()
    pd.testing.assert_series_equal(roundtrip(grouped), grouped)
    assert roundtrip(pd.Timestamp("2024-03-01 10:00", tz="Europe/Oslo")) == pd.Timestamp(
        "2024-03-01 10:00", tz="Europe/Oslo"
    )
    assert roundtrip(pd.NaT) is pd.NaT and roundtrip(pd.NA) is pd.NA


class EvilInt(int):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class EvilList(list):
    pass


class EvilStr(str):
    pass


class EvilDict(dict):
    pass


@pytest.mark.parametrize(
    "value", [EvilInt(1), EvilList(), EvilStr("x"), EvilDict(), [1, EvilInt(2)], {"k": EvilStr()}]
)
def test_subclasses_of_builtins_are_refused(value: Any) -> None:
    with pytest.raises(Refused, match="subclass of"):
        CODEC.encode(value)


def test_other_objects_need_a_reference_maker() -> None:
    with pytest.raises(Refused, match="cannot cross"):
        CODEC.encode(object())
    made: list[Any] = []

    def make_ref(value: Any) -> dict[str, Any]:
        made.append(value)
        return {"$ref": len(made)}

    codec = Codec(make_ref=make_ref, resolve_ref=lambda d: made[d["$ref"] - 1])
    obj = object()
    assert codec.encode([obj]) == [{"$ref": 1}]
    assert codec.decode([{"$ref": 1}]) == [obj]


@pytest.mark.parametrize(
    "data",
    [
        {"$nope": 1},
        {"$tuple": [1], "extra": 2},
        {"$dict": [[[1], 2]]},  # unhashable key
        {"$dict": [[1]]},
        {"$ndarray": ["|O", [1], [None]]},  # object arrays may not cross
        {"$ndarray": ["<i8", [3], [1, 2]]},  # data does not fill the shape
        {"$ndarray": ["V8", [1], [1]]},
        {"$bytes": "***"},
        {"$float": "1e999x"},
        {"$ref": 3},  # no references expected by this codec
        {},
        {
            "$dataframe": [
                {"values": {"array": {"$ndarray": ["<i8", [1], [1]]}}, "name": None},
                {"range": [0, 1, 1], "name": None},
                [],
            ]
        },
    ],
)
def test_malformed_data_is_a_protocol_error(data: Any) -> None:
    with pytest.raises(Protocol):
        CODEC.decode(data)


def test_nesting_depth_is_bounded_both_ways() -> None:
    deep: Any = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(Refused, match="nested"):
        CODEC.encode(deep)
    with pytest.raises(Protocol):
        CODEC.decode(json.loads("[" * 300 + "]" * 300))


def test_an_array_too_large_to_send_says_so() -> None:
    big = np.zeros(50 << 20, dtype=np.uint8)
    with pytest.raises(Refused, match="50 MB is too large to send to the tests"):
        CODEC.encode(big)
    small = np.arange(6, dtype=">i4").reshape(2, 3)  # big-endian in, exact values out
    assert CODEC.decode(CODEC.encode(small)).tolist() == small.tolist()
