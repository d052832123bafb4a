"""Physical constants and unit conversions (PDG 2024 / CODATA 2018).

Every constant carries its unit in its name. Sources: PDG Review of Particle Physics (2024),
"Physical constants" and "Electroweak model" tables; CODATA 2018 for the atomic mass unit.
"""

from __future__ import annotations

__all__ = [
    "G_FERMI_GeV_minus2",
    "HBARC_GeV_fm",
    "HBARC_MeV_fm",
    "GEV_MINUS2_TO_CM2",
    "SIN2_THETA_W",
    "SIN2_THETA_W_ZPOLE",
    "AMU_GeV",
    "ELECTRON_MASS_GeV",
    "FINE_STRUCTURE",
    "TAU_MASS_MeV",
    "PROTON_RMS_CHARGE_RADIUS_fm",
    "NEUTRON_MS_CHARGE_RADIUS_fm2",
    "PION_MASS_MeV",
    "MUON_MASS_MeV",
    "MUON_LIFETIME_us",
    "AVOGADRO",
    "SECONDS_PER_DAY",
    "DAYS_PER_YEAR",
    "SECONDS_PER_YEAR",
    "MEV_PER_JOULE",
    "CM_PER_M",
]

# Fermi constant G_F/(ħc)^3 (PDG 2024).
G_FERMI_GeV_minus2 = 1.1663787e-5
# ħc (CODATA 2018 exact-derived).
HBARC_GeV_fm = 0.1973269804
HBARC_MeV_fm = HBARC_GeV_fm * 1e3
# (ħc)^2 conversion: 1 GeV^-2 = 0.3893794e-27 cm^2 (PDG).
GEV_MINUS2_TO_CM2 = 0.3893794e-27
# Weak mixing angle at q -> 0 in the MS-bar scheme (PDG 2024, Electroweak model review).
# NOT the Z-pole value 0.2312: CEvNS momentum transfers are tens of MeV.
SIN2_THETA_W = 0.23857
SIN2_THETA_W_ZPOLE = 0.23122

# Atomic mass unit and electron mass (CODATA 2018), in GeV.
AMU_GeV = 0.93149410242
ELECTRON_MASS_GeV = 0.51099895e-3
# Fine-structure constant at q -> 0 (CODATA 2018).
FINE_STRUCTURE = 7.2973525693e-3

# Nucleon charge radii, to turn a nuclear charge radius into a point-proton radius:
# proton rms charge radius (CODATA 2018) and neutron mean-square charge radius (PDG 2022).
PROTON_RMS_CHARGE_RADIUS_fm = 0.8414
NEUTRON_MS_CHARGE_RADIUS_fm2 = -0.1161

# Charged pion and muon masses (PDG 2024), in MeV; muon lifetime in microseconds.
PION_MASS_MeV = 139.57039
MUON_MASS_MeV = 105.6583755
MUON_LIFETIME_us = 2.1969811
# Tau mass (PDG 2022), in MeV: enters only the logarithm of the ν_τ charge radius.
TAU_MASS_MeV = 1776.86

AVOGADRO = 6.02214076e23
SECONDS_PER_DAY = 86400.0
HOURS_PER_DAY = 24.0
DAYS_PER_YEAR = 365.25
SECONDS_PER_YEAR = SECONDS_PER_DAY * DAYS_PER_YEAR
MEV_PER_JOULE = 1.0 / 1.602176634e-13
CM_PER_M = 100.0
