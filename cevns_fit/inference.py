"""Discovery significance, exposure needed and CLs upper limits from analysis templates.

What to use when
----------------
* :func:`expected_significance` — median expected discovery significance of the CEvNS signal
  (Asimov data generated at μ = 1 with nominal nuisances, tested at μ = 0 with q0; Cowan,
  Cranmer, Gross, Vitells, EPJC 71:1554 (2011), arXiv:1007.1727, Eqs. 12, 24, 52). With observed
  data attached (``templates.with_data``) it also gives the observed significance.
  ``method="asymptotic"`` (default; fast), ``"toys"`` (seeded pseudo-experiments, the reference
  at low counts), ``"exact"`` (Poisson tail, single-bin counting without nuisances) or
  ``"auto"`` (toys when the expected background is below :data:`LOW_COUNT_BACKGROUND` events).
* :func:`exposure_needed` — the exposure (kg·yr) at which the median expected Z reaches
  ``sigma``; ``None`` with a ``reason`` when systematics cap Z below it.
* :func:`upper_limit` — CLs upper limit on μ (q̃_μ asymptotics, arXiv:1007.1727 Eq. 16; Read,
  J. Phys. G 28 (2002) 2693), expected with ±1σ/±2σ bands, and observed with data.
* :func:`significance_impacts` — Z with each nuisance parameter fixed in turn: which
  systematic costs the most significance; also the statistics-only Z.

All of them use :mod:`cevns_fit.fastlik` (the same HistFactory likelihood as the pyhf
workspace of :func:`cevns_fit.likelihood.build_workspace`, evaluated with analytic gradients).
``expected_significance(..., fast=False)`` runs plain pyhf instead (numpy + minuit) for
cross-checks. On pre-fit Asimov data the free fit is the nominal point, so an expected
significance costs one fit (μ = 0), not two.

Zero background (bins with signal but exactly no expected background): one event there
excludes μ = 0, so p0 = 0 and Z = inf (JSON null, with a note; the b → 0 limit of Cowan's
Z_A diverges). The median experiment sees an event there once the signal there reaches ln 2
events, which is the exposure needed for any σ; ``method`` is then "background-free".
Without any background the CLs limit is the exact Poisson one (2.303 events at 90 % CL for
no events seen). Huge counts (10¹⁵ per bin) are handled by the deviance form of −ln L
(:func:`cevns_fit.fastlik.poisson_deviance_half`).

``systematics=False`` drops normsys, histosys and staterror but keeps free normalisations and
control channels: the "statistics only" numbers.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.stats import norm, poisson

from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import FastFitResult, FastModel
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model, validate_templates
from cevns_fit.templates import AnalysisTemplates

__all__ = [
    "LOW_COUNT_BACKGROUND",
    "SignificanceResult",
    "ExposureResult",
    "LimitResult",
    "Impact",
    "ImpactsResult",
    "compile_model",
    "expected_significance",
    "exposure_needed",
    "upper_limit",
    "significance_impacts",
]

# Below this many expected background events the asymptotic formulas overstate Z
# (s = 3, b = 0.5, n = 3: asymptotic 2.40 vs exact Poisson 2.19): "auto" uses toys.
LOW_COUNT_BACKGROUND = 5.0
METHODS = ("asymptotic", "toys", "exact", "auto")
# Largest signal strength searched for an upper limit; beyond it the signal is "too small".
MU_LIMIT_MAX = 1e8


# ----------------------------------------------------------------------------------- results
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


# ----------------------------------------------------------------------------------- engine
def compile_model(templates: AnalysisTemplates, *, systematics: bool = True) -> FastModel:
    """The fast model of ``templates``' pyhf workspace (validated; compile once, then scale)."""
    return FastModel.from_workspace(build_workspace(templates, systematics=systematics))


def _z_from_q0(q0: float) -> float:
    return math.sqrt(max(q0, 0.0))


# The cold-started Asimov q0 of a compiled model, kept while the model lives: a scan point
# asks for it as its Z and again as the first step of each exposure solve.
_ASIMOV_AT_NOMINAL: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _asimov_q0(
    fm: FastModel,
    *,
    fixed_mask: np.ndarray | None = None,
    init: np.ndarray | None = None,
) -> tuple[float, np.ndarray]:
    """q0 on the pre-fit Asimov data at μ = 1 (one fit: the free fit is the nominal point).

    On Asimov data the free fit's −ln L is 0 exactly in :mod:`~cevns_fit.fastlik`'s deviance
    convention (λ = n, auxiliary data at the parameters), so no second fit is needed.
    """
    if init is None and fixed_mask is None:
        known = _ASIMOV_AT_NOMINAL.get(fm)
        if known is None:
            known = _ASIMOV_AT_NOMINAL[fm] = _asimov_q0_fit(fm, None, None)
        return known[0], known[1].copy()
    return _asimov_q0_fit(fm, fixed_mask, init)


def _asimov_q0_fit(
    fm: FastModel, fixed_mask: np.ndarray | None, init: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """The μ = 0 fit of :func:`_asimov_q0`."""
    nominal = fm.nominal_pars(mu=1.0)
    main = fm.expected_main(nominal)
    aux = np.where(fm.constrained, nominal, np.nan)
    nll_free = 0.0
    start = nominal if init is None else init
    fit0 = fm.fit(
        main,
        aux,
        fix={fm.poi_index: 0.0},
        fixed_mask=fixed_mask,
        init=start,
        reference_nll=nll_free,
    )
    if not fit0.success:
        raise FitFailedError(f"μ = 0 fit to the Asimov data did not converge: {fit0.message}")
    return max(2.0 * (fit0.nll - nll_free), 0.0), fit0.pars


def _q0(fm: FastModel, main: np.ndarray, aux: np.ndarray) -> float:
    """q0 for one dataset (free fit and μ = 0 fit); 0 when μ̂ ≤ 0 (arXiv:1007.1727 Eq. 12)."""
    free = fm.fit(main, aux)
    if not free.success:
        raise FitFailedError(f"free fit for q0 did not converge: {free.message}")
    if free.pars[fm.poi_index] <= 0.0:
        return 0.0
    fixed = fm.fit(main, aux, fix={fm.poi_index: 0.0}, init=free.pars)
    if not fixed.success:
        raise FitFailedError(f"μ = 0 fit for q0 did not converge: {fixed.message}")
    return max(2.0 * (fixed.nll - free.nll), 0.0)


def _main_vector(fm: FastModel, data: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(data[name], float) for name, _ in fm.channels])


def _observed(templates: AnalysisTemplates) -> dict[str, np.ndarray] | None:
    if all(ch.data is None for ch in templates.channels):
        return None
    missing = [ch.name for ch in templates.channels if ch.data is None]
    if missing:
        raise InputError(f"observed data: channel(s) {missing} have no data attached")
    return {ch.name: np.asarray(ch.data, float) for ch in templates.channels}


def _sample_toys(
    fm: FastModel, pars: np.ndarray, n_toys: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-experiments at ``pars``: Poisson main counts and Gaussian auxiliary data.

    Auxiliary data of constrained, non-fixed parameters are drawn from N(θ, σ), as in pyhf's
    ``model.make_pdf(pars).sample()``; fixed staterror γ keep their nominal auxiliary value.
    """
    lam = fm.expected_main(pars)
    mains = rng.poisson(lam, size=(n_toys, lam.size)).astype(float)
    auxes = np.tile(np.where(fm.constrained, pars, np.nan), (n_toys, 1))
    draw = fm.constrained & ~fm.fixed
    auxes[:, draw] = rng.normal(pars[draw], fm.aux_sigma[draw], size=(n_toys, int(draw.sum())))
    return mains, auxes


def _toy_q0s(fm: FastModel, pars: np.ndarray, n_toys: int, rng: np.random.Generator) -> np.ndarray:
    mains, auxes = _sample_toys(fm, pars, n_toys, rng)
    return np.array([_q0(fm, m, a) for m, a in zip(mains, auxes, strict=True)])


def _single_bin_counting(fm: FastModel) -> bool:
    return fm.n_bins == 1 and not fm.constrained.any() and fm.n_pars == 1


# ----------------------------------------------------------------------------------- significance
def expected_significance(
    templates: AnalysisTemplates,
    *,
    method: str = "asymptotic",
    fast: bool = True,
    systematics: bool = True,
    n_toys: int = 2000,
    seed: int = 0,
    compiled: FastModel | None = None,
) -> SignificanceResult:
    """Median expected discovery Z (Asimov at μ = 1, q0 at μ = 0), observed Z with data.

    ``method``: "asymptotic" (Z = sqrt(q0); arXiv:1007.1727 Eq. 52), "toys" (seeded numpy
    Generator; p0 = fraction of background-only toys with q0 ≥ the median q0 of signal toys),
    "exact" (single-bin Poisson tail), or "auto". ``fast=False`` uses plain pyhf.
    ``compiled``: :func:`compile_model` of these templates with these ``systematics``, when
    the caller has it already (a scan point also solving for exposures): not compiled again.
    """
    if method not in METHODS:
        raise InputError(f"method {method!r}: allowed {', '.join(METHODS)}")
    if not isinstance(n_toys, int) or n_toys < 10:
        raise InputError(f"n_toys must be an integer >= 10, got {n_toys!r}")
    if compiled is None:
        validate_templates(templates)
    observed = _observed(templates)
    s, b = templates.signal_total, templates.background_total
    common = dict(
        exposure_kg_yr=templates.exposure_kg_yr,
        signal_events=s,
        background_events=b,
        systematics=systematics,
    )
    notes: list[str] = []
    if s <= 0.0:
        return SignificanceResult(
            0.0,
            0.5,
            "none",
            **common,
            Z_observed=0.0 if observed else None,
            p0_observed=0.5 if observed else None,
            notes=("no CEvNS signal events (threshold above every recoil?): Z = 0",),
        )
    fm = compiled if compiled is not None else compile_model(templates, systematics=systematics)
    free_bins = _background_free_bins(fm)
    if free_bins.any():
        return _background_free_significance(fm, free_bins, observed, common)
    if method == "auto":
        if b >= LOW_COUNT_BACKGROUND:
            method = "asymptotic"
        else:
            method = "exact" if _single_bin_counting(fm) else "toys"
    if method == "asymptotic" and b < LOW_COUNT_BACKGROUND:
        notes.append(
            f"expected background {b:.3g} < {LOW_COUNT_BACKGROUND:g} events: asymptotic Z "
            "overstates the significance; use method='toys'"
        )
    if method == "exact":
        return _exact_significance(fm, observed, common, notes)
    if not fast:
        if method == "toys":
            raise InputError("toys run on the fast likelihood: use fast=True with method='toys'")
        return _plain_significance(templates, systematics, observed, common, notes)

    q0_exp, _ = _asimov_q0(fm)
    z_exp = _z_from_q0(q0_exp)
    z_obs = q0_obs = None
    if observed is not None:
        main_obs = _main_vector(fm, observed)
        q0_obs = _q0(fm, main_obs, fm.aux_nominal)
        z_obs = _z_from_q0(q0_obs)
    if method == "asymptotic":
        return SignificanceResult(
            z_exp,
            float(norm.sf(z_exp)),
            "asymptotic",
            **common,
            Z_observed=z_obs,
            p0_observed=None if z_obs is None else float(norm.sf(z_obs)),
            notes=tuple(notes),
        )

    # toys: the test-statistic distributions from seeded pseudo-experiments
    rng = np.random.default_rng(seed)
    sb_q0 = _toy_q0s(fm, fm.nominal_pars(mu=1.0), n_toys, rng)
    b_pars = fm.nominal_pars(mu=0.0)
    b_q0 = _toy_q0s(fm, b_pars, n_toys, rng)
    q0_median = float(np.median(sb_q0))
    p0_exp, z_exp, note = _toy_pvalue(b_q0, q0_median)
    notes.extend(note)
    p0_obs = None
    if observed is not None:
        # background-only toys around the μ = 0 fit to the data (the conditional MLE)
        fit0 = fm.fit(main_obs, fm.aux_nominal, fix={fm.poi_index: 0.0})
        b_obs_q0 = _toy_q0s(fm, fit0.pars, n_toys, rng)
        p0_obs, z_obs, note = _toy_pvalue(b_obs_q0, q0_obs)
        notes.extend(f"observed: {n}" for n in note)
    return SignificanceResult(
        z_exp,
        p0_exp,
        "toys",
        **common,
        Z_observed=z_obs,
        p0_observed=p0_obs,
        n_toys=n_toys,
        seed=seed,
        notes=tuple(notes),
    )


def _toy_pvalue(b_q0: np.ndarray, q0_value: float) -> tuple[float, float, list[str]]:
    """p-value and Z of ``q0_value`` against background-only toys; notes if unresolved."""
    n = len(b_q0)
    # a tiny tolerance so that a toy landing exactly on a discrete q0 value counts as ≥
    count = int(np.sum(b_q0 >= q0_value * (1 - 1e-9) - 1e-12))
    if q0_value <= 0.0:
        return 1.0, 0.0, []
    if count == 0:
        p0 = 1.0 / n
        return (
            p0,
            float(norm.isf(p0)),
            [
                f"no background-only toy reached q0 = {q0_value:.3g}: p0 < {p0:.2g}, so Z is a "
                f"lower bound; use more toys"
            ],
        )
    p0 = count / n
    return p0, float(norm.isf(p0)), []


def _exact_significance(fm, observed, common, notes) -> SignificanceResult:
    """Single-bin counting with known background: Poisson tail P(n ≥ n_med | b)."""
    if not _single_bin_counting(fm):
        raise InputError(
            "method 'exact' needs a single-bin counting model without nuisance parameters"
        )
    b = float(fm.expected_main(fm.nominal_pars(mu=0.0))[0])
    sb = float(fm.expected_main(fm.nominal_pars(mu=1.0))[0])
    n_median = float(poisson.median(sb))
    p0_exp = float(poisson.sf(n_median - 1, b))
    z_exp = max(float(norm.isf(p0_exp)), 0.0)
    z_obs = p0_obs = None
    if observed is not None:
        n_obs = float(_main_vector(fm, observed)[0])
        p0_obs = float(poisson.sf(n_obs - 1, b))
        z_obs = max(float(norm.isf(p0_obs)), 0.0)
    return SignificanceResult(
        z_exp,
        p0_exp,
        "exact",
        **common,
        Z_observed=z_obs,
        p0_observed=p0_obs,
        notes=tuple(notes) + (f"median signal-plus-background count n = {n_median:g}",),
    )


# ----------------------------------------------------------------------- zero background
# Convention for bins without background (documented in docs/ARCHITECTURE.md, issue 14):
# the background-only hypothesis predicts exactly 0 events there, so one event in such a bin
# excludes it with certainty: p0 = 0 and Z = +inf (the b → 0 limit of Cowan's
# Z_A = √(2((s+b) ln(1+s/b) − s)), which diverges like √(2 s ln(s/b))). The *median*
# experiment sees ≥ 1 event there iff P(0 | s) = e^(−s) ≤ 1/2, i.e. s ≥ ln 2 signal events;
# below that the median experiment sees none there and its Z comes from the other bins.
LN2 = math.log(2.0)


def _background_free_bins(fm: FastModel) -> np.ndarray:
    """Main bins with signal (μ = 1) but exactly zero expected background (μ = 0, nominal)."""
    b = fm.expected_main(fm.nominal_pars(mu=0.0))
    sb = fm.expected_main(fm.nominal_pars(mu=1.0))
    return (b <= 0.0) & (sb > 0.0)


def _background_free_z(fm: FastModel, free_bins: np.ndarray, main: np.ndarray) -> float:
    """Z of a dataset: +inf with an event in a background-free bin, else asymptotic q0."""
    if np.any(main[free_bins] > 0):
        return math.inf
    if not np.any(fm.expected_main(fm.nominal_pars(mu=0.0)) > 0):
        return 0.0  # no events and no background anywhere: nothing to test
    return _z_from_q0(_q0(fm, main, fm.aux_nominal))


def _median_background_free_z(fm: FastModel, free_bins: np.ndarray) -> tuple[float, float]:
    """(s in background-free bins, median expected Z): Asimov data at μ = 1 elsewhere and
    the median count (0 below ln 2 signal events, else ≥ 1) in the background-free bins."""
    main = fm.expected_main(fm.nominal_pars(mu=1.0))
    s_free = float(main[free_bins].sum())
    if s_free >= LN2:
        return s_free, math.inf
    main = np.where(free_bins, 0.0, main)
    return s_free, _background_free_z(fm, free_bins, main)


def _background_free_significance(fm, free_bins, observed, common) -> SignificanceResult:
    s_free, z_exp = _median_background_free_z(fm, free_bins)
    notes = [
        f"{int(free_bins.sum())} bin(s) with signal ({s_free:.4g} events) have zero expected "
        "background: one event there excludes μ = 0 (p0 = 0, Z = inf); the median experiment "
        f"sees one once s ≥ ln 2 = {LN2:.4f} events there"
    ]
    z_obs = None
    if observed is not None:
        z_obs = _background_free_z(fm, free_bins, _main_vector(fm, observed))
    return SignificanceResult(
        z_exp,
        float(norm.sf(z_exp)) if z_exp > 0 else 1.0,
        "background-free",
        **common,
        Z_observed=z_obs,
        p0_observed=None if z_obs is None else (float(norm.sf(z_obs)) if z_obs > 0 else 1.0),
        notes=tuple(notes),
    )


def _plain_significance(templates, systematics, observed, common, notes) -> SignificanceResult:
    """The same test in plain pyhf (numpy backend, minuit), for cross-checks and benchmarks."""
    workspace = build_workspace(templates, systematics=systematics)
    with pyhf_backend() as pyhf:
        model, data = pyhf_model(workspace)
        init = model.config.suggested_init()
        bounds = model.config.suggested_bounds()
        fixed = model.config.suggested_fixed()
        pars = np.array(init, float)
        pars[model.config.poi_index] = 1.0
        asimov = model.expected_data(pars)
        only_poi = sum(not f for f in fixed) == 1

        def q0_test(poi: float, dataset, *args) -> float:
            if not only_poi:
                return float(pyhf.infer.test_statistics.q0(poi, dataset, model, *args))
            # μ is the only free parameter: the μ = 0 "fit" has nothing to fit, and pyhf's
            # minuit optimizer crashes on it (HESSE with all parameters fixed), so evaluate
            # that likelihood directly
            best, twice_nll = pyhf.infer.mle.fit(dataset, model, *args, return_fitted_val=True)
            if best[model.config.poi_index] <= poi:
                return 0.0
            pars0 = np.array(best, float)
            pars0[model.config.poi_index] = poi
            return max(float(-2.0 * model.logpdf(pars0, dataset)[0] - twice_nll), 0.0)

        z_exp = _z_from_q0(q0_test(0.0, asimov, init, bounds, fixed))
        z_obs = None
        if observed is not None:
            z_obs = _z_from_q0(q0_test(0.0, data, init, bounds, fixed))
    return SignificanceResult(
        z_exp,
        float(norm.sf(z_exp)),
        "asymptotic",
        **common,
        Z_observed=z_obs,
        p0_observed=None if z_obs is None else float(norm.sf(z_obs)),
        notes=tuple(notes) + ("plain pyhf (numpy + minuit)",),
    )


# ----------------------------------------------------------------------------------- impacts
def _nuisance_groups(fm: FastModel) -> dict[str, np.ndarray]:
    """Parameter sets that can be fixed one at a time: every set but the POI and fixed ones."""
    groups = {}
    for name in fm.set_names:
        sl = fm.set_slices[name]
        mask = np.zeros(fm.n_pars, bool)
        mask[sl] = True
        if sl.start == fm.poi_index or np.all(fm.fixed[sl]):
            continue
        groups[name] = mask
    return groups


def _impacts(fm: FastModel, z_full: float) -> tuple[float, list[Impact]]:
    groups = _nuisance_groups(fm)
    impacts = []
    for name, mask in groups.items():
        z_fixed = _z_from_q0(_asimov_q0(fm, fixed_mask=mask)[0])
        impacts.append(Impact(name, z_fixed, z_fixed - z_full))
    impacts.sort(key=lambda i: i.delta_Z, reverse=True)
    all_constrained = fm.constrained & ~fm.fixed
    z_stat = _z_from_q0(_asimov_q0(fm, fixed_mask=all_constrained)[0])
    return z_stat, impacts


def significance_impacts(
    templates: AnalysisTemplates, *, exposure_kg_yr: float | None = None
) -> ImpactsResult:
    """Median expected Z with each nuisance parameter (set) fixed at nominal, largest gain first.

    ``Z_stat_only`` fixes every constrained nuisance (free normalisations stay free), which
    equals ``expected_significance(..., systematics=False)``.
    """
    if exposure_kg_yr is not None:
        _check_exposure(exposure_kg_yr)
        templates = templates.scaled_to(exposure_kg_yr)
    validate_templates(templates)
    if templates.signal_total <= 0:
        return ImpactsResult(0.0, 0.0, (), templates.exposure_kg_yr)
    fm = compile_model(templates)
    z_full = _z_from_q0(_asimov_q0(fm)[0])
    z_stat, impacts = _impacts(fm, z_full)
    return ImpactsResult(z_full, z_stat, tuple(impacts), templates.exposure_kg_yr)


# ----------------------------------------------------------------------------------- exposure
def _check_exposure(exposure_kg_yr: float) -> None:
    if not (
        isinstance(exposure_kg_yr, int | float)
        and math.isfinite(exposure_kg_yr)
        and exposure_kg_yr > 0
    ):
        raise InputError(f"exposure must be a positive number of kg·yr, got {exposure_kg_yr!r}")


def exposure_needed(
    templates: AnalysisTemplates,
    sigma: float = 5.0,
    *,
    systematics: bool = True,
    max_factor: float = 1e6,
    rtol: float = 1e-4,
    compiled: FastModel | None = None,
) -> ExposureResult:
    """Exposure (kg·yr) where the median expected Z reaches ``sigma``.

    The model is compiled once (or taken from ``compiled``, see
    :func:`expected_significance`); each trial exposure rescales it (all counts are linear
    in exposure) and warm-starts from the previous μ = 0 fit. Newton's method on the
    concave q0(exposure), its slope from each fit by the envelope theorem
    (:func:`_newton_exposure`), needs 3–5 fits; where it cannot decide, the root is
    bracketed from the Z ∝ sqrt(exposure) guess and found by brentq on ln exposure. If Z at
    ``max_factor`` × the reference exposure is still below ``sigma``, returns None and names
    the systematic whose fixing gains the most there.
    """
    if not (isinstance(sigma, int | float) and math.isfinite(sigma) and sigma > 0):
        raise InputError(f"sigma must be a positive number, got {sigma!r}")
    if compiled is None:
        validate_templates(templates)
    ref = templates.exposure_kg_yr
    if templates.signal_total <= 0:
        return ExposureResult(
            None,
            sigma,
            "no CEvNS signal events (threshold above every recoil?)",
            ref,
            0.0,
            systematics,
        )
    fm = compiled if compiled is not None else compile_model(templates, systematics=systematics)
    free_bins = _background_free_bins(fm)
    if free_bins.any():
        return _background_free_exposure(fm, free_bins, sigma, ref, systematics, rtol)
    state = {"init": None, "fits": 0}
    cache: dict[float, float] = {}
    slopes: dict[float, float] = {}

    def z_at(factor: float) -> float:
        if factor in cache:
            return cache[factor]
        # the reference exposure cold-started (its fit is shared with the point's Z), the
        # others warm-started from the previous fit
        scaled, init = (fm, None) if factor == 1.0 else (fm.scaled(factor), state["init"])
        q0, pars = _asimov_q0(scaled, init=init)
        state["init"], state["fits"] = pars, state["fits"] + 1
        cache[factor] = _z_from_q0(q0)
        slopes[factor] = _q0_slope(fm, pars, q0, factor)
        return cache[factor]

    z_ref = z_at(1.0)
    newton = _newton_exposure(z_at, slopes, sigma, max_factor, rtol)
    if newton is not None:
        return ExposureResult(newton * ref, sigma, None, ref, z_ref, systematics, state["fits"])
    lo_f = hi_f = None
    # first guess from Z ∝ sqrt(exposure) (exact without systematics at large background)
    factor = (sigma / z_ref) ** 2 if z_ref > 0 else max_factor
    factor = min(max(factor, 1e-12), max_factor)
    for _ in range(60):
        z = z_at(factor)
        if abs(z - sigma) <= 1e-9 * sigma:  # the sqrt-law guess can be exact
            return ExposureResult(factor * ref, sigma, None, ref, z_ref, systematics, state["fits"])
        if z >= sigma:
            hi_f = factor
            if lo_f is not None:
                break
            # going down Z falls at least as fast as sqrt(exposure): this lands below target
            factor *= min(0.5, (sigma / z) ** 2 / 1.5)
            if factor < 1e-15:
                raise FitFailedError(f"Z stays above {sigma:g} at vanishing exposure")
        else:
            lo_f = factor
            if hi_f is not None or factor >= max_factor:
                break
            # systematics make Z grow slower than sqrt(exposure): overshoot the sqrt guess
            factor = min(factor * max(2.0, 1.5 * (sigma / max(z, 1e-300)) ** 2), max_factor)
    if hi_f is None:
        z_max = z_at(max_factor)
        worst = None
        if systematics:
            _, impacts = _impacts(fm.scaled(max_factor), z_max)
            # name a systematic only if fixing it actually gains significance
            if impacts and impacts[0].delta_Z > max(1e-3 * z_max, 1e-6):
                worst = impacts[0]
        reason = (
            f"median Z saturates at {z_max:.3g} < {sigma:g} even at {max_factor:g} × the "
            f"reference exposure ({max_factor * ref:.3g} kg·yr)"
        )
        if worst is None:
            reason += (
                f"; the signal is too small ({templates.signal_total:.3g} events at the "
                f"reference exposure against {templates.background_total:.3g} background)"
            )
        else:
            reason += (
                f"; systematics limit it, most of all '{worst.parameter}' "
                f"(Z = {worst.Z_fixed:.3g} with it fixed)"
            )
        return ExposureResult(
            None,
            sigma,
            reason,
            ref,
            z_ref,
            systematics,
            state["fits"],
            None if worst is None else worst.parameter,
        )
    # ln-exposure root; endpoints go through exp(log()), so re-key the bracket exactly
    cache[math.exp(math.log(lo_f))] = cache[lo_f]
    cache[math.exp(math.log(hi_f))] = cache[hi_f]
    root = brentq(
        lambda x: z_at(math.exp(x)) - sigma,
        math.log(lo_f),
        math.log(hi_f),
        xtol=rtol,
        rtol=1e-12,
    )
    return ExposureResult(math.exp(root) * ref, sigma, None, ref, z_ref, systematics, state["fits"])


def _q0_slope(fm: FastModel, pars: np.ndarray, q0: float, factor: float) -> float:
    """dq0/d(exposure factor) of the Asimov discovery test, from its μ = 0 fit alone.

    On Asimov data scaled by f the deviance's Poisson part is f·P(θ) exactly (data and
    expectation both scale), the constraints C(θ) do not depend on f, so
    q0(f) = 2 min_θ [f P(θ) + C(θ)]: by the envelope theorem dq0/df = 2 P(θ̂) =
    (q0 − 2 C(θ̂))/f. As a minimum of functions affine in f, q0 is concave in f."""
    c = fm.constrained
    nominal = fm.nominal_pars(mu=1.0)
    diff = (pars[c] - nominal[c]) / fm.aux_sigma[c]
    constraint = 0.5 * float(diff @ diff)
    return max(q0 - 2.0 * constraint, 0.0) / factor


def _newton_exposure(z_at, slopes, sigma: float, max_factor: float, rtol: float):
    """The factor where the median Z reaches ``sigma`` by Newton's method on the concave
    q0(f) − σ² (slopes from :func:`_q0_slope`), one μ = 0 fit per step. q0 is concave with
    q0(0) = 0, so from above the root the secant to the origin, f σ²/q0(f) (the
    Z ∝ sqrt(exposure) law), is still at or above it and Newton's step lands below it; from
    below, Newton's iterates rise to the root monotonically and quadratically. None if it
    cannot decide (no slope, the factor leaves (0, max_factor], no convergence): the caller
    then brackets and bisects."""
    target = sigma * sigma
    factor = 1.0
    for _ in range(30):
        z, slope = z_at(factor), slopes[factor]
        if not (slope > 0 and math.isfinite(slope)):
            return None
        q0 = z * z
        step = (target - q0) / slope
        if abs(step) <= 0.1 * rtol * factor and abs(z - sigma) <= rtol * sigma:
            return factor + step  # the last step is quadratically small: take it unchecked
        new = factor + step
        if q0 > target and new <= 0.0:
            # above the root Newton overshoots to ≤ 0 where Z saturates: take the secant
            new = factor * target / q0
        if not (0.0 < new <= max_factor):
            return None
        factor = new
    return None


def _background_free_exposure(fm, free_bins, sigma, ref, systematics, rtol) -> ExposureResult:
    """Exposure for a median Z of ``sigma`` with background-free bins (convention above):
    at the latest where the signal there reaches ln 2 events (Z jumps to inf), earlier if the
    other bins alone reach ``sigma`` with the background-free bins empty."""
    s_free, z_ref = _median_background_free_z(fm, free_bins)
    factor_free = LN2 / s_free

    def z_below(factor: float) -> float:
        scaled = fm.scaled(factor)
        main = np.where(free_bins, 0.0, scaled.expected_main(scaled.nominal_pars(mu=1.0)))
        return _background_free_z(scaled, free_bins, main)

    factor = factor_free
    eps = 1e-9 * factor_free
    if z_below(factor_free - eps) >= sigma:
        lo = factor_free - eps
        while z_below(lo) >= sigma and lo > 1e-15 * factor_free:
            lo *= 0.5
        if z_below(lo) >= sigma:
            raise FitFailedError(f"Z stays above {sigma:g} at vanishing exposure")
        root = brentq(
            lambda x: z_below(math.exp(x)) - sigma,
            math.log(lo),
            math.log(factor_free - eps),
            xtol=rtol,
            rtol=1e-12,
        )
        factor = math.exp(root)
    note = (
        f"background-free bins: the median experiment sees ≥ 1 event there (p0 = 0) once their "
        f"signal reaches ln 2 = {LN2:.4f} events, at {factor_free * ref:.6g} kg·yr"
    )
    return ExposureResult(factor * ref, sigma, None, ref, z_ref, systematics, notes=(note,))


# ----------------------------------------------------------------------------------- limits
_BANDS = (-2, -1, 0, 1, 2)


def _sqrt_q_target(alpha: float, band: float) -> float:
    """√q_μ,A where the expected CLs at ``band`` σ equals α: Φ(k − √q_A)/Φ(k) = α.

    Asymptotic CLs for q̃_μ with the background-only median shifted by k σ (arXiv:1007.1727
    Eqs. 65–66; pyhf's ``AsymptoticCalculator.expected_pvalues``).
    """
    return band - norm.ppf(alpha * norm.cdf(band))


class _QmuProfile:
    """q̃_μ on one dataset as a function of μ, with warm starts and a cache."""

    def __init__(self, fm: FastModel, main: np.ndarray, aux: np.ndarray, free) -> None:
        self.fm, self.main, self.aux, self.free = fm, main, aux, free
        self.init = free.pars.copy()
        self.cache: dict[float, float] = {}

    def q(self, mu: float, bounds: np.ndarray) -> float:
        if mu in self.cache:
            return self.cache[mu]
        mu_hat = self.free.pars[self.fm.poi_index]
        if mu_hat > mu:
            self.cache[mu] = 0.0
            return 0.0
        init = self.init.copy()
        init[self.fm.poi_index] = mu
        fit = self.fm.fit(
            self.main, self.aux, fix={self.fm.poi_index: mu}, init=init, bounds=bounds
        )
        if not fit.success:
            raise FitFailedError(f"fit at μ = {mu:.4g} did not converge: {fit.message}")
        self.init = fit.pars
        self.cache[mu] = max(2.0 * (fit.nll - self.free.nll), 0.0)
        return self.cache[mu]


def _cls_observed(q: float, q_a: float) -> float:
    """Asymptotic CLs for q̃_μ (pyhf 0.7.6 AsymptoticCalculator, arXiv:1007.1727 Eq. 66)."""
    sq, sqa = math.sqrt(q), math.sqrt(q_a)
    t = sq - sqa if sq <= sqa else (q - q_a) / (2.0 * sqa)
    return float(norm.cdf(-(t + sqa)) / norm.cdf(-t))


def upper_limit(
    templates: AnalysisTemplates,
    cl: float = 0.9,
    *,
    systematics: bool = True,
) -> LimitResult:
    """CLs upper limits on μ at ``cl`` with the q̃_μ asymptotic formulae.

    Expected: background-only Asimov data at nominal nuisances (pre-data), median and
    ±1σ/±2σ bands. Observed (when data are attached): q̃_μ on the data, with q̃_μ,A from the
    Asimov data generated at μ = 0 with nuisances fitted to the data, as pyhf does.
    """
    if not (isinstance(cl, int | float) and 0.5 <= cl < 1):
        raise InputError(f"confidence level must be in [0.5, 1), got {cl!r}")
    validate_templates(templates)
    alpha = 1.0 - cl
    observed = _observed(templates)
    s = templates.signal_total
    if s <= 0:
        return LimitResult(
            cl,
            None,
            {str(k): None for k in _BANDS},
            None,
            systematics=systematics,
            notes=("no CEvNS signal events: μ is unconstrained",),
        )
    if templates.background_total <= 0:
        return _background_free_limit(templates, cl, observed, systematics)
    fm = compile_model(templates, systematics=systematics)
    bounds = fm.bounds.copy()

    def asimov_profile(pars: np.ndarray) -> _QmuProfile:
        main, aux = fm.asimov(pars)
        nll, _ = fm.nll_and_grad(pars, main, aux)
        free = FastFitResult(pars, nll, True, 0, "Asimov: the generating point is the MLE")
        return _QmuProfile(fm, main, aux, free)

    def solve(func, target: float) -> float | None:
        """Smallest bracketed root of func(μ) = target, func increasing; widens μ bounds.
        None when no μ up to MU_LIMIT_MAX reaches it (a signal too small to constrain)."""
        hi = 1.0
        while True:
            bounds[fm.poi_index] = (0.0, max(10.0, 2.0 * hi))
            if func(hi) >= target:
                break
            hi *= 2.0
            if hi > MU_LIMIT_MAX:
                return None
        lo = 0.0
        return brentq(lambda m: func(m) - target, lo, hi, xtol=1e-6 * hi, rtol=1e-8)

    prof_b = asimov_profile(fm.nominal_pars(mu=0.0))
    band_limits = {}
    for k in _BANDS:
        target = _sqrt_q_target(alpha, k)
        band_limits[str(k)] = solve(lambda m: math.sqrt(prof_b.q(m, bounds)), target)
    mu_exp = band_limits["0"]
    notes = ["expected limits from background-only Asimov data at nominal nuisances"]
    if any(v is None for v in band_limits.values()):
        notes.append(
            f"signal too small ({s:.3g} events): no limit below mu = {MU_LIMIT_MAX:g} "
            "for some bands (null)"
        )

    mu_obs = None
    if observed is not None:
        main_obs = _main_vector(fm, observed)
        free = fm.fit(main_obs, fm.aux_nominal, bounds=bounds)
        fit0 = fm.fit(main_obs, fm.aux_nominal, fix={fm.poi_index: 0.0})
        if not (free.success and fit0.success):
            raise FitFailedError("fits to the observed data did not converge")
        prof_obs = _QmuProfile(fm, main_obs, fm.aux_nominal, free)
        prof_a = asimov_profile(fit0.pars)

        def one_minus_cls(m: float) -> float:
            if m <= 0:
                return 0.0
            q, q_a = prof_obs.q(m, bounds), prof_a.q(m, bounds)
            if q_a <= 0:
                return 0.0
            return 1.0 - _cls_observed(q, q_a)

        mu_obs = solve(one_minus_cls, 1.0 - alpha)
        if mu_obs is None:
            notes.append(f"no observed limit below mu = {MU_LIMIT_MAX:g}")
    return LimitResult(
        cl,
        mu_exp,
        band_limits,
        None if mu_exp is None else mu_exp * s,
        mu_upper_observed=mu_obs,
        signal_events_upper_observed=None if mu_obs is None else mu_obs * s,
        systematics=systematics,
        notes=tuple(notes),
    )


def _background_free_limit(templates, cl, observed, systematics) -> LimitResult:
    """Exact CLs for a model without background, on the total count n (Poisson):
    CLs = P(N ≤ n | μ s) / P(N ≤ n | 0) = P(N ≤ n | μ s), so μ_up s solves
    P(N ≤ n | μ_up s) = 1 − cl; for n = 0, μ_up s = −ln(1 − cl) (2.303 events at 90 % CL).
    The asymptotic formulae do not hold at zero counts (they give 1.35 events for n = 0).
    Background-only pseudo-data are always n = 0, so every expected band is the median."""
    s = templates.signal_total
    alpha = 1.0 - cl

    def events_up(n: float) -> float:
        if n == 0:
            return -math.log(alpha)
        return brentq(lambda x: poisson.cdf(n, x) - alpha, n, n + 20.0 * math.sqrt(n) + 20.0)

    s_exp = events_up(0)
    notes = [
        "no background: exact Poisson CLs on the total count (asymptotic formulae do not "
        "hold at zero counts); every expected band equals the median (background-only data "
        "are always empty)",
    ]
    if systematics:
        notes.append("signal uncertainties are not included in the background-free limit")
    s_obs = None
    if observed is not None:
        n_obs = float(sum(np.sum(v) for v in observed.values()))
        s_obs = events_up(n_obs)
    return LimitResult(
        cl,
        s_exp / s,
        {str(k): s_exp / s for k in _BANDS},
        s_exp,
        mu_upper_observed=None if s_obs is None else s_obs / s,
        signal_events_upper_observed=s_obs,
        method="exact Poisson CLs (no background)",
        systematics=systematics,
        notes=tuple(notes),
    )
