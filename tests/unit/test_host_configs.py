"""Plugin configs: defaults merged with partial configs, validated against the schema."""

import pytest

from cjm_docker.errors import PluginConfigError
from cjm_docker.host.configs import effective_config, schema_defaults

SCHEMA = {
    "name": "EchoConfig", "type": "object",
    "properties": {
        "prefix": {"type": "string", "default": ">"},
        "repeat": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
        "mode": {"type": "string", "enum": ["upper", "lower"], "default": "lower"},
        "limit": {"type": ["integer", "null"], "default": None},
    },
}


def test_defaults_come_from_the_schema():
    assert schema_defaults(SCHEMA) == {"prefix": ">", "repeat": 1, "mode": "lower", "limit": None}


def test_partial_config_is_merged_with_defaults():
    assert effective_config("echo", SCHEMA, {"repeat": 3}) == {
        "prefix": ">", "repeat": 3, "mode": "lower", "limit": None}


def test_empty_config_still_yields_defaults():
    assert effective_config("echo", SCHEMA, None)["mode"] == "lower"


@pytest.mark.parametrize("config, fragment", [
    ({"repeat": 9}, "repeat: 9 is greater than the maximum of 5"),
    ({"mode": "sideways"}, "mode: 'sideways' is not one of"),
    ({"repeat": "two"}, "repeat: 'two' is not of type 'integer'"),
    ({"colour": "red"}, "unknown key 'colour'"),
])
def test_invalid_configs_name_the_key(config, fragment):
    with pytest.raises(PluginConfigError) as info:
        effective_config("echo", SCHEMA, config)
    assert fragment in str(info.value)
    assert "echo" in str(info.value)


def test_every_problem_is_listed():
    with pytest.raises(PluginConfigError) as info:
        effective_config("echo", SCHEMA, {"repeat": 0, "mode": "x"})
    assert len(info.value.errors) == 2


def test_no_schema_accepts_anything():
    assert effective_config("p", None, {"a": 1}) == {"a": 1}
    assert effective_config("p", {}, None) == {}
