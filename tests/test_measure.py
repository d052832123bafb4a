"""Physics parameters in the model file and their profile-likelihood measurement (issue 13).

Specifications: the default physics reproduces today's templates; physics nuisances are the
templates rebuilt exactly at ±1σ; an Asimov scan is centred on the truth with the width the
Fisher information predicts; Wilks' 68 % interval covers in pseudo-experiments; the fast path
agrees with plain pyhf; the CLI rejects bad input with exit 2.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.detector import load_detector_model
from cevns_fit.errors import InputError
from cevns_fit.measure import (
    POI,
    analyse_curve,
    measure,
    model_at,
    parse_poi,
    prepare_scan,
    profile_scan,
    toy_check,
)
from cevns_fit.templates import build_templates

from .conftest import MODELS, assert_clean_input_error

# A small germanium model: SNS flux, 5 kg·yr, 2 keVee bins, flat background, flux normsys,
# Lindhard k with 1σ, threshold 1σ: few bins so that hundreds of toy scans stay fast.
SMALL = """
name = "small_ge"
target = "Ge"
[source]
file = "{source}"
flux_uncertainty = 0.10
[array]
n_sensors = 1
sensor_mass_kg = 5.0
live_time_yr = 1.0
[quenching]
model = "lindhard"
k = 0.157
sigma_k = 0.02
[resolution]
model = "gaussian"
sigma0_keVee = 0.15
[efficiency]
model = "erf"
threshold = 1.5
width = 0.15
threshold_sigma = 0.1
[analysis]
observable = "keVee"
bin_min = 1.0
bin_max = 13.0
bin_width = 2.0
true_bins = 120
[[backgrounds]]
name = "steady_state"
kind = "steady_state"
rate_per_kg_day = 10.0
duty_factor = "source"
norm_uncertainty = 0.10
{extra}
"""


def _small(tmp_path: Path, extra: str = "", name: str = "small.toml") -> Path:
    path = tmp_path / name
    source = (MODELS / "sources" / "sns.toml").as_posix()
    path.write_text(SMALL.format(source=source, extra=extra), encoding="utf-8")
    return path


def _all_counts(templates) -> list[np.ndarray]:
    out = []
    for ch in templates.channels:
        for s in ch.samples:
            out.append(s.counts)
            for lo, hi in s.shape_sys.values():
                out.extend([lo, hi])
    return out


def _assert_same(a, b, rel=1e-12):
    ca, cb = _all_counts(a), _all_counts(b)
    assert len(ca) == len(cb)
    for x, y in zip(ca, cb, strict=True):
        scale = np.maximum(np.abs(y), 1e-300)
        assert np.all(np.abs(x - y) <= rel * scale), np.max(np.abs(x - y) / scale)


# --------------------------------------------------------------------- [physics] in the model
@pytest.mark.parametrize("name", ["coherent_csi_2017", "ge_array"])
def test_default_physics_reproduces_todays_templates(name):
    """No [physics]: exactly the templates of the cross-section without physics parameters
    (physics=None, the code path before issue 13)."""
    model = load_detector_model(MODELS / "detectors" / f"{name}.toml")
    _assert_same(build_templates(model), build_templates(replace(model, physics=None)))


def test_explicit_default_physics_table_changes_nothing(tmp_path):
    plain = load_detector_model(_small(tmp_path))
    explicit = load_detector_model(
        _small(tmp_path, "[physics]\nsin2_theta_w = 0.23857\neps_u_ee = 0.0\n", "b.toml")
    )
    _assert_same(build_templates(explicit), build_templates(plain))


def test_physics_nuisance_templates_are_exact_at_one_sigma(tmp_path):
    extra = (
        "[physics]\nnucleon_form_factors = true\nneutron_rms_radius_fm = {Ge = 4.1}\n"
        '[physics.nuisances]\n"neutron_rms_radius_fm.Ge" = 0.3\nsin2_theta_w = 0.01\n'
    )
    model = load_detector_model(_small(tmp_path, extra))
    cevns = build_templates(model).channels[0].sample("cevns")
    for name, key, central, sigma in [
        ("neutron_rms_radius_fm.Ge", "physics_neutron_rms_radius_fm_Ge", 4.1, 0.3),
        ("sin2_theta_w", "physics_sin2_theta_w", 0.23857, 0.01),
    ]:
        assert key in cevns.shape_sys
        for side, value in zip(
            cevns.shape_sys[key], (central - sigma, central + sigma), strict=True
        ):
            other = replace(
                model, physics=model.physics.with_value(name, value), physics_nuisances=()
            )
            expect = build_templates(other).channels[0].sample("cevns").counts
            np.testing.assert_allclose(side, expect, rtol=1e-12, atol=0)
        lo, hi = cevns.shape_sys[key]
        assert not np.allclose(lo, hi, rtol=1e-3, atol=0)  # the parameter does move the rate


@pytest.mark.parametrize(
    "extra, needle",
    [
        ("[physics]\nsin2_theta = 0.2\n", "sin2_theta"),
        ("[physics]\nsin2_theta_w = 1.5\n", "sin2_theta_w"),
        ('[physics.nuisances]\n"neutron_rms_radius_fm.Cs,I" = 0.2\n', "central value"),
        ("[physics.nuisances]\nsin2_theta_w = -0.01\n", "> 0"),
        ("[physics.nuisances]\nfoo = 0.1\n", "foo"),
    ],
)
def test_bad_physics_table_is_an_input_error(tmp_path, extra, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(")):
        load_detector_model(_small(tmp_path, extra))


# --------------------------------------------------------------------- the scan
@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    return load_detector_model(_small(tmp_path_factory.mktemp("small")))


def _fisher_sigma(model, name: str, h: float) -> float:
    """sqrt((F⁻¹)_θθ) of the Asimov likelihood: F = Σ_b ∂λ∂λ/λ + diag(1/σ²) over (θ and the
    nuisances), ∂λ/∂θ by central differences of templates rebuilt at θ ± h."""
    setup = prepare_scan(model, expected=True)
    theta = model.physics.value(name)
    fm = setup.fast_model({name: theta})
    pars = fm.nominal_pars(mu=1.0)
    lam, jac = fm.jacobian(pars)
    up = setup.fast_model({name: theta + h}).expected_main(pars)
    down = setup.fast_model({name: theta - h}).expected_main(pars)
    free = ~fm.fixed.copy()
    free[fm.poi_index] = False
    d = np.vstack([(up - down) / (2 * h), jac[free]])
    fisher = (d / lam) @ d.T
    sig = fm.aux_sigma[free]
    fisher[1:, 1:] += np.diag(np.where(np.isfinite(sig), 1.0 / sig**2, 0.0))
    return math.sqrt(np.linalg.inv(fisher)[0, 0])


def test_asimov_scan_is_centred_on_truth_with_fisher_width(small_model):
    truth = small_model.physics.sin2_theta_w
    sigma = _fisher_sigma(small_model, "sin2_theta_w", 1e-3)
    grid = (POI("sin2_theta_w", np.linspace(truth - 3 * sigma, truth + 3.2 * sigma, 25)),)
    result = measure(small_model, grid, expected=True)
    assert abs(result["best_fit"] - truth) < 0.02 * sigma
    assert 0 <= result["delta_chi2_at_model_value"] < 1e-3  # the truth is the model's value
    ((lo, hi),) = result["intervals"][0]["segments"]
    assert 0.5 * (hi - lo) == pytest.approx(sigma, rel=0.05, abs=0)
    # the 95 % interval is the ±1.96σ one
    ((lo95, hi95),) = result["intervals"][2]["segments"]
    assert 0.5 * (hi95 - lo95) == pytest.approx(1.96 * sigma, rel=0.05, abs=0)


def test_asimov_quenching_scan_is_centred_on_the_model_value(tmp_path):
    path = (
        _small(tmp_path)
        .read_text()
        .replace(
            'model = "lindhard"\nk = 0.157\nsigma_k = 0.02', 'model = "constant"\nvalue = 0.25'
        )
    )
    (tmp_path / "q.toml").write_text(path)
    model = load_detector_model(tmp_path / "q.toml")
    result = measure(model, parse_poi("quenching=0.18:0.32:15"), expected=True)
    assert result["best_fit"] == pytest.approx(0.25, abs=0.002)
    assert result["standard_model"]["quenching"] == 0.25


def test_wilks_interval_covers_68_percent_in_toys(small_model):
    """400 pseudo-experiments at the truth (seeded): the 1σ interval (t < 1) covers θ₀ in
    68.3 % of them, within 3 % (the binomial error of 400 toys is 2.3 %)."""
    truth = small_model.physics.sin2_theta_w
    pois = (POI("sin2_theta_w", np.linspace(truth - 0.12, truth + 0.12, 9)),)
    setup = prepare_scan(small_model, expected=True)
    _, models = profile_scan(setup, pois)
    toys = toy_check(setup, pois[0], models, truth, 400, seed=7)
    assert toys["n_toys"] >= 390
    level = toys["levels"][0]
    assert level["wilks_coverage"] == pytest.approx(0.6827, abs=0.03)


def test_fast_path_agrees_with_plain_pyhf(small_model):
    """−2Δln L between two grid points, μ = 1 fixed and nuisances profiled, from the fast
    path and from pyhf's own fixed-POI fit on the same workspaces."""
    import pyhf

    from cevns_fit.likelihood import build_workspace

    setup = prepare_scan(small_model, expected=True)
    rng = np.random.default_rng(3)
    main = rng.poisson(setup.main).astype(float)  # not Asimov: the nuisances move
    values = (0.21, 0.26)
    fast, slow = [], []
    for v in values:
        templates = build_templates(model_at(small_model, {"sin2_theta_w": v}))
        fm = setup.fast_model({"sin2_theta_w": v})
        fast.append(2.0 * fm.fit(main, fm.aux_nominal, fix={fm.poi_index: 1.0}).nll)
        ws = pyhf.Workspace(build_workspace(templates))
        model = ws.model()
        data = list(main) + model.config.auxdata
        _, twice_nll = pyhf.infer.mle.fixed_poi_fit(1.0, data, model, return_fitted_val=True)
        slow.append(float(twice_nll))
    assert fast[1] - fast[0] == pytest.approx(slow[1] - slow[0], abs=2e-3)


def test_analyse_curve_on_a_parabola():
    """Closed form: t = ((x − 0.3)/0.05)² gives best fit 0.3 and intervals 0.3 ± 0.05 √c."""
    x = np.linspace(0.1, 0.5, 21)
    result = analyse_curve(x, 0.5 * ((x - 0.3) / 0.05) ** 2 + 7.0)
    assert result["best_fit"] == pytest.approx(0.3, abs=1e-9)
    for entry in result["intervals"]:
        ((lo, hi),) = entry["segments"]
        half = 0.05 * math.sqrt(entry["delta_chi2"])
        assert (lo, hi) == pytest.approx((0.3 - half, 0.3 + half), abs=1e-9)
        assert entry["closed"]


def test_two_minima_give_two_segments():
    x = np.linspace(-2, 2, 81)
    result = analyse_curve(x, 0.5 * 16 * (x**2 - 1) ** 2)  # minima at ±1
    assert len(result["intervals"][0]["segments"]) == 2


def test_two_dimensional_nsi_scan_contains_the_standard_model(small_model):
    result = measure(
        small_model, parse_poi("eps_u_ee=-0.3:0.3:5,eps_d_ee=-0.3:0.3:5"), expected=True
    )
    assert set(result["grid"]) == {"eps_u_ee", "eps_d_ee", "delta_chi2"}
    grid = np.asarray(result["grid"]["delta_chi2"])
    assert grid.shape == (5, 5)
    # Asimov at ε = 0 lies on the degenerate valley Q_W(ε) = Q_W(0): Δχ² ≈ 0 there (the
    # bicubic minimum may dip slightly below the grid's), while ε_u = ε_d = 0.3 is excluded
    assert grid[2, 2] < 0.05 and grid.min() > -1e-9
    assert grid[4, 4] > result["intervals"][2]["delta_chi2"]
    assert result["intervals"][0]["delta_chi2"] == pytest.approx(2.30, abs=5e-3)


# --------------------------------------------------------------------- parsing and the CLI
@pytest.mark.parametrize(
    "spec, needle",
    [
        ("foo=0:1:5", "foo"),
        ("sin2_theta_w=0.4:0.1:5", "START < STOP"),
        ("sin2_theta_w=0.1:0.4:2", "N >= 3"),
        ("sin2_theta_w=0.1:1.4:5", "sin2_theta_w"),
        ("sin2_theta_w=0.1:0.4", "NAME=START:STOP:N"),
        ("quenching=0.1:1.5:5", "(0, 1]"),
        ("eps_u_ee=0:1:3,eps_d_ee=0:1:3,eps_u_mumu=0:1:3", "one or two"),
    ],
)
def test_parse_poi_rejects_bad_grids(spec, needle):
    with pytest.raises(InputError, match=None) as exc:
        parse_poi(spec)
    assert needle in str(exc.value)


def test_parse_poi_reads_a_shared_radius():
    (poi,) = parse_poi("neutron_rms_radius_fm.Cs,I=4.5:6:4")
    assert poi.name == "neutron_rms_radius_fm.Cs,I"
    assert poi.values.tolist() == [4.5, 5.0, 5.5, 6.0]


def test_cli_measure_writes_json_and_figure(run_cli, tmp_path):
    model = _small(tmp_path)
    code, out, err = run_cli(
        "measure",
        model,
        "--expected",
        "--poi",
        "sin2_theta_w=0.1:0.4:7",
        "--out",
        tmp_path / "m",
        "--json",
    )
    assert code == 0, err
    result = json.loads(out)
    assert {"poi", "best_fit", "curve", "intervals"} <= set(result)
    assert Path(result["figure"]).is_file() and Path(result["json"]).is_file()


def test_cli_measure_reads_a_data_file(run_cli, tmp_path, small_model):
    """Data given as a file (here the Asimov counts at sin²θ_W = 0.27, not the model's value):
    the scan finds that value."""
    truth = {"sin2_theta_w": 0.27}
    counts = build_templates(model_at(small_model, truth)).channels[0]
    data = np.round(sum(s.counts for s in counts.samples))  # event counts are integers
    path = tmp_path / "data.json"
    path.write_text(json.dumps({counts.name: data.tolist()}), encoding="utf-8")
    code, out, err = run_cli(
        "measure", small_model.path, "--data", path, "--poi", "sin2_theta_w=0.17:0.37:21", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["best_fit"] == pytest.approx(0.27, abs=5e-3)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--poi", "nope=0:1:3", "--expected"], "nope"),
        (["--poi", "sin2_theta_w=0.3:0.1:3", "--expected"], "START < STOP"),
        (["--poi", "sin2_theta_w=0.1:0.3:3"], "[[observations]]"),
        (["--poi", "sin2_theta_w=0.1:0.3:3", "--data", "missing.csv"], "missing.csv"),
        (["--poi", "sin2_theta_w=0.1:0.3:3", "--data", "x.csv", "--expected"], "--expected"),
        (["--poi", "sin2_theta_w=0.1:0.3:3", "--expected", "--project", "time"], "--project time"),
    ],
)
def test_cli_measure_bad_input_exits_2(run_cli, tmp_path, args, needle):
    code, out, err = run_cli("measure", _small(tmp_path), *args)
    assert_clean_input_error(code, out, err, needle)


def test_arrival_time_sharpens_a_flavour_specific_measurement():
    """ε^u_ee acts on the delayed ν_e only: the CsI energy × time analysis separates them from
    the prompt ν_μ, so its Asimov interval is narrower than that of the energy projection."""
    model = load_detector_model(MODELS / "detectors" / "coherent_csi_2017.toml")
    pois = parse_poi("eps_u_ee=-0.2:0.2:9")
    full = measure(model, pois, expected=True)
    energy = measure(model, pois, expected=True, project="energy")
    assert abs(full["best_fit"]) < 0.01 and abs(energy["best_fit"]) < 0.01
    width = {}
    for name, r in (("full", full), ("energy", energy)):
        (lo, hi), *_ = r["intervals"][0]["segments"]
        width[name] = hi - lo
    assert width["full"] < 0.95 * width["energy"]


def test_cli_toys_are_thrown_where_toys_at_says_and_follow_wilks(run_cli, tmp_path):
    """--toys-at θ₀ throws the pseudo-experiments at θ₀ (not at the best fit) and, the
    likelihood being near-Gaussian, t(θ₀) follows χ²₁: its 68.3 % quantile is 1.0 within the
    ±0.3 sampling error of 60 toys (three of them allowed); outside the grid it is refused."""
    model = _small(tmp_path)
    grid = ["--poi", "sin2_theta_w=0.15:0.35:9", "--expected", "--seed", "3"]
    code, out, err = run_cli("measure", model, *grid, "--toys", "60", "--toys-at", "0.2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["toys"]["at"] == 0.2 and result["toys"]["seed"] == 3
    assert result["best_fit"] == pytest.approx(0.2387, abs=5e-3)  # Asimov: the model's value
    level = result["toys"]["levels"][0]  # the 1σ level, 68.27 %: χ²₁'s quantile is 1
    assert level["cl"] == pytest.approx(0.6827, abs=1e-4)
    assert level["wilks_delta_chi2"] == pytest.approx(1.0, abs=1e-9)
    assert abs(level["toy_delta_chi2"] - 1.0) < 0.9
    code, out, err = run_cli("measure", model, *grid, "--toys", "20", "--toys-at", "0.5")
    assert_clean_input_error(code, out, err, "--toys-at 0.5")
