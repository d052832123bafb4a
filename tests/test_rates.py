"""CEvNS rates dR/dE_R and totals: the fast quadrature path against slow independent
integrations, closed forms, extensivity, and a published flux-averaged cross-section."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import quad

from cevns_fit.cli import spectrum as spectrum_cli
from cevns_fit.cli._common import emit, run_guarded
from cevns_fit.cross_section import dsigma_dER, enu_min_MeV, recoil_max_keVnr
from cevns_fit.errors import InputError
from cevns_fit.rates import (
    differential_rate,
    differential_rate_component,
    events_per_burst,
    events_per_kg_yr,
    expected_events,
    flux_averaged_cross_section_cm2,
    sum_components,
    total_rate,
    total_rate_by_component,
)
from cevns_fit.sources import (
    delayed_nu_e_pdf,
    delayed_nu_mu_bar_pdf,
    load_source,
    reactor_spectrum_per_fission,
)
from cevns_fit.targets import make_target

MODELS = Path(__file__).resolve().parents[1] / "models" / "sources"
SNS = load_source(MODELS / "sns.toml")
REACTOR = load_source(MODELS / "reactor.toml")
GE, CSI = make_target("Ge"), make_target("CsI")


def _slow_rate(energy_keVnr, target, pdf, e_hi_MeV, flux, kinks=()):
    """∫ dE_ν pdf(E_ν) dσ/dE_R(E_R, E_ν) by adaptive quadrature, at one recoil energy."""
    e_mins = np.unique(enu_min_MeV(energy_keVnr, target.mass_GeV))
    lo = float(e_mins[0])
    if lo >= e_hi_MeV:
        return 0.0
    pts = [p for p in (*e_mins[1:], *kinks) if lo < p < e_hi_MeV]
    val = quad(
        lambda e: pdf(e) * dsigma_dER(energy_keVnr, e, target, per="kg")[0, 0],
        lo,
        e_hi_MeV,
        points=pts or None,
        limit=400,
        epsabs=0.0,
        epsrel=1e-9,
    )[0]
    return 86400.0 * flux * val


@pytest.mark.parametrize("target", [GE, CSI], ids=["Ge", "CsI"])
@pytest.mark.parametrize(
    "name, pdf", [("delayed_nu_e", delayed_nu_e_pdf), ("delayed_nu_mu_bar", delayed_nu_mu_bar_pdf)]
)
def test_fast_pion_dar_rate_agrees_with_slow_integration(target, name, pdf):
    comp = SNS.component(name)
    energies = [1.0, 8.0, 25.0]
    fast = differential_rate_component(energies, target, comp)
    for e, f in zip(energies, fast, strict=True):
        slow = _slow_rate(e, target, pdf, 105.6583755 / 2, comp.flux_cm2_s)
        assert f == pytest.approx(slow, rel=1e-3, abs=0)


def test_fast_reactor_rate_agrees_with_slow_integration():
    comp = REACTOR.components[0]
    ff, norm = REACTOR.parameters["fission_fractions"], REACTOR.parameters["nu_per_fission"]

    def pdf(e):
        return reactor_spectrum_per_fission(e, ff) / norm

    energies = [0.05, 0.3, 1.0]
    fast = differential_rate_component(energies, GE, comp)
    for e, f in zip(energies, fast, strict=True):
        slow = _slow_rate(e, GE, pdf, 10.0, comp.flux_cm2_s, kinks=(2.0, 8.0))
        assert f == pytest.approx(slow, rel=1e-3, abs=0)


def test_prompt_line_rate_matches_closed_form_without_form_factor():
    # Independent closed form (F = 1): dR/dE_R = T Φ Σ_iso n_iso G_F² M/(4π) Q_W² (1 − M E_R/(2E²)).
    gf2, gev2_cm2, s2w = 1.1663787e-5**2, 0.3893794e-27, 0.23857
    comp = SNS.component("prompt_nu_mu")
    enu_GeV = comp.enu_MeV[0] / 1e3
    er = np.array([0.5, 3.0, 10.0, 20.0])
    qw = CSI.N - (1 - 4 * s2w) * CSI.Z
    m = CSI.mass_GeV[:, None]
    kin = 1.0 - m * (er[None, :] * 1e-6) / (2 * enu_GeV**2)
    allowed = er[None, :] <= 2 * enu_GeV**2 / (m + 2 * enu_GeV) * 1e6
    per_keV = gf2 * m / (4 * math.pi) * (qw**2)[:, None] * kin * gev2_cm2 * 1e-6 * allowed
    expected = 86400 * comp.flux_cm2_s * (CSI.nuclei_per_kg[:, None] * per_keV).sum(axis=0)
    got = differential_rate_component(er, CSI, comp, form_factor="none")
    assert got == pytest.approx(expected, rel=1e-10, abs=0)


@pytest.mark.parametrize("source", [SNS, REACTOR], ids=["SNS", "reactor"])
def test_total_rate_equals_integral_of_differential_rate(source):
    # σ_eff path (integral over E_R first) vs the differential rate integrated over E_R on a
    # fine grid (the two orders of integration are independent code paths).
    thr = 0.5 if source is REACTOR else 5.0
    enu_max = max(float(c.enu_MeV.max()) for c in source.components)
    e_max = float(recoil_max_keVnr(enu_max, GE.mass_GeV).max())
    grid = np.linspace(thr, e_max, 4001)
    rate = sum_components(differential_rate(grid, GE, source))
    integral = float(np.sum(0.5 * (rate[1:] + rate[:-1]) * np.diff(grid)))
    assert total_rate(thr, GE, source)[0] == pytest.approx(integral, rel=1e-3, abs=0)


def test_rate_is_extensive_in_mass_of_each_element():
    # Per kg of CsI = mass fraction of Cs × (per kg of Cs) + mass fraction of I × (per kg of I).
    cs, iodine = make_target("Cs"), make_target("I")
    w_cs = cs.molar_mass_g_per_mol / CSI.molar_mass_g_per_mol
    w_i = iodine.molar_mass_g_per_mol / CSI.molar_mass_g_per_mol
    thr = np.array([0.0, 5.0, 15.0])
    combined = w_cs * total_rate(thr, cs, SNS) + w_i * total_rate(thr, iodine, SNS)
    assert total_rate(thr, CSI, SNS) == pytest.approx(combined, rel=1e-10, abs=0)


def test_events_scale_with_mass_time_and_inverse_distance_squared():
    base = expected_events(5.0, GE, SNS, mass_kg=1.0, time_days=1.0)[0]
    assert base == pytest.approx(total_rate(5.0, GE, SNS)[0], rel=1e-12, abs=0)
    assert expected_events(5.0, GE, SNS, mass_kg=14.6, time_days=308.1)[0] == pytest.approx(
        base * 14.6 * 308.1, rel=1e-12, abs=0
    )
    assert events_per_kg_yr(base) == pytest.approx(base * 365.25, rel=1e-6, abs=0)
    far = SNS.at_distance(2 * 19.3)
    assert total_rate(5.0, GE, far)[0] == pytest.approx(base / 4, rel=1e-12, abs=0)
    with pytest.raises(InputError):
        expected_events(5.0, GE, SNS, mass_kg=-1.0, time_days=1.0)


def test_coherent_csi_flux_averaged_cross_section():
    # COHERENT, PRL 129, 081801 (2022), arXiv:2110.07730: SM flux-averaged CsI cross-section
    # (189 ± 6) × 10⁻⁴⁰ cm² (per nucleus, full π-DAR spectrum, no threshold). Their flux is a
    # full simulation and their form factor differs slightly: accept ±5 %.
    sigma = flux_averaged_cross_section_cm2(CSI, SNS)
    assert sigma == pytest.approx(189e-40, rel=0.05, abs=0)


def test_per_component_rates_for_timing_and_legal_empty_cases():
    by_comp = total_rate_by_component([0.0, 5.0, 1000.0], CSI, SNS)
    assert set(by_comp) == {"prompt_nu_mu", "delayed_nu_e", "delayed_nu_mu_bar"}
    assert all(v[2] == 0.0 for v in by_comp.values())  # threshold above every recoil: zero
    # prompt line: no recoil above its own endpoint
    e_end = float(recoil_max_keVnr(29.79, CSI.mass_GeV).max())
    assert differential_rate_component([e_end * 1.01], CSI, SNS.component("prompt_nu_mu"))[0] == 0.0
    with pytest.raises(InputError):
        total_rate(-1.0, CSI, SNS)


def test_tabulated_spectrum_reproduces_the_analytic_component():
    table = load_source(MODELS / "table_example.toml")
    analytic = SNS.component("delayed_nu_e").scaled(
        1.49e7 / SNS.component("delayed_nu_e").flux_cm2_s
    )
    er = np.array([2.0, 10.0, 30.0])
    got = differential_rate_component(er, GE, table.components[0])
    assert got == pytest.approx(differential_rate_component(er, GE, analytic), rel=5e-3, abs=0)


def test_supernova_events_per_burst():
    sn = load_source(MODELS / "supernova.toml")
    per_day = total_rate(1.0, GE, sn)[0]
    assert events_per_burst(per_day, sn) == pytest.approx(per_day * 10.0 / 86400.0, rel=1e-6, abs=0)
    with pytest.raises(InputError):
        events_per_burst(per_day, SNS)


def test_recoil_spectra_figure_has_a_panel_per_source():
    from cevns_fit.plots.spectra import recoil_spectra_figure

    fig = recoil_spectra_figure([make_target("CsPbI3"), GE, CSI], [SNS, REACTOR], n_points=40)
    assert len(fig.axes) == 2 and all(len(ax.get_lines()) == 3 for ax in fig.axes)


# --- CLI ------------------------------------------------------------------------------------


def _run_cli(argv):
    parser = argparse.ArgumentParser()
    spectrum_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["spectrum", *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        result = run_guarded(args.func, args)
        if not isinstance(result, int):
            emit(result, args)
            result = 0
    return result, out.getvalue(), err.getvalue()


def test_cli_spectrum_json_contract():
    code, out, _ = _run_cli(["--target", "CsI", "--source", "sns", "--threshold", "5", "--json"])
    assert code == 0
    data = json.loads(out)
    for key in ("flux_cm2_s", "events_per_kg_day", "energies_keVnr", "dR_dE_per_kg_day_keV"):
        assert key in data
    assert data["flux_cm2_s"] == pytest.approx(SNS.total_flux_cm2_s, rel=1e-6, abs=0)
    assert data["events_per_kg_day"] == pytest.approx(total_rate(5.0, CSI, SNS)[0], rel=1e-6, abs=0)
    assert len(data["energies_keVnr"]) == len(data["dR_dE_per_kg_day_keV"])


@pytest.mark.parametrize(
    "toml, csv",
    [
        (
            'type = "reactor"\nthermal_power_GW = -3.9\ndistance_m = 17\n'
            "[fission_fractions]\nU235 = 1.0\n",
            None,
        ),
        (
            'type = "pion_dar"\npower_MW = 1.4\nproton_energy_GeV = 1\n'
            "nu_per_flavour_per_proton = 0.08\ndistance_m = 0\n",
            None,
        ),
        ('type = "table"\nfile = "s.csv"\nflux_cm2_s = 1e7\n', "1,0.2\n2,-0.3\n3,0.1\n"),
        ('type = "table"\nfile = "s.csv"\nflux_cm2_s = 1e7\n', "1,0.2\n3,0.3\n2,0.1\n"),
        ('type = "table"\nfile = "missing.csv"\nflux_cm2_s = 1e7\n', None),
    ],
)
def test_cli_bad_source_exits_2_with_one_line(tmp_path, toml, csv):
    (tmp_path / "bad.toml").write_text(toml)
    if csv is not None:
        (tmp_path / "s.csv").write_text(csv)
    code, out, err = _run_cli(["--target", "Ge", "--source", str(tmp_path / "bad.toml")])
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("cevns-fit: error:")


def test_recoil_spectra_example_reports_rates_and_the_reactor_kinematic_cutoff(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "spectra.png"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / "recoil_spectra.py"), "--json", "--out", str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    table = json.loads(proc.stdout)["events_per_kg_yr"]
    sns, reactor = table["SNS"], table["reactor"]
    assert sns["Ge"]["above_1_keVnr"] > sns["Ge"]["above_5_keVnr"] > sns["Ge"]["above_10_keVnr"] > 0
    # a 10 MeV reactor ν̄ cannot push Cs or I (A ≈ 130) above ~1.7 keVnr
    assert reactor["CsI"]["above_5_keVnr"] == 0.0 and reactor["Ge"]["above_1_keVnr"] > 0
    assert out.stat().st_size > 10_000


def test_sum_components_selects_by_name_and_names_the_allowed_ones():
    rates = {"prompt_nu_mu": np.array([1.0, 2.0]), "delayed_nu_e": np.array([10.0, 20.0])}
    np.testing.assert_array_equal(sum_components(rates), [11.0, 22.0])
    np.testing.assert_array_equal(sum_components(rates, ("delayed_nu_e",)), [10.0, 20.0])
    with pytest.raises(InputError) as info:
        sum_components(rates, ("prompt_nu_mu", "bogus"))
    assert str(info.value) == "component 'bogus': allowed are prompt_nu_mu, delayed_nu_e"


def test_expected_events_accepts_zero_and_fractional_exposure_and_names_bad_input():
    per_kg_day = total_rate(5.0, GE, SNS)[0]
    assert expected_events(5.0, GE, SNS, mass_kg=0.0, time_days=10.0)[0] == 0.0
    assert expected_events(5.0, GE, SNS, mass_kg=0.5, time_days=0.25)[0] == pytest.approx(
        per_kg_day * 0.125, rel=1e-12, abs=0
    )
    with pytest.raises(InputError) as info:
        expected_events(5.0, GE, SNS, mass_kg=-1.0, time_days=1.0)
    assert str(info.value) == "mass_kg = -1.0: must be a finite number >= 0"
    with pytest.raises(InputError) as info:
        expected_events(5.0, GE, SNS, mass_kg=1.0, time_days=math.nan)
    assert str(info.value) == "time_days = nan: must be a finite number >= 0"


def test_events_per_burst_needs_a_burst_source():
    with pytest.raises(InputError) as info:
        events_per_burst(1.0, SNS)
    assert str(info.value) == "source 'SNS' is not a burst (no burst_duration_s)"
