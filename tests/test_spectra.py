"""Measured spectra in: every documented layout reads the same counts; every malformed input is
an InputError that names the file (and the channel) — never a silently wrong number."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.spectra import data_for_channels, read_spectra, validate_counts


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_with_edges_gives_counts_and_contiguous_edges(tmp_path):
    path = write(tmp_path, "s.csv", "# a comment\nlow,high,counts\n6,8,3\n8,10,0\n10,14,7\n")
    spec = read_spectra(path)["data"]
    np.testing.assert_array_equal(spec.counts, [3, 0, 7])
    np.testing.assert_array_equal(spec.bin_edges, [6, 8, 10, 14])


def test_csv_with_centres_puts_edges_half_way(tmp_path):
    path = write(tmp_path, "s.csv", "center,counts\n7,1\n9,2\n11,3\n")
    spec = read_spectra(path)["data"]
    np.testing.assert_allclose(spec.bin_edges, [6, 8, 10, 12])


def test_multichannel_csv_and_json_layouts_agree(tmp_path):
    csv_path = write(
        tmp_path, "m.csv", "channel,low,high,counts\non,0,1,5\non,1,2,6\noff,0,1,2\noff,1,2,1\n"
    )
    layouts = {
        "channels.json": {
            "channels": [
                {"name": "on", "counts": [5, 6], "bin_edges": [0, 1, 2]},
                {"name": "off", "counts": [2, 1]},
            ]
        },
        "obs.json": {
            "observations": [{"name": "on", "data": [5, 6]}, {"name": "off", "data": [2, 1]}]
        },
        "plain.json": {"on": [5, 6], "off": [2, 1]},
    }
    expected = {name: s.counts for name, s in read_spectra(csv_path).items()}
    for fname, doc in layouts.items():
        got = read_spectra(write(tmp_path, fname, json.dumps(doc)))
        assert {k: v.counts.tolist() for k, v in got.items()} == {
            k: v.tolist() for k, v in expected.items()
        }


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "empty"),
        ("low,high,counts\n", "no bins"),
        ("low,high,counts\n0,1,-3\n", "negative"),
        ("low,high,counts\n0,1,2.5\n", "whole number"),
        ("low,high,counts\n0,1,nan\n", "not finite"),
        ("low,high,counts\n0,1,abc\n", "numbers"),
        ("low,high\n0,1\n", "counts"),
        ("low,high,counts\n0,1,3\n2,3,4\n", "contiguous"),
        ("low,high,counts\n0,1,3,4\n", "fields"),
    ],
)
def test_malformed_csv_is_an_input_error_naming_the_file(tmp_path, text, needle):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_spectra(path)
    message = str(err.value)
    assert "bad.csv" in message and needle in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "doc, needle",
    [
        ("", "empty"),
        ("{not json", "malformed JSON"),
        ('{"on": [1, NaN]}', "not finite"),
        ('{"on": [1, -1]}', "negative"),
        ('{"on": [1.5]}', "whole number"),
        ('{"on": []}', "non-empty"),
        ('{"on": ["a"]}', "numbers"),
        ('{"channels": [{"name": "on", "counts": [1, 2], "bin_edges": [0, 1]}]}', "bin edges"),
        ("[1, 2, 3]", "expected"),
    ],
)
def test_malformed_json_is_an_input_error_naming_the_file(tmp_path, doc, needle):
    path = write(tmp_path, "bad.json", doc)
    with pytest.raises(InputError) as err:
        read_spectra(path)
    assert "bad.json" in str(err.value) and needle in str(err.value)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_spectra(tmp_path / "nothing.csv")


def test_bin_count_not_matching_the_model_is_an_error(tmp_path):
    spectra = read_spectra(write(tmp_path, "d.json", '{"on": [1, 2, 3]}'))
    with pytest.raises(InputError, match="'on' has 3 bins, the model has 4"):
        data_for_channels(spectra, {"on": 4}, source="d.json")


def test_channel_names_must_match_the_model(tmp_path):
    spectra = read_spectra(write(tmp_path, "d.json", '{"on": [1, 2], "off": [1, 2]}'))
    with pytest.raises(InputError, match="no data for model channel"):
        data_for_channels(spectra, {"on": 2, "control": 2}, source="d.json")
    with pytest.raises(InputError, match="not in the model"):
        data_for_channels(spectra, {"on": 2}, source="d.json")


def test_unnamed_single_spectrum_fits_a_single_channel_model(tmp_path):
    spectra = read_spectra(write(tmp_path, "d.csv", "counts\n4\n5\n"))
    data = data_for_channels(spectra, {"beam_on": 2}, source="d.csv")
    np.testing.assert_array_equal(data["beam_on"], [4, 5])


def test_whole_numbers_stored_as_floats_are_counts():
    np.testing.assert_array_equal(validate_counts([0.0, 3.0, 1e6], source="x"), [0, 3, 1e6])
