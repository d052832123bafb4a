"""Absolute normalisation, layer by layer, against numbers typed here (not imported).

Every constant comes from tests/handcalc.py, typed there from its published source (PDG 2024,
CODATA 2018, AME2020), not from ``cevns_fit.constants``, so a mistyped constant or a dropped
factor in the library cannot cancel in the comparison.

Each test names the bug it is there to catch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from cevns_fit.cross_section import dsigma_dER_isotopes, momentum_transfer_fm, sigma_eff
from cevns_fit.detector import load_detector_model
from cevns_fit.efficiency import StepEfficiency
from cevns_fit.rates import differential_rate, flux_averaged_cross_section_cm2, total_rate
from cevns_fit.sources import load_source, make_line_source
from cevns_fit.targets import make_target
from cevns_fit.templates import build_templates, response_matrix
from tests.conftest import MODELS
from tests.handcalc import (
    CS,
    HBARC,
    IOD,
    J_PER_MEV,
    M_MU,
    N_A,
    dsigma_closed_cm2_per_keV,
    helm_hand,
    nuclear_mass_GeV,
    sigma_closed_cm2,
)

# --- cross-section ----------------------------------------------------------------------------


# (30 MeV, 14.0 keVnr): 0.54 keVnr below ¹³³Cs's E_max = 14.54 keVnr, a short integration range
@pytest.mark.parametrize(
    ("enu", "thr"), [(30.0, 0.0), (30.0, 5.0), (50.0, 15.0), (10.0, 1.0), (30.0, 14.0)]
)
def test_sigma_eff_with_unit_form_factor_is_the_hand_closed_form(enu, thr):
    # Catches: a factor 2 or 4π in the prefactor, G_F or the GeV⁻² → cm² conversion mistyped,
    # the wrong weak-charge sign, the threshold ignored, E_R^max without the 2E_ν in M + 2E_ν.
    cs = make_target("Cs")
    got = sigma_eff(enu, thr, cs, form_factor="none")[0, 0]
    assert got == pytest.approx(sigma_closed_cm2(CS, enu, thr), rel=1e-6, abs=0)


def test_sigma_eff_of_133cs_at_30_MeV_is_2_07e_38_cm2():
    # G_F² Q_W² E²/(4π) (Drukier & Stodolsky 1984), Q_W = 73.86 at sin²θ_W = 0.2312:
    # ≈ 2.07e-38 cm² (F = 1, no threshold).
    got = sigma_eff(30.0, 0.0, make_target("Cs"), form_factor="none", sin2_theta_w=0.2312)[0, 0]
    assert got == pytest.approx(2.07e-38, rel=2e-3, abs=0)
    assert got == pytest.approx(sigma_closed_cm2(CS, 30.0, 0.0, 0.2312), rel=1e-6, abs=0)


def test_per_nucleus_and_per_kg_of_csi_by_hand():
    # Catches: per nucleus summed instead of averaged, nuclei per kg off by the formula count.
    csi = make_target("CsI")
    s_cs, s_i = sigma_closed_cm2(CS, 30.0, 3.0), sigma_closed_cm2(IOD, 30.0, 3.0)
    per_nucleus = sigma_eff(30.0, 3.0, csi, form_factor="none", per="nucleus")[0, 0]
    per_kg = sigma_eff(30.0, 3.0, csi, form_factor="none", per="kg")[0, 0]
    formula_units_per_kg = N_A * 1000.0 / (CS["u"] + IOD["u"])
    assert per_nucleus == pytest.approx((s_cs + s_i) / 2, rel=1e-6, abs=0)
    assert per_kg == pytest.approx((s_cs + s_i) * formula_units_per_kg, rel=1e-6, abs=0)


def test_dsigma_shape_is_linear_in_recoil_energy_with_unit_form_factor():
    cs = make_target("Cs")
    er = np.array([0.5, 5.0, 12.0])
    got = dsigma_dER_isotopes(er, 30.0, cs, form_factor="none")[0, 0]
    expected = [dsigma_closed_cm2_per_keV(CS, 30.0, x) for x in er]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_momentum_transfer_is_sqrt_2_M_E():
    # Catches q = sqrt(M E)/ħc (a factor √2, i.e. the form factor evaluated at the wrong q).
    m = nuclear_mass_GeV(CS)
    assert momentum_transfer_fm(10.0, m) == pytest.approx(
        math.sqrt(2 * m * 10e-6) / HBARC, rel=1e-9, abs=0
    )
    assert float(momentum_transfer_fm(10.0, m)) == pytest.approx(0.2521, rel=1e-3, abs=0)


@pytest.mark.parametrize("er_keV", [5.0, 15.0, 30.0])
def test_helm_suppression_in_dsigma_is_at_q_sqrt_2_M_E(er_keV):
    # The form factor enters dσ/dE_R squared, at q = sqrt(2 M E_R)/ħc; at these recoils F²
    # at q and at q/√2 differ by 10–40 %, so this fails with q = sqrt(M E_R).
    cs = make_target("Cs")
    ratio = (
        dsigma_dER_isotopes(er_keV, 50.0, cs, form_factor="helm")[0, 0, 0]
        / dsigma_dER_isotopes(er_keV, 50.0, cs, form_factor="none")[0, 0, 0]
    )
    q = math.sqrt(2 * nuclear_mass_GeV(CS) * er_keV * 1e-6) / HBARC
    assert ratio == pytest.approx(helm_hand(q, 133) ** 2, rel=1e-6, abs=0)
    assert abs(helm_hand(q / math.sqrt(2), 133) ** 2 / ratio - 1) > 0.1


# --- rates ------------------------------------------------------------------------------------


def test_line_source_rate_is_flux_times_sigma_times_nuclei_per_kg_times_a_day():
    # Catches: seconds per day, flux or nuclei-per-kg dropped, weights not normalised.
    flux = 1.0e7
    line = make_line_source(enu_MeV=30.0, flux_cm2_s=flux)
    csi = make_target("CsI")
    formula_units_per_kg = N_A * 1000.0 / (CS["u"] + IOD["u"])
    thr = np.array([0.0, 4.0, 12.0])
    expected = [
        86400.0
        * flux
        * formula_units_per_kg
        * (sigma_closed_cm2(CS, 30.0, t) + sigma_closed_cm2(IOD, 30.0, t))
        for t in thr
    ]
    got = total_rate(thr, csi, line, form_factor="none")
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    er = np.array([1.0, 10.0])
    diff = differential_rate(er, csi, line, form_factor="none")
    (rate,) = diff.values()
    expected_diff = [
        86400.0
        * flux
        * formula_units_per_kg
        * (dsigma_closed_cm2_per_keV(CS, 30.0, x) + dsigma_closed_cm2_per_keV(IOD, 30.0, x))
        for x in er
    ]
    np.testing.assert_allclose(rate, expected_diff, rtol=1e-6)


def test_sns_delayed_anti_nu_mu_rate_is_the_hand_integral_over_the_michel_spectrum():
    # Flux by hand from sns.toml's numbers: r (P/E_p) / (4π L²), r = 0.08, 1.4 MW, 1 GeV, 19.3 m;
    # spectrum (64/m_μ)(E/m_μ)²(3/4 − E/m_μ) on [0, m_μ/2]. Catches a mistyped Michel shape,
    # a proton rate not in protons per second, the distance in m instead of cm.
    sns = load_source(MODELS / "sources" / "sns.toml")
    protons_per_s = 1.4e6 / (1.0e3 * J_PER_MEV)
    flux = 0.08 * protons_per_s / (4 * math.pi * 1930.0**2)
    assert flux == pytest.approx(1.49e7, rel=5e-3, abs=0)  # ≈ 1.5e7 per flavour (COHERENT 2017)
    cs = make_target("Cs")
    nuclei_per_kg = N_A * 1000.0 / CS["u"]

    def pdf(e):
        x = e / M_MU
        return 64 / M_MU * x**2 * (0.75 - x)

    for thr in (0.0, 5.0):
        e_min = 0.5 * (thr * 1e-3 + math.sqrt((thr * 1e-3) ** 2 + 2 * nuclear_mass_GeV(CS) * thr))
        spectral, _ = quad(
            lambda e, t=thr: pdf(e) * sigma_closed_cm2(CS, e, t),
            max(e_min, 1e-9),
            M_MU / 2,
            epsabs=0,
            epsrel=1e-10,
        )
        expected = 86400.0 * flux * nuclei_per_kg * spectral
        got = total_rate(thr, cs, _only(sns, "delayed_nu_mu_bar"), form_factor="none")[0]
        assert got == pytest.approx(expected, rel=1e-5, abs=0)


def test_flux_averaged_cross_section_of_two_lines_by_hand():
    # ⟨σ⟩ = Σ Φ_c σ(E_c) / Σ Φ_c, no threshold by default: two lines, 20 and 40 MeV, 1 : 3.
    from dataclasses import replace

    a = make_line_source(enu_MeV=20.0, flux_cm2_s=1.0e6)
    b = make_line_source(enu_MeV=40.0, flux_cm2_s=3.0e6, flavour="nu_mu")
    two = replace(a, components=a.components + b.components)
    cs = make_target("Cs")
    expected = (sigma_closed_cm2(CS, 20.0, 0.0) + 3 * sigma_closed_cm2(CS, 40.0, 0.0)) / 4
    got = flux_averaged_cross_section_cm2(cs, two, form_factor="none")
    assert got == pytest.approx(expected, rel=1e-6, abs=0)
    above = flux_averaged_cross_section_cm2(cs, two, threshold_keVnr=3.0, form_factor="none")
    expected_above = (sigma_closed_cm2(CS, 20.0, 3.0) + 3 * sigma_closed_cm2(CS, 40.0, 3.0)) / 4
    assert above == pytest.approx(expected_above, rel=1e-6, abs=0)


def _only(source, name):
    from dataclasses import replace

    return replace(source, components=(source.component(name),))


# --- detector response: backgrounds, resolution ---------------------------------------------


def test_cspbi3_background_per_bin_is_rate_times_duty_factor_times_exposure():
    # cspbi3_array.toml: 10 counts/keVee/kg/day, duty factor = 60 Hz × 6 µs (sns.toml), 1 keVee
    # bins, 10 kg·yr (365.25 d/yr), step efficiency at 4.3 keVee: the [4, 5) bin keeps 0.7.
    # Catches the duty factor dropped (×2778), exposure in kg·day vs kg·yr, bin width ignored.
    duty = 60.0 * 6e-6
    per_full_bin = 10.0 * duty * 1.0 * 10.0 * 365.25
    assert per_full_bin == pytest.approx(13.149, rel=1e-12, abs=0)
    templates = build_templates(load_detector_model(MODELS / "detectors" / "cspbi3_array.toml"))
    channel = templates.channels[0]
    counts = channel.sample("steady_state").counts
    np.testing.assert_allclose(channel.bin_edges, np.arange(4.0, 21.0))
    expected = np.full(16, per_full_bin)
    expected[0] *= 0.7
    np.testing.assert_allclose(counts, expected, rtol=1e-9)
    assert templates.background_total == pytest.approx(15.7 * per_full_bin, rel=1e-9, abs=0)


def test_ge_background_per_bin_follows_the_erf_turn_on_by_hand():
    # ge_array.toml: 10 counts/keVee/kg/day × 3.6e-4, 0.5 keVee bins, 17.6 kg·yr, erf turn-on
    # ε = (1 + erf((x − 1.5)/(√2 · 0.15)))/2; above 2.5 keVee ε = 1 exactly. The templates
    # take ε at 4 fine-bin midpoints per bin: the two bins that straddle the turn-on are then
    # ~3 % off bin by bin (their sum is right to 1e-5), hence the looser per-bin check there.
    templates = build_templates(load_detector_model(MODELS / "detectors" / "ge_array.toml"))
    channel = templates.channels[0]
    density = 10.0 * 60.0 * 6e-6 * 17.6 * 365.25  # per keVee

    def eff(x):
        return 0.5 * (1 + math.erf((x - 1.5) / (math.sqrt(2) * 0.15)))

    edges = channel.bin_edges
    expected = [
        density * quad(eff, a, b, epsabs=0)[0] for a, b in zip(edges[:-1], edges[1:], strict=True)
    ]
    counts = channel.sample("steady_state").counts
    big = np.asarray(expected) > 1.0
    np.testing.assert_allclose(counts[big], np.asarray(expected)[big], rtol=0.05)
    assert counts.sum() == pytest.approx(sum(expected), rel=1e-4, abs=0)
    np.testing.assert_allclose(counts[edges[:-1] >= 2.5], density * 0.5, rtol=1e-9)


def _smeared_moments(model, energy_keVnr: float) -> tuple[float, float, float]:
    """Probability sum, mean and standard deviation (keVee) of a recoil at ``energy_keVnr``
    after the model's quenching and resolution, unit efficiency, 0.002 keVee bins up to twice
    the mean (the far tails only add rounding noise to the variance)."""
    true_edges = energy_keVnr * np.array([1 - 1e-4, 1 + 1e-4])
    width = 0.002
    top = 2.0 * float(model.observable_from_keVnr(energy_keVnr))
    obs_edges = np.arange(0.0, top + width / 2, width)
    row = response_matrix(
        true_edges, model, efficiency=StepEfficiency(threshold=0.0), bin_edges=obs_edges
    )[0]
    centres = 0.5 * (obs_edges[1:] + obs_edges[:-1])
    total = row.sum()
    mean = (row @ centres) / total
    var = (row @ (centres - mean) ** 2) / total - width**2 / 12  # Sheppard's correction
    return total, mean, math.sqrt(var)


def test_perovskite_resolution_is_evaluated_at_the_electron_equivalent_energy():
    # Q = 0.30: 40 keVnr → 12 keVee; seed Fig. 2 R(E) = sqrt(4.95 − 1098.24/E + 189690.18/E²) %
    # FWHM at E = 12 keVee gives σ = 1.788 keVee; at E = 40 (keVnr, the bug) it would be 1.665.
    model = load_detector_model(MODELS / "detectors" / "cspbi3_array.toml")
    e_ee = 0.30 * 40.0
    fwhm = math.sqrt(4.95 - 1098.24 / e_ee + 189690.18 / e_ee**2) / 100 * e_ee
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    total, mean, std = _smeared_moments(model, 40.0)
    assert total == pytest.approx(1.0, rel=1e-6, abs=0)
    assert mean == pytest.approx(e_ee, rel=1e-4, abs=0)
    assert std == pytest.approx(sigma, rel=1e-3, abs=0)


def test_germanium_resolution_is_evaluated_at_the_electron_equivalent_energy():
    # Lindhard (k = 0.157, Z = 32) at 20 keVnr by hand, then σ² = 0.15² + F w E_ee with
    # F = 0.11, w = 2.96 eV (ge_array.toml). At E = 20 keVnr (the bug) σ would be 10 % wider.
    model = load_detector_model(MODELS / "detectors" / "ge_array.toml")
    eps = 11.5 * 20.0 * 32 ** (-7 / 3)
    g = 3 * eps**0.15 + 0.7 * eps**0.6 + eps
    e_ee = 20.0 * 0.157 * g / (1 + 0.157 * g)
    sigma = math.sqrt(0.15**2 + 0.11 * 2.96e-3 * e_ee)
    total, mean, std = _smeared_moments(model, 20.0)
    assert total == pytest.approx(1.0, rel=1e-6, abs=0)
    assert mean == pytest.approx(e_ee, rel=1e-4, abs=0)
    assert std == pytest.approx(sigma, rel=1e-3, abs=0)
