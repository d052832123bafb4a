"""Poisson deviance helpers: the Poisson part of −ln L in a form exact at any count.

:func:`poisson_deviance_half` is the Poisson term of the objective of
:class:`~cevns_fit.fastlik.FastModel` and the saturated-model goodness of fit of
:mod:`cevns_fit.fit`.
"""

from __future__ import annotations

import numpy as np


def poisson_deviance_half(lam: np.ndarray, main: np.ndarray) -> float:
    """Σ_b (λ − n − n ln(λ/n)): −ln L of the Poisson bins up to the data-only constant
    Σ (n ln n − n − ln n!), i.e. half the saturated deviance (Baker & Cousins 1984).

    Written as d − n ln(1 + d/n) with d = λ − n, which stays exact to rounding of itself at any
    count: at 10¹⁵ events per bin Σ (λ − n ln λ) is ≈ 3·10¹⁶ and its rounding (≈ 4) would swamp
    the Δ(−ln L) = 0.5 of a 1σ step. Bins with n = 0 contribute λ. NaN/inf where λ ≤ 0 < n.
    """
    excess = lam - main
    positive = main > 0
    log_term = np.log1p(np.where(positive, excess / np.where(positive, main, 1.0), 0.0))
    return float(excess.sum() - (main * log_term).sum())
