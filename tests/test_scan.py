"""Scans: grids, streaming to JSON lines, resuming, executors, and agreement with single runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cevns_fit.scan as scan_module
from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.inference import expected_significance, exposure_needed
from cevns_fit.scan import Axis, grid_points, parse_vary, point_key, run_scan
from cevns_fit.templates import build_templates
from tests.conftest import MODELS, assert_clean_input_error

CSPBI3 = MODELS / "detectors" / "cspbi3_array.toml"


@pytest.fixture
def counted(monkeypatch):
    """Count evaluate_point calls (in-process executor) to prove resumed points are not rerun."""
    calls: list[dict] = []
    original = scan_module.evaluate_point

    def counting(model_path, point, sigmas=(3.0, 5.0)):
        calls.append(dict(point))
        return original(model_path, point, sigmas)

    monkeypatch.setattr(scan_module, "evaluate_point", counting)
    return calls


def test_vary_parses_linear_grids_and_lists():
    assert parse_vary("threshold=2:20:10").values[1] == pytest.approx(4.0, rel=1e-6, abs=0)
    assert parse_vary("quenching=0.2,0.3").values == (0.2, 0.3)


@pytest.mark.parametrize(
    "text", ["thresh=1:2:3", "threshold", "mass=1:x:3", "mass=-1,2", "exposure=0:1:3"]
)
def test_bad_vary_is_an_input_error(text):
    with pytest.raises(InputError, match="--vary"):
        parse_vary(text)


def test_grid_is_the_cartesian_product_in_the_order_given():
    points = grid_points([Axis("threshold", (1.0, 2.0)), Axis("exposure", (1.0, 10.0, 100.0))])
    assert len(points) == 6
    assert points[1] == {"threshold": 1.0, "exposure": 10.0}


def test_point_key_is_insensitive_to_order_and_round_off():
    assert point_key({"a": 0.1 + 0.2, "b": 1.0}) == point_key({"b": 1.0, "a": 0.3})


def test_resumed_scan_gives_identical_results_without_recomputing(tmp_path, counted):
    out = tmp_path / "scan.jsonl"
    axes = [Axis("threshold", (10.0, 14.0)), Axis("exposure", (0.5, 2.0))]
    first = run_scan(
        CSPBI3, axes[:1] + [Axis("exposure", (0.5,))], out=out, workers=1, progress=False
    )
    assert first.computed == 2 and len(counted) == 2
    counted.clear()
    full = run_scan(CSPBI3, axes, out=out, workers=1, progress=False)
    assert full.resumed == 2 and full.computed == 2
    assert sorted(c["exposure"] for c in counted) == [2.0, 2.0]  # only the new points ran
    for old in first.points:
        again = next(p for p in full.points if p["key"] == old["key"])
        assert again == old
    counted.clear()
    rerun = run_scan(CSPBI3, axes, out=out, workers=1, progress=False)
    assert rerun.computed == 0 and counted == []
    assert [p["Z_expected"] for p in rerun.points] == [p["Z_expected"] for p in full.points]


def test_torn_last_line_of_an_interrupted_scan_is_recomputed(tmp_path, counted):
    out = tmp_path / "scan.jsonl"
    axes = [Axis("threshold", (10.0, 14.0, 18.0))]
    run_scan(CSPBI3, axes, out=out, workers=1, progress=False)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:2]) + "\n" + lines[2][: len(lines[2]) // 2])  # killed mid-write
    counted.clear()
    resumed = run_scan(CSPBI3, axes, out=out, workers=1, progress=False)
    assert resumed.computed == 1 and len(counted) == 1
    assert all("Z_expected" in p for p in resumed.points)


def test_scan_point_equals_the_single_run():
    model = load_detector_model(CSPBI3).with_overrides(threshold_keVnr=12.0)
    point = scan_module.evaluate_point(str(CSPBI3), {"threshold": 12.0, "exposure": 3.0})
    templates = build_templates(model.with_overrides(exposure_kg_yr=3.0))
    z_single = expected_significance(templates).Z_expected
    assert point["Z_expected"] == pytest.approx(z_single, rel=1e-9, abs=0)
    # the exposure needed is a property of the configuration, not of the point's exposure
    solved = exposure_needed(build_templates(model), sigma=5.0).exposure_kg_yr
    assert point["exposure_kg_yr_5sigma"] == pytest.approx(solved, rel=1e-12, abs=0)
    assert exposure_needed(templates, sigma=5.0).exposure_kg_yr == pytest.approx(
        solved, rel=1e-3, abs=0
    )
    # the grid value and the exposure needed never share a name (issue 15)
    assert point["exposure"] == 3.0 and "exposure_kg_yr" not in point


def test_exposure_scan_point_matches_the_significance_command(cli_json):
    point = scan_module.evaluate_point(str(CSPBI3), {"exposure": 2.5})
    single = cli_json("significance", str(CSPBI3), "--exposure", "2.5")
    assert point["Z_expected"] == pytest.approx(single["Z_expected"], rel=1e-6, abs=0)


def test_significance_falls_as_the_threshold_rises():
    result = run_scan(
        CSPBI3, [Axis("threshold", (6.0, 10.0, 14.0, 18.0, 22.0, 26.0))], workers=1, progress=False
    )
    z = np.array([p["Z_expected"] for p in result.points])
    assert np.all(np.diff(z) < 0)
    five = np.array([p["exposure_kg_yr_5sigma"] for p in result.points])
    assert np.all(np.diff(five) > 0)


def test_quenching_scan_moves_the_signal_with_the_observable_cut_fixed():
    lo = scan_module.evaluate_point(str(CSPBI3), {"quenching": 0.2})
    hi = scan_module.evaluate_point(str(CSPBI3), {"quenching": 0.4})
    # a larger quenching factor lifts more recoils above the fixed keVee threshold
    assert hi["signal_events"] > lo["signal_events"]
    assert hi["Z_expected"] > lo["Z_expected"]


def test_background_and_mass_scans_behave_as_physics_says():
    base = scan_module.evaluate_point(str(CSPBI3), {"background": 1.0})
    more_bkg = scan_module.evaluate_point(str(CSPBI3), {"background": 4.0})
    assert more_bkg["background_events"] == pytest.approx(
        4.0 * base["background_events"], rel=1e-9, abs=0
    )
    assert more_bkg["Z_expected"] < base["Z_expected"]
    heavy = scan_module.evaluate_point(str(CSPBI3), {"mass": 20.0})
    assert heavy["signal_events"] == pytest.approx(2.0 * base["signal_events"], rel=1e-9, abs=0)


@pytest.mark.slow
def test_local_processes_and_dask_executors_agree(tmp_path):
    axes = [Axis("threshold", (10.0, 16.0))]
    local = run_scan(CSPBI3, axes, workers=2, progress=False)
    dask = run_scan(CSPBI3, axes, executor="dask", workers=1, progress=False)
    for a, b in zip(local.points, dask.points, strict=True):
        assert a["Z_expected"] == pytest.approx(b["Z_expected"], rel=1e-12, abs=0)
        assert a["exposure_kg_yr_5sigma"] == pytest.approx(
            b["exposure_kg_yr_5sigma"], rel=1e-12, abs=0
        )


def test_scan_command_streams_json_lines_and_prints_points(tmp_path, cli_json):
    out = tmp_path / "s.jsonl"
    result = cli_json(
        "scan",
        str(CSPBI3),
        "--vary",
        "threshold=10:14:2",
        "--workers",
        "1",
        "--out",
        str(out),
        "--no-progress",
    )
    assert [p["threshold"] for p in result["points"]] == [10.0, 14.0]
    expected = {"Z_expected", "p0_expected", "exposure_kg_yr_3sigma", "exposure_kg_yr_5sigma"}
    assert expected <= set(result["points"][0])
    assert len(out.read_text().splitlines()) == 2
    assert all("key" in json.loads(line) for line in out.read_text().splitlines())


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--vary", "bogus=1:2:2"), "--vary"),
        (("--vary", "threshold=1:2:2", "--executor", "mpi"), "executor"),
    ],
)
def test_scan_bad_input_exits_2(run_cli, args, needle):
    code, out, err = run_cli("scan", str(CSPBI3), *args)
    assert code == 2 and "Traceback" not in err and needle in err


def test_scan_of_a_missing_model_is_a_clean_error(run_cli, tmp_path):
    assert_clean_input_error(
        *run_cli("scan", str(tmp_path / "nope.toml"), "--vary", "threshold=1,2"), "nope.toml"
    )


def test_resuming_from_another_models_results_is_refused(tmp_path):
    out = tmp_path / "scan.jsonl"
    ge = MODELS / "detectors" / "ge_array.toml"
    run_scan(ge, [Axis("background", (1.0,))], out=out, workers=1, progress=False)
    with pytest.raises(InputError, match="another model"):
        run_scan(CSPBI3, [Axis("background", (1.0,))], out=out, workers=1, progress=False)
    with pytest.raises(InputError, match="another model"):  # other significances asked for
        run_scan(
            ge, [Axis("background", (1.0,))], out=out, workers=1, sigmas=(4.0,), progress=False
        )


def test_a_non_finite_value_is_written_as_null_not_a_crash():
    assert scan_module._finite_or_none({"a": float("nan"), "b": [np.float64(np.inf), 1.0]}) == {
        "a": None,
        "b": [None, 1.0],
    }


def test_lowering_the_threshold_below_the_analysis_range_extends_it():
    # cspbi3_array bins start at 2 keVee ≈ 6.7 keVnr at Q = 0.3: lower thresholds must still count
    model = load_detector_model(CSPBI3)
    signal = [
        build_templates(model.with_overrides(threshold_keVnr=t)).signal_total
        for t in (2.0, 4.0, 6.0)
    ]
    assert signal[0] > signal[1] > signal[2]
    assert build_templates(model.with_overrides(threshold_keVnr=2.0)).channels[0].bin_edges[0] < 2.0


def test_quenching_sigma_moves_the_models_own_quenching_by_its_uncertainty():
    from dataclasses import replace

    ge = MODELS / "detectors" / "ge_array.toml"
    model = load_detector_model(ge)
    point = scan_module.evaluate_point(str(ge), {"quenching_sigma": 1.0})
    lindhard_up = replace(model, quenching=model.quenching.varied(1.0))  # k + σ_k
    assert point["signal_events"] == pytest.approx(
        build_templates(lindhard_up).signal_total, rel=1e-12, abs=0
    )
    # for a constant Q = 0.30 ± 0.10, −1σ is Q = 0.20
    low = scan_module.evaluate_point(str(CSPBI3), {"quenching_sigma": -1.0})
    q020 = scan_module.evaluate_point(str(CSPBI3), {"quenching": 0.2})
    assert low["signal_events"] == pytest.approx(q020["signal_events"], rel=1e-12, abs=0)


def test_points_go_to_workers_in_chunks_that_keep_every_worker_busy():
    """A task carries several points (one round trip each, not one per point) but each worker
    still gets several tasks; chunks keep every point once, in grid order."""
    from cevns_fit.executors import apply_chunk, chunk_size, chunked

    assert chunk_size(2000, 2) == 16  # capped: results stream out in small steps
    assert chunk_size(100, 2) == 12  # ~4 tasks per worker
    assert chunk_size(4, 2) == 1  # tiny grids: one point per task, both workers busy
    points = [{"x": float(i)} for i in range(10)]
    chunks = list(chunked(iter(points), 4))
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert [p for c in chunks for p in c] == points
    assert apply_chunk(lambda p: {"y": 2 * p["x"]}, chunks[-1]) == [{"y": 16.0}, {"y": 18.0}]


def test_a_batch_of_scans_on_one_pool_equals_the_scans_run_alone(tmp_path, monkeypatch):
    """run_scans (the map's and compare's two models) starts one pool for all scans, and
    each scan's records, results file and resuming are those of the scan run alone."""
    import cevns_fit.executors as executors
    from cevns_fit.scan import run_scans

    ge = MODELS / "detectors" / "ge_array.toml"
    axes = [Axis("threshold", (10.0, 16.0, 22.0))]
    pools = []
    original = executors.iter_local

    def counting(*args, **kwargs):
        pools.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(scan_module, "iter_local", counting)
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a, b = run_scans([(CSPBI3, axes, out_a), (ge, axes, out_b)], workers=2, progress=False)
    assert len(pools) == 1
    alone_a = run_scan(CSPBI3, axes, workers=1, progress=False)
    alone_b = run_scan(ge, axes, workers=1, progress=False)
    for batch, alone in ((a, alone_a), (b, alone_b)):
        assert batch.computed == 3 and batch.model == alone.model
        for p, q in zip(batch.points, alone.points, strict=True):
            assert p["threshold"] == q["threshold"]
            assert p["Z_expected"] == pytest.approx(q["Z_expected"], rel=1e-12, abs=0)
            assert p["exposure_kg_yr_5sigma"] == pytest.approx(
                q["exposure_kg_yr_5sigma"], rel=1e-12, abs=0
            )
    assert len(out_a.read_text().splitlines()) == len(out_b.read_text().splitlines()) == 3
    again = run_scans([(CSPBI3, axes, out_a), (ge, axes, out_b)], workers=2, progress=False)
    assert [s.resumed for s in again] == [3, 3] and [s.computed for s in again] == [0, 0]
