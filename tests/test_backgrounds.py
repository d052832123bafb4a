"""Backgrounds: normalisation factors, the model file's kinds and normalisation models, and the
binning of flat and tabulated backgrounds onto the analysis axes, against hand calculations."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.axes import PSDAxis, TimeAxis
from cevns_fit.backgrounds import BACKGROUND_KINDS, Background, default_time_shape, norm_factors
from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.tables import Histogram
from cevns_fit.templates import build_templates
from tests.conftest import write_edited_model

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


# ---- normalisation factors ---------------------------------------------------------------------


def test_linear_normalisation_factors_are_one_minus_and_plus_sigma():
    assert norm_factors(0.3, "linear") == (pytest.approx(0.7, abs=0), pytest.approx(1.3, abs=0))
    assert norm_factors(0.0, "linear") == (1.0, 1.0)  # no uncertainty is allowed, not an error


def test_lognormal_normalisation_factors_are_one_over_and_times_one_plus_sigma():
    assert norm_factors(1.0, "lognormal") == (0.5, 2.0)
    assert norm_factors(0.25, "lognormal") == (pytest.approx(0.8, abs=0), 1.25)


@pytest.mark.parametrize("sigma", [1.0, 1.5, -0.1])
def test_a_linear_normalisation_outside_0_to_1_would_go_negative_and_is_refused(sigma):
    with pytest.raises(InputError) as info:
        norm_factors(sigma, "linear")
    assert str(info.value) == (
        f"a linear normalisation uncertainty must be in [0, 1), got {sigma:g}"
    )


# ---- the model file ----------------------------------------------------------------------------

STEADY = (
    'kind = "steady_state"\n'
    "rate_per_kg_day = 10.0             # ASSUMPTION, counts / keVee / kg / day, flat\n"
    'duty_factor = "source"             # 60 Hz × 6 µs window (sns.toml) = 3.6e-4\n'
    "norm_uncertainty = 0.10 "
)


def _model(tmp_path: Path, background: str) -> Path:
    return write_edited_model(
        tmp_path, "cspbi3_array", (STEADY, background + "\n#"), filename="bkg.toml"
    )


def test_an_unknown_background_kind_is_refused_naming_the_kinds(tmp_path):
    path = _model(tmp_path, 'kind = "cosmic"\nrate_per_kg_day = 1.0')
    with pytest.raises(InputError) as info:
        load_detector_model(path)
    message = str(info.value)
    assert "'backgrounds[0].kind'" in message
    for kind in ("steady_state", "beam", "neutrino_induced", "tabulated"):
        assert kind in message


@pytest.mark.parametrize("kind", ["steady_state", "beam", "neutrino_induced", "tabulated"])
def test_every_background_kind_loads(tmp_path, kind):
    model = load_detector_model(_model(tmp_path, f'kind = "{kind}"\nrate_per_kg_day = 1.0'))
    assert model.backgrounds[0].kind == kind


def test_an_explicit_lognormal_normalisation_gives_the_lognormal_normsys(tmp_path):
    # σ = 0.5, lognormal: factors 1/1.5 and 1.5 (linear would be 0.5 and 1.5).
    path = _model(
        tmp_path,
        'kind = "steady_state"\nrate_per_kg_day = 1.0\nnorm_uncertainty = 0.5\n'
        'norm_model = "lognormal"',
    )
    bkg = load_detector_model(path).backgrounds[0]
    assert bkg.norm_sys == (pytest.approx(1 / 1.5, rel=1e-15, abs=0), 1.5)
    sample = build_templates(load_detector_model(path)).channels[0].sample("steady_state")
    assert sample.norm_sys == {"steady_state_norm": bkg.norm_sys}


def test_an_unknown_normalisation_model_is_refused_naming_both(tmp_path):
    path = _model(
        tmp_path,
        'kind = "steady_state"\nrate_per_kg_day = 1.0\nnorm_uncertainty = 0.5\n'
        'norm_model = "gaussian"',
    )
    with pytest.raises(InputError, match=re.escape("'backgrounds[0].norm_model'")) as info:
        load_detector_model(path)
    assert "linear" in str(info.value) and "lognormal" in str(info.value)


def test_beam_and_neutrino_induced_neutrons_arrive_with_the_beam_the_rest_is_flat():
    # Without a time column a background's arrival time follows its kind: prompt for the
    # beam-related and the neutrino-induced neutrons, flat for steady-state and other tables.
    shapes = {kind: default_time_shape(kind) for kind in BACKGROUND_KINDS}
    assert shapes == {
        "steady_state": "flat",
        "beam": "prompt",
        "neutrino_induced": "prompt",
        "tabulated": "flat",
    }


# ---- the Background object: defaults, binning, shapes ------------------------------------------


def test_a_bare_flat_background_is_flat_everywhere_without_uncertainty():
    bkg = Background("b", "steady_state", flat_rate=2.0)
    assert bkg.norm_sys is None and not bkg.beam_timed
    assert bkg.to_dict() == {
        "name": "b",
        "kind": "steady_state",
        "flat": True,
        "table": None,
        "table_axes": None,
        "time_shape": "flat",
        "psd_shape": "flat",
        "norm_uncertainty": 0.0,
        "norm_model": "linear",
        "constrained_by": None,
        "control_ratio": 1.0,
        "free_per_energy_bin": False,
        "apply_efficiency": True,
        "target_events": None,
        "systematics": [],
        "note": "",
    }
    # counts per kg per day in a bin: rate per keVee × bin width
    np.testing.assert_allclose(
        bkg.fine_energy_counts(np.array([0.0, 1.0, 3.0]), time_axis=None, psd_axis=None),
        [2.0, 4.0],
        rtol=1e-15,
        atol=0,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        bkg.flat_rate = 3.0


# A 2 × 2 table over energy [0, 1, 2] keVee and time [0, 5, 10] µs (counts per bin per kg·day).
E_EDGES = np.array([0.0, 1.0, 2.0])
T_EDGES = np.array([0.0, 5.0, 10.0])
ET = Histogram(("energy", "time"), (E_EDGES, T_EDGES), np.array([[1.0, 2.0], [3.0, 4.0]]))
# The same energies over psd [0, 0.5, 1].
P_EDGES = np.array([0.0, 0.5, 1.0])
EP = Histogram(("energy", "psd"), (E_EDGES, P_EDGES), np.array([[1.0, 3.0], [2.0, 2.0]]))
PROMPT = Histogram(("time",), (np.array([0.0, 1.0, 3.0]),), np.array([0.75, 0.25]), "prompt")
NUCLEAR = Histogram(("psd",), (P_EDGES,), np.array([0.2, 0.8]), "nuclear")
ELECTRON = Histogram(("psd",), (P_EDGES,), np.array([0.9, 0.1]), "electron")
PSD = PSDAxis("f90", P_EDGES, NUCLEAR, ELECTRON)


def _fine(bkg, edges=E_EDGES, **axes):
    return bkg.fine_energy_counts(
        edges, time_axis=axes.get("time_axis"), psd_axis=axes.get("psd_axis")
    )


def test_a_time_table_is_summed_over_its_own_range_or_the_stated_window():
    bkg = Background("t", "tabulated", table=ET, time_shape="flat")
    np.testing.assert_array_equal(_fine(bkg), [3.0, 7.0])  # no time axis: all times
    windowed = replace(bkg, time_window_us=(0.0, 7.5))  # half of the second time bin
    np.testing.assert_array_equal(_fine(windowed), [2.0, 5.0])
    # an analysis time axis [0, 5] µs: the table averaged over that window, reshaped later
    axis = TimeAxis(np.array([0.0, 2.5, 5.0]))
    np.testing.assert_array_equal(_fine(windowed, time_axis=axis), [1.0, 3.0])
    # its own time bins: integrated over the analysis time bins [0, 2.5, 10]
    table = replace(bkg, time_shape="table")
    np.testing.assert_array_equal(
        _fine(table, time_axis=TimeAxis(np.array([0.0, 2.5, 10.0]))), [[0.5, 2.5], [1.5, 5.5]]
    )
    # a piecewise-constant density: fine energy bins split a table bin by width
    np.testing.assert_array_equal(_fine(bkg, np.array([0.0, 0.5, 2.0])), [1.5, 8.5])


def test_a_psd_table_is_summed_over_its_range_or_the_analysis_window():
    bkg = Background("p", "tabulated", table=EP, psd_shape="flat")
    np.testing.assert_array_equal(_fine(bkg), [4.0, 4.0])  # no psd axis: all psd
    window = PSDAxis("f90", np.array([0.25, 1.0]), NUCLEAR)  # a psd cut keeps [0.25, 1]
    np.testing.assert_array_equal(_fine(bkg, psd_axis=window), [3.5, 3.0])
    np.testing.assert_array_equal(_fine(bkg, psd_axis=PSD), [4.0, 4.0])  # the axis' full range
    table = replace(bkg, psd_shape="table")
    np.testing.assert_array_equal(
        _fine(table, psd_axis=PSDAxis("f90", np.array([0.0, 0.25, 1.0]), NUCLEAR)),
        [[0.5, 3.5], [1.0, 3.0]],
    )


def test_spread_in_time_follows_the_shape_and_the_timing_efficiency():
    counts = np.array([2.0, 4.0])
    t = np.array([0.0, 1.0, 3.0])
    half = TimeAxis(t, efficiency_x_us=np.array([0.0, 3.0]), efficiency_values=np.array([0.5, 0.5]))
    flat = Background("f", "steady_state", flat_rate=1.0)
    expected_flat = counts[:, None] * np.array([1.0, 2.0]) / 3.0  # ∝ bin width
    np.testing.assert_allclose(
        flat.spread(counts, E_EDGES, time_axis=TimeAxis(t), psd_axis=None),
        expected_flat,
        rtol=1e-15,
        atol=0,
    )
    np.testing.assert_allclose(
        flat.spread(counts, E_EDGES, time_axis=half, psd_axis=None),
        0.5 * expected_flat,
        rtol=1e-15,
        atol=0,
    )
    no_eff = replace(flat, apply_efficiency=False)
    np.testing.assert_allclose(
        no_eff.spread(counts, E_EDGES, time_axis=half, psd_axis=None),
        expected_flat,
        rtol=1e-15,
        atol=0,
    )
    # prompt: the axis' arrival table for that class; a tabulated shape: that table
    prompt_axis = replace(half, signal_pdfs={"prompt": PROMPT})
    prompt = Background("n", "beam", flat_rate=1.0, time_shape="prompt")
    own = Background("n", "beam", flat_rate=1.0, time_shape=PROMPT)
    for bkg in (prompt, own):
        assert bkg.beam_timed
        np.testing.assert_allclose(
            bkg.spread(counts, E_EDGES, time_axis=prompt_axis, psd_axis=None),
            0.5 * counts[:, None] * np.array([0.75, 0.25]),
            rtol=1e-15,
            atol=0,
        )
    # the table's own time bins: only the timing efficiency acts
    table = Background("t", "tabulated", table=ET, time_shape="table")
    own_bins = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_allclose(
        table.spread(own_bins, E_EDGES, time_axis=half, psd_axis=None),
        0.5 * own_bins,
        rtol=1e-15,
        atol=0,
    )


def test_spread_in_psd_follows_the_recoil_type_and_keeps_the_time_axis():
    counts = np.array([2.0, 4.0])
    expected = {
        "flat": [0.5, 0.5],
        "nuclear": [0.2, 0.8],
        "electron": [0.9, 0.1],
    }
    for shape, probs in expected.items():
        bkg = Background("b", "steady_state", flat_rate=1.0, psd_shape=shape)
        np.testing.assert_allclose(
            bkg.spread(counts, E_EDGES, time_axis=None, psd_axis=PSD),
            counts[:, None] * np.array(probs)[None, :],
            rtol=1e-15,
            atol=0,
            err_msg=shape,
        )
    three = np.array([1.0, 2.0, 3.0])  # one flat row per energy bin, however many
    flat = Background("b", "steady_state", flat_rate=1.0, psd_shape="flat")
    np.testing.assert_allclose(
        flat.spread(three, np.arange(4.0), time_axis=None, psd_axis=PSD),
        three[:, None] * np.array([[0.5, 0.5]]),
        rtol=1e-15,
        atol=0,
    )
    own = Background("b", "steady_state", flat_rate=1.0, psd_shape=ELECTRON)
    np.testing.assert_allclose(
        own.spread(counts, E_EDGES, time_axis=None, psd_axis=PSD),
        counts[:, None] * np.array([0.9, 0.1])[None, :],
        rtol=1e-15,
        atol=0,
    )
    # energy × time × psd: the product of the three factors
    both = Background("b", "steady_state", flat_rate=1.0, psd_shape="nuclear")
    out = both.spread(counts, E_EDGES, time_axis=TimeAxis(np.array([0.0, 1.0, 3.0])), psd_axis=PSD)
    by_hand = np.einsum("e,t,p->etp", counts, [1 / 3, 2 / 3], [0.2, 0.8])
    np.testing.assert_allclose(out, by_hand, rtol=1e-15, atol=0)
    # a psd table: its own psd bins, nothing more
    table = Background("p", "tabulated", table=EP, psd_shape="table")
    own_bins = np.array([[1.0, 3.0], [2.0, 2.0]])
    np.testing.assert_array_equal(
        table.spread(own_bins, E_EDGES, time_axis=None, psd_axis=PSD), own_bins
    )


def test_scaling_a_table_background_scales_its_systematics_and_target_too():
    soft = ET.scaled(0.5)
    bkg = Background(
        "t", "tabulated", table=ET, target_events=4.0, systematics={"shape": (soft, ET)}
    )
    doubled = bkg.scaled(2.0)
    np.testing.assert_array_equal(doubled.table.values, 2 * ET.values)
    lo, hi = doubled.systematics["shape"]
    np.testing.assert_array_equal(lo.values, ET.values)
    np.testing.assert_array_equal(hi.values, 2 * ET.values)
    assert doubled.target_events == 8.0
    assert bkg.scaled(2.0).to_dict()["systematics"] == ["shape"]
    assert Background("f", "steady_state", flat_rate=3.0).scaled(2.0).flat_rate == 6.0
    # a replaced table drops the systematics, which were tables of the old one
    assert bkg.with_table(soft).systematics == {} and bkg.with_table(soft).table is soft
    assert replace(bkg, target_events=None).scaled(2.0).target_events is None


def test_density_is_only_defined_for_a_flat_background():
    np.testing.assert_array_equal(Background("f", "beam", flat_rate=3.0).density, [3.0])
    with pytest.raises(AttributeError, match="^background 't' is tabulated, not flat$"):
        _ = Background("t", "tabulated", table=ET).density


def test_normalisation_uncertainty_and_constraint_exclude_each_other():
    bkg = Background("b", "steady_state", flat_rate=1.0, norm_uncertainty=0.2)
    assert bkg.norm_sys == (pytest.approx(0.8, abs=0), pytest.approx(1.2, abs=0))
    assert replace(bkg, constrained_by="control").norm_sys is None
    log = replace(bkg, norm_model="lognormal")
    assert log.norm_sys == (pytest.approx(1 / 1.2, abs=0), pytest.approx(1.2, abs=0))


def test_a_table_background_describes_its_table_and_shapes_by_their_source():
    bkg = Background("t", "beam", table=EP, time_shape=PROMPT, psd_shape="table")
    d = bkg.to_dict()
    assert (d["flat"], d["table"], d["table_axes"]) == (False, "table", ["energy", "psd"])
    assert (d["time_shape"], d["psd_shape"]) == ("prompt", "table")
    assert not Background("b", "beam", flat_rate=1.0, time_shape="flat").beam_timed
    assert Background("b", "beam", flat_rate=1.0, time_shape="delayed").beam_timed


def test_a_table_with_one_of_time_and_psd_is_completed_along_the_other():
    # energy × psd table, flat in time over three bins of 1, 2, 3 µs: × [1, 2, 3]/6 per bin
    ep = Background("p", "tabulated", table=EP, psd_shape="table")
    own_ep = np.array([[1.0, 3.0], [2.0, 2.0]])
    out = ep.spread(
        own_ep, E_EDGES, time_axis=TimeAxis(np.array([0.0, 1.0, 3.0, 6.0])), psd_axis=PSD
    )
    np.testing.assert_allclose(
        out, np.einsum("ep,t->etp", own_ep, np.array([1.0, 2.0, 3.0]) / 6.0), rtol=1e-15, atol=0
    )
    # energy × time table, nuclear-recoil psd: × [0.2, 0.8]
    et = Background("t", "tabulated", table=ET, time_shape="table", psd_shape="nuclear")
    own_et = np.array([[1.0, 2.0], [3.0, 4.0]])
    out = et.spread(own_et, E_EDGES, time_axis=TimeAxis(T_EDGES), psd_axis=PSD)
    np.testing.assert_allclose(out, np.einsum("et,p->etp", own_et, [0.2, 0.8]), rtol=1e-15, atol=0)
