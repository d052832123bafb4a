"""The A-beats-B map: every cell is the ratio of the two models' own exposures (per kg, per
dollar through the cost files, per nucleus through the targets), the boundary is where that
ratio crosses 1, and the map resumes from its scans."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.cli import main as cli_main
from cevns_fit.detector import load_detector_model
from cevns_fit.inference import exposure_needed
from cevns_fit.mapping import boundary
from cevns_fit.templates import build_templates

DETECTORS = Path(__file__).resolve().parents[1] / "models" / "detectors"


def test_boundary_is_the_log_linear_crossing_of_one():
    x = np.array([1.0, 2.0, 3.0])
    ratio = np.array([[0.5, 2.0, 4.0], [0.25, 0.5, 2.0], [0.1, 0.2, 0.4]])
    edge = boundary(x, np.array([10.0, 20.0, 30.0]), ratio)
    # row 0: ln 0.5 → ln 2 crosses 0 half-way; row 1: between x = 2 and 3, half-way too
    assert edge == [[1.5, 10.0], [2.5, 20.0]]  # row 2 never reaches 1


def test_map_cells_are_ratios_of_the_models_own_exposures(tmp_path, capsys):
    out = tmp_path / "map"
    args = [
        "map",
        str(DETECTORS / "cspbi3_array.toml"),
        str(DETECTORS / "ge_array.toml"),
        "--vary",
        "threshold=8,12",
        "--vary",
        "quenching=0.25,0.35",
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
        "--json",
    ]
    assert cli_main(args) == 0
    result = json.loads(capsys.readouterr().out)
    a = load_detector_model(DETECTORS / "cspbi3_array.toml")
    b = load_detector_model(DETECTORS / "ge_array.toml")
    e_b = exposure_needed(build_templates(b)).exposure_kg_yr
    for j, q in enumerate((0.25, 0.35)):
        for i, thr in enumerate((8.0, 12.0)):
            point = a.with_overrides(threshold_keVnr=thr, quenching=q)
            e_a = exposure_needed(build_templates(point)).exposure_kg_yr
            assert result["ratio"]["kg"][j][i] == pytest.approx(e_a / e_b, rel=1e-3, abs=0)
            dollar = (a.cost_usd / a.mass_kg * e_a) / (b.cost_usd / b.mass_kg * e_b)
            assert result["ratio"]["dollar"][j][i] == pytest.approx(dollar, rel=1e-3, abs=0)
            nuclei = a.target.total_nuclei_per_kg / b.target.total_nuclei_per_kg
            per_nucleus = nuclei * e_a / e_b
            assert result["ratio"]["nucleus"][j][i] == pytest.approx(per_nucleus, rel=1e-3, abs=0)
    # lower thresholds and larger Q favour the perovskite
    kg = np.array(result["ratio"]["kg"])
    assert kg[0, 0] < kg[0, 1] and kg[1, 1] < kg[0, 1]
    assert (out / "map_kg.png").stat().st_size > 0 and (out / "map.json").is_file()
    assert result["nominal_a"]["quenching"] == pytest.approx(0.30, rel=1e-12, abs=0)
    # resumed: nothing recomputed, the same answer
    lines = (out / "a.jsonl").read_text().count("\n")
    assert cli_main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert (out / "a.jsonl").read_text().count("\n") == lines
    assert again["ratio"] == result["ratio"]
    assert all(math.isfinite(v) for row in again["ratio"]["kg"] for v in row)
    # the text output shows the ratio --per asks for: per dollar, a row per quenching value
    assert cli_main([a for a in args if a != "--json"] + ["--per", "dollar"]) == 0
    text = capsys.readouterr().out
    assert "ratio per dollar" in text
    for q, row in zip((0.25, 0.35), result["ratio"]["dollar"], strict=True):
        line = next(x for x in text.splitlines() if x.split() and x.split()[0] == f"{q:g}")
        assert line.split()[1:] == [f"{v:.3g}" for v in row]  # three significant digits


def test_a_map_needs_two_different_axes(capsys):
    code = cli_main(
        [
            "map",
            str(DETECTORS / "cspbi3_array.toml"),
            str(DETECTORS / "ge_array.toml"),
            "--vary",
            "threshold=8,12",
        ]
    )
    assert code == 2
    assert "exactly two" in capsys.readouterr().err
