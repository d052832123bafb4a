"""The discovery test statistic q0 on a compiled model: the engine of :mod:`cevns_fit.inference`.

:func:`compile_model` (templates → :class:`~cevns_fit.fastlik.FastModel`), q0 on the pre-fit
Asimov data at μ = 1 (one fit; kept per compiled model while it lives, weakly referenced), q0
on one dataset (free and μ = 0 fits; arXiv:1007.1727 Eq. 12), Z = √q0, pseudo-experiments
(Poisson main counts, Gaussian auxiliary data), and the observed data of the templates.
"""

from __future__ import annotations

import math
import weakref

import numpy as np

from cevns_fit.errors import FitFailedError, InputError
from cevns_fit.fastlik import FastModel
from cevns_fit.likelihood import build_workspace
from cevns_fit.templates import AnalysisTemplates


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
    ``model.make_pdf(pars).sample()``. Fixed parameters (e.g. fixed staterror γ) keep θ as
    their auxiliary datum, where pyhf 0.7.6 draws it too: with θ fixed its constraint term is
    a constant of every fit, so q0 is the same either way.
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


def _check_exposure(exposure_kg_yr: float) -> None:
    if not (
        isinstance(exposure_kg_yr, int | float)
        and math.isfinite(exposure_kg_yr)
        and exposure_kg_yr > 0
    ):
        raise InputError(f"exposure must be a positive number of kg·yr, got {exposure_kg_yr!r}")
