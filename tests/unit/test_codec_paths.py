"""One codec, every path: a value gets the same treatment as an argument (host), in the worker,
as a result (host again) and in the journal, and a refused value the same refusal."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from cjm_docker.codec import (
    MAX_NESTING,
    PIECE,
    Pieces,
    decode,
    decode_call,
    decode_value,
    encode,
    encode_call,
    encode_pieces,
    encode_plain,
    encode_value,
)
from cjm_docker.errors import ArgumentError, EncodingError
from cjm_docker.host.arguments import PreparedCall
from cjm_docker.host.framing import encode_request
from cjm_docker.host.transport import WorkerAddress, WorkerClient
from cjm_docker.worker.app import parse_call_body
from tests.fixtures.worker_harness import TOKEN, running_worker


class Mode(str, Enum):
    FAST = "fast"


NAN = float("nan")
#: Values and the JSON form they arrive in on every path (tuples as lists, number keys as text).
CROSSING: list[tuple[Any, Any]] = [
    ("héllo \n \"quoted\" \\ \x00", "héllo \n \"quoted\" \\ \x00"),
    ("\ud800 lone surrogate", "\ud800 lone surrogate"),
    (math.inf, math.inf),
    ([1, (2.5, None), {"k": [True, False]}], [1, [2.5, None], {"k": [True, False]}]),
    ({1: "a", 2.5: "b", False: "c", None: "d"}, {"1": "a", "2.5": "b", "false": "c", "null": "d"}),
    ({"$path": "/etc/shadow"}, {"$path": "/etc/shadow"}),   # caller data, never a tag
    ({"$$x": {"$path": 1}}, {"$$x": {"$path": 1}}),
    (Mode.FAST, "fast"),
]


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def same(left: Any, right: Any) -> bool:
    """Equality, with NaN equal to itself."""
    if isinstance(left, float) and math.isnan(left):
        return isinstance(right, float) and math.isnan(right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return bool(left == right) and type(left) is type(right)


def journal_round_trip(value: Any) -> Any:
    args, kwargs, ok = encode_call((value,), {"named": value})
    assert ok
    decoded_args, decoded_kwargs = decode_call(args, kwargs)
    assert same(decoded_args[0], decoded_kwargs["named"])
    return decoded_args[0]


def test_argument_worker_result_journal_round_trip_keeps_every_value(tmp_path: Path) -> None:
    values = [value for value, _ in CROSSING] + [NAN, nested(MAX_NESTING)]
    expected = [form for _, form in CROSSING] + [NAN, nested(MAX_NESTING)]
    with running_worker(tmp_path, "EchoPlugin") as worker:
        worker.wait_for_health()
        client = WorkerClient(WorkerAddress(socket_path=str(worker.socket)), TOKEN, "echo")
        call = PreparedCall(tmp_path, [tmp_path], "echo")
        named = {f"v{index}": value for index, value in enumerate(values)}
        result = client.call("POST", "/execute", call.body(tuple(values), named), timeout=30)
        client.close()
    assert same(result["args"], expected)
    assert same([result["kwargs"][f"v{index}"] for index in range(len(values))], expected)
    stored = decode_value(encode_value(result))           # the journal keeps the result as is
    assert same(stored, result)
    for value, form in zip(values, expected, strict=True):
        back = journal_round_trip(value)                  # and the arguments too
        assert same(back, form) or same(back, value), value


def test_the_worker_reads_what_the_host_writes() -> None:
    for value, form in [*CROSSING, (NAN, NAN), (nested(MAX_NESTING), nested(MAX_NESTING))]:
        args, kwargs = parse_call_body(encode_plain({"args": [value], "kwargs": {"k": value}}))
        assert same(args[0], form) and same(kwargs["k"], form)
        assert same(decode(encode(value)), form)          # a result: the same form


def test_a_path_is_its_string_on_the_wire_and_a_path_again_from_the_journal(tmp_path: Path):
    inside = tmp_path / "x.wav"
    body = PreparedCall(tmp_path, [tmp_path], "p").body((inside,), {"plain": {"$path": "/x"}})
    assert body == {"args": [str(inside)], "kwargs": {"plain": {"$path": "/x"}}}   # as 0.0.x
    assert decode(encode(inside)) == str(inside)          # a result: its string too
    assert decode_call(*encode_call((inside,), {"plain": {"$path": "/x"}})[:2]) == (
        (inside,), {"plain": {"$path": "/x"}})


@pytest.mark.parametrize(("value", "problem"), [
    ({b"raw": 1}, "has a key b'raw' of type bytes; keys must be strings or numbers"),
    ({("a", 1): 1}, "has a key ('a', 1) of type tuple; keys must be strings or numbers"),
    (nested(MAX_NESTING + 1), f"is nested more than {MAX_NESTING} levels deep"),
    (object(), "is an object, which JSON cannot carry"),
])
def test_a_refused_value_gets_the_same_refusal_on_every_path(tmp_path: Path, value: Any,
                                                              problem: str) -> None:
    with pytest.raises(ArgumentError) as argument:
        PreparedCall(tmp_path, [tmp_path], "p").body((), {"k": [value]})
    assert problem in argument.value.message and "kwargs['k'][0]" in argument.value.message
    note, _, ok = encode_call((), {"k": [value]})
    reason = decode(note)["$unjournaled"]
    assert not ok and reason.startswith("kwargs['k'][0]") and reason.endswith(problem)
    if isinstance(value, list):
        return  # results are bounded by the C encoder's own depth guard, not MAX_NESTING
    with pytest.raises(EncodingError) as result:
        encode({"k": [value]})
    assert str(result.value).startswith("result['k'][0]") and problem in str(result.value)


def test_a_value_that_contains_itself_is_named_as_such_on_every_path(tmp_path: Path) -> None:
    loop: list[Any] = []
    loop.append(loop)
    problem = "refers back to a containing value (a circular reference)"
    with pytest.raises(ArgumentError, match=r"args\[0\]\[0\] .*circular"):
        PreparedCall(tmp_path, [tmp_path], "p").body((loop,), {})
    assert problem in decode(encode_call((loop,), {})[0])["$unjournaled"]
    with pytest.raises(EncodingError, match=r"result\[0\]\[0\] refers back"):
        encode([loop])


def test_only_results_lower_the_types_json_lacks(tmp_path: Path) -> None:
    """A set crosses as a sorted list when a plugin returns it; a caller passing one is told."""
    assert decode(encode({3, 1, 2})) == [1, 2, 3]
    with pytest.raises(ArgumentError, match="is a set, which JSON cannot carry"):
        PreparedCall(tmp_path, [tmp_path], "p").body(({3, 1},), {})
    assert not encode_call(({3, 1},), {})[2]


@pytest.mark.parametrize("text", [
    "y" * (2 * PIECE + 7),
    ("é\n\"\\\x01" * PIECE)[: 3 * PIECE + 1],
    "a" * PIECE + "\ud800" + "b" * PIECE,                  # a lone surrogate in one piece
])
def test_a_long_string_is_sent_in_pieces_that_join_to_the_same_text(text: str) -> None:
    body = {"args": [1, text], "kwargs": {"k": text, "n": None}}
    pieces = encode_pieces(body)
    assert isinstance(pieces, Pieces) and max(map(len, pieces)) <= 6 * PIECE
    assert decode(b"".join(pieces)) == body
    assert b"".join(pieces) == b"".join(pieces)          # iterable again: a resend starts over
    head, *chunks = encode_request("POST", "/execute", b"", pieces)
    assert b"transfer-encoding: chunked" in head and b"content-length" not in head
    assert dechunked(b"".join(chunks)) == b"".join(pieces)


def dechunked(data: bytes) -> bytes:
    out, rest = [], data
    while True:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        if not size:
            assert rest == b"\r\n"
            return b"".join(out)
        out.append(rest[:size])
        assert rest[size:size + 2] == b"\r\n"
        rest = rest[size + 2:]


def test_a_small_body_is_one_piece_of_text() -> None:
    body = {"args": ["x"], "kwargs": {"steps": 1}}
    assert encode_pieces(body) == encode_plain(body) == b'{"args":["x"],"kwargs":{"steps":1}}'


def test_a_config_body_outside_the_rules_is_refused_before_anything_is_sent(tmp_path: Path):
    """It was a bare TypeError from json.dumps; no connection is attempted now."""
    client = WorkerClient(WorkerAddress(socket_path=str(tmp_path / "none.sock")), TOKEN, "p")
    with pytest.raises(ArgumentError, match=r"body\['k'\] is a set, which JSON cannot carry"):
        client.call("POST", "/initialize", {"k": {1, 2}})
