"""The plugins.yaml parser and the argument encoders, fuzzed with hypothesis.

Whatever the input, the parser either returns a ``PluginsFile`` or raises ``SpecError`` (never a
foreign exception); the host's argument encoder gives a JSON body or ``PathNotVisibleError``;
the worker's result encoder gives JSON or ``EncodingError``.
"""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cjm_docker.codec import EncodingError, encode
from cjm_docker.errors import PathNotVisibleError, SpecError
from cjm_docker.host.arguments import PreparedCall
from cjm_docker.spec.plugins_file import load_plugins_file

pytestmark = pytest.mark.reliability

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_KEYS = ["name", "env_name", "env_file", "python_version", "package", "interface_libs",
         "base_image", "system_packages", "resources", "env", "volumes", "network",
         "build_args", "flavor", "import_name", "samples", "ci", "memory", "cpus", "gpu",
         "pids", "source", "target", "read_only", "count", "plugins"]
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                     st.floats(allow_nan=False), st.text(max_size=20),
                     st.sampled_from(["512m", "2g", "0", "-1", "3.11", "./x", "/abs", "a-b"]))
_keys = st.one_of(st.sampled_from(_KEYS), st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_keys, inner, max_size=5)), max_leaves=20)
_entries = st.dictionaries(_keys, _values, max_size=8)
_documents = st.one_of(
    st.fixed_dictionaries({"plugins": st.lists(_entries, max_size=3)}),
    st.dictionaries(_keys, _values, max_size=4),
    _values,
)


@FUZZ
@given(doc=_documents)
def test_plugins_yaml_parser_raises_only_spec_error_on_structured_input(doc, tmp_path):
    path = tmp_path / "plugins.yaml"
    path.write_text(yaml.safe_dump(doc))
    try:
        parsed = load_plugins_file(path)
    except SpecError as exc:
        assert str(exc)
    else:
        assert len(parsed.names()) == len(parsed.plugins)


@FUZZ
@given(text=st.one_of(st.text(max_size=300),
                      st.binary(max_size=300).map(lambda b: b.decode("latin-1"))))
def test_plugins_yaml_parser_raises_only_spec_error_on_arbitrary_text(text, tmp_path):
    path = tmp_path / "plugins.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    with contextlib.suppress(SpecError):
        load_plugins_file(path)


_json_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20),
                         st.floats(allow_nan=False, allow_infinity=False))
_arguments = st.recursive(
    st.one_of(_json_leaves, st.builds(Path, st.sampled_from(
        ["/etc/hostname", "relative/file", "VISIBLE/a.txt", "VISIBLE/../escape.txt"]))),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=15)


@FUZZ
@given(args=st.lists(_arguments, max_size=3),
       kwargs=st.dictionaries(st.text(max_size=6), _arguments, max_size=3))
def test_argument_encoder_gives_json_or_path_not_visible(args, kwargs, tmp_path):
    visible = tmp_path / "visible"
    visible.mkdir(exist_ok=True)

    def place(value):
        if isinstance(value, Path) and str(value).startswith("VISIBLE"):
            return visible / str(value)[len("VISIBLE/"):]
        if isinstance(value, (list, tuple)):
            return type(value)(place(v) for v in value)
        if isinstance(value, dict):
            return {k: place(v) for k, v in value.items()}
        return value

    call = PreparedCall(tmp_path / "exchange", [visible], "fuzz")
    try:
        body = call.body(tuple(place(a) for a in args), {k: place(v) for k, v in kwargs.items()})
    except PathNotVisibleError:
        return
    text = json.dumps(body)      # every encoded body crosses the wire as JSON
    assert json.loads(text).keys() == {"args", "kwargs"}
    assert call.created == []    # only FileBackedDTO arguments create exchange files


_results = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
              st.binary(max_size=10), st.builds(object), st.sets(st.integers(), max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner),
                            st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner,
                                            max_size=4)),
    max_leaves=15)


@FUZZ
@given(value=_results)
def test_worker_result_encoder_gives_json_or_encoding_error(value):
    try:
        data = encode(value)
    except EncodingError:
        return
    decoded = json.loads(data)   # the host decodes it (NaN and Infinity included)
    if isinstance(value, float) and not math.isnan(value):
        assert decoded == value
