"""cjm_docker.validation keeps cjm_plugin_system.utils.validation's shapes."""

from dataclasses import dataclass, field
from typing import List, Optional  # noqa: UP035 - the typing forms 0.0.x plugins use

import pytest

from cjm_docker.errors import PluginConfigError
from cjm_docker.validation import (
    SCHEMA_ENUM,
    SCHEMA_MAX,
    SCHEMA_MIN,
    SCHEMA_TITLE,
    dataclass_to_jsonschema,
    dict_to_config,
    extract_defaults,
    validate_config,
)


@dataclass
class ExampleConfig:
    """Example."""

    mode: str = field(default="fast", metadata={SCHEMA_TITLE: "Mode", SCHEMA_ENUM: ["fast", "slow"]})
    threshold: float = field(default=0.5, metadata={SCHEMA_MIN: 0.0, SCHEMA_MAX: 1.0})
    tags: List[str] = field(default_factory=list)  # noqa: UP006
    limit: Optional[int] = None  # noqa: UP045


def test_schema_shape():
    schema = dataclass_to_jsonschema(ExampleConfig)
    assert schema["name"] == "ExampleConfig" and schema["type"] == "object"
    props = schema["properties"]
    assert props["mode"] == {"type": "string", "title": "Mode", "enum": ["fast", "slow"], "default": "fast"}
    assert props["tags"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert props["limit"]["type"] == ["integer", "null"]
    assert list(props) == ["mode", "threshold", "tags", "limit"]


def test_defaults_and_round_trip():
    assert extract_defaults(ExampleConfig)["threshold"] == 0.5
    cfg = dict_to_config(ExampleConfig, {"mode": "slow"}, validate=True)
    assert cfg.mode == "slow"


def test_invalid_values_report_the_field():
    ok, message = validate_config(ExampleConfig(threshold=2.0))
    assert not ok and message == "threshold: 2.0 is greater than maximum 1.0"
    with pytest.raises(ValueError, match="mode: 'medium' is not one of"):
        dict_to_config(ExampleConfig, {"mode": "medium"}, validate=True)


def test_unknown_keys_are_an_error_not_dropped():
    with pytest.raises(PluginConfigError, match="colour"):
        dict_to_config(ExampleConfig, {"colour": "red"})
