"""Every CLI option, once, against an expectation the option's code does not compute itself.

In-process (``cli_main``) to stay fast. The expectations: closed forms typed in
tests/handcalc.py, the Asimov counting formula Σ_b 2((s+b) ln(1+s/b) − s) on the ``rate``
command's own bins, scipy's Poisson tail for exact and toy p-values, Z² ∝ exposure without
systematics, and one command against another where they compute the same number by
different routes (``compare --reference-exposure`` vs ``significance --exposure``).
The text (non-``--json``) output of every command is run and must show the JSON's numbers.
"""

from __future__ import annotations

import json
import math
import tomllib

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm, poisson

from tests.conftest import MODELS, ROOT
from tests.handcalc import (
    CS,
    GE76,
    HBARC,
    dsigma_closed_cm2_per_keV,
    nuclear_mass_GeV,
    nuclei_per_kg,
    sigma_closed_cm2,
)
from tests.test_model_features import write_model

CSPBI3 = MODELS / "detectors" / "cspbi3_array.toml"


def run_json(cli_main, *args) -> dict:
    code, out, err = cli_main(*args, "--json")
    assert code == 0, err
    return json.loads(out)


def run_text(cli_main, *args) -> str:
    code, out, err = cli_main(*args)
    assert code == 0, err
    assert not out.lstrip().startswith("{"), out[:80]
    return out


def test_version_is_the_package_version(cli_main):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    code, out, _ = cli_main("--version")
    assert code == 0 and out.strip() == f"cevns-fit {version}"


# --- cross-section options --------------------------------------------------------------------


def test_xsec_form_factor_none_and_sin2_theta_w_give_the_closed_form(cli_main):
    out = run_json(
        cli_main, "xsec", "--target", "Cs", "--enu", "30", "--threshold", "2",
        "--form-factor", "none", "--sin2-theta-w", "0.2312",
    )  # fmt: skip
    expected = sigma_closed_cm2(CS, 30.0, 2.0, 0.2312)
    assert out["sigma_eff_cm2_per_nucleus"] == pytest.approx(expected, rel=1e-6, abs=0)
    assert out["sin2_theta_w"] == 0.2312
    text = run_text(
        cli_main, "xsec", "--target", "Cs", "--enu", "30", "--threshold", "2",
        "--form-factor", "none", "--sin2-theta-w", "0.2312",
    )  # fmt: skip
    assert f"{out['sigma_eff_cm2_per_nucleus']:g}" in text


def test_xsec_sin2_theta_w_scales_helm_sigma_by_the_weak_charge_squared(cli_main):
    args = ("xsec", "--target", "Cs", "--enu", "40", "--threshold", "3")
    default = run_json(cli_main, *args)["sigma_eff_cm2_per_nucleus"]
    shifted = run_json(cli_main, *args, "--sin2-theta-w", "0.25")["sigma_eff_cm2_per_nucleus"]
    qw = [78 - (1 - 4 * s) * 55 for s in (0.25, 0.23857)]
    assert shifted / default == pytest.approx((qw[0] / qw[1]) ** 2, rel=1e-9, abs=0)


def test_xsec_composition_selects_the_isotope(cli_main):
    out = run_json(
        cli_main, "xsec", "--target", "Ge", "--composition", "Ge:76=1", "--enu", "30",
        "--threshold", "1", "--form-factor", "none",
    )  # fmt: skip
    expected = sigma_closed_cm2(GE76, 30.0, 1.0)
    assert out["sigma_eff_cm2_per_nucleus"] == pytest.approx(expected, rel=1e-6, abs=0)
    assert out["nuclei_per_kg"] == pytest.approx(nuclei_per_kg(GE76), rel=1e-6, abs=0)


def test_xsec_klein_nystrand_form_factor(cli_main):
    # F = 3 j₁(qR)/(qR) / (1 + q² a²), R = 1.2 A^(1/3) fm, a = 0.7 fm (Klein & Nystrand 1999),
    # integrated by hand with scipy over the ¹³³Cs recoil range.
    m = nuclear_mass_GeV(CS)

    def f2(er_keV):
        q = math.sqrt(2 * m * er_keV * 1e-6) / HBARC
        x = q * 1.2 * 133 ** (1 / 3)
        j1 = math.sin(x) / x**2 - math.cos(x) / x
        return (3 * j1 / x / (1 + (0.7 * q) ** 2)) ** 2

    e_max = 2 * 0.05**2 / (m + 0.1) * 1e6
    expected = quad(lambda e: dsigma_closed_cm2_per_keV(CS, 50.0, e) * f2(e), 5.0, e_max)[0]
    out = run_json(
        cli_main, "xsec", "--target", "Cs", "--enu", "50", "--threshold", "5",
        "--form-factor", "klein-nystrand",
    )  # fmt: skip
    assert out["sigma_eff_cm2_per_nucleus"] == pytest.approx(expected, rel=1e-6, abs=0)


def test_ratio_map_text_names_the_maximum(cli_main):
    args = ("ratio-map", "--target", "CsPbI3", "--reference", "Ge", "--enu", "10:50:3")
    out = run_json(cli_main, *args, "--thresholds", "0:10:3")
    text = run_text(cli_main, *args, "--thresholds", "0:10:3")
    assert f"{out['ratio_max']:.3f}" in text


def _seed_root(level_percent: float) -> float:
    # (A − L²) E² + B E + C = 0 for R(E) = L, seed Fig. 2 fit; the physical (larger) root
    a, b, c = 4.95 - level_percent**2, -1098.24, 189690.18
    return (-b - math.sqrt(b * b - 4 * a * c)) / (2 * a)


def test_resolution_level_and_quenching(cli_main):
    out = run_json(cli_main, "resolution", "--quenching", "0.25", "--level", "50")
    assert out["threshold_keVee_at_level"] == pytest.approx(_seed_root(50.0), rel=1e-9, abs=0)
    assert out["threshold_keVee_at_100pct"] == pytest.approx(_seed_root(100.0), rel=1e-9, abs=0)
    assert out["threshold_keVnr_at_level"] == pytest.approx(
        _seed_root(50.0) / 0.25, rel=1e-9, abs=0
    )
    text = run_text(cli_main, "resolution", "--quenching", "0.25")
    assert f"{_seed_root(100.0):.3f} keVee" in text and "Q = 0.25" in text


def test_spectrum_distance_emax_and_n_points(cli_main):
    base = ("spectrum", "--target", "Ge", "--source", "sns", "--threshold", "5")
    near = run_json(cli_main, *base)
    far = run_json(cli_main, *base, "--distance", "38.6", "--emax", "20", "--n-points", "11")
    assert far["distance_m"] == 38.6
    assert far["flux_cm2_s"] == pytest.approx(near["flux_cm2_s"] / 4, rel=1e-12, abs=0)
    assert far["events_per_kg_day"] == pytest.approx(near["events_per_kg_day"] / 4, rel=1e-9, abs=0)
    np.testing.assert_allclose(far["energies_keVnr"], np.linspace(0.0, 20.0, 11), rtol=1e-12)
    text = run_text(cli_main, *base, "--n-points", "5")
    assert f"{near['events_per_kg_day']:.4g} /kg/day" in text


# --- statistics options -----------------------------------------------------------------------


def asimov_z(signal, background) -> float:
    """Σ_b 2((s+b) ln(1+s/b) − s): Cowan et al. 2011 Eq. 97 per bin, known backgrounds."""
    s, b = np.asarray(signal), np.asarray(background)
    return math.sqrt(float(np.sum(2 * ((s + b) * np.log1p(s / b) - s))))


def test_significance_no_systematics_is_the_binned_asimov_formula(cli_main):
    rate = run_json(cli_main, "rate", CSPBI3)
    z_hand = asimov_z(rate["signal"], rate["background"])
    out = run_json(cli_main, "significance", CSPBI3, "--no-systematics")
    assert out["systematics"] is False
    assert out["Z_expected"] == pytest.approx(z_hand, rel=1e-5, abs=0)
    # --impacts: fixing every nuisance is the statistics-only Z, by another route
    impacts = run_json(cli_main, "significance", CSPBI3, "--impacts")["impacts"]
    assert impacts["Z_stat_only"] == pytest.approx(z_hand, rel=1e-4, abs=0)
    assert impacts["Z_expected"] < impacts["Z_stat_only"]
    text = run_text(cli_main, "significance", CSPBI3, "--impacts")
    assert f"Z = {impacts['Z_expected']:.3f}" in text and "steady_state_norm" in text


def test_exposure_without_systematics_scales_as_z_squared(cli_main):
    # All counts ∝ exposure and no nuisance: Z_A² ∝ exposure exactly (any reference exposure).
    z10 = run_json(cli_main, "significance", CSPBI3, "--no-systematics")["Z_expected"]
    out = run_json(
        cli_main, "exposure", CSPBI3, "--no-systematics", "--sigma", "3", "--exposure", "2"
    )
    assert out["exposure_kg_yr"] == pytest.approx(10.0 * (3.0 / z10) ** 2, rel=1e-3, abs=0)
    text = run_text(cli_main, "exposure", CSPBI3, "--no-systematics", "--sigma", "3")
    assert f"{out['exposure_kg_yr']:.4g} kg·yr" in text


def test_limit_confidence_level_orders_the_limits(cli_main):
    at90 = run_json(cli_main, "limit", CSPBI3, "--exposure", "0.1")
    at95 = run_json(cli_main, "limit", CSPBI3, "--exposure", "0.1", "--cl", "0.95")
    assert at90["cl"] == 0.9 and at95["cl"] == 0.95
    assert at95["mu_upper_expected"] > at90["mu_upper_expected"]
    text = run_text(cli_main, "limit", CSPBI3, "--exposure", "0.1")
    assert f"mu < {at90['mu_upper_expected']:.4g}" in text


# --- one bin, exact Poisson and toys ----------------------------------------------------------


@pytest.fixture
def one_bin(tmp_path):
    """The hand model of test_model_features in one bin [1, 7) keVee with a flat background
    of 0.01 /keVee/kg/day (no duty factor: a steady source), 1 kg·yr."""
    path = write_model(tmp_path, 'model = "constant"\nvalue = 0.25')
    text = path.read_text().replace("edges = [1.0, 2.0, 4.0, 5.0, 7.0]", "edges = [1.0, 7.0]")
    text += '\n[[backgrounds]]\nname = "flat"\nkind = "steady_state"\nrate_per_kg_day = 0.01\n'
    path.write_text(text)
    return path


def test_exact_poisson_expected_and_observed_significance(cli_main, one_bin, tmp_path):
    rate = run_json(cli_main, "rate", one_bin)
    s, b = rate["signal_events"], rate["background_events"]
    assert b == pytest.approx(0.01 * 6.0 * 365.25, rel=1e-9, abs=0)
    data = tmp_path / "data.csv"
    data.write_text("low,high,counts\n1,7,31\n")
    out = run_json(
        cli_main, "significance", one_bin, "--no-systematics", "--method", "exact", "--data", data
    )
    assert out["method"] == "exact"
    p_obs = poisson.sf(30, b)  # P(N >= 31 | b)
    assert out["p0_observed"] == pytest.approx(p_obs, rel=1e-9, abs=0)
    assert out["Z_observed"] == pytest.approx(norm.isf(p_obs), rel=1e-9, abs=0)
    n_median = poisson.median(s + b)
    assert out["p0_expected"] == pytest.approx(poisson.sf(n_median - 1, b), rel=1e-9, abs=0)


def test_toys_reproduce_the_exact_poisson_tail_and_honour_the_seed(cli_main, one_bin, tmp_path):
    rate = run_json(cli_main, "rate", one_bin)
    b = rate["background_events"]
    data = tmp_path / "data.csv"
    data.write_text("low,high,counts\n1,7,31\n")
    args = ("significance", one_bin, "--no-systematics", "--method", "toys", "--data", data)
    first = run_json(cli_main, *args, "--toys", "2000", "--seed", "7")
    again = run_json(cli_main, *args, "--toys", "2000", "--seed", "7")
    other = run_json(cli_main, *args, "--toys", "2000", "--seed", "8")
    assert first == again and first["n_toys"] == 2000 and first["seed"] == 7
    assert other["p0_observed"] != first["p0_observed"]
    p_exact = poisson.sf(30, b)  # q0 rises with n above b: P(q0 >= q0_obs) = P(N >= 31)
    assert abs(first["p0_observed"] - p_exact) < 4 * math.sqrt(p_exact * (1 - p_exact) / 2000)


# --- fit ----------------------------------------------------------------------------------------


def test_fit_a_csv_spectrum_recovers_the_injected_signal(cli_main, tmp_path):
    # data = round(background + 2 × signal) of the rate command's bins: μ̂ ≈ 2
    rate = run_json(cli_main, "rate", CSPBI3)
    counts = np.round(np.asarray(rate["background"]) + 2 * np.asarray(rate["signal"]))
    data = tmp_path / "spectrum.csv"
    edges = rate["bins"]
    rows = [f"{lo},{hi},{int(n)}" for lo, hi, n in zip(edges, edges[1:], counts, strict=False)]
    data.write_text("low,high,counts\n" + "\n".join(rows) + "\n")
    out = run_json(cli_main, "fit", CSPBI3, "--data", data)
    assert out["converged"] is True
    assert out["mu"] == pytest.approx(2.0, rel=0.03, abs=0)
    lo, hi = out["mu_minos"]  # MINOS errors (negative, positive) around μ̂; asymmetric here
    assert lo < 0 < hi  # (the ±33 % quenching uncertainty) but of the size of HESSE's error
    assert 0.5 < -lo / out["mu_err"] < 2 and 0.5 < hi / out["mu_err"] < 2
    no_minos = run_json(cli_main, "fit", CSPBI3, "--data", data, "--no-minos")
    assert no_minos.get("mu_minos") is None
    assert no_minos["mu"] == pytest.approx(out["mu"], rel=1e-6, abs=0)
    text = run_text(cli_main, "fit", CSPBI3, "--data", data, "--no-minos")
    assert f"{out['mu']:.3g}" in text


def test_a_fit_that_cannot_be_evaluated_exits_3(cli_main, tmp_path):
    # An interior bin where nothing can be expected (efficiency 0 in [3, 4) keVee, no
    # background) holding an event: the likelihood is zero at every parameter point.
    # (the ramps lie outside [3, 4]: the self-refining sampling resolves a ramp inside the bin)
    efficiency = (
        'model = "tabulated"\nx = [0.0, 2.9999, 3.0, 4.0, 4.0001, 10.0]\n'
        "values = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]"
    )
    path = write_model(tmp_path, 'model = "constant"\nvalue = 0.25', efficiency)
    text = path.read_text().replace("[1.0, 2.0, 4.0, 5.0, 7.0]", "[2.0, 3.0, 4.0, 5.0]")
    path.write_text(text)
    rate = run_json(cli_main, "rate", path)
    assert rate["bins"] == [2.0, 3.0, 4.0, 5.0] and rate["signal"][1] == 0.0
    data = tmp_path / "data.csv"
    data.write_text("low,high,counts\n2,3,10\n3,4,1\n4,5,3\n")
    code, out, err = cli_main("fit", path, "--data", data)
    assert code == 3, (code, out, err)
    assert out == "" and "Traceback" not in err and len(err.strip().splitlines()) == 1


# --- compare, workspace, scan -------------------------------------------------------------------


def test_compare_reference_exposure_is_the_significance_at_that_exposure(cli_main):
    out = run_json(
        cli_main, "compare", CSPBI3, "--reference-exposure", "2", "--thresholds", "",
        "--workers", "1", "--no-progress",
    )  # fmt: skip
    z2 = run_json(cli_main, "significance", CSPBI3, "--exposure", "2")["Z_expected"]
    (detector,) = out["detectors"]
    assert detector["Z_at_reference_exposure"] == pytest.approx(z2, rel=1e-6, abs=0)
    text = run_text(
        cli_main, "compare", CSPBI3, "--reference-exposure", "2", "--thresholds", "",
        "--workers", "1", "--no-progress",
    )  # fmt: skip
    assert "cspbi3_array" in text


def test_workspace_text_and_no_systematics(cli_main, tmp_path):
    ws = tmp_path / "ws.json"
    text = run_text(cli_main, "workspace", CSPBI3, "--no-systematics", "-o", ws)
    assert str(ws) in text
    spec = json.loads(ws.read_text())
    modifiers = {
        m["type"] for ch in spec["channels"] for s in ch["samples"] for m in s["modifiers"]
    }
    assert modifiers == {"normfactor"}  # only mu: no normsys/histosys/staterror left


def test_scan_sigma_and_a_dask_scheduler_address(cli_main, tmp_path):
    distributed = pytest.importorskip("distributed")
    expected = run_json(cli_main, "exposure", CSPBI3, "--sigma", "3")["exposure_kg_yr"]
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        out = tmp_path / "scan.jsonl"
        text = run_text(
            cli_main, "scan", CSPBI3, "--vary", "exposure=1:4:2", "--sigma", "3",
            "--executor", "dask", "--scheduler", cluster.scheduler_address,
            "--no-progress", "--out", out,
        )  # fmt: skip
    points = [json.loads(line) for line in out.read_text().splitlines()]
    assert [p["exposure"] for p in points] == [1.0, 4.0]
    for p in points:
        assert p["exposure_kg_yr_3sigma"] == pytest.approx(expected, rel=1e-3, abs=0)
        assert "exposure_kg_yr_5sigma" not in p
    assert "2 point(s) computed" in text


def _hand_sigma_per_nucleus(formula: dict[str, int], enu: float, thr: float) -> float:
    """F = 1 closed form averaged over a formula's nuclei, natural isotopes from periodictable
    (the data source, not the library's formulae)."""
    import periodictable

    total, atoms = 0.0, sum(formula.values())
    for symbol, count in formula.items():
        element = getattr(periodictable, symbol)
        for iso in element:
            if iso.abundance > 0:
                nucleus = dict(Z=element.number, N=iso.isotope - element.number, u=iso.mass)
                total += count * iso.abundance / 100 * sigma_closed_cm2(nucleus, enu, thr)
    return total / atoms


def test_ratio_map_without_form_factor_is_the_hand_ratio(cli_main):
    out = run_json(
        cli_main, "ratio-map", "--target", "CsPbI3", "--reference", "Ge", "--enu", "20:40:2",
        "--thresholds", "0:4:2", "--form-factor", "none",
    )  # fmt: skip
    for i, enu in enumerate((20.0, 40.0)):
        for j, thr in enumerate((0.0, 4.0)):
            hand = _hand_sigma_per_nucleus(
                {"Cs": 1, "Pb": 1, "I": 3}, enu, thr
            ) / _hand_sigma_per_nucleus({"Ge": 1}, enu, thr)
            assert out["ratio"][i][j] == pytest.approx(hand, rel=1e-5, abs=0), (enu, thr)


def test_rate_text_shows_signal_and_background_totals(cli_main):
    out = run_json(cli_main, "rate", CSPBI3, "--exposure", "2")
    text = run_text(cli_main, "rate", CSPBI3, "--exposure", "2")
    assert out["exposure_kg_yr"] == 2.0
    assert f"CEvNS signal: {out['signal_events']:.4g} events" in text
    assert f"background: {out['background_events']:.4g} events" in text
    # 2 kg·yr is a fifth of the model's 10 kg·yr: counts scale exactly
    assert out["signal_events"] == pytest.approx(156.92266 / 5, rel=1e-5, abs=0)
