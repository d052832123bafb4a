"""What a fit's minimum says about the data, for :func:`cevns_fit.fit.fit_workspace`.

At the best-fit parameters of a pyhf model: the fitted signal count (:func:`signal_yield`) and
its error propagated through the full covariance (:func:`signal_yield_error`); the constraint
terms behind the nuisance pulls (:func:`constraint_terms`); the saturated-model goodness of fit
(:func:`saturated_deviance`, Baker & Cousins, NIM 221 (1984) 437); the pre- and post-fit
expected counts per channel and sample (:func:`postfit_tables`). The likelihood is plain pyhf,
evaluated with whatever backend is set and converted to numpy floats.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cevns_fit.fit import _Minimum

__all__ = [
    "constraint_terms",
    "postfit_tables",
    "saturated_deviance",
    "signal_yield",
    "signal_yield_error",
]


def signal_yield(model, pars, sample_index: int | None) -> float:
    """Expected count of sample ``sample_index`` at ``pars``, summed over all channels and
    bins (NaN without a signal sample)."""
    if sample_index is None:
        return math.nan
    by_sample = model.main_model.expected_data(np.asarray(pars, float), return_by_sample=True)
    return float(np.sum(np.asarray(by_sample)[sample_index]))


def signal_yield_error(model, minimum: _Minimum, sample_index: int | None) -> float:
    """σ_S from the full covariance: σ² = gᵀ C g with g = ∂S/∂θ by central differences."""
    if sample_index is None or not np.isfinite(minimum.covariance).all():
        return math.nan
    values = minimum.values
    grad = np.zeros_like(values)
    for i in np.flatnonzero(np.diag(minimum.covariance) > 0):
        step = 1e-4 * max(1.0, abs(values[i]))
        up, down = values.copy(), values.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (
            signal_yield(model, up, sample_index) - signal_yield(model, down, sample_index)
        ) / (2 * step)
    return float(np.sqrt(max(grad @ minimum.covariance @ grad, 0.0)))


def constraint_terms(model, pars, data):
    """Per constrained parameter set: (name, centre θ₀, prior σ, type, aux, τ) for pulls/GOF."""
    config = model.config
    aux = data[config.nmaindata :]
    offset = 0
    out = []
    for name in config.auxdata_order:
        ps = config.param_set(name)
        n = ps.n_parameters
        a = np.asarray(aux[offset : offset + n], dtype=float)
        offset += n
        if ps.pdf_type == "poisson":
            tau = np.asarray(ps.factors, dtype=float)
            out.append((name, a / tau, 1.0 / np.sqrt(tau), "poisson", a, tau))
        else:
            out.append((name, a, np.asarray(ps.width(), dtype=float), "normal", a, None))
    return out


def saturated_deviance(model, pars, data) -> tuple[float, int]:
    """−2 ln(L(θ̂)/L_sat): Poisson main bins plus constraint terms (Baker & Cousins 1984)."""
    config = model.config
    n = data[: config.nmaindata]
    nu = np.asarray(model.main_model.expected_data(np.asarray(pars, float)), dtype=float)
    nu = np.maximum(nu, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(n > 0, n * np.log(n / nu), 0.0)
    deviance = 2.0 * np.sum(nu - n + log_term)
    for name, _centre, sigma, kind, aux, tau in constraint_terms(model, pars, data):
        theta = np.asarray(pars[config.par_slice(name)], dtype=float)
        if kind == "normal":
            deviance += np.sum(((aux - theta) / sigma) ** 2)
        else:
            mean = np.maximum(theta * tau, 1e-300)
            with np.errstate(divide="ignore", invalid="ignore"):
                deviance += 2.0 * np.sum(
                    mean - aux + np.where(aux > 0, aux * np.log(aux / mean), 0.0)
                )
    # Each constrained parameter comes with its own auxiliary datum; the free unconstrained
    # parameters (μ, background normfactors) are what the main bins pay for.
    constrained = set(config.auxdata_order)
    fixed = config.suggested_fixed()
    n_free = sum(
        1
        for name in config.par_order
        if name not in constrained
        for i in range(config.param_set(name).n_parameters)
        if not fixed[config.par_slice(name).start + i]
    )
    return float(deviance), int(config.nmaindata - n_free)


def postfit_tables(model, pars_hat, pars_pre, data) -> dict[str, dict]:
    """Per channel: the data and the expected counts of every sample not empty there, at the
    best fit ``pars_hat`` ("postfit") and at ``pars_pre`` ("prefit")."""
    config = model.config
    post = np.asarray(model.main_model.expected_data(np.asarray(pars_hat), return_by_sample=True))
    pre = np.asarray(model.main_model.expected_data(np.asarray(pars_pre), return_by_sample=True))
    tables = {}
    for ch in config.channels:
        sl = config.channel_slices[ch]
        tables[ch] = {
            "data": data[sl].tolist(),
            "postfit": {
                s: post[i, sl].tolist() for i, s in enumerate(config.samples) if post[i, sl].any()
            },
            "prefit": {
                s: pre[i, sl].tolist() for i, s in enumerate(config.samples) if pre[i, sl].any()
            },
        }
    return tables
