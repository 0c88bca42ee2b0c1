"""Result encoding: every mapped type, and errors that say where the offending value sits."""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from cjm_docker.codec import EncodingError, encode, to_jsonable


def roundtrip(value: Any) -> Any:
    return json.loads(encode(value))


class Color(enum.Enum):
    RED = "red"
    WHEN = datetime.date(2024, 1, 2)  # an enum whose value needs the hook again


class Opaque:
    pass


@dataclass
class Leaf:
    when: datetime.datetime
    where: Path


@dataclass
class Tree:
    leaves: list[Leaf]
    tags: frozenset[str] = field(default_factory=frozenset)


@pytest.mark.parametrize(("value", "expected"), [
    (datetime.datetime(2024, 5, 6, 7, 8, 9), "2024-05-06T07:08:09"),
    (datetime.date(2024, 5, 6), "2024-05-06"),
    (datetime.time(7, 8, 9), "07:08:09"),
    (datetime.timedelta(minutes=1, seconds=30, milliseconds=500), 90.5),
    (Path("/data/in.wav"), "/data/in.wav"),
    (PurePosixPath("rel/x"), "rel/x"),
    (Color.RED, "red"),
    (Color.WHEN, "2024-01-02"),
    ({3, 1, 2}, [1, 2, 3]),
    (frozenset({"b", "a"}), ["a", "b"]),
    ((1, (2, 3)), [1, [2, 3]]),
    (b"\x00\xffhi", "AP9oaQ=="),
    (bytearray(b"ab"), "YWI="),
    (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    (decimal.Decimal("1.10"), "1.10"),
])
def test_mapped_types(value: Any, expected: Any) -> None:
    assert roundtrip(value) == expected


def test_unsortable_set_still_encodes() -> None:
    assert sorted(roundtrip({1, "a"}), key=str) == [1, "a"]


def test_dataclasses_nest_without_asdict_so_inner_custom_types_use_the_hook() -> None:
    tree = Tree([Leaf(datetime.datetime(2024, 1, 1), Path("/x"))], frozenset({"z", "y"}))
    assert roundtrip(tree) == {"leaves": [{"when": "2024-01-01T00:00:00", "where": "/x"}],
                               "tags": ["y", "z"]}


def test_dataclass_types_are_not_instances() -> None:
    with pytest.raises(EncodingError, match="is a type"):
        encode({"cls": Leaf})


def test_nan_and_infinity_survive_a_roundtrip() -> None:
    decoded = roundtrip({"nan": float("nan"), "inf": float("inf"), "ninf": float("-inf")})
    assert math.isnan(decoded["nan"])
    assert decoded["inf"] == math.inf and decoded["ninf"] == -math.inf


def test_unicode_is_utf8_and_lone_surrogates_fall_back_to_escapes() -> None:
    assert encode("héllo") == '"héllo"'.encode()
    assert json.loads(encode("\ud800x")) == "\ud800x"


class _FakeNumpyScalar:
    """Looks like np.float32: module numpy, shape (), item() and tolist()."""

    shape = ()

    def item(self) -> float:
        return 1.5

    def tolist(self) -> float:
        return 1.5


class _FakeNumpyArray:
    shape = (2, 2)

    def tolist(self) -> list[list[int]]:
        return [[1, 2], [3, 4]]


_FakeNumpyScalar.__module__ = "numpy"
_FakeNumpyArray.__module__ = "numpy"


def test_numpy_is_recognised_without_importing_it() -> None:
    assert roundtrip({"s": _FakeNumpyScalar(), "a": _FakeNumpyArray()}) == {
        "s": 1.5, "a": [[1, 2], [3, 4]]}


def test_real_numpy_when_installed() -> None:
    np = pytest.importorskip("numpy")
    assert roundtrip({"f32": np.float32(0.5), "i64": np.int64(3), "b": np.bool_(True),
                      "arr": np.arange(4).reshape(2, 2)}) == {
        "f32": 0.5, "i64": 3, "b": True, "arr": [[0, 1], [2, 3]]}


def test_pydantic_v2_models_dump_in_json_mode() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Model(pydantic.BaseModel):
        when: datetime.date
        path: Path

    assert roundtrip([Model(when=datetime.date(2024, 1, 2), path=Path("/a"))]) == [
        {"when": "2024-01-02", "path": "/a"}]


def test_objects_with_to_dict() -> None:
    class Row:
        def to_dict(self) -> dict[str, Any]:
            return {"when": datetime.date(2024, 1, 2)}

    assert roundtrip({"row": Row()}) == {"row": {"when": "2024-01-02"}}


def test_hook_rejects_unknown_types() -> None:
    with pytest.raises(TypeError):
        to_jsonable(Opaque())


@pytest.mark.parametrize(("value", "message"), [
    ({"items": [1, 2, Opaque()]}, "result['items'][2] is an Opaque, which JSON cannot carry"),
    (Opaque(), "result is an Opaque, which JSON cannot carry"),
    (Tree([Leaf(datetime.datetime(2024, 1, 1), Opaque())]),  # type: ignore[arg-type]
     "result.leaves[0].where is an Opaque"),
    ({(1, 2): "tuple key"}, "result has a key (1, 2) of type tuple"),
    ({"f": lambda: 0}, "result['f'] is a function"),
])
def test_unencodable_values_are_named_with_their_path(value: Any, message: str) -> None:
    with pytest.raises(EncodingError) as caught:
        encode(value)
    assert message in str(caught.value)
    assert caught.value.path == str(caught.value).split(" ")[0]


def test_circular_references_are_reported() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(EncodingError, match="circular"):
        encode({"loop": loop})


def test_a_conversion_that_raises_is_reported() -> None:
    class Broken:
        def to_dict(self) -> dict[str, Any]:
            raise RuntimeError("boom")

    with pytest.raises(EncodingError, match=r"result\['x'\] is a Broken whose conversion"):
        encode({"x": Broken()})


def test_root_name_is_used_in_messages() -> None:
    with pytest.raises(EncodingError, match=r"^config\['k'\] is an Opaque"):
        encode({"k": Opaque()}, root="config")
