"""Targets: formulas become nuclei with natural abundances from periodictable."""

import numpy as np
import pytest

from cevns_fit.constants import AVOGADRO
from cevns_fit.errors import InputError
from cevns_fit.targets import make_target, parse_composition

FORMULAS = [
    "CsPbI3",
    "CsPbBr3",
    "CH3NH3PbI3",
    "Ge",
    "CsI",
    "NaI",
    "Ar",
    "Xe",
    "Si",
    "PbWO4",
    "CaWO4",
    "Al2O3",
]


@pytest.mark.parametrize("formula", FORMULAS)
def test_isotopic_fractions_of_every_element_sum_to_one(formula):
    target = make_target(formula)
    assert np.isclose(target.nuclear_fraction.sum(), 1.0, atol=1e-12)
    for z in np.unique(target.Z):
        per_element = target.nuclei_per_formula_unit[target.Z == z].sum()
        assert np.isclose(per_element, round(per_element), atol=1e-9)


def test_cspbi3_has_five_nuclei_per_formula_unit_and_published_molar_mass():
    target = make_target("CsPbI3")
    assert target.nuclei_per_formula_unit.sum() == pytest.approx(5.0, rel=1e-6, abs=0)
    assert target.molar_mass_g_per_mol == pytest.approx(
        720.8, abs=0.1
    )  # 132.905 + 207.2 + 3 × 126.904 g/mol


def test_nuclei_per_kg_match_physics_reference():
    # 5 × 1000/720.8 = 6.94 (CsPbI3) vs 1000/72.63 = 13.77 (Ge) mol of nuclei per kg.
    assert make_target("CsPbI3").total_nuclei_per_kg / AVOGADRO == pytest.approx(6.94, abs=0.01)
    assert make_target("Ge").total_nuclei_per_kg / AVOGADRO == pytest.approx(13.77, abs=0.01)


def test_germanium_natural_abundances_from_nist():
    target = make_target("Ge")
    expected = {"Ge70": 0.2052, "Ge72": 0.2745, "Ge73": 0.0776, "Ge74": 0.3652, "Ge76": 0.0775}
    got = dict(zip(target.labels, target.nuclear_fraction, strict=True))
    for label, fraction in expected.items():
        assert got[label] == pytest.approx(fraction, abs=1e-4)


def test_nuclear_mass_is_atomic_mass_minus_electrons():
    cs = make_target("Cs")
    # 132.905451959 u × 0.93149410242 GeV/u − 55 m_e
    assert cs.mass_GeV[0] == pytest.approx(
        132.905451959 * 0.93149410242 - 55 * 0.51099895e-3, rel=1e-12, abs=0
    )
    assert cs.N[0] == 78


def test_enriched_germanium_composition_replaces_natural_abundances():
    target = make_target("Ge", {"Ge": {76: 0.88, 74: 0.12}})
    assert target.labels == ("Ge74", "Ge76")
    assert target.molar_mass_g_per_mol == pytest.approx(0.88 * 75.9214 + 0.12 * 73.9212, abs=1e-3)


def test_composition_string_parses():
    assert parse_composition("Ge:76=0.88,74=0.12;Pb:208=1") == {
        "Ge": {76: 0.88, 74: 0.12},
        "Pb": {208: 1.0},
    }


@pytest.mark.parametrize(
    "formula, composition",
    [
        ("Xx2", None),
        ("cspbi3", None),
        ("", None),
        ("H2O@1", None),
        ("Ge", {"Ge": {76: 0.5}}),
        ("Ge", {"Ge": {99: 1.0}}),
        ("Ge", {"Pb": {208: 1.0}}),
        ("Ge", {"Ge": {76: -0.1, 74: 1.1}}),
    ],
)
def test_bad_formulas_and_compositions_raise_input_error(formula, composition):
    with pytest.raises(InputError):
        make_target(formula, composition)
