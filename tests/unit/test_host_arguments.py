"""Arguments on their way into a container: FileBackedDTOs cross by the exchange folder."""

import os
import stat
import tempfile
import time
from pathlib import Path

import pytest

from cjm_docker.errors import ArgumentError, PathNotVisibleError
from cjm_docker.host.arguments import PreparedCall


class Blob:
    def __init__(self, path: Path):
        self.path = path

    def to_temp_file(self) -> str:
        return str(self.path)


def make_call(tmp_path: Path) -> PreparedCall:
    exchange = tmp_path / "exchange"
    data = tmp_path / "data"
    data.mkdir()
    return PreparedCall(exchange, [exchange, data], "p")


def test_plain_values_pass_unchanged(tmp_path):
    call = make_call(tmp_path)
    assert call.body(("a", 1), {"b": None}) == {"args": ["a", 1], "kwargs": {"b": None}}


class FreshTemp:
    """A well-behaved DTO: ``to_temp_file`` writes a new temp file each time."""

    def __init__(self, folder: Path, data: bytes):
        self.folder, self.data = folder, data

    def to_temp_file(self) -> str:
        fd, path = tempfile.mkstemp(dir=self.folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.data)
        return path


def test_a_fresh_temp_file_is_linked_into_the_exchange_folder(tmp_path):
    call = make_call(tmp_path)
    body = call.body((FreshTemp(tmp_path, b"abc"),), {"nested": [FreshTemp(tmp_path, b"d")]})
    first = Path(body["args"][0])
    assert first.parent == tmp_path / "exchange"
    assert first.read_bytes() == b"abc"
    assert first.stat().st_nlink == 2            # linked: no byte copied
    assert Path(body["kwargs"]["nested"][0]).parent == tmp_path / "exchange"
    call.discard()
    assert not first.exists()


def test_an_original_file_is_copied_never_linked_or_chmodded(tmp_path):
    """Issue 13, item 4: ``to_temp_file()`` returning the caller's own file (a 0600 key)."""
    source = tmp_path / "key.pem"
    source.write_bytes(b"secret" * 100)
    source.chmod(0o600)
    time.sleep(0.05)   # it exists before the call (by more than the kernel clock's tick)
    before = source.stat()
    call = make_call(tmp_path)
    placed = Path(call.body((Blob(source),), {})["args"][0])
    assert placed.read_bytes() == source.read_bytes()
    assert not os.path.samefile(placed, source)             # a private copy, not the original
    after = source.stat()
    assert (after.st_nlink, stat.S_IMODE(after.st_mode), after.st_ctime_ns) == \
        (1, 0o600, before.st_ctime_ns)                       # never linked, never chmod'ed
    again = Path(make_call_again(tmp_path).body((Blob(source),), {})["args"][0])
    assert os.path.samefile(again, placed)                  # the same private copy, reused
    source.write_bytes(b"edited")
    time.sleep(0.05)
    edited = Path(make_call_again(tmp_path).body((Blob(source),), {})["args"][0])
    assert edited.read_bytes() == b"edited"                 # an edited original: a new copy
    call.discard()
    assert source.exists()


def make_call_again(tmp_path: Path) -> PreparedCall:
    exchange = tmp_path / "exchange"
    return PreparedCall(exchange, [exchange, tmp_path / "data"], "p")


def test_a_missing_file_is_a_clear_error(tmp_path):
    from cjm_docker.errors import PluginError

    with pytest.raises(PluginError, match="exchange folder"):
        make_call(tmp_path).body((Blob(tmp_path / "missing.bin"),), {})


def test_path_inside_a_visible_folder_is_passed_as_text(tmp_path):
    call = make_call(tmp_path)
    inside = tmp_path / "data" / "x.txt"
    assert call.body((inside,), {}) == {"args": [str(inside)], "kwargs": {}}


def test_path_the_container_cannot_see_is_a_clear_error(tmp_path):
    call = make_call(tmp_path)
    with pytest.raises(PathNotVisibleError) as info:
        call.body((), {"path": Path("/etc/passwd")})
    assert "/etc/passwd" in str(info.value) and "FileBackedDTO" in str(info.value)


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("args", "kwargs", "where", "problem"), [
    ((_nested(5000),), {}, "args[0][0][0]", "nested more than"),
    ((), {"opts": {b"raw": 1}}, "kwargs['opts']", "type bytes"),
    (({"a": {("x", 1): 2}},), {}, "args[0]['a']", "type tuple"),
    (([1, {2, 3}],), {}, "args[0][1]", "set, which JSON cannot carry"),
])
def test_arguments_json_cannot_carry_are_a_typed_error_naming_where(tmp_path, args, kwargs,
                                                                   where, problem):
    call = make_call(tmp_path)
    with pytest.raises(ArgumentError) as caught:
        call.body(args, kwargs)
    assert where in caught.value.message and problem in caught.value.message
    assert isinstance(caught.value, ValueError)


def test_a_refused_argument_leaves_no_exchange_file(tmp_path):
    source = tmp_path / "elsewhere.bin"
    source.write_bytes(b"x")
    call = make_call(tmp_path)
    with pytest.raises(ArgumentError):
        call.body((Blob(source), {b"k": 1}), {})
    assert list((tmp_path / "exchange").iterdir()) == []
