"""The CEvNS cross-section core against closed forms, limits and the weak-charge sign."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from cevns_fit.constants import SIN2_THETA_W
from cevns_fit.cross_section import (
    dsigma_dER,
    dsigma_dER_isotopes,
    enu_min_MeV,
    recoil_max_keVnr,
    sigma_eff,
    sigma_total_unity_cm2,
    weak_charge,
)
from cevns_fit.errors import InputError
from cevns_fit.targets import make_target

CS = make_target("Cs")
CSPBI3 = make_target("CsPbI3")
GE = make_target("Ge")


def test_total_cross_section_with_unit_form_factor_matches_closed_form():
    # σ ≈ G_F² Q_W² E²/(4π) (Drukier & Stodolsky 1984): 133Cs at 30 MeV, sin²θ_W = 0.2312
    # (Q_W = 73.86) gives ≈ 2.07e-38 cm².
    sigma = sigma_eff(30.0, 0.0, CS, form_factor="none", sin2_theta_w=0.2312)[0, 0]
    assert sigma == pytest.approx(2.07e-38, rel=2e-3, abs=0)
    exact = sigma_total_unity_cm2(30.0, 55, 78, CS.mass_GeV[0], 0.2312)
    assert sigma == pytest.approx(exact, rel=1e-10, abs=0)


def test_heavy_nucleus_limit_is_gf2_qw2_enu2_over_4pi():
    # σ → G_F² Q_W² E_ν²/(4π) for M ≫ E_ν; corrections are O(E_ν/M) ~ 2e-4 at 30 MeV on Cs.
    gf, conv = 1.1663787e-5, 0.3893794e-27
    qw = weak_charge(55, 78, 0.2312)
    assert qw == pytest.approx(73.86, abs=0.005)
    limit = gf**2 * qw**2 * 0.030**2 / (4 * np.pi) * conv
    assert sigma_total_unity_cm2(30.0, 55, 78, CS.mass_GeV[0], 0.2312) == pytest.approx(
        limit, rel=1e-3, abs=0
    )


def test_recoil_max_follows_two_body_kinematics():
    # E_R^max = 2E²/(M + 2E), and E_ν^min(E_R^max) inverts it.
    m = CS.mass_GeV[0]
    e_max = recoil_max_keVnr(30.0, m)
    assert e_max == pytest.approx(2 * 0.03**2 / (m + 0.06) * 1e6, rel=1e-12, abs=0)
    assert enu_min_MeV(e_max, m) == pytest.approx(30.0, rel=1e-12, abs=0)
    assert dsigma_dER_isotopes([e_max * 0.999, e_max * 1.001], 30.0, CS)[0, 0, 1] == 0.0
    assert dsigma_dER_isotopes([e_max * 0.999, e_max * 1.001], 30.0, CS)[0, 0, 0] > 0.0


def test_weak_charge_has_the_correct_sign():
    # The proton's weak charge is +(1 − 4 sin²θ_W)/2, the neutron's −1/2: Q_W = N − (1−4s²)Z,
    # smaller than N (the seed's printed N + (1−4s²)Z is a typo).
    qw = weak_charge(55, 78)
    assert qw == pytest.approx(78 - (1 - 4 * SIN2_THETA_W) * 55, rel=1e-6, abs=0)
    assert qw < 78
    ratio = sigma_eff(30.0, 0.0, CS, form_factor="none")[0, 0] / sigma_total_unity_cm2(
        30.0, 55, 78, CS.mass_GeV[0]
    )
    assert ratio == pytest.approx(1.0, rel=1e-10, abs=0)


def test_cross_section_scales_roughly_as_n_squared():
    # σ/N² is nearly constant across nuclei (Q_W ≈ N): within 12 % from Si to Pb at low E_ν.
    values = []
    for formula in ("Si", "Ar", "Ge", "Xe", "Pb"):
        target = make_target(formula)
        sigma = sigma_eff(10.0, 0.0, target, form_factor="none")[0, 0]
        n_mean = np.sum(target.nuclear_fraction * target.N)
        values.append(sigma / n_mean**2)
    assert max(values) / min(values) < 1.12


def test_vectorised_matches_scalar_loop():
    energies = np.array([0.5, 3.0, 10.0, 25.0])
    enus = np.array([15.0, 30.0, 52.8])
    grid = dsigma_dER_isotopes(energies, enus, CSPBI3)
    for i in range(CSPBI3.n_isotopes):
        for j, enu in enumerate(enus):
            for k, er in enumerate(energies):
                assert grid[i, j, k] == dsigma_dER_isotopes(er, enu, CSPBI3)[i, 0, 0]


def test_per_kg_equals_per_nucleus_times_nuclei_per_kg():
    per_nucleus = sigma_eff([20.0, 40.0], [0.0, 5.0], CSPBI3, per="nucleus")
    per_kg = sigma_eff([20.0, 40.0], [0.0, 5.0], CSPBI3, per="kg")
    assert np.allclose(per_kg, per_nucleus * CSPBI3.total_nuclei_per_kg, rtol=1e-12, atol=0)


def test_per_nucleus_is_the_seed_average_over_the_formula():
    # Seed footnote 2: (Cs + Pb + 3 I)/5.
    parts = {f: sigma_eff(30.0, 2.0, make_target(f))[0, 0] for f in ("Cs", "Pb", "I")}
    expected = (parts["Cs"] + parts["Pb"] + 3 * parts["I"]) / 5
    assert sigma_eff(30.0, 2.0, CSPBI3)[0, 0] == pytest.approx(expected, rel=1e-9, abs=0)


def test_form_factor_is_evaluated_per_isotope():
    # Each Pb isotope contributes with its own A: summing single-isotope targets reproduces Pb.
    pb = make_target("Pb")
    total = sum(
        f * sigma_eff(40.0, 3.0, make_target("Pb", {"Pb": {a: 1.0}}))[0, 0]
        for a, f in zip(pb.A, pb.nuclear_fraction, strict=True)
    )
    assert sigma_eff(40.0, 3.0, pb)[0, 0] == pytest.approx(total, rel=1e-9, abs=0)


def test_sigma_eff_quadrature_agrees_with_adaptive_integration():
    enu, thr = 35.0, 4.0
    slow = sum(
        frac
        * quad(
            lambda e, i=i: dsigma_dER_isotopes(e, enu, GE)[i, 0, 0],
            thr,
            recoil_max_keVnr(enu, GE.mass_GeV[i]),
            epsabs=0,
            epsrel=1e-10,
        )[0]
        for i, frac in enumerate(GE.nuclear_fraction)
    )
    assert sigma_eff(enu, thr, GE)[0, 0] == pytest.approx(slow, rel=1e-6, abs=0)


@settings(max_examples=30, deadline=None)
@given(st.floats(5.0, 55.0), st.lists(st.floats(0.0, 60.0), min_size=2, max_size=6))
def test_sigma_eff_falls_monotonically_with_threshold(enu, thresholds):
    thr = np.sort(np.array(thresholds))
    sig = sigma_eff(enu, thr, CSPBI3)[0]
    # equal thresholds may differ by float round-off (~1e-16 relative), never more
    assert np.all(np.diff(sig) <= 1e-12 * sig[0])
    assert np.all(sig >= 0)


def test_threshold_above_every_recoil_gives_zero_not_an_error():
    assert sigma_eff(10.0, 50.0, CSPBI3)[0, 0] == 0.0


def test_efficiency_function_multiplies_the_integrand():
    half = sigma_eff(30.0, 1.0, GE, efficiency=lambda e: 0.5 * np.ones_like(e))
    assert half[0, 0] == pytest.approx(0.5 * sigma_eff(30.0, 1.0, GE)[0, 0], rel=1e-12, abs=0)


def test_dsigma_per_kg_shape_is_enu_by_energy():
    assert dsigma_dER(np.linspace(1, 20, 7), np.linspace(10, 50, 3), CSPBI3, per="kg").shape == (
        3,
        7,
    )


@pytest.mark.parametrize("enu, er", [(0.0, 1.0), (-5.0, 1.0), (30.0, -1.0), (np.nan, 1.0)])
def test_non_positive_or_nan_energies_raise_input_error(enu, er):
    with pytest.raises(InputError):
        dsigma_dER(er, enu, GE)


@pytest.mark.parametrize(
    ("enu", "er", "message"),
    [
        (0.0, 1.0, "neutrino energy (MeV): 0 is not allowed, values must be finite and > 0"),
        (30.0, -1.0, "recoil energy (keVnr): -1 is not allowed, values must be finite and >= 0"),
        ([[30.0]], 1.0, "neutrino energy (MeV): expected a scalar or a 1-D array"),
    ],
)
def test_bad_energies_name_the_input_and_the_rule(enu, er, message):
    with pytest.raises(InputError) as info:
        dsigma_dER(er, enu, GE)
    assert str(info.value) == message


def test_sub_MeV_neutrinos_and_zero_recoil_are_legal():
    # E_ν > 0 and E_R >= 0 are the only rules: 0.5 MeV is a legal (reactor-like) energy.
    values = dsigma_dER([0.0, 0.001], 0.5, GE, form_factor="none")
    assert values.shape == (1, 2) and np.all(values > 0)


def test_dsigma_at_exactly_the_kinematic_endpoint_is_the_closed_form():
    # At E_R = E_max = 2E²/(M + 2E) the kinematic factor is 1 − M E_max/(2E²) = 2E/(M + 2E):
    # allowed (not zero), the last recoil the neutrino can give.
    m = CS.mass_GeV[0]
    e_max = recoil_max_keVnr(30.0, m)
    qw = weak_charge(55, 78)
    expected = (
        1.1663787e-5**2 * m / (4 * np.pi) * qw**2 * (0.06 / (m + 0.06)) * 0.3893794e-27 * 1e-6
    )
    got = dsigma_dER_isotopes(e_max, 30.0, CS, form_factor="none")[0, 0, 0]
    assert got == pytest.approx(expected, rel=1e-9, abs=0)


def test_sigma_eff_inputs_are_checked_with_messages():
    with pytest.raises(InputError) as info:
        sigma_eff(0.0, 1.0, GE)
    assert str(info.value) == (
        "neutrino energy (MeV): 0 is not allowed, values must be finite and > 0"
    )
    with pytest.raises(InputError) as info:
        sigma_eff(30.0, -2.0, GE)
    assert str(info.value) == "threshold (keVnr): -2 is not allowed, values must be finite and >= 0"
    with pytest.raises(InputError) as info:
        sigma_eff(30.0, 1.0, GE, per="mole")
    assert str(info.value) == "per='mole': allowed are 'nucleus', 'kg', 'isotope'"


def test_per_isotope_and_the_default_per_nucleus():
    er, enu = [1.0, 4.0], [20.0, 40.0]
    iso = dsigma_dER_isotopes(er, enu, GE)
    np.testing.assert_array_equal(dsigma_dER(er, enu, GE, per="isotope"), iso)
    np.testing.assert_allclose(
        dsigma_dER(er, enu, GE), np.tensordot(GE.nuclear_fraction, iso, axes=(0, 0)), rtol=1e-14
    )
    np.testing.assert_array_equal(
        sigma_eff(enu, er, GE, per="isotope").shape, (GE.n_isotopes, 2, 2)
    )
