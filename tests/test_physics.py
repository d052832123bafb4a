"""Physics parameters of the cross-section: defaults reproduce the tree level exactly; sin²θ_W,
NSI, the mediator and the magnetic moment against closed forms; nucleon form factors against
Helm with the shifted radius; radiative corrections against published couplings."""

import math
import subprocess
import sys

import numpy as np
import pytest

from cevns_fit.constants import (
    FINE_STRUCTURE,
    GEV_MINUS2_TO_CM2,
    SIN2_THETA_W,
    ELECTRON_MASS_GeV,
    G_FERMI_GeV_minus2,
)
from cevns_fit.cross_section import (
    dsigma_dER,
    momentum_transfer_fm,
    nucleon_radii_fm,
    recoil_max_keVnr,
    sigma_eff,
    weak_charge,
    weak_charge_squared,
)
from cevns_fit.errors import InputError
from cevns_fit.physics import PhysicsParameters, nucleon_couplings
from cevns_fit.targets import make_target

CS = make_target("Cs")
PB208 = make_target("Pb", {"Pb": {208: 1.0}})
CSPBI3 = make_target("CsPbI3")
ER = np.array([0.0, 0.3, 2.0, 8.0, 15.0, 40.0, 90.0])
ENU = np.array([8.0, 29.79, 52.8])


def closed_form_dsigma(er_keV, enu_MeV, mass_GeV, charge2):
    """G_F² M/(4π) (1 − M E_R/(2E²)) Q² in cm²/keVnr, zero above E_R^max."""
    er, enu = er_keV / 1e6, enu_MeV / 1e3
    value = G_FERMI_GeV_minus2**2 * mass_GeV / (4 * np.pi) * (1 - mass_GeV * er / (2 * enu**2))
    value = value * charge2 * GEV_MINUS2_TO_CM2 / 1e6
    return np.where(er_keV <= recoil_max_keVnr(enu_MeV, mass_GeV), value, 0.0)


# ---- defaults reproduce today's numbers ---------------------------------------------------


@pytest.mark.parametrize("formula", ["CsPbI3", "Ge", "CsI", "Ar", "NaI", "Xe"])
@pytest.mark.parametrize("form_factor", ["helm", "klein-nystrand", "none"])
def test_default_physics_is_todays_cross_section_exactly(formula, form_factor):
    target = make_target(formula)
    today = dsigma_dER(ER, ENU, target, form_factor=form_factor, per="kg")
    assert np.array_equal(
        dsigma_dER(ER, ENU, target, form_factor=form_factor, per="kg", physics=PhysicsParameters()),
        today,
    )
    # Parameters at their defaults through the general code path (an inert mediator mass
    # forces it): the per-flavour weak-charge sum equals today's Q_W² F² to 1e-12.
    inert = PhysicsParameters(mediator_mass_MeV=20.0)
    assert not inert.is_tree_level
    for flavour in (None, "nu_e", "nu_mu_bar", "nu_x"):
        general = dsigma_dER(
            ER, ENU, target, form_factor=form_factor, per="kg", physics=inert, flavour=flavour
        )
        np.testing.assert_allclose(general, today, rtol=1e-12, atol=0)
    s_today = sigma_eff(ENU, [0.0, 3.0, 20.0], target, form_factor=form_factor)
    np.testing.assert_allclose(
        sigma_eff(ENU, [0.0, 3.0, 20.0], target, form_factor=form_factor, physics=inert),
        s_today,
        rtol=1e-12,
        atol=0,
    )


def test_tree_level_equals_an_independent_transcription_of_the_formula():
    # Q_W = N − (1 − 4 s²) Z and the Helm form factor written out here, on ¹³³Cs.
    from scipy.special import spherical_jn

    m = CS.mass_GeV[0]
    q = momentum_transfer_fm(ER[1:], m)
    c = 1.23 * 133 ** (1 / 3) - 0.60
    r_n = np.sqrt(c**2 + 7 / 3 * np.pi**2 * 0.52**2 - 5 * 0.81)
    helm = 3 * spherical_jn(1, q * r_n) / (q * r_n) * np.exp(-((q * 0.9) ** 2) / 2)
    for s2 in (SIN2_THETA_W, 0.2, 0.31):
        expected = closed_form_dsigma(ER[1:], 30.0, m, (78 - (1 - 4 * s2) * 55) ** 2) * helm**2
        got = dsigma_dER(ER[1:], 30.0, CS, physics=PhysicsParameters(sin2_theta_w=s2))[0]
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


# ---- sin²θ_W sanity -----------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, -1.0, 0.0, 1.0, 5.0, "0.2", True])
def test_weak_mixing_angle_outside_zero_one_is_an_input_error(bad):
    with pytest.raises(InputError, match="sin2_theta_w"):
        PhysicsParameters(sin2_theta_w=bad)
    with pytest.raises(InputError, match="sin2_theta_w"):
        sigma_eff(30.0, 0.0, CS, sin2_theta_w=bad)


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "5"])
@pytest.mark.parametrize("command", [["xsec", "--enu", "30"], ["ratio-map", "--reference", "Ge"]])
def test_cli_rejects_unphysical_weak_mixing_angle_with_one_line(command, value):
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cevns_fit",
            command[0],
            "--target",
            "Cs",
            *command[1:],
            f"--sin2-theta-w={value}",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "--sin2-theta-w" in lines[0] and "Traceback" not in run.stderr


# ---- weak charge: sin²θ_W and NSI against the closed form ----------------------------------


@pytest.mark.parametrize("s2", [0.1, SIN2_THETA_W, 0.25, 0.4])
def test_weak_charge_squared_follows_sin2_theta_w(s2):
    physics = PhysicsParameters(sin2_theta_w=s2)
    assert weak_charge_squared(55, 78, physics=physics) == pytest.approx(
        (78 - (1 - 4 * s2) * 55) ** 2, rel=1e-13, abs=0
    )


def test_nsi_weak_charge_is_the_barranco_formula():
    # Barranco, Miranda & Rashba (2005): [Z(g_p + 2ε^u + ε^d) + N(g_n + ε^u + 2ε^d)]² in units
    # where g_n = −1/2, i.e. a quarter of Q_W²; off-diagonal ε add |Z(2ε^u+ε^d) + N(ε^u+2ε^d)|².
    eu, ed, eu_mm, eu_em, ed_et = 0.12, -0.31, 0.4, 0.05, -0.07
    physics = PhysicsParameters(
        eps_u_ee=eu, eps_d_ee=ed, eps_u_mumu=eu_mm, eps_u_emu=eu_em, eps_d_etau=ed_et
    )
    Z, N = 53, 74
    gp, gn = 0.5 - 2 * SIN2_THETA_W, -0.5
    expected_e = 4 * (
        (Z * (gp + 2 * eu + ed) + N * (gn + eu + 2 * ed)) ** 2
        + (Z * 2 * eu_em + N * eu_em) ** 2
        + (Z * ed_et + N * 2 * ed_et) ** 2
    )
    expected_mu = 4 * (
        (Z * (gp + 2 * eu_mm) + N * (gn + eu_mm)) ** 2 + (Z * 2 * eu_em + N * eu_em) ** 2
    )
    assert weak_charge_squared(Z, N, physics=physics, flavour="nu_e") == pytest.approx(
        expected_e, rel=1e-13, abs=0
    )
    assert weak_charge_squared(Z, N, physics=physics, flavour="nu_mu") == pytest.approx(
        expected_mu, rel=1e-13, abs=0
    )
    # Vector couplings: antineutrinos scatter alike.
    assert weak_charge_squared(Z, N, physics=physics, flavour="nu_e_bar") == weak_charge_squared(
        Z, N, physics=physics, flavour="nu_e"
    )
    # ν_τ sees only its off-diagonal ε_eτ (ε_τμ = 0).
    assert weak_charge_squared(Z, N, physics=physics, flavour="nu_tau") == pytest.approx(
        4 * ((Z * gp + N * gn) ** 2 + (Z * ed_et + 2 * N * ed_et) ** 2), rel=1e-13, abs=0
    )


def test_nsi_cross_section_matches_closed_form_and_can_cancel_the_standard_model():
    # With F = 1, dσ/dE_R is the closed form with the NSI weak charge; ε^d_ee chosen so that
    # Z(g_p + ε^d) + N(g_n + 2ε^d) = 0 switches ν_e CEvNS off on that nucleus (the known NSI
    # degeneracy), leaving ν_μ untouched.
    gp, gn = 0.5 - 2 * SIN2_THETA_W, -0.5
    m = CS.mass_GeV[0]
    blind = -(55 * gp + 78 * gn) / (55 + 2 * 78)
    physics = PhysicsParameters(eps_d_ee=blind)
    kw = {"form_factor": "none", "physics": physics}
    assert np.all(dsigma_dER(ER, ENU, CS, flavour="nu_e", **kw) == pytest.approx(0.0, abs=1e-60))
    np.testing.assert_allclose(
        dsigma_dER(ER, ENU, CS, flavour="nu_mu", **kw),
        dsigma_dER(ER, ENU, CS, form_factor="none"),
        rtol=1e-12,
        atol=0,
    )
    physics = PhysicsParameters(eps_u_ee=0.2, eps_d_ee=0.1)
    q2 = 4 * (55 * (gp + 0.5) + 78 * (gn + 0.4)) ** 2
    np.testing.assert_allclose(
        dsigma_dER(ER, 30.0, CS, form_factor="none", physics=physics, flavour="nu_e")[0],
        closed_form_dsigma(ER, 30.0, m, q2),
        rtol=1e-12,
        atol=0,
    )


def test_flavour_is_required_when_the_physics_depends_on_it():
    with pytest.raises(InputError, match="flavour"):
        dsigma_dER(ER, 30.0, CS, physics=PhysicsParameters(eps_u_ee=0.1))
    with pytest.raises(InputError, match="flavour 'nu_q'"):
        dsigma_dER(ER, 30.0, CS, physics=PhysicsParameters(eps_u_ee=0.1), flavour="nu_q")
    with pytest.raises(InputError, match="once"):
        dsigma_dER(ER, 30.0, CS, sin2_theta_w=0.2, physics=PhysicsParameters(sin2_theta_w=0.3))


# ---- light vector mediator -----------------------------------------------------------------


def test_light_mediator_matches_cerdeno_closed_form_and_heavy_limit_is_nsi():
    # Q = Q_W − 3√2 A g_ν g_q /(G_F (q² + m²)) (Cerdeño et al. 2016) with F = 1.
    g, m_MeV = 5e-10, 25.0
    m = CS.mass_GeV[0]
    er = ER[1:]
    q2 = 2 * m * er / 1e6
    qw = 78 - (1 - 4 * SIN2_THETA_W) * 55
    charge = qw - 3 * np.sqrt(2) * 133 * g / (G_FERMI_GeV_minus2 * (q2 + (m_MeV / 1e3) ** 2))
    physics = PhysicsParameters(mediator_coupling=g, mediator_mass_MeV=m_MeV)
    got = dsigma_dER(er, 30.0, CS, form_factor="none", physics=physics)[0]
    np.testing.assert_allclose(got, closed_form_dsigma(er, 30.0, m, charge**2), rtol=1e-12, atol=0)
    assert got[0] < closed_form_dsigma(er[:1], 30.0, m, qw**2)[0]  # g > 0: destructive
    # A 100 GeV mediator is a contact interaction: ε^u = ε^d = g/(√2 G_F m²) for every flavour.
    heavy = PhysicsParameters(mediator_coupling=1e-2, mediator_mass_MeV=1e5)
    eps = 1e-2 / (np.sqrt(2) * G_FERMI_GeV_minus2 * 100.0**2)
    nsi = PhysicsParameters(eps_u_ee=eps, eps_d_ee=eps)
    np.testing.assert_allclose(
        dsigma_dER(er, 30.0, CS, physics=heavy),
        dsigma_dER(er, 30.0, CS, physics=nsi, flavour="nu_e"),
        rtol=1e-6,
        atol=0,
    )


# ---- magnetic moment -----------------------------------------------------------------------


def test_magnetic_moment_cross_section_against_vogel_engel_closed_form():
    # dσ_μ/dE_R = (π α² μ² Z²/m_e²)(1/E_R − 1/E_ν) (F = 1): its integral from E_thr to E_max
    # is (π α² μ² Z²/m_e²)[ln(E_max/E_thr) − (E_max − E_thr)/E_ν].
    mu, enu, thr = 3e-10, 30.0, np.array([0.05, 1.0, 10.0])
    physics = PhysicsParameters(magnetic_moment_e_muB=mu)
    kw = {"form_factor": "none", "physics": physics}
    magnetic = (
        sigma_eff(enu, thr, CS, flavour="nu_e", **kw)[0]
        - sigma_eff(enu, thr, CS, form_factor="none")[0]
    )
    e_max = recoil_max_keVnr(enu, CS.mass_GeV[0]) / 1e6
    pref = np.pi * FINE_STRUCTURE**2 * mu**2 * 55**2 / ELECTRON_MASS_GeV**2
    exact = pref * (np.log(e_max / (thr / 1e6)) - (e_max - thr / 1e6) / (enu / 1e3))
    np.testing.assert_allclose(magnetic, exact * GEV_MINUS2_TO_CM2, rtol=1e-9, atol=0)
    # The differential term rises as 1/E_R − 1/E_ν, and only for the flavour that carries μ.
    er = np.array([0.01, 0.1, 1.0])
    d_mag = (
        dsigma_dER(er, enu, CS, flavour="nu_e", **kw)[0]
        - dsigma_dER(er, enu, CS, form_factor="none")[0]
    )
    rise = 1 / (er / 1e6) - 1 / (enu / 1e3)
    np.testing.assert_allclose(d_mag, pref * rise * GEV_MINUS2_TO_CM2 / 1e6, rtol=1e-9, atol=0)
    np.testing.assert_allclose(
        dsigma_dER(er, enu, CS, flavour="nu_mu", **kw),
        dsigma_dER(er, enu, CS, form_factor="none"),
        rtol=1e-12,
        atol=0,
    )
    with pytest.raises(InputError, match="threshold"):
        sigma_eff(enu, 0.0, CS, flavour="nu_e", **kw)
    # At E_R = 0 the rise is infinite (no warning, no nan).
    assert dsigma_dER(0.0, enu, CS, flavour="nu_e", **kw)[0, 0] == np.inf


# ---- nucleon form factors ------------------------------------------------------------------


def helm_with_rms(q, rms):
    from scipy.special import spherical_jn

    r0 = np.sqrt(5 / 3 * (rms**2 - 3 * 0.9**2))
    return 3 * spherical_jn(1, q * r0) / (q * r0) * np.exp(-((q * 0.9) ** 2) / 2)


def test_neutron_form_factor_is_helm_with_the_shifted_radius():
    # At sin²θ_W = 1/4 the proton weak charge vanishes at tree level, so dσ/dσ(F=1) = F_n².
    # ²⁰⁸Pb: R_ch = 5.5012 fm (Angeli & Marinova 2013) → R_p; skin 0.28 fm (PREX-II).
    r_p = np.sqrt(5.5012**2 - 0.8414**2 + 126 / 82 * 0.1161)
    physics = PhysicsParameters(
        sin2_theta_w=0.25, nucleon_form_factors=True, neutron_skin_fm={"Pb": 0.28}
    )
    er = ER[1:5]  # below E_R^max = 28.9 keVnr
    q = momentum_transfer_fm(er, PB208.mass_GeV[0])
    ratio = (
        dsigma_dER(er, 52.8, PB208, physics=physics)[0]
        / dsigma_dER(er, 52.8, PB208, form_factor="none", sin2_theta_w=0.25)[0]
    )
    np.testing.assert_allclose(ratio, helm_with_rms(q, r_p + 0.28) ** 2, rtol=1e-10, atol=0)
    # The same through an explicit neutron rms radius.
    by_radius = PhysicsParameters(
        sin2_theta_w=0.25, nucleon_form_factors=True, neutron_rms_radius_fm={"Pb": r_p + 0.28}
    )
    np.testing.assert_allclose(
        dsigma_dER(er, 52.8, PB208, physics=by_radius),
        dsigma_dER(er, 52.8, PB208, physics=physics),
        rtol=1e-12,
        atol=0,
    )


def test_proton_form_factor_uses_the_measured_charge_radius():
    # ε^d_ee = 1/4 cancels the neutron coupling (g_n + 2ε^d = 0): dσ ∝ Z² (g_p + 1/4)² F_p².
    r_p = np.sqrt(4.8041**2 - 0.8414**2 + 78 / 55 * 0.1161)
    physics = PhysicsParameters(eps_d_ee=0.25, nucleon_form_factors=True)
    er = ER[1:5]
    q = momentum_transfer_fm(er, CS.mass_GeV[0])
    got = dsigma_dER(er, 30.0, CS, physics=physics, flavour="nu_e")[0]
    charge2 = (2 * 55 * (0.5 - 2 * SIN2_THETA_W + 0.25)) ** 2
    expected = closed_form_dsigma(er, 30.0, CS.mass_GeV[0], charge2) * helm_with_rms(q, r_p) ** 2
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)


def test_neutron_skin_moves_csi_and_cspbi3_by_percents_at_pi_dar_recoils():
    # The review: a 0.2–0.3 fm skin moves σ by 3–10 % at 0–15 keVnr for CsI and CsPbI3.
    skin = PhysicsParameters(
        nucleon_form_factors=True, neutron_skin_fm={"Cs": 0.3, "I": 0.3, "Pb": 0.3}
    )
    er = np.array([5.0, 10.0, 15.0])
    for target in (make_target("CsI"), CSPBI3):
        change = 1 - dsigma_dER(er, 40.0, target, physics=skin)[0] / dsigma_dER(er, 40.0, target)[0]
        assert np.all((change > 0.02) & (change < 0.12))
        assert np.all(np.diff(change) > 0)


def test_nucleon_radii_defaults_and_overrides():
    r_p, r_n = nucleon_radii_fm(PB208)
    assert r_p[0] == pytest.approx(5.4529, abs=1e-3)  # ≈ 5.45 fm, PREX's point-proton radius
    assert r_n[0] - r_p[0] == pytest.approx(-0.04 + 1.01 * 44 / 208, rel=1e-12, abs=0)
    r_p2, r_n2 = nucleon_radii_fm(
        PB208, PhysicsParameters(nucleon_form_factors=True, neutron_rms_radius_fm={"Pb": 5.8})
    )
    assert r_p2[0] == r_p[0] and r_n2[0] == 5.8
    with pytest.raises(InputError, match="nucleon_form_factors"):
        PhysicsParameters(neutron_skin_fm={"Pb": 0.2})
    with pytest.raises(InputError, match="not both"):
        PhysicsParameters(
            nucleon_form_factors=True, neutron_skin_fm={"Pb": 0.2}, neutron_rms_radius_fm={"Pb": 5}
        )
    with pytest.raises(InputError, match="Qq"):
        PhysicsParameters(nucleon_form_factors=True, neutron_skin_fm={"Qq": 0.2})


# ---- radiative corrections -----------------------------------------------------------------


def test_radiative_corrections_match_published_couplings_and_move_qw2_by_about_three_percent():
    g_p_e, g_n = nucleon_couplings(SIN2_THETA_W, "e")
    g_p_mu, g_n_mu = nucleon_couplings(SIN2_THETA_W, "mu")
    # g_V^n of the PDG scheme as coded independently in nuDL (physicalConstants.h: −0.512213).
    assert g_n == g_n_mu == pytest.approx(-0.512213, abs=1e-6)
    # Atzori Corona et al. (2023, Erler–Ferro-Hernández scheme): g_V^p(ν_e) = 0.0382,
    # g_V^p(ν_μ) = 0.0300, g_V^n = −0.5117; the two schemes agree to 1e-3.
    assert g_p_e == pytest.approx(0.0382, abs=1e-3)
    assert g_p_mu == pytest.approx(0.0300, abs=1e-3)
    assert g_n == pytest.approx(-0.5117, abs=1e-3)
    # Flavour difference: the SM charge radii, (α/3π) ln(m_μ²/m_e²) = 0.0083.
    assert g_p_e - g_p_mu == pytest.approx(0.00826, abs=2e-5)
    # The review's "radiative corrections move Q_W² by 2.6–2.9 %" (Cs, I; ν_μ).
    rc = PhysicsParameters(radiative_corrections=True)
    for Z, N in ((55, 78), (53, 74)):
        shift = weak_charge_squared(Z, N, physics=rc, flavour="nu_mu") / weak_charge(Z, N) ** 2
        assert 1.026 < shift < 1.029
    # A shifted sin²θ_W moves g_V^p by −2 ρ κ̂ Δs².
    assert nucleon_couplings(SIN2_THETA_W + 0.01, "mu")[0] - g_p_mu == pytest.approx(
        -2 * 1.0086 * 0.9978 * 0.01, rel=1e-9, abs=0
    )


def test_rates_use_each_components_flavour():
    from cevns_fit.rates import differential_rate
    from cevns_fit.sources import make_pion_dar_source

    src = make_pion_dar_source(
        power_MW=1.4, proton_energy_GeV=1.0, nu_per_flavour_per_proton=0.08, distance_m=19.3
    )
    er = np.array([2.0, 10.0])
    base = differential_rate(er, CS, src)
    nsi = differential_rate(er, CS, src, physics=PhysicsParameters(eps_u_ee=0.3))
    for comp in src.components:
        change = np.max(np.abs(nsi[comp.name] / base[comp.name] - 1))
        assert (change > 0.1) if comp.flavour == "nu_e" else (change < 1e-12), comp.name


# ---- the parameter object ------------------------------------------------------------------


def test_parameters_by_name_and_from_a_model_table():
    p = PhysicsParameters()
    assert hash(p) == hash(PhysicsParameters())
    q = p.with_value("neutron_skin_fm.Pb", 0.25).with_value("eps_u_ee", 0.1)
    assert q.nucleon_form_factors and q.value("neutron_skin_fm.Pb") == 0.25
    assert q.value("eps_u_ee") == 0.1 and math.isnan(q.value("neutron_skin_fm.Cs"))
    with pytest.raises(InputError, match="allowed are"):
        p.with_value("eps_s_ee", 0.1)
    csi = p.with_value("neutron_rms_radius_fm.Cs,I", 5.0)
    assert csi.neutron_rms_radius_fm == (("Cs", 5.0), ("I", 5.0))
    assert csi.value("neutron_rms_radius_fm.Cs,I") == 5.0
    assert math.isnan(
        csi.with_value("neutron_rms_radius_fm.I", 4.9).value("neutron_rms_radius_fm.Cs,I")
    )
    table = {
        "sin2_theta_w": 0.24,
        "nucleon_form_factors": True,
        "neutron_rms_radius_fm": {"Cs": 4.9},
    }
    r = PhysicsParameters.from_mapping(table, where="m.toml")
    assert r.sin2_theta_w == 0.24 and r.neutron_rms_radius_fm == (("Cs", 4.9),)
    with pytest.raises(InputError, match="m.toml: unknown key 'sin2_thetaw'"):
        PhysicsParameters.from_mapping({"sin2_thetaw": 0.2}, where="m.toml")
    with pytest.raises(InputError, match="m.toml.*sin2_theta_w = 2"):
        PhysicsParameters.from_mapping({"sin2_theta_w": 2}, where="m.toml")
    assert PhysicsParameters.from_mapping(p.to_dict()) == p


# ---- form factors by rms radius, charge radii ----------------------------------------------


@pytest.mark.parametrize("A", [23, 40, 74, 127, 133, 208])
def test_form_factors_by_rms_radius_reproduce_the_a_parametrisations(A):
    from cevns_fit.form_factors import (
        helm,
        helm_from_rms,
        helm_rms_radius_fm,
        klein_nystrand,
        klein_nystrand_from_rms,
        klein_nystrand_rms_radius_fm,
    )

    q = np.linspace(0.0, 0.6, 61)
    r_h, r_k = helm_rms_radius_fm(A), klein_nystrand_rms_radius_fm(A)
    np.testing.assert_allclose(helm_from_rms(q, r_h), helm(q, A), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        klein_nystrand_from_rms(q, r_k), klein_nystrand(q, A), rtol=1e-12, atol=1e-15
    )
    # The rms radius is the slope at q → 0: F ≈ 1 − q² ⟨r²⟩/6.
    q0 = 1e-3
    for f, r in ((helm(q0, A), r_h), (klein_nystrand(q0, A), r_k)):
        assert np.sqrt(6 * (1 - f) / q0**2) == pytest.approx(r, rel=1e-5, abs=0)


def test_charge_radius_table_and_fallback():
    from cevns_fit.form_factors import helm_rms_radius_fm
    from cevns_fit.nuclear_radii import CHARGE_RADII_fm, charge_radius_fm

    # Two independent descriptions of the same nuclei: the measured charge radii and the
    # Lewin–Smith Helm fit agree to 0.1 fm (2 %).
    for (z, a), r_ch in CHARGE_RADII_fm.items():
        assert abs(r_ch - helm_rms_radius_fm(a)) < 0.1, (z, a)
    assert charge_radius_fm(55, 133)[0] == 4.8041
    assert charge_radius_fm(32, 71)[0] == helm_rms_radius_fm(71)  # not tabulated: Helm
