"""Property tests (hypothesis): the TOML, CSV and JSON loaders, fed random structure, either
return a value or raise :class:`InputError` — never another exception (which the CLI would
turn into a bug report instead of a one-line error naming the file)."""

from __future__ import annotations

import json
import math
import os
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cevns_fit.errors import InputError
from tests.test_bad_input_corpus import SMALL_MODEL

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters='"\\'), max_size=12
)
scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    text,
)
values = st.one_of(scalars, st.lists(scalars, max_size=4))


# ------------------------------------------------------------------------ a tiny TOML writer
def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(value)


def _toml(data: dict) -> str:
    """TOML for a dict of scalars, lists of scalars, tables and arrays of tables."""
    lines = []
    tables = []
    for key, value in data.items():
        if isinstance(value, dict) or (
            isinstance(value, list) and value and all(isinstance(v, dict) for v in value)
        ):
            tables.append((key, value))
        else:
            lines.append(f"{json.dumps(key)} = {_toml_value(value)}")
    for key, value in tables:
        for table in value if isinstance(value, list) else [value]:
            header = f"[[{json.dumps(key)}]]" if isinstance(value, list) else f"[{json.dumps(key)}]"
            lines.append(header)
            for k, v in table.items():
                if isinstance(v, dict):
                    v = str(v)  # one level of nesting is enough to shake the validators
                lines.append(f"{json.dumps(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


BASE = tomllib.loads(SMALL_MODEL)


@st.composite
def mutated_models(draw) -> dict:
    """The small valid model with a few random edits: values replaced by random ones, keys
    deleted, unknown keys added, tables replaced by scalars."""
    model = json.loads(json.dumps(BASE))  # a deep copy
    for _ in range(draw(st.integers(1, 4))):
        table_name = draw(
            st.sampled_from([None, *[k for k, v in model.items() if isinstance(v, dict)]])
        )
        table = model if table_name is None else model[table_name]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        keys = [k for k in table if not isinstance(table[k], dict | list) or table is not model]
        if action == "add" or not keys:
            table[draw(text)] = draw(values)
        elif action == "delete":
            del table[draw(st.sampled_from(keys))]
        else:
            table[draw(st.sampled_from(keys))] = draw(values)
    return model


def test_the_toml_writer_round_trips_the_base_model():
    assert tomllib.loads(_toml(BASE)) == BASE


@FUZZ
@given(model=mutated_models())
def test_detector_model_loader_returns_or_raises_input_error(tmp_path, model):
    from cevns_fit.detector import load_detector_model

    path = tmp_path / "fuzz.toml"
    path.write_text(_toml(model), encoding="utf-8")
    try:
        load_detector_model(path)
    except InputError as exc:
        assert "\n" not in str(exc)


# --------------------------------------------------------------------------------- CSV
cells = st.one_of(
    st.integers(-5, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "channel", "low", "high", "counts", "center", "on", "nan", "#", "x"]),
)
csv_text = st.lists(st.lists(cells, min_size=0, max_size=5).map(",".join), max_size=8).map(
    "\n".join
)


@FUZZ
@given(content=csv_text)
def test_spectrum_csv_loader_returns_or_raises_input_error(tmp_path, content):
    from cevns_fit.spectra import read_spectra

    path = tmp_path / "fuzz.csv"
    path.write_text(content, encoding="utf-8")
    try:
        read_spectra(path)
    except InputError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(content=csv_text)
def test_source_spectrum_csv_loader_returns_or_raises_input_error(tmp_path, content):
    from cevns_fit.sources import load_spectrum_csv

    path = tmp_path / "fuzz.csv"
    path.write_text(content, encoding="utf-8")
    try:
        load_spectrum_csv(path)
    except InputError:
        pass


# --------------------------------------------------------------------------------- JSON
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(), text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "on",
                    "control",
                    "channels",
                    "counts",
                    "name",
                    "bin_edges",
                    "data",
                    "observations",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


@FUZZ
@given(content=json_values)
def test_spectrum_json_loader_returns_or_raises_input_error(tmp_path, content):
    from cevns_fit.spectra import read_spectra

    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    try:
        read_spectra(path)
    except InputError as exc:
        assert "\n" not in str(exc)


workspace_like = st.fixed_dictionaries(
    {},
    optional={
        "version": st.sampled_from(["1.0.0", "2", 3]),
        "channels": json_values,
        "observations": json_values,
        "measurements": json_values,
    },
)


@FUZZ
@given(content=st.one_of(json_values, workspace_like))
def test_workspace_reader_returns_or_raises_input_error(tmp_path, content):
    from cevns_fit.cli.fit import _read_workspace

    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(InputError):
        _read_workspace(path)  # none of these is a valid workspace
