"""Quenching: how much of a nuclear recoil's energy shows up as electron-equivalent signal.

A nuclear recoil of energy E_nr (keVnr) gives the signal of an electron of energy
E_ee = Q(E_nr) · E_nr (keVee). Which model to use:

* :class:`ConstantQuenching` -- one number, e.g. COHERENT CsI[Na] 2017: Q = 0.0878 ± 0.0166
  (data release arXiv:1804.09459), or the lead-perovskite *assumption* Q ≈ 0.3 (unknown: no
  measurement exists; the seed, Jesús-Valls & Sánchez 2023, assumes Q ≈ Q_Ge ≈ 1/3).
* :class:`LindhardQuenching` -- Lindhard theory (Lindhard et al., Mat. Fys. Medd. Dan. Vid.
  Selsk. 33 (1963) 10; parametrisation of Lewin & Smith 1996)::

      Y = k g(ε) / (1 + k g(ε)),  ε = 11.5 E_nr[keV] Z^(−7/3),  g = 3ε^0.15 + 0.7ε^0.6 + ε,

  with the theoretical k = 0.133 Z^(2/3) A^(−1/2) (≈ 0.157 for Ge; measured Ge k ≈ 0.16–0.2).
* :class:`PolynomialQuenching` -- Q = Σ c_i E_nr^i (COHERENT Ar: Q = 0.246 + 0.00078 E_nr,
  arXiv:2003.10630), with either one relative 1σ on Q or a 1σ per coefficient and an optional
  correlation matrix (a fit's covariance C = diag(σ) ρ diag(σ)).
* :class:`TabulatedQuenching` -- measured points interpolated linearly in E_nr and held
  constant beyond the table (e.g. ``qfData_chicago.txt`` of the COHERENT release).

Every model carries its own 1σ uncertainty. ``variations()`` maps each independent nuisance
parameter of the likelihood to the (−1σ, +1σ) models: ``"quenching"`` for the one-parameter
uncertainties, ``"quenching_0"``, ``"quenching_1"``, ... for the eigen-directions of a
polynomial's coefficient covariance (C = Σ_j λ_j v_j v_jᵀ; direction j moves the coefficients by
±√λ_j v_j, largest λ first, so the shifts of Q(E) add in quadrature to the propagated variance
gᵀ C g, g_i = E^i). ``varied(n_sigma)`` is the one-number shift used by scans and the ±1σ
curves of ``compare`` (for per-coefficient σ: every coefficient by n σ_i together, a
conservative envelope like the tabulated points' correlated errors); ``scaled(s)`` multiplies Q
by s (scans of an unknown quenching factor). One quenching function is applied to every nucleus
of a compound.

``factor(E)`` is floored at 1e-6 (a quenching factor is a positive fraction): the loader rejects
models that leave (0, 1] inside the analysis range (:mod:`cevns_fit.response_checks`), so the
floor only acts outside it; ``factor(E, floor=False)`` and ``varied(n, floor=False)`` give the
unfloored values those checks look at.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError

__all__ = [
    "ConstantQuenching",
    "LindhardQuenching",
    "PolynomialQuenching",
    "TabulatedQuenching",
    "QuenchingModel",
    "lindhard_k",
    "lindhard_yield",
    "electron_equivalent_keVee",
    "load_quenching_table",
]

# Quenching is a fraction of the recoil energy: keep varied models inside (0, 1].
_Q_FLOOR = 1e-6


def lindhard_k(Z: float, A: float) -> float:
    """Lindhard's k = 0.133 Z^(2/3) A^(−1/2) (Lindhard et al. 1963); 0.157 for Ge (Z=32, A=72.6)."""
    return 0.133 * Z ** (2.0 / 3.0) / np.sqrt(A)


def lindhard_yield(energy_keVnr: np.ndarray, Z: float, k: float) -> np.ndarray:
    """Lindhard ionisation yield Y(E_nr) = k g(ε)/(1 + k g(ε)) (Lewin & Smith 1996, Eq. 2.10).

    ε = 11.5 E_nr[keV] Z^(−7/3), g(ε) = 3ε^0.15 + 0.7ε^0.6 + ε. Dimensionless; E_nr in keVnr.
    Ge with k = 0.157 gives Y ≈ 0.213 at 5 keVnr."""
    eps = 11.5 * np.asarray(energy_keVnr, dtype=float) * Z ** (-7.0 / 3.0)
    eps = np.clip(eps, 0.0, None)
    g = 3.0 * eps**0.15 + 0.7 * eps**0.6 + eps
    return k * g / (1.0 + k * g)


@dataclass(frozen=True)
class ConstantQuenching:
    """Q(E_nr) = value, with an absolute 1σ ``sigma``."""

    value: float
    sigma: float = 0.0
    note: str = ""

    def factor(self, energy_keVnr: np.ndarray, *, floor: bool = True) -> np.ndarray:
        q = np.full_like(np.asarray(energy_keVnr, dtype=float), self.value)
        return _floored(q, floor)

    @property
    def has_uncertainty(self) -> bool:
        return self.sigma > 0

    @property
    def relative_sigma(self) -> float:
        return self.sigma / self.value

    def varied(self, n_sigma: float, *, floor: bool = True) -> ConstantQuenching:
        value = self.value + n_sigma * self.sigma
        return replace(self, value=max(value, _Q_FLOOR) if floor else value)

    def variations(self, *, floor: bool = True) -> dict[str, tuple[QuenchingModel, QuenchingModel]]:
        """{"quenching": (Q − σ, Q + σ)}, or {} without an uncertainty."""
        return _single_parameter_variations(self, floor)

    def scaled(self, scale: float) -> ConstantQuenching:
        return replace(self, value=self.value * scale, sigma=self.sigma * scale)

    def to_dict(self) -> dict:
        return {"model": "constant", "value": self.value, "sigma": self.sigma, "note": self.note}


@dataclass(frozen=True)
class LindhardQuenching:
    """Lindhard yield for atomic number Z with parameter k (1σ ``sigma_k``), times ``scale``."""

    k: float
    Z: float
    sigma_k: float = 0.0
    scale: float = 1.0
    note: str = ""

    def factor(self, energy_keVnr: np.ndarray, *, floor: bool = True) -> np.ndarray:
        return _floored(self.scale * lindhard_yield(energy_keVnr, self.Z, self.k), floor)

    @property
    def has_uncertainty(self) -> bool:
        return self.sigma_k > 0

    @property
    def relative_sigma(self) -> float:
        return self.sigma_k / self.k

    def varied(self, n_sigma: float, *, floor: bool = True) -> LindhardQuenching:
        k = self.k + n_sigma * self.sigma_k
        return replace(self, k=max(k, _Q_FLOOR) if floor else k)

    def variations(self, *, floor: bool = True) -> dict[str, tuple[QuenchingModel, QuenchingModel]]:
        """{"quenching": (k − σ_k, k + σ_k)}, or {} without an uncertainty."""
        return _single_parameter_variations(self, floor)

    def scaled(self, scale: float) -> LindhardQuenching:
        return replace(self, scale=self.scale * scale)

    def to_dict(self) -> dict:
        return {
            "model": "lindhard",
            "k": self.k,
            "sigma_k": self.sigma_k,
            "Z": self.Z,
            "scale": self.scale,
            "note": self.note,
        }


@dataclass(frozen=True)
class PolynomialQuenching:
    """Q(E_nr) = scale · Σ c_i E_nr^i (E_nr in keVnr, ``coefficients`` lowest order first).

    The 1σ is either ``relative_sigma`` (one relative scale on Q, nuisance "quenching") or
    ``sigmas``, an absolute 1σ per coefficient, with an optional ``correlation`` matrix ρ
    (identity if absent): the coefficients' covariance is C = diag(σ) ρ diag(σ), and each of
    its eigen-directions with a non-zero eigenvalue is one nuisance parameter (see the module
    docstring and :meth:`variations`).
    """

    coefficients: tuple[float, ...]
    relative_sigma: float = 0.0
    scale: float = 1.0
    note: str = ""
    sigmas: tuple[float, ...] | None = None
    correlation: tuple[tuple[float, ...], ...] | None = None

    def factor(self, energy_keVnr: np.ndarray, *, floor: bool = True) -> np.ndarray:
        # np.polynomial.polynomial.polyval takes coefficients lowest order first.
        q = np.polynomial.polynomial.polyval(
            np.asarray(energy_keVnr, dtype=float), self.coefficients
        )
        return _floored(self.scale * q, floor)

    @property
    def has_uncertainty(self) -> bool:
        return self.relative_sigma > 0 or (self.sigmas is not None and any(self.sigmas))

    @property
    def covariance(self) -> np.ndarray | None:
        """C = diag(σ) ρ diag(σ) of the coefficients (before ``scale``), or None."""
        if self.sigmas is None:
            return None
        sigma = np.asarray(self.sigmas, dtype=float)
        rho = np.eye(len(sigma)) if self.correlation is None else np.asarray(self.correlation)
        return sigma[:, None] * rho * sigma[None, :]

    def eigen_shifts(self) -> np.ndarray:
        """(n_directions, n_coefficients) 1σ coefficient shifts √λ_j v_j of the covariance's
        eigen-directions with λ_j > 1e-12 λ_max, largest λ first; each v_j's largest component is
        positive (so with a diagonal C, direction j raises exactly one coefficient by its σ)."""
        cov = self.covariance
        if cov is None or not np.any(cov):
            return np.zeros((0, len(self.coefficients)))
        lam, vec = np.linalg.eigh(cov)  # symmetric: real λ ascending, orthonormal columns v_j
        order = np.argsort(lam)[::-1]
        lam, vec = lam[order], vec[:, order]
        keep = lam > 1e-12 * lam[0]
        lam, vec = lam[keep], vec[:, keep]
        signs = np.sign(vec[np.argmax(np.abs(vec), axis=0), np.arange(vec.shape[1])])
        return (vec * signs * np.sqrt(lam)).T

    def varied(self, n_sigma: float, *, floor: bool = True) -> PolynomialQuenching:
        if self.sigmas is not None:
            shifted = np.asarray(self.coefficients) + n_sigma * np.asarray(self.sigmas)
            return replace(self, coefficients=tuple(shifted), sigmas=None, correlation=None)
        factor = 1.0 + n_sigma * self.relative_sigma
        return replace(self, scale=self.scale * (max(factor, _Q_FLOOR) if floor else factor))

    def variations(self, *, floor: bool = True) -> dict[str, tuple[QuenchingModel, QuenchingModel]]:
        """(−1σ, +1σ) models per nuisance parameter: "quenching" for ``relative_sigma``;
        "quenching_0", "quenching_1", ... (largest eigenvalue first) for ``sigmas``."""
        if self.sigmas is None:
            return _single_parameter_variations(self, floor)
        base = np.asarray(self.coefficients, dtype=float)
        out: dict[str, tuple[QuenchingModel, QuenchingModel]] = {}
        for j, shift in enumerate(self.eigen_shifts()):
            down, up = (
                replace(
                    self, coefficients=tuple(base + sign * shift), sigmas=None, correlation=None
                )
                for sign in (-1.0, 1.0)
            )
            out[f"quenching_{j}"] = (down, up)
        return out

    def scaled(self, scale: float) -> PolynomialQuenching:
        return replace(self, scale=self.scale * scale)

    def to_dict(self) -> dict:
        return {
            "model": "polynomial",
            "coefficients": list(self.coefficients),
            "relative_sigma": self.relative_sigma,
            "sigmas": None if self.sigmas is None else list(self.sigmas),
            "correlation": None
            if self.correlation is None
            else [list(r) for r in self.correlation],
            "scale": self.scale,
            "note": self.note,
        }


@dataclass(frozen=True)
class TabulatedQuenching:
    """Measured Q at recoil energies (keVnr), linear interpolation, constant beyond the ends.

    The 1σ variation moves every point by its own error (``sigma_lo``/``sigma_hi``, absolute;
    fully correlated, as a conservative envelope) or, without errors, by ``relative_sigma``.
    """

    energy_keVnr: tuple[float, ...]
    values: tuple[float, ...]
    sigma_lo: tuple[float, ...] | None = None
    sigma_hi: tuple[float, ...] | None = None
    relative_sigma: float = 0.0
    scale: float = 1.0
    note: str = ""

    def factor(self, energy_keVnr: np.ndarray, *, floor: bool = True) -> np.ndarray:
        q = self.scale * np.interp(
            np.asarray(energy_keVnr, dtype=float), self.energy_keVnr, self.values
        )
        return _floored(q, floor)

    @property
    def has_uncertainty(self) -> bool:
        return self.sigma_hi is not None or self.relative_sigma > 0

    def varied(self, n_sigma: float, *, floor: bool = True) -> TabulatedQuenching:
        values = np.asarray(self.values)
        if self.sigma_hi is not None:
            err = np.asarray(self.sigma_hi if n_sigma > 0 else self.sigma_lo)
            shifted = values + n_sigma * err
            if floor:
                shifted = np.clip(shifted, _Q_FLOOR, None)
            return replace(self, values=tuple(shifted), sigma_lo=None, sigma_hi=None)
        factor = 1.0 + n_sigma * self.relative_sigma
        return replace(self, scale=self.scale * (max(factor, _Q_FLOOR) if floor else factor))

    def variations(self, *, floor: bool = True) -> dict[str, tuple[QuenchingModel, QuenchingModel]]:
        """{"quenching": (points − errors, points + errors)} (or Q × (1 ∓ relative_sigma))."""
        return _single_parameter_variations(self, floor)

    def scaled(self, scale: float) -> TabulatedQuenching:
        return replace(self, scale=self.scale * scale)

    def to_dict(self) -> dict:
        return {
            "model": "tabulated",
            "energy_keVnr": list(self.energy_keVnr),
            "values": list(self.values),
            "relative_sigma": self.relative_sigma,
            "has_point_errors": self.sigma_hi is not None,
            "scale": self.scale,
            "note": self.note,
        }


QuenchingModel = ConstantQuenching | LindhardQuenching | PolynomialQuenching | TabulatedQuenching


def _floored(q: np.ndarray, floor: bool) -> np.ndarray:
    return np.maximum(q, _Q_FLOOR) if floor else q


def _single_parameter_variations(
    model: QuenchingModel, floor: bool
) -> dict[str, tuple[QuenchingModel, QuenchingModel]]:
    """One nuisance parameter "quenching": the model at −1σ and +1σ, or none without a 1σ."""
    if not model.has_uncertainty:
        return {}
    return {"quenching": (model.varied(-1.0, floor=floor), model.varied(+1.0, floor=floor))}


def electron_equivalent_keVee(quenching: QuenchingModel, energy_keVnr: np.ndarray) -> np.ndarray:
    """Electron-equivalent energy E_ee = Q(E_nr) · E_nr in keVee for recoils in keVnr."""
    energy = np.asarray(energy_keVnr, dtype=float)
    return quenching.factor(energy) * energy


def load_quenching_table(paths: list[Path]) -> TabulatedQuenching:
    """Read measured quenching points from comma- or space-separated files ('#' comments).

    Column layouts recognised (those of the COHERENT 2017 release):
    2 columns ``E_nr, Q``; 4 columns ``E_nr, dE, Q, dQ`` (qfData_chicago.txt);
    6 columns ``E_nr, dE_hi, dE_lo, Q, dQ_hi, dQ_lo`` (qfData_tunl.txt). Several files are merged
    and sorted in energy; a repeated energy is an error. Energies in keVnr, Q dimensionless.
    """
    rows_E, rows_Q, rows_lo, rows_hi = [], [], [], []
    have_errors = True
    for path in paths:
        try:
            table = np.loadtxt(
                path, comments="#", delimiter=None if _space_separated(path) else ",", ndmin=2
            )
        except FileNotFoundError:
            raise InputError(f"quenching table {path}: file not found") from None
        except ValueError as exc:
            raise InputError(f"quenching table {path}: not a numeric table ({exc})") from None
        ncol = table.shape[1]
        if ncol == 2:
            e, q, lo, hi = table[:, 0], table[:, 1], None, None
        elif ncol == 4:
            e, q, lo, hi = table[:, 0], table[:, 2], table[:, 3], table[:, 3]
        elif ncol == 6:
            e, q, hi, lo = table[:, 0], table[:, 3], table[:, 4], table[:, 5]
        else:
            raise InputError(
                f"quenching table {path}: {ncol} columns; allowed are 2 (E_nr, Q), "
                "4 (E_nr, dE, Q, dQ) or 6 (E_nr, dE_hi, dE_lo, Q, dQ_hi, dQ_lo)"
            )
        if (
            len(e) == 0
            or np.any(~np.isfinite(table))
            or np.any(e < 0)
            or np.any(q <= 0)
            or np.any(q > 1)
        ):
            raise InputError(f"quenching table {path}: energies must be >= 0 and 0 < Q <= 1")
        rows_E.append(e)
        rows_Q.append(q)
        if lo is None:
            have_errors = False
        else:
            rows_lo.append(lo)
            rows_hi.append(hi)
    energy = np.concatenate(rows_E)
    order = np.argsort(energy, kind="stable")
    # Measurements may be listed in any order (the TUNL file is not sorted), but two Q values
    # at one energy leave the interpolation undefined.
    repeated = np.flatnonzero(np.diff(energy[order]) == 0)
    if repeated.size:
        names = ", ".join(p.name for p in paths)
        raise InputError(
            f"quenching table {names}: energy {energy[order][repeated[0]]:g} keVnr appears "
            "twice; give each recoil energy once"
        )
    q = np.concatenate(rows_Q)[order]
    lo = np.concatenate(rows_lo)[order] if have_errors else None
    hi = np.concatenate(rows_hi)[order] if have_errors else None
    return TabulatedQuenching(
        energy_keVnr=tuple(energy[order]),
        values=tuple(q),
        sigma_lo=None if lo is None else tuple(lo),
        sigma_hi=None if hi is None else tuple(hi),
    )


def _space_separated(path: Path) -> bool:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                return "," not in line
    return True
