"""Hand calculations for the tests: constants typed from their published sources, closed forms.

Nothing here imports ``cevns_fit``: a mistyped constant or a dropped factor in the library
cannot cancel against these. Sources: G_F, ħc, the GeV⁻² → cm² conversion and m_μ from PDG 2024
("Physical constants"); 1 u, m_e, N_A from CODATA 2018; atomic masses ¹³³Cs = 132.905451961 u,
¹²⁷I = 126.9044719 u, ⁷⁶Ge = 75.921402726 u from AME2020 (NIST); 1 MeV = 1.602176634e-13 J.
"""

from __future__ import annotations

import math

GF = 1.1663787e-5  # GeV⁻²
HBARC = 0.1973269804  # GeV fm
GEV2_CM2 = 0.3893794e-27  # cm² per GeV⁻²
U_GEV = 0.93149410242
ME_GEV = 0.51099895e-3
N_A = 6.02214076e23
M_MU = 105.6583755  # MeV
J_PER_MEV = 1.602176634e-13
S2W = 0.23857  # PDG 2024 MS-bar at q → 0 (the library default)

CS = dict(Z=55, N=78, u=132.905451961)
IOD = dict(Z=53, N=74, u=126.9044719)
GE76 = dict(Z=32, N=44, u=75.921402726)


def nuclear_mass_GeV(nucleus: dict) -> float:
    return nucleus["u"] * U_GEV - nucleus["Z"] * ME_GEV


def sigma_closed_cm2(nucleus: dict, enu_MeV: float, thr_keV: float, s2w: float = S2W) -> float:
    """F = 1: G_F² M Q_W²/(4π) ∫_T^{E_max} (1 − M x/(2E²)) dx
    = G_F² M Q_W²/(4π) [(E_max − T) − M (E_max² − T²)/(4E²)], E_max = 2E²/(M + 2E)."""
    m, e, t = nuclear_mass_GeV(nucleus), enu_MeV * 1e-3, thr_keV * 1e-6
    qw = nucleus["N"] - (1 - 4 * s2w) * nucleus["Z"]
    e_max = 2 * e**2 / (m + 2 * e)
    if t >= e_max:
        return 0.0
    integral = (e_max - t) - m * (e_max**2 - t**2) / (4 * e**2)
    return GF**2 * m * qw**2 / (4 * math.pi) * integral * GEV2_CM2


def dsigma_closed_cm2_per_keV(nucleus: dict, enu_MeV: float, er_keV: float) -> float:
    m, e = nuclear_mass_GeV(nucleus), enu_MeV * 1e-3
    qw = nucleus["N"] - (1 - 4 * S2W) * nucleus["Z"]
    return (
        GF**2 * m * qw**2 / (4 * math.pi) * (1 - m * er_keV * 1e-6 / (2 * e**2)) * 1e-6 * GEV2_CM2
    )


def helm_hand(q_fm: float, A: int) -> float:
    """Lewin & Smith 1996 Eq. 4.7/4.11: 3 j₁(q r_n)/(q r_n) e^{−(qs)²/2},
    with j₁(x) = sin x/x² − cos x/x."""
    c, a, s = 1.23 * A ** (1 / 3) - 0.60, 0.52, 0.9
    r_n = math.sqrt(c**2 + 7 / 3 * math.pi**2 * a**2 - 5 * s**2)
    x = q_fm * r_n
    j1 = math.sin(x) / x**2 - math.cos(x) / x
    return 3 * j1 / x * math.exp(-((q_fm * s) ** 2) / 2)


def nuclei_per_kg(*nuclei: dict) -> float:
    """Formula units per kg of a compound of these single-isotope nuclei (one of each)."""
    return N_A * 1000.0 / sum(n["u"] for n in nuclei)


def gaussian_bin_average(a: float, b: float, u0: float, u1: float, sigma: float) -> float:
    """P(a ≤ x < b) for x = u + N(0, σ), u uniform on [u0, u1], by quad, each tail from its
    own side (survival functions above u, CDFs below) so that 1e-30 stays 1e-30."""
    from scipy import stats
    from scipy.integrate import quad

    def p(u):
        if a >= u:
            return stats.norm.sf((a - u) / sigma) - stats.norm.sf((b - u) / sigma)
        return stats.norm.cdf((b - u) / sigma) - stats.norm.cdf((a - u) / sigma)

    return quad(p, u0, u1, epsabs=0, epsrel=1e-13)[0] / (u1 - u0)
