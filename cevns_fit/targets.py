"""Targets: a chemical formula becomes the list of nuclei a neutrino can scatter on.

Isotopic abundances and atomic masses come from ``periodictable`` (IUPAC/NIST data), never
from hand-typed tables. A compound is its formula: CsPbI3 has five nuclei per formula unit,
and every natural isotope of every element is kept as its own entry, so form factors and
kinematics are evaluated per isotope (never from the first isotope of a compound).

Custom isotopic compositions (enriched ⁷⁶Ge, archaeological Pb) replace an element's natural
abundances: ``make_target("Ge", {"Ge": {76: 0.88, 74: 0.12}})``.

>>> t = make_target("CsPbI3")
>>> round(float(t.nuclei_per_formula_unit.sum()), 6)
5.0
>>> t.labels[:2]
('Cs133', 'Pb204')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import periodictable

from cevns_fit.constants import AVOGADRO, AMU_GeV, ELECTRON_MASS_GeV
from cevns_fit.errors import InputError

__all__ = ["Target", "make_target", "parse_composition"]


@dataclass(frozen=True)
class Target:
    """The nuclei of a target material, one entry per isotope.

    Arrays have one entry per isotope; ``nuclei_per_formula_unit`` is the stoichiometric count
    times the isotopic fraction, so it sums to the number of nuclei in one formula unit.
    Masses are nuclear masses in GeV (atomic mass minus Z electron masses; electron binding
    energies, below 1e-4 of the mass, are neglected).
    """

    name: str
    labels: tuple[str, ...]
    Z: np.ndarray
    N: np.ndarray
    A: np.ndarray
    mass_GeV: np.ndarray
    nuclei_per_formula_unit: np.ndarray
    molar_mass_g_per_mol: float

    @property
    def n_isotopes(self) -> int:
        return len(self.labels)

    @property
    def nuclear_fraction(self) -> np.ndarray:
        """Fraction of the target's nuclei that are each isotope (sums to one).

        Averaging a per-nucleus quantity with these weights is the seed's (Cs + Pb + 3 I)/5
        (Jesús-Valls & Sánchez 2023, footnote 2)."""
        return self.nuclei_per_formula_unit / self.nuclei_per_formula_unit.sum()

    @property
    def nuclei_per_kg(self) -> np.ndarray:
        """Nuclei of each isotope in one kilogram of target."""
        return self.nuclei_per_formula_unit * AVOGADRO * 1000.0 / self.molar_mass_g_per_mol

    @property
    def total_nuclei_per_kg(self) -> float:
        return float(self.nuclei_per_kg.sum())

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "isotopes": list(self.labels),
            "nuclear_fraction": self.nuclear_fraction,
            "molar_mass_g_per_mol": self.molar_mass_g_per_mol,
            "nuclei_per_kg": self.total_nuclei_per_kg,
        }


def _element(symbol: str, formula: str) -> periodictable.core.Element:
    try:
        return periodictable.elements.symbol(symbol)
    except ValueError:
        raise InputError(f"target {formula!r}: unknown element {symbol!r}") from None


def _parse_formula(formula: str) -> dict[str, float]:
    """Element symbol -> atoms per formula unit, via periodictable's formula grammar."""
    if not isinstance(formula, str) or not formula.strip():
        raise InputError("target: empty chemical formula")
    # periodictable also accepts mixtures and densities ("H2O@1", "5g NaCl"); a target is one
    # compound, so allow only element symbols, counts, parentheses and dots.
    if not re.fullmatch(r"[A-Za-z0-9().]+", formula):
        raise InputError(
            f"target {formula!r}: malformed chemical formula "
            "(use element symbols and counts, e.g. CsPbI3, CH3NH3PbI3, Al2O3)"
        )
    try:
        parsed = periodictable.formula(formula)
    except ValueError as exc:
        raise InputError(f"target {formula!r}: {exc}") from None
    except Exception:  # pyparsing's ParseException: the grammar rejected the string
        raise InputError(
            f"target {formula!r}: malformed chemical formula "
            "(element symbols are case-sensitive, e.g. CsPbI3 not cspbi3)"
        ) from None
    atoms = {el.symbol: float(n) for el, n in parsed.atoms.items()}
    if not atoms or any(n <= 0 for n in atoms.values()):
        raise InputError(f"target {formula!r}: formula has no atoms")
    for el in parsed.atoms:
        if getattr(el, "isotope", None) is not None or el.number == 0:
            raise InputError(
                f"target {formula!r}: give elements in the formula and isotopes via a composition"
            )
    return atoms


def parse_composition(text: str) -> dict[str, dict[int, float]]:
    """Parse ``"Ge:76=0.88,74=0.12;Pb:208=1"`` into element -> {mass number: fraction}:
    ``{"Ge": {76: 0.88, 74: 0.12}, "Pb": {208: 1.0}}``."""
    out: dict[str, dict[int, float]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        symbol, sep, rest = part.partition(":")
        if not sep:
            raise InputError(f"composition {part!r}: expected ELEMENT:A=FRACTION,... ")
        fractions: dict[int, float] = {}
        for item in rest.split(","):
            a_text, eq, f_text = item.partition("=")
            try:
                fractions[int(a_text)] = float(f_text)
            except ValueError:
                raise InputError(
                    f"composition {part!r}: bad entry {item!r}, expected A=FRACTION"
                ) from None
            if not eq:
                raise InputError(f"composition {part!r}: bad entry {item!r}, expected A=FRACTION")
        out[symbol.strip()] = fractions
    return out


def _isotopic_fractions(
    element: periodictable.core.Element, custom: dict[int, float] | None, formula: str
) -> dict[int, float]:
    if custom is None:
        natural = {a: element[a].abundance / 100.0 for a in element.isotopes}
        natural = {a: f for a, f in natural.items() if f > 0}
        if not natural:
            raise InputError(
                f"target {formula!r}: {element.symbol} has no stable isotopes; give a composition"
            )
        total = sum(natural.values())  # tables sum to 1 within ~1e-15; renormalise exactly
        return {a: f / total for a, f in natural.items()}
    for a, f in custom.items():
        if a not in element.isotopes:
            raise InputError(f"composition of {element.symbol}: no isotope with A = {a}")
        if not np.isfinite(f) or f < 0:
            raise InputError(f"composition of {element.symbol}: fraction of A = {a} must be >= 0")
    total = sum(custom.values())
    if not abs(total - 1.0) < 1e-6:
        raise InputError(
            f"composition of {element.symbol}: fractions sum to {total:.6g}, they must sum to 1"
        )
    return {a: f for a, f in custom.items() if f > 0}


def make_target(
    formula: str,
    composition: dict[str, dict[int, float]] | None = None,
    *,
    strict: bool = True,
) -> Target:
    """Build a :class:`Target` from a chemical formula and optional isotopic compositions.

    Parameters
    ----------
    formula : str
        Chemical formula, element symbols case-sensitive: ``"CsPbI3"``, ``"CH3NH3PbI3"``,
        ``"Ge"``, ``"PbWO4"``, ``"Al2O3"``.
    composition : dict, optional
        ``{element: {mass number: fraction}}`` replacing natural abundances (fractions sum to 1).
    strict : bool
        If True (default) a composition for an element absent from the formula is an error;
        if False it is ignored (one composition applied to several targets).
    """
    atoms = _parse_formula(formula)
    composition = composition or {}
    unknown = set(composition) - set(atoms)
    if unknown and strict:
        raise InputError(
            f"composition: element(s) {sorted(unknown)} are not in the formula {formula!r}"
        )
    labels, Z, N, A, mass, count = [], [], [], [], [], []
    molar_mass = 0.0
    for symbol, n_atoms in atoms.items():
        element = _element(symbol, formula)
        for a, fraction in sorted(
            _isotopic_fractions(element, composition.get(symbol), formula).items()
        ):
            atomic_mass_u = element[a].mass
            labels.append(f"{symbol}{a}")
            Z.append(element.number)
            A.append(a)
            N.append(a - element.number)
            mass.append(atomic_mass_u * AMU_GeV - element.number * ELECTRON_MASS_GeV)
            count.append(n_atoms * fraction)
            molar_mass += n_atoms * fraction * atomic_mass_u
    return Target(
        name=formula,
        labels=tuple(labels),
        Z=np.array(Z, dtype=int),
        N=np.array(N, dtype=int),
        A=np.array(A, dtype=int),
        mass_GeV=np.array(mass),
        nuclei_per_formula_unit=np.array(count),
        molar_mass_g_per_mol=molar_mass,
    )
