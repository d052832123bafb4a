"""The result records of :mod:`cevns_fit.inference`, each with ``to_dict`` for JSON output.

:class:`SignificanceResult` (median expected and observed Z, and how), :class:`ExposureResult`
(exposure for a target Z, or why none), :class:`LimitResult` (CLs limits and bands),
:class:`Impact` and :class:`ImpactsResult` (Z with nuisance parameters fixed).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SignificanceResult:
    """Median expected (and observed) discovery significance; ``method`` says how."""

    Z_expected: float
    p0_expected: float
    method: str
    exposure_kg_yr: float
    signal_events: float
    background_events: float
    systematics: bool = True
    Z_observed: float | None = None
    p0_observed: float | None = None
    n_toys: int | None = None
    seed: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        if self.Z_observed is None:
            del out["Z_observed"], out["p0_observed"]
        if self.n_toys is None:
            del out["n_toys"], out["seed"]
        return out


@dataclass(frozen=True)
class ExposureResult:
    """Exposure (kg·yr) for a median expected Z of ``sigma``, or None with a reason."""

    exposure_kg_yr: float | None
    sigma: float
    reason: str | None
    reference_exposure_kg_yr: float
    Z_at_reference: float
    systematics: bool = True
    n_fits: int = 0
    limiting_parameter: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LimitResult:
    """CLs upper limits on μ at confidence level ``cl`` (expected median, bands, observed)."""

    cl: float
    mu_upper_expected: float | None
    mu_upper_expected_band: dict[str, float | None]
    signal_events_upper_expected: float | None
    mu_upper_observed: float | None = None
    signal_events_upper_observed: float | None = None
    method: str = "asymptotic CLs (qtilde)"
    systematics: bool = True
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["notes"] = list(self.notes)
        if self.mu_upper_observed is None:
            del out["mu_upper_observed"], out["signal_events_upper_observed"]
        return out


@dataclass(frozen=True)
class Impact:
    """Median expected Z with one nuisance parameter (set) fixed at its nominal value."""

    parameter: str
    Z_fixed: float
    delta_Z: float  # Z_fixed − Z: the significance this parameter's uncertainty costs

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ImpactsResult:
    """Impacts ranked by cost, largest first, and the statistics-only Z (all fixed)."""

    Z_expected: float
    Z_stat_only: float
    impacts: tuple[Impact, ...]
    exposure_kg_yr: float

    @property
    def most_costly(self) -> str | None:
        return self.impacts[0].parameter if self.impacts else None

    def to_dict(self) -> dict:
        return {
            "Z_expected": self.Z_expected,
            "Z_stat_only": self.Z_stat_only,
            "exposure_kg_yr": self.exposure_kg_yr,
            "most_costly": self.most_costly,
            "impacts": [i.to_dict() for i in self.impacts],
        }
