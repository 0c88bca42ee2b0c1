"""One name resolver for every command and API call: either name, exact before case-folded,
near misses suggested, the names a user can type listed."""

from __future__ import annotations

from cjm_docker import naming
from cjm_docker.errors import UnknownPluginError

PAIRS = [("cjm-example-echo", "echo"), ("cjm-example-fileinfo", "fileinfo"), ("Echo", "")]


def pick(name: str) -> tuple[str, str] | None:
    return naming.pick(name, PAIRS, lambda pair: pair)


def test_either_name_finds_the_plugin() -> None:
    assert pick("echo") == ("cjm-example-echo", "echo")
    assert pick("cjm-example-echo") == ("cjm-example-echo", "echo")
    assert pick("fileinfo") == ("cjm-example-fileinfo", "fileinfo")


def test_an_exact_name_wins_over_a_case_folded_one() -> None:
    assert pick("Echo") == ("Echo", "")          # the metadata name, exactly
    assert pick("FILEINFO") == ("cjm-example-fileinfo", "fileinfo")
    assert pick("ech") is None


def test_a_metadata_name_wins_over_another_plugins_entry_name() -> None:
    pairs = [("a", "b"), ("b", "c")]
    assert naming.pick("b", pairs, lambda p: p) == ("b", "c")


def test_near_misses() -> None:
    names = naming.typable(PAIRS)
    assert names == ["Echo", "cjm-example-echo", "cjm-example-fileinfo", "echo", "fileinfo"]
    assert naming.near_misses("ech", names)[0].casefold() == "echo"
    assert "fileinfo" in naming.near_misses("filinfo", names)
    assert naming.near_misses("cjm-example", names)    # a prefix is a near miss too
    assert naming.near_misses("zzz", names) == []


def test_unknown_plugin_lists_what_to_type_and_suggests() -> None:
    error = naming.unknown_plugin("ech", naming.typable(PAIRS), where="in plugins.yaml",
                                  hint="Install it.")
    assert isinstance(error, UnknownPluginError)
    text = str(error)
    assert text.startswith("No plugin named 'ech' in plugins.yaml. Did you mean")
    assert "Known: Echo, cjm-example-echo, cjm-example-fileinfo, echo, fileinfo." in text
    assert text.endswith("Install it.")
    assert error.plugin == "ech"


def test_a_long_listing_is_cut() -> None:
    names = [f"plugin-{i:03}" for i in range(50)]
    assert naming.listing(names).endswith("and 30 more")
    assert naming.listing([]) == "none"
