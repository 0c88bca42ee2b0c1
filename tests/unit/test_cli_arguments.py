"""`cjm-ctl exec` argument parsing."""

import pytest

from cjm_docker.cli.runtime import parse_call_arguments
from cjm_docker.errors import SpecError


def test_key_value_pairs_parse_json_values():
    assert parse_call_arguments(["text=hi", "repeat=2", "flag=true", "x=[1,2]"]) == (
        [], {"text": "hi", "repeat": 2, "flag": True, "x": [1, 2]})


def test_json_object_and_positional_values():
    assert parse_call_arguments(['{"a": 1}', "plain words", "[3, 4]"]) == (["plain words", 3, 4], {"a": 1})


def test_broken_json_is_a_clear_error():
    with pytest.raises(SpecError, match="not valid"):
        parse_call_arguments(["{nope"])
