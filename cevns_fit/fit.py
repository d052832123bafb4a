"""Maximum-likelihood fits of measured spectra: iminuit minimising pyhf's likelihood.

What to use when
----------------
* :func:`fit_workspace` is the core: any pyhf workspace (JSON dict, ``pyhf.Workspace``) or a
  ``pyhf.Model`` plus data in, a :class:`FitResult` out. MIGRAD then HESSE on
  −2 ln L(μ, θ) = −2 ``model.logpdf``; MINOS on the POI; a second fit at μ = 0 for the observed
  discovery significance (q0, Cowan et al., EPJC 71:1554, 2011, arXiv:1007.1727); the fitted
  signal count with its error propagated through the full covariance; nuisance pulls and
  constraints; the correlation matrix; a saturated-model goodness of fit (Baker & Cousins,
  NIM 221 (1984) 437); the convergence status.
* :func:`sample_toy` draws seeded pseudo-data (main bins and auxiliary measurements) from a
  model at given parameters, for bias and coverage studies (pyhf's own toys use numpy's global
  RNG and break on numpy ≥ 2.4, see docs/PYHF_NOTES).

The likelihood is plain pyhf: any number here can be reproduced with ``pyhf fit``. This module
never changes pyhf's global backend; it evaluates the model with whatever backend is set
(numpy by default) and converts to numpy floats.

Pulls: for a nuisance θ with a Gaussian constraint of width σ centred on its auxiliary datum
θ₀, pull = (θ̂ − θ₀)/σ and constraint = σ̂/σ (< 1: the data constrain θ beyond its prior).
Poisson-constrained (shapesys) parameters use θ₀ = aux/τ and σ = 1/√τ.

The quantities at the minimum (signal count and its error, constraint terms, goodness of fit,
pre/post-fit tables) are computed in :mod:`cevns_fit.fit_summary`; the minimiser's status and
the parameters at their bounds in :mod:`cevns_fit.fit_status`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyhf
from iminuit import Minuit
from scipy.stats import chi2, norm

from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import poisson_deviance_half
from cevns_fit.fit_status import BENIGN_PROBLEMS, bound_flags, fmin_problems
from cevns_fit.fit_summary import (
    constraint_terms,
    postfit_tables,
    saturated_deviance,
    signal_yield,
    signal_yield_error,
)

__all__ = ["FitResult", "fit_workspace", "model_and_data", "sample_toy", "twice_nll"]

# Objective value MIGRAD sees where pyhf's likelihood is not finite (negative expected counts
# from extrapolated histosys templates): far above any deviance of real data (≲ 10²⁰ at
# 10¹⁵ counts per bin), so MIGRAD steps back, but finite.
_NONFINITE_PENALTY = 1e40


@dataclass(frozen=True)
class FitResult:
    """Outcome of one maximum-likelihood fit (errors are HESSE 1σ unless named MINOS)."""

    mu: float
    mu_err: float
    mu_minos: tuple[float, float] | None  # (lower, upper) errors: negative, positive
    signal_events: float  # fitted signal count, summed over channels
    signal_events_err: float
    signal_events_expected: float  # prediction at μ = 1, nuisances at their nominal values
    Z_observed: float
    p0_observed: float
    parameters: dict[str, dict[str, float]]  # name -> {"value", "error"}
    pulls: dict[str, dict[str, float]]  # constrained name -> {"pull", "constraint"}
    correlation_names: tuple[str, ...]
    correlation: np.ndarray
    gof_chi2: float  # saturated-model deviance −2 ln(L̂ / L_sat)
    gof_ndf: int
    gof_p_value: float
    converged: bool
    status: str
    twice_nll: float
    postfit: dict[str, dict] = field(default_factory=dict)  # channel -> data, samples, prefit
    at_bounds: dict[str, dict] = field(default_factory=dict)  # see bound_flags
    near_bounds: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "mu": self.mu,
            "mu_err": self.mu_err,
            "mu_minos": None if self.mu_minos is None else list(self.mu_minos),
            "signal_events": self.signal_events,
            "signal_events_err": self.signal_events_err,
            "signal_events_expected": self.signal_events_expected,
            "Z_observed": self.Z_observed,
            "p0_observed": self.p0_observed,
            "parameters": self.parameters,
            "pulls": self.pulls,
            "correlation": {
                "names": list(self.correlation_names),
                "matrix": self.correlation.tolist(),
            },
            "goodness_of_fit": {
                "chi2": self.gof_chi2,
                "ndf": self.gof_ndf,
                "p_value": self.gof_p_value,
                "method": "saturated model (Baker-Cousins)",
            },
            "converged": self.converged,
            "status": self.status,
            "at_bounds": self.at_bounds,
            "near_bounds": self.near_bounds,
        }


def model_and_data(workspace, data=None) -> tuple[pyhf.pdf.Model, np.ndarray]:
    """A pyhf model and its full data vector (main bins in channel order, then auxdata).

    ``workspace``: a pyhf JSON dict, a ``pyhf.Workspace`` or a ``pyhf.Model``. ``data``:
    ``None`` (the workspace's observations), ``{channel: counts}`` (auxdata appended), or the
    full vector. Channel names and bin counts are checked.
    """
    if isinstance(workspace, pyhf.pdf.Model):
        model, ws = workspace, None
    else:
        ws = workspace if isinstance(workspace, pyhf.Workspace) else pyhf.Workspace(workspace)
        model = ws.model()
    config = model.config
    if data is None:
        if ws is None:
            raise InputError("fit: a pyhf.Model needs data (counts per channel)")
        return model, np.asarray(ws.data(model), dtype=float)
    if isinstance(data, dict):
        missing = [ch for ch in config.channels if ch not in data]
        if missing:
            raise InputError(f"fit data: no counts for channel(s) {missing}")
        main = []
        for ch in config.channels:
            counts = np.asarray(data[ch], dtype=float)
            n_bins = config.channel_nbins[ch]
            if counts.shape != (n_bins,):
                raise InputError(
                    f"fit data: channel '{ch}' has {counts.size} bins, the model has {n_bins}"
                )
            main.append(counts)
        return model, np.concatenate(main + [np.asarray(config.auxdata, dtype=float)])
    full = np.asarray(data, dtype=float)
    expected = config.nmaindata + config.nauxdata
    if full.shape == (config.nmaindata,):
        full = np.concatenate([full, np.asarray(config.auxdata, dtype=float)])
    elif full.shape != (expected,):
        raise InputError(
            f"fit data: {full.size} values, the model needs {config.nmaindata} main bins "
            f"(+{config.nauxdata} auxiliary)"
        )
    return model, full


def twice_nll(model: pyhf.pdf.Model, data: np.ndarray, *, penalty: float | None = None):
    """The objective −2 ln L(pars) + c(data) of ``model`` on ``data`` as a numpy-float function.

    The data-only constant c makes the Poisson part the saturated-model deviance
    2 Σ (λ − n + n ln(n/λ)) (Baker & Cousins 1984; written as in
    :func:`cevns_fit.fastlik.poisson_deviance_half`), computed from pyhf's expected counts
    (``main_model.expected_data``) and pyhf's constraint terms (``constraint_model.logpdf``).
    Same minimum and likelihood ratios as −2 ``model.logpdf``, but accurate at any count:
    at 10¹⁵ events per bin the terms of −2 ln L (≈ 10¹⁷) cancel to leave noise of order 10,
    far above the Δ = 1 that MIGRAD must resolve, while the deviance stays O(1).

    Where the likelihood is not finite (λ ≤ 0 in a bin with data, from extrapolated histosys
    templates) the function returns ``penalty`` (default: inf).
    """
    config = model.config
    main = np.asarray(data[: config.nmaindata], dtype=float)
    aux = np.asarray(data[config.nmaindata :], dtype=float)

    def objective(pars) -> float:
        pars = np.asarray(pars, float)
        lam = np.asarray(model.main_model.expected_data(pars), dtype=float)
        with np.errstate(all="ignore"):
            if np.any(lam[main > 0] <= 0) or np.any(lam < 0):
                value = math.inf
            else:
                poisson = 2.0 * poisson_deviance_half(lam, main)
                constraint = (
                    float(np.sum(model.constraint_model.logpdf(aux, pars))) if aux.size else 0.0
                )
                value = poisson - 2.0 * constraint
        if math.isfinite(value):
            return value
        return math.inf if penalty is None else penalty

    return objective


@dataclass(frozen=True)
class _Minimum:
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    fval: float
    valid: bool
    message: str
    minuit: Minuit


def _minimize(
    model,
    data,
    *,
    init=None,
    fixed: dict[int, float] | None = None,
    hesse: bool = True,
    strategy: int = 1,
    max_calls: int = 100_000,
) -> _Minimum:
    """MIGRAD (+ HESSE) of −2 ln L; retried once with strategy 2 if MIGRAD is not valid.

    ``valid`` needs a valid MIGRAD minimum and, with ``hesse``, a positive-definite HESSE
    covariance that was not forced to be so; ``message`` is the minimiser's own verdict."""
    config = model.config
    # a copy: fixing a parameter below must not write into the caller's array
    x0 = np.array(config.suggested_init() if init is None else init, dtype=float)
    bounds = config.suggested_bounds()
    fixed_mask = list(config.suggested_fixed())
    for index, value in (fixed or {}).items():
        x0[index] = value
        fixed_mask[index] = True
    minuit = Minuit(
        twice_nll(model, data, penalty=_NONFINITE_PENALTY), x0, name=list(config.par_names)
    )
    minuit.errordef = Minuit.LEAST_SQUARES  # the objective is −2 ln L: Δ = 1 for 1σ
    minuit.limits = bounds
    minuit.fixed = fixed_mask
    minuit.strategy = strategy
    minuit.tol = 0.01
    minuit.migrad(ncall=max_calls)
    if not minuit.fmin.is_valid and strategy < 2:
        minuit.strategy = 2
        minuit.migrad(ncall=max_calls)
    valid = minuit.fmin.is_valid
    problems = fmin_problems(minuit.fmin, hesse=False)
    if hesse and valid:
        minuit.hesse()
        problems = fmin_problems(minuit.fmin, hesse=True)
        valid = not [p for p in problems if p not in BENIGN_PROBLEMS]
    if valid:
        message = "MIGRAD converged" + (", HESSE accurate" if hesse and not problems else "")
        if problems:
            message += " (" + ", ".join(problems) + ")"
    else:
        message = "MIGRAD did not converge: " + (", ".join(problems) or "invalid minimum")
    npar = len(x0)
    cov = (
        np.array(minuit.covariance, dtype=float)
        if minuit.covariance is not None
        else np.full((npar, npar), np.nan)
    )
    return _Minimum(
        values=np.array(minuit.values, dtype=float),
        errors=np.array(minuit.errors, dtype=float),
        covariance=cov,
        fval=float(minuit.fval),
        valid=bool(valid),
        message=message,
        minuit=minuit,
    )


def fit_workspace(
    workspace,
    data=None,
    *,
    signal_sample: str = "cevns",
    minos: bool = True,
    significance: bool = True,
    max_calls: int = 100_000,
) -> FitResult:
    """Maximum-likelihood fit of a pyhf model to data (see the module docstring).

    ``workspace``/``data`` as in :func:`model_and_data`. ``signal_sample`` names the sample
    whose fitted yield is reported as ``signal_events`` (NaN if the model has none);
    ``max_calls`` caps MIGRAD's likelihood calls. The result has ``converged=False`` and the
    minimiser's status when MIGRAD or HESSE fail; its numbers must then not be quoted.

    Bounds: a parameter that ends *at* a bound is listed in ``at_bounds``. At the physical
    boundary of a yield (a normfactor such as μ at its lower bound 0: "no signal seen") the
    result stands, flagged in ``at_bounds`` and ``status``; at any other bound (μ at its upper
    bound, a nuisance on its ±5σ wall) the likelihood's maximum lies outside the allowed
    region, so the fit is not converged (``converged=False``, the CLI exits 3). Parameters
    within one HESSE error of a bound are listed in ``near_bounds`` (errors approximate).

    Raises :class:`FitFailedError` when the likelihood is not finite at the nominal
    parameters, e.g. events in a bin where the model predicts none at any parameter values.
    """
    model, data = model_and_data(workspace, data)
    config = model.config
    objective = twice_nll(model, data)
    init = np.asarray(config.suggested_init(), dtype=float)
    if not math.isfinite(objective(init)):
        raise FitFailedError(_nonfinite_reason(model, data, init))

    best = _minimize(model, data, max_calls=max_calls)
    poi = config.poi_index
    names = list(config.par_names)
    converged, status = best.valid, best.message
    physical = frozenset(name for name, kind in config.modifiers if kind == "normfactor")
    at_bounds, near_bounds = bound_flags(
        names,
        best.values,
        best.errors,
        config.suggested_bounds(),
        config.suggested_fixed(),
        physical=physical,
    )
    if at_bounds:
        words = [
            f"{n} at its {b['bound']} bound {b['limit']:g}"
            + (" (physical boundary)" if b["physical_boundary"] else "")
            for n, b in at_bounds.items()
        ]
        status += "; " + ", ".join(words)
        if not all(b["physical_boundary"] for b in at_bounds.values()):
            converged = False
            status += " (the maximum of the likelihood lies outside the allowed range)"
    if near_bounds:
        status += "; within 1σ of a bound: " + ", ".join(near_bounds)
    if not np.any(data[: config.nmaindata] > 0):
        status += "; the data hold no events"

    mu_minos = None
    if minos and converged and poi is not None:
        try:
            best.minuit.minos(names[poi])
            merr = best.minuit.merrors[names[poi]]
            if merr.is_valid:
                mu_minos = (float(merr.lower), float(merr.upper))
            else:
                status += "; MINOS on the POI not valid"
        except RuntimeError as exc:  # iminuit raises when MINOS cannot start
            status += f"; MINOS failed ({exc})"

    Z_obs, p0_obs = math.nan, math.nan
    if significance and poi is not None:
        lo_bound = config.suggested_bounds()[poi][0]
        at_zero = [np.array(x, dtype=float) for x in (best.values, init)]
        for x in at_zero:
            x[poi] = 0.0
        if lo_bound <= 0.0 and not any(math.isfinite(objective(x)) for x in at_zero):
            # events where μ = 0 predicts none (no background there): μ = 0 is excluded
            Z_obs, p0_obs = math.inf, 0.0
            status += "; events where μ = 0 predicts none: p0 = 0 (Z_observed infinite)"
        elif lo_bound <= 0.0:
            null = _minimize(model, data, init=best.values, fixed={poi: 0.0}, hesse=False)
            if null.valid:
                q0 = max(null.fval - best.fval, 0.0) if best.values[poi] > 0 else 0.0
                Z_obs = math.sqrt(q0)
                p0_obs = float(norm.sf(Z_obs))
            else:
                status += "; the μ = 0 fit did not converge (no Z_observed)"

    sample_index = config.samples.index(signal_sample) if signal_sample in config.samples else None
    sigma = np.sqrt(np.clip(np.diag(best.covariance), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = best.covariance / np.outer(sigma, sigma)
    corr = np.where(np.outer(sigma, sigma) > 0, corr, 0.0)

    pulls = {}
    for name, centre, prior, _kind, _aux, _tau in constraint_terms(model, best.values, data):
        sl = config.par_slice(name)
        labels = names[sl]
        for j, label in enumerate(labels):
            pulls[label] = {
                "pull": float((best.values[sl][j] - centre[j]) / prior[j]),
                "constraint": float(best.errors[sl][j] / prior[j]),
            }
    gof_chi2, gof_ndf = saturated_deviance(model, best.values, data)
    gof_p = float(chi2.sf(gof_chi2, gof_ndf)) if gof_ndf > 0 else math.nan

    return FitResult(
        at_bounds=at_bounds,
        near_bounds=near_bounds,
        mu=float(best.values[poi]) if poi is not None else math.nan,
        mu_err=float(best.errors[poi]) if poi is not None else math.nan,
        mu_minos=mu_minos,
        signal_events=signal_yield(model, best.values, sample_index),
        signal_events_err=signal_yield_error(model, best, sample_index),
        signal_events_expected=signal_yield(model, init, sample_index),
        Z_observed=Z_obs,
        p0_observed=p0_obs,
        parameters={
            n: {"value": float(v), "error": float(e)}
            for n, v, e in zip(names, best.values, best.errors, strict=True)
        },
        pulls=pulls,
        correlation_names=tuple(names),
        correlation=corr,
        gof_chi2=gof_chi2,
        gof_ndf=gof_ndf,
        gof_p_value=gof_p,
        converged=converged,
        status=status,
        twice_nll=best.fval,
        postfit=postfit_tables(model, best.values, init, data),
    )


def _nonfinite_reason(model, data, pars) -> str:
    """Why ln L is not finite at ``pars``: events where every sample is zero, or bad data."""
    main = np.asarray(data[: model.config.nmaindata], dtype=float)
    if not np.all(np.isfinite(data)):
        return "the data are not finite numbers"
    by_sample = np.asarray(model.main_model.expected_data(pars, return_by_sample=True))
    empty = (np.abs(by_sample).sum(axis=0) == 0) & (main > 0)
    if empty.any():
        where = []
        for ch in model.config.channels:
            idx = np.flatnonzero(empty[model.config.channel_slices[ch]])
            if idx.size:
                where.append(f"channel '{ch}' bin(s) {idx.tolist()[:5]}")
        return (
            "the data have events where the model predicts none at any parameter values ("
            + "; ".join(where)
            + "): no background and no signal there"
        )
    return "the likelihood is not finite at the model's nominal parameters"


def sample_toy(model: pyhf.pdf.Model, pars, rng: np.random.Generator) -> np.ndarray:
    """Pseudo-data at ``pars``: Poisson main counts and auxiliary data drawn around ``pars``.

    Gaussian constraints draw aux ~ N(θ, σ); Poisson constraints (shapesys) aux ~ Poisson(τθ).
    This is the frequentist toy of the HistFactory likelihood (both terms fluctuate).
    """
    config = model.config
    pars = np.asarray(pars, dtype=float)
    main = rng.poisson(np.asarray(model.main_model.expected_data(pars), dtype=float))
    aux = []
    for name in config.auxdata_order:
        ps = config.param_set(name)
        theta = pars[config.par_slice(name)]
        if ps.pdf_type == "poisson":
            aux.append(rng.poisson(theta * np.asarray(ps.factors, dtype=float)).astype(float))
        else:
            aux.append(rng.normal(theta, np.asarray(ps.width(), dtype=float)))
    return np.concatenate([main.astype(float)] + aux) if aux else main.astype(float)
