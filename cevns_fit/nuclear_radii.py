"""Proton and neutron rms radii of nuclei, for separate proton and neutron form factors.

* **Charge radii** R_ch (fm) of the isotopes of the usual CEvNS targets (Na, Ar, Ge, Br, I, Xe,
  Cs, Pb, Si) from the compilation of I. Angeli & K. P. Marinova, At. Data Nucl. Data Tables 99
  (2013) 69, Table I. An isotope not in the table falls back to the rms radius of the Helm
  parametrisation of its A (:func:`cevns_fit.form_factors.helm_rms_radius_fm`, equal to R_ch
  within 0.1 fm for every tabulated nucleus).
* **Point-proton radius** from the charge radius by removing the nucleons' own charge
  distributions: R_p² = R_ch² − r_p² − (N/Z)⟨r_n²⟩, r_p = 0.8414 fm (CODATA 2018),
  ⟨r_n²⟩ = −0.1161 fm² (PDG 2022) (e.g. Horowitz et al., PRC 85 (2012) 032501). The
  Darwin–Foldy (0.033 fm²) and spin–orbit terms are neglected: < 0.1 % in R_p for A > 20.
* **Neutron rms radius** default: R_n = R_p + Δr_np with the neutron skin of antiprotonic atoms,
  Δr_np = (−0.04 + 1.01 (N − Z)/A) fm (Trzcińska et al., PRL 87 (2001) 082501, their fit over
  26 nuclei from ⁴⁰Ca to ²³⁸U): 0.17 fm for ²⁰⁸Pb (PREX-II measured 0.28 ± 0.07 fm), 0.13 fm for
  ¹³³Cs, 0.13 fm for ¹²⁷I, 0.10 fm for ⁷⁴Ge, 0.06 fm for ⁴⁰Ar.

All functions broadcast over arrays of Z, N, A (one entry per isotope, as in
:class:`cevns_fit.targets.Target`).
"""

from __future__ import annotations

import numpy as np

from cevns_fit.constants import NEUTRON_MS_CHARGE_RADIUS_fm2, PROTON_RMS_CHARGE_RADIUS_fm
from cevns_fit.form_factors import helm_rms_radius_fm

__all__ = [
    "CHARGE_RADII_fm",
    "SKIN_OFFSET_fm",
    "SKIN_SLOPE_fm",
    "charge_radius_fm",
    "point_proton_radius_fm",
    "default_neutron_skin_fm",
]

# (Z, A) -> rms charge radius in fm (Angeli & Marinova 2013, Table I).
CHARGE_RADII_fm: dict[tuple[int, int], float] = {
    (11, 23): 2.9936,
    (14, 28): 3.1224,
    (14, 29): 3.1176,
    (14, 30): 3.1336,
    (18, 36): 3.3905,
    (18, 38): 3.4028,
    (18, 40): 3.4274,
    (32, 70): 4.0414,
    (32, 72): 4.0576,
    (32, 73): 4.0632,
    (32, 74): 4.0742,
    (32, 76): 4.0811,
    (35, 79): 4.1629,
    (35, 81): 4.1599,
    (53, 127): 4.7500,
    (54, 124): 4.7661,
    (54, 126): 4.7722,
    (54, 128): 4.7774,
    (54, 129): 4.7775,
    (54, 130): 4.7818,
    (54, 131): 4.7808,
    (54, 132): 4.7859,
    (54, 134): 4.7899,
    (54, 136): 4.7964,
    (55, 133): 4.8041,
    (82, 204): 5.4803,
    (82, 206): 5.4902,
    (82, 207): 5.4943,
    (82, 208): 5.5012,
}

# Neutron skin of antiprotonic atoms, Δr_np = offset + slope (N − Z)/A (Trzcińska et al. 2001).
SKIN_OFFSET_fm = -0.04
SKIN_SLOPE_fm = 1.01


def charge_radius_fm(Z: np.ndarray, A: np.ndarray) -> np.ndarray:
    """rms charge radius (fm) of each (Z, A): the Angeli–Marinova value, else Helm's rms radius."""
    Z = np.atleast_1d(np.asarray(Z, dtype=int))
    A = np.atleast_1d(np.asarray(A, dtype=int))
    fallback = helm_rms_radius_fm(A)
    return np.array(
        [
            CHARGE_RADII_fm.get((int(z), int(a)), float(f))
            for z, a, f in zip(Z, A, fallback, strict=True)
        ]
    )


def point_proton_radius_fm(Z: np.ndarray, N: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Point-proton rms radius (fm): R_p² = R_ch² − r_p² − (N/Z)⟨r_n²⟩ (module docstring)."""
    Z = np.atleast_1d(np.asarray(Z, dtype=float))
    N = np.atleast_1d(np.asarray(N, dtype=float))
    r_ch = charge_radius_fm(Z, A)
    return np.sqrt(
        r_ch**2 - PROTON_RMS_CHARGE_RADIUS_fm**2 - (N / Z) * NEUTRON_MS_CHARGE_RADIUS_fm2
    )


def default_neutron_skin_fm(Z: np.ndarray, N: np.ndarray) -> np.ndarray:
    """Default neutron skin R_n − R_p (fm) = −0.04 + 1.01 (N − Z)/A (Trzcińska et al. 2001)."""
    Z = np.atleast_1d(np.asarray(Z, dtype=float))
    N = np.atleast_1d(np.asarray(N, dtype=float))
    return SKIN_OFFSET_fm + SKIN_SLOPE_fm * (N - Z) / (N + Z)
