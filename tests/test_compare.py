"""Detector comparison: figures of merit per kg, per nucleus, per channel, per dollar."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cevns_fit.compare import Crossover, ThresholdCurve, _crossing, summarize, threshold_crossover
from cevns_fit.detector import load_detector_model
from tests.conftest import MODELS, assert_clean_input_error

CSPBI3 = MODELS / "detectors" / "cspbi3_array.toml"
GE = MODELS / "detectors" / "ge_array.toml"
CONTRACT_KEYS = {
    "name",
    "signal_events_per_kg_yr",
    "Z_at_reference_exposure",
    "exposure_kg_yr_3sigma",
    "exposure_kg_yr_5sigma",
    "channels",
    "cost_usd",
}


def test_compare_json_has_the_contract_keys_for_every_detector(cli_json):
    out = cli_json("compare", str(CSPBI3), str(GE), "--thresholds", "", "--workers", "1")
    assert [d["name"] for d in out["detectors"]] == ["cspbi3_array", "ge_array"]
    for d in out["detectors"]:
        assert CONTRACT_KEYS <= set(d)
        assert d["cost_assumptions"]["is_assumption"] is True


def test_signal_per_kg_yr_equals_the_rate_command_at_one_kg_yr(cli_json):
    rate = cli_json("rate", str(CSPBI3), "--exposure", "1")
    summary = summarize(load_detector_model(CSPBI3), 1.0)
    assert summary.signal_events_per_kg_yr == pytest.approx(rate["signal_events"], rel=1e-9, abs=0)


def test_per_nucleus_is_per_kg_divided_by_nuclei_per_kg():
    model = load_detector_model(GE)
    s = summarize(model, 2.0)
    assert s.signal_events_per_nucleus_yr == pytest.approx(
        s.signal_events_per_kg_yr / model.target.total_nuclei_per_kg, rel=1e-12, abs=0
    )


def test_cost_is_material_per_kg_plus_electronics_per_channel():
    # cspbi3_array.toml: 10^4 sensors of 1 g, 75 $/kg (seed) and 20 $/channel (assumptions)
    s = summarize(load_detector_model(CSPBI3))
    assert s.channels == 10_000
    assert s.cost_usd == pytest.approx(75.0 * 10.0 + 20.0 * 10_000, rel=1e-6, abs=0)
    # a 1-yr run reaching 5σ: 1.0944 kg·yr (test_regression_values.py) × (75 $/kg material
    # + 20 $ × 1000 channels/kg) = 1.0944 × 20 075 $
    assert s.cost_usd_per_kg == pytest.approx(75.0 + 20.0 / 0.001, rel=1e-12, abs=0)
    assert s.cost_usd_for_5sigma_in_1yr == pytest.approx(1.094387 * 20_075.0, rel=1e-3, abs=0)


def test_three_sigma_needs_less_exposure_than_five_and_z_is_positive():
    s = summarize(load_detector_model(GE))
    assert 0 < s.exposure_kg_yr_3sigma < s.exposure_kg_yr_5sigma
    assert s.Z_at_reference_exposure > 0


def test_crossing_interpolates_log_linearly_between_grid_points():
    thr = np.array([1.0, 2.0, 3.0, 4.0])
    exposure = np.exp(thr)  # rises with threshold
    assert _crossing(thr, exposure, np.exp(2.5)) == pytest.approx(2.5, rel=1e-6, abs=0)
    assert _crossing(thr, exposure, 0.5) is None  # never wins
    assert _crossing(thr, exposure, 1e9) == 4.0  # wins over the whole grid
    # log-linear: 1 + ln(1.5)/ln(2); unreachable (NaN) points beyond do not matter
    assert _crossing(thr, np.array([1.0, 2.0, np.nan, np.nan]), 1.5) == pytest.approx(
        1 + np.log(1.5) / np.log(2), rel=1e-6, abs=0
    )


def test_crossover_per_dollar_uses_the_cost_per_kg_of_each_detector():
    # Challenger at 1 $/kg needs 1, 2, 4, 8 kg·yr at 5, 10, 15, 20 keVnr; the reference needs
    # 3 kg·yr at 2 $/kg. Per kg it wins while 2^((t−5)/5) <= 3: t = 5 + 5 log2(3) = 12.92;
    # per dollar while 2^((t−5)/5) <= 6: t = 5 + 5 log2(6) = 17.92 (log-linear between points).
    thr = np.array([5.0, 10.0, 15.0, 20.0])
    cheap = ThresholdCurve(
        "a", "nominal", None, thr, np.array([1.0, 2.0, 4.0, 8.0]), cost_usd_per_kg=1.0
    )
    reference = replace(
        summarize(load_detector_model(GE)), exposure_kg_yr_5sigma=3.0, cost_usd_per_kg=2.0
    )
    (cross,) = threshold_crossover([cheap], reference)
    assert isinstance(cross, Crossover)
    assert cross.reference_exposure_kg_yr_5sigma == 3.0
    assert cross.per_kg_threshold_keVnr == pytest.approx(5 + 5 * np.log2(3), rel=1e-9, abs=0)
    assert cross.per_dollar_threshold_keVnr == pytest.approx(5 + 5 * np.log2(6), rel=1e-9, abs=0)
    assert cross.note is None


def test_compare_command_writes_table_json_and_plots(cli_json, tmp_path):
    out = cli_json(
        "compare",
        str(CSPBI3),
        str(GE),
        "--thresholds",
        "8:20:3",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        str(tmp_path),
    )
    labels = {c["quenching_label"] for c in out["crossover"]}
    assert labels == {"nominal", "Q -1 sigma", "Q +1 sigma"}
    for name in ("compare.json", "compare.txt", "exposure_vs_threshold.png", "z_vs_exposure.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "cost" in (tmp_path / "compare.txt").read_text()


def test_compare_with_a_broken_model_file_is_a_clean_error(run_cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 'x'\n[array\n")
    assert_clean_input_error(*run_cli("compare", str(CSPBI3), str(bad)), "bad.toml")
