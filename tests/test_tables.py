"""Tabulated shapes: bin edges from centres, a piecewise-constant density integrated over any
binning, observed counts summed without splitting bins, and the rows/matrix file layouts, each
against a hand calculation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.tables import (
    Histogram,
    describe_edges,
    edges_from_centres,
    histogram_from_rows,
    overlap_matrix,
    read_matrix,
    read_table,
)

# ---- edges and overlaps ------------------------------------------------------------------------


def test_edges_lie_half_way_between_centres_and_the_outer_bins_mirror_their_neighbours():
    # centres 1, 2, 4: mid-points 1.5, 3; outer edges 1 − 0.5 = 0.5 and 4 + 1 = 5
    np.testing.assert_array_equal(
        edges_from_centres(np.array([1.0, 2.0, 4.0]), source="s"), [0.5, 1.5, 3.0, 5.0]
    )
    np.testing.assert_array_equal(
        edges_from_centres(np.array([0.0, 1.0]), source="s"), [-0.5, 0.5, 1.5]
    )


@pytest.mark.parametrize(
    ("centres", "message"),
    [
        ([3.0], "s: needs at least two bins to infer bin edges from centres"),
        ([1.0, 1.0], "s: bin centres must be finite and strictly increasing"),
        ([2.0, 1.0], "s: bin centres must be finite and strictly increasing"),
        ([1.0, np.inf], "s: bin centres must be finite and strictly increasing"),
    ],
)
def test_centres_that_give_no_edges_are_refused(centres, message):
    with pytest.raises(InputError) as info:
        edges_from_centres(np.array(centres), source="s")
    assert str(info.value) == message


def test_overlap_is_the_fraction_of_each_table_bin_inside_each_target_bin():
    # table bins [0, 2), [2, 3); target bins [1, 2.5), [2.5, 4)
    w = overlap_matrix(np.array([0.0, 2.0, 3.0]), np.array([1.0, 2.5, 4.0]))
    np.testing.assert_array_equal(w, [[0.5, 0.5], [0.0, 0.5]])
    # disjoint bins: no overlap, never negative
    np.testing.assert_array_equal(
        overlap_matrix(np.array([0.0, 1.0]), np.array([2.0, 3.0])), [[0.0]]
    )


# ---- Histogram ---------------------------------------------------------------------------------

E = np.array([0.0, 1.0, 3.0])
T = np.array([0.0, 10.0, 20.0])
P = np.array([0.0, 0.5, 1.0])
ETP = Histogram(
    ("energy", "time", "psd"),
    (E, T, P),
    np.arange(1.0, 9.0).reshape(2, 2, 2),  # [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    source="etp.csv",
)


def test_a_histogram_is_a_piecewise_constant_density_integrated_over_target_bins():
    # energy [0, 2): all of bin 0 and half of bin 1 (width 2); time [5, 20): half of bin 0 and
    # all of bin 1; psd kept as is
    out = ETP.on_bins(
        {"energy": np.array([0.0, 2.0]), "time": np.array([5.0, 20.0]), "psd": P},
        ("energy", "time", "psd"),
    )
    v = ETP.values
    by_hand_psd = [
        (v[0, 0, p] * 0.5 + v[0, 1, p]) + 0.5 * (v[1, 0, p] * 0.5 + v[1, 1, p]) for p in range(2)
    ]
    np.testing.assert_allclose(out, np.reshape(by_hand_psd, (1, 1, 2)), rtol=1e-15, atol=0)


def test_axes_left_out_of_the_order_restrict_the_range_and_are_summed():
    # psd restricted to [0.5, 1] (bin 1) and summed; result in the order (time, energy)
    out = ETP.on_bins({"energy": E, "time": T, "psd": np.array([0.5, 1.0])}, ("time", "energy"))
    np.testing.assert_array_equal(out, ETP.values[:, :, 1].T)
    assert out.shape == (2, 2)
    np.testing.assert_array_equal(
        ETP.on_bins({"energy": E, "time": T, "psd": P}, ("energy",)), [10.0, 26.0]
    )


def test_a_histogram_axis_the_analysis_lacks_or_an_analysis_axis_the_table_lacks_is_an_error():
    with pytest.raises(InputError) as info:
        ETP.on_bins({"energy": E, "time": T}, ("energy", "time"))
    assert str(info.value) == (
        "etp.csv: has axis 'psd' which the analysis does not have "
        "(analysis axes: ['energy', 'time'])"
    )
    energy_only = Histogram(("energy",), (E,), np.array([1.0, 2.0]), source="e.csv")
    with pytest.raises(InputError) as info:
        energy_only.on_bins({"energy": E, "time": T}, ("energy", "time"))
    assert str(info.value) == "e.csv: no 'time' column; give its shape separately"


def test_histogram_bookkeeping():
    assert ETP.total == 36.0 and ETP.has("psd") and not ETP.has("x")
    np.testing.assert_array_equal(ETP.edges_of("time"), T)
    np.testing.assert_array_equal(ETP.scaled(0.5).values, 0.5 * ETP.values)
    with pytest.raises(ValueError, match=r"^h: values of shape \(3,\) != \(2,\)$"):
        Histogram(("energy",), (E,), np.ones(3), source="h")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ETP.source = "other"


def test_observed_counts_are_summed_into_coarser_bins_and_outside_bins_dropped():
    counts = Histogram(
        ("energy",), (np.array([0.0, 1.0, 2.0, 3.0, 4.0]),), np.array([1.0, 2.0, 3.0, 4.0])
    )
    np.testing.assert_array_equal(
        counts.counts_on_bins({"energy": np.array([1.0, 3.0, 4.0])}, ("energy",)), [5.0, 4.0]
    )


@pytest.mark.parametrize(
    "target",
    [
        np.array([0.0, 1.5, 4.0]),  # splits the table bin [1, 2)
        np.array([0.0, 1.0, 1.5, 4.0]),  # ... into two model bins
        np.array([0.0, 4.0, 5.0]),  # model bin [4, 5) holds no table bin
    ],
)
def test_observed_counts_are_never_split_and_every_model_bin_gets_data(target):
    counts = Histogram(
        ("energy",), (np.array([0.0, 1.0, 2.0, 3.0, 4.0]),), np.ones(4), source="data.csv"
    )
    with pytest.raises(InputError) as info:
        counts.counts_on_bins({"energy": target}, ("energy",))
    assert str(info.value) == (
        "data.csv: its energy bins [0, 1, 2, 3, 4] do not line up with the model's energy bins "
        f"{describe_edges(target)}"
    )


def test_edges_are_listed_whole_up_to_five_bins_then_abbreviated():
    assert describe_edges(np.arange(6.0)) == "[0, 1, 2, 3, 4, 5]"
    assert describe_edges(np.arange(7.0)) == "[0, 1, ..., 6] (6 bins)"


# ---- files -------------------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_with_low_and_high_edges_in_any_order_fill_the_grid(tmp_path):
    path = _write(
        tmp_path,
        "# a comment line\nenergy_low, energy_high, time, rate\n"
        "1, 2, 20, 4\n0, 1, 10, 1\n0, 1, 20, 2\n1, 2, 10, 3  # trailing comment\n",
    )
    h = read_table(path)
    assert h.axes == ("energy", "time")
    np.testing.assert_array_equal(h.edges_of("energy"), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(h.edges_of("time"), [5.0, 15.0, 25.0])
    np.testing.assert_array_equal(h.values, [[1.0, 2.0], [3.0, 4.0]])
    assert h.source == f"table {path}"


def test_columns_named_in_the_model_override_the_header_and_skip_ignored_ones(tmp_path):
    path = _write(tmp_path, "e; err; n\n1; 9; 5\n2; 9; 6\n3; 9; 7\n")
    h = read_table(path, ["energy", "_", "counts"])
    np.testing.assert_array_equal(h.values, [5.0, 6.0, 7.0])
    np.testing.assert_array_equal(h.edges_of("energy"), [0.5, 1.5, 2.5, 3.5])


def test_without_column_names_two_columns_are_energy_value_and_three_energy_time_value(tmp_path):
    two = read_table(_write(tmp_path, "1 5\n2 6\n", "two.txt"))
    assert two.axes == ("energy",)
    np.testing.assert_array_equal(two.values, [5.0, 6.0])
    three = read_table(_write(tmp_path, "1,10,1\n1,20,2\n2,10,3\n2,20,4\n", "three.csv"))
    assert three.axes == ("energy", "time")
    np.testing.assert_array_equal(three.values, [[1.0, 2.0], [3.0, 4.0]])
    # a header that names no axis is not taken for column names
    other = read_table(_write(tmp_path, "x,y\n1,5\n2,6\n", "other.csv"))
    np.testing.assert_array_equal(other.values, [5.0, 6.0])


@pytest.mark.parametrize(
    ("text", "columns", "message"),
    [
        ("", None, "no data rows"),
        (
            "1,2,3,4\n",
            None,
            "4 columns and no header naming them; name the columns in the model file (columns = "
            "[...])",
        ),
        ("1,2\n2,3,4\n", None, "data row 2 has 3 columns, the model names 2 (energy, counts)"),
        ("1,2\nx,3\n", None, "line 2 is not numbers: 'x,3'"),
        ("1,2\n2,nan\n", None, "every entry must be a finite number (NaN/inf found)"),
        ("1,0\n2,-3\n", None, "value -3 in data row 2 is outside [0, inf]"),  # 0 is allowed
        ("1,5\n", None, " (energy centres): needs at least two bins to infer bin edges"),
        ("1,2,3\n2,3,4\n", ["energy", "a", "b"], "must name exactly one value column"),
        ("1,2\n2,3\n", ["time_low", "counts"], "axis 'time' must be one centre column or"),
        ("1,2\n", ["_", "counts"], "columns ['_', 'counts'] name no axis (energy, time, psd)"),
        ("1,1,5\n0,1,6\n", ["energy_low", "energy_high", "c"], "energy_high must be > energy_low"),
        (
            "0,1,5\n2,3,6\n",
            ["energy_low", "energy_high", "c"],
            "energy bins must be contiguous (each energy_low equal to the previous energy_high)",
        ),
        (
            "1,10,1\n1,20,2\n2,10,3\n2,10,4\n",
            None,
            "a bin appears twice (energy bin 1, time bin 0)",
        ),
        ("1,10,1\n1,20,2\n2,10,3\n", None, "missing bin energy [1.5, 2.5), time [15, 25)"),
    ],
)
def test_malformed_tables_say_what_is_wrong(tmp_path, text, columns, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_table(path, columns)
    assert str(info.value).startswith(f"table {path}")
    assert message in str(info.value)


def test_values_outside_the_allowed_range_are_refused(tmp_path):
    path = _write(tmp_path, "1,1.0\n2,1.5\n")  # 1.0 is inside [0, 1], 1.5 is not
    with pytest.raises(InputError, match=r"value 1.5 in data row 2 is outside \[0, 1\]"):
        read_table(path, what="efficiency", value_range=(0.0, 1.0))
    assert read_table(path, value_range=(1.0, 1.5)).total == 2.5  # both ends allowed


def test_unreadable_table_files_are_named(tmp_path):
    with pytest.raises(InputError, match=r"^psd table .*nope\.csv: file not found$"):
        read_table(tmp_path / "nope.csv", what="psd table")
    with pytest.raises(InputError, match=r"is a directory, expected a table file$"):
        read_table(tmp_path)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match=r"b\.csv: not a text file$"):
        read_table(binary)


def test_rows_from_memory_with_a_custom_value_range(tmp_path):
    h = histogram_from_rows(np.array([[1.0, 0.2], [2.0, 0.4]]), ["psd", "p"], "mem", (0.0, 1.0))
    assert h.axes == ("psd",) and h.source == "mem"


def test_a_matrix_file_is_one_line_per_first_axis_bin(tmp_path):
    path = _write(tmp_path, "# E rows, psd columns\n1 2 3\n4 5 6\n")
    h = read_matrix(path, ("energy", "psd"), (np.array([0, 1, 2]), np.array([0.0, 0.2, 0.6, 1.0])))
    np.testing.assert_array_equal(h.values, [[1, 2, 3], [4, 5, 6]])
    assert h.axes == ("energy", "psd") and h.edges[0].dtype == float
    with pytest.raises(InputError) as info:
        read_matrix(path, ("energy", "psd"), (np.array([0, 1, 2, 3]), np.array([0.0, 0.5, 1.0])))
    assert str(info.value) == (
        f"table {path}: a 3 × 2 matrix (energy × psd bins) was expected, the file holds 2 rows "
        "of up to 3 numbers"
    )
    with pytest.raises(InputError, match=r"entries must be finite and inside \[0, 5\]"):
        read_matrix(
            path,
            ("energy", "psd"),
            (np.array([0, 1, 2]), np.array([0.0, 0.2, 0.6, 1.0])),
            value_range=(0.0, 5.0),
        )
    bad = _write(tmp_path, "1 2\nx 3\n", "bad.txt")
    with pytest.raises(InputError, match=r"line 2 is not numbers: 'x 3'"):
        read_matrix(bad, ("energy", "psd"), (np.array([0, 1, 2]), np.array([0.0, 0.5, 1.0])))


def test_a_value_column_may_end_in_high_or_low_without_being_an_edge_column(tmp_path):
    # "counts_high" is not <axis>_high: it is the value column
    h = read_table(_write(tmp_path, "energy, counts_high\n1, 5\n2, 6\n"))
    assert h.axes == ("energy",)
    np.testing.assert_array_equal(h.values, [5.0, 6.0])


def test_too_many_value_columns_is_explained_in_full(tmp_path):
    path = _write(tmp_path, "1,2,3\n2,3,4\n")
    with pytest.raises(InputError) as info:
        read_table(path, ["energy", "a", "b"])
    assert str(info.value) == (
        f"table {path}: columns ['energy', 'a', 'b'] must name exactly one value column besides "
        "the axes ['energy', 'time', 'psd'] (or <axis>_low/<axis>_high); use '_' for columns to "
        "ignore"
    )


def test_an_unreadable_table_is_named_as_such(tmp_path, monkeypatch):
    path = _write(tmp_path, "1,2\n2,3\n")

    def denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_text", denied)
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(info.value) == f"table {path}: not readable (permission denied)"


def test_an_unnamed_histogram_is_called_table_in_messages():
    h = Histogram(("energy",), (E,), np.array([1.0, 2.0]))
    with pytest.raises(InputError, match=r"^table: no 'time' column"):
        h.on_bins({"energy": E}, ("energy", "time"))


@pytest.mark.parametrize("header", ["time; energy; rate", "time energy rate", "Time, Energy, Rate"])
def test_a_header_naming_the_axes_gives_their_order(tmp_path, header):
    # time first: without the header the positional guess (energy, time) would transpose it
    h = read_table(_write(tmp_path, f"{header}\n10,1,1\n10,2,2\n20,1,3\n20,2,4\n"))
    assert h.axes == ("energy", "time")
    np.testing.assert_array_equal(h.edges_of("time"), [5.0, 15.0, 25.0])
    np.testing.assert_array_equal(h.values, [[1.0, 3.0], [2.0, 4.0]])


def test_edges_written_with_rounding_noise_are_one_edge(tmp_path):
    # 1000 and 1000.0000005 are one edge (1e-9 relative); a bin edge is not split by printing
    path = _write(
        tmp_path,
        "energy_low, energy_high, time, c\n0, 1000, 1, 1\n0, 1000.0000005, 2, 2\n",
    )
    h = read_table(path)
    np.testing.assert_array_equal(h.edges_of("energy"), [0.0, 1000.0])
    np.testing.assert_array_equal(h.values, [[1.0, 2.0]])


def test_matrix_entries_and_shape_are_checked_whole(tmp_path):
    edges = (np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.2, 0.6, 1.0]))
    good = _write(tmp_path, "1 2 3\n4 5 6\n", "good.txt")
    assert read_matrix(good, ("energy", "psd"), edges, value_range=(1.0, 6.0)).total == 21.0
    nan = _write(tmp_path, "1 nan 3\n4 5 6\n", "nan.txt")
    with pytest.raises(InputError) as info:
        read_matrix(nan, ("energy", "psd"), edges)
    assert str(info.value) == f"table {nan}: entries must be finite and inside [0, inf]"
    short = _write(tmp_path, "1 2 3\n4 5\n", "short.txt")  # right number of rows, one short
    with pytest.raises(InputError, match="the file holds 2 rows of up to 3 numbers$"):
        read_matrix(short, ("energy", "psd"), edges)
    empty = _write(tmp_path, "# nothing\n", "empty.txt")
    with pytest.raises(InputError, match="the file holds 0 rows of up to 0 numbers$"):
        read_matrix(empty, ("energy", "psd"), edges)
