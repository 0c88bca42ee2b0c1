"""Sample expectations from plugins.yaml against results (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cjm_docker.conformance import mismatches
from cjm_docker.errors import SpecError
from cjm_docker.spec.plugins_file import SampleCall, load_plugins_file


def sample(**fields) -> SampleCall:
    return SampleCall.model_validate(fields)


def test_exact_expectation():
    assert mismatches(sample(expect={"text": "HI"}), {"text": "HI"}) == []
    assert "expected {'text': 'HI'}" in mismatches(sample(expect={"text": "HI"}), {"text": "hi"})[0]


def test_expect_null_is_an_expectation():
    assert mismatches(sample(expect=None), 1) != []
    assert mismatches(sample(), 1) == []


def test_expect_keys_and_type():
    assert mismatches(sample(expect_keys=["a"], expect_type="object"), {"a": 1}) == []
    assert "lacks keys ['b']" in mismatches(sample(expect_keys=["b"]), {"a": 1})[0]
    assert "expected a JSON integer" in mismatches(sample(expect_type="integer"), True)[0]
    assert mismatches(sample(expect_type="array"), [1]) == []


@pytest.mark.parametrize("result,part,ok", [
    ("hello world", "world", True),
    ("hello", "x", False),
    ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": 2}}, True),
    ({"a": 1}, {"a": 2}, False),
    (["x", "y"], "y", True),
    (["x", "y"], ["x", "y"], True),
    (3, 3, False),
])
def test_contains(result, part, ok):
    assert (mismatches(sample(contains=part), result) == []) is ok


def test_samples_key_in_plugins_yaml(tmp_path: Path):
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - name: p\n    package: pkg\n    samples:\n"
                    "      - {args: {text: hi}, expect_keys: [text], stream: true, timeout: 3}\n"
                    "    ci: {python: ['3.10', '3.12']}\n")
    entry = load_plugins_file(path).plugins[0]
    assert entry.samples[0].args == {"text": "hi"} and entry.samples[0].stream
    assert entry.ci.python == ["3.10", "3.12"]


def test_unknown_sample_key_is_named(tmp_path: Path):
    path = tmp_path / "plugins.yaml"
    path.write_text("plugins:\n  - name: p\n    package: pkg\n    samples:\n"
                    "      - {args: {}, expekt: 1}\n")
    with pytest.raises(SpecError, match="expekt.*did you mean 'expect'"):
        load_plugins_file(path)


def test_repo_plugins_files_parse():
    repo = Path(__file__).resolve().parents[2]
    for name in ("plugins.yaml", "examples/broken/plugins.yaml"):
        assert load_plugins_file(repo / name).plugins
