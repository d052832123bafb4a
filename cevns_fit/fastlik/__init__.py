"""Fast numpy evaluation of the HistFactory models that :mod:`cevns_fit.likelihood` writes.

Why this exists
---------------
Plain pyhf (numpy backend, minuit) needs ~1.6 s for one 20-bin discovery test because its
minimiser differentiates numerically. Scans need thousands of tests. This module evaluates the
*same* likelihood as pyhf 0.7.6, for exactly the subset of HistFactory our workspaces use, with
an analytic Jacobian, and minimises it inside pyhf's parameter bounds with a projected
Gauss-Newton method (typically 3–8 likelihood evaluations per fit), falling back on scipy's
L-BFGS-B (analytic gradients, preconditioned by the Fisher diagonal) if that does not converge.
It is checked against ``pyhf.Model.logpdf`` at random parameter points (to ~1e-10) and against
pyhf's q0 (``tests/test_fastlik.py``).

What is implemented (pyhf 0.7.6 semantics; Cranmer et al., CERN-OPEN-2012-016)
-----------------------------------------------------------------------------
* ``normfactor``: free multiplicative parameter, unconstrained, default bounds [0, 10].
* ``normsys``: multiplicative factor with code-4 interpolation (6th-order polynomial for
  |α| < 1, exponential ``hi**α`` / ``lo**-α`` outside), N(0|α, 1) constraint, bounds [-5, 5].
* ``histosys``: additive shape delta with code-4p interpolation (polynomial for |α| ≤ 1,
  linear outside), N(0|α, 1) constraint, bounds [-5, 5].
* ``staterror``: one γ per bin of a channel, multiplying every sample that carries it;
  Gaussian constraint N(1|γ, σ_b) with σ_b = sqrt(Σ_s δ_sb²)/Σ_s ν_sb over those samples;
  γ fixed at 1 where σ_b = 0 (zero-yield bins), bounds [1e-10, 10].
Anything else (shapesys, shapefactor, lumi) raises :class:`~cevns_fit.errors.InputError`:
use plain pyhf for such workspaces.

The expected count of sample r in bin b is

    λ_rb = (ν_rb + Σ_h Δ_hrb(α_h)) · Π_f θ_f · Π_k g_kr(α_k) · γ_b

and the negative log-likelihood is Σ_b (λ_b − n_b ln λ_b) + Σ_c (θ_c − a_c)² / (2 σ_c²)
up to data-only constants (which :meth:`FastModel.logpdf` restores for comparison with pyhf).

Use
---
Build once per model structure with :meth:`FastModel.from_workspace`, then change only data,
auxiliary data and the exposure scale (:meth:`FastModel.scaled`): nothing is recompiled, so
memory does not grow with the number of scan points.

Layout
------
The package follows the data flow, one concept per module; every public name is also
importable from ``cevns_fit.fastlik`` itself:

* :mod:`cevns_fit.fastlik.interpolation` — the HistFactory interpolation codes: code 4
  (:func:`code4_factor`, normsys) and code 4p (:func:`code4p_delta`, histosys);
* :mod:`cevns_fit.fastlik.deviance` — :func:`poisson_deviance_half`, the Poisson part of −ln L;
* :mod:`cevns_fit.fastlik.workspace` — compiling a pyhf workspace dict
  (:meth:`FastModel.from_workspace`, :data:`SUPPORTED_MODIFIERS`, pyhf's default bounds);
* :mod:`cevns_fit.fastlik.kernel` — the compiled kernel: stacked tensors, λ, ∂λ/∂θ and the
  interpolations' curvature in a few matrix products;
* :mod:`cevns_fit.fastlik.model` — :class:`FastModel`: parameter layout, exposure scaling,
  ln L and its gradient, Asimov data;
* :mod:`cevns_fit.fastlik.fitting` — :class:`FastFitResult`, the projected Gauss-Newton loop
  and the L-BFGS-B fallback.
"""

from __future__ import annotations

# Besides the public names, the constants and private helpers of the former single module stay
# importable from here (tests and likelihood.py use some): the same objects, so to monkeypatch
# one, patch it in the submodule that uses it (e.g. cevns_fit.fastlik.fitting._dposv).
from cevns_fit.fastlik.deviance import poisson_deviance_half
from cevns_fit.fastlik.fitting import (  # noqa: F401
    FastFitResult,
    _blas_controller,
    _single_threaded_blas,
)
from cevns_fit.fastlik.interpolation import (  # noqa: F401
    _CODE4_AINV,
    _code4_coefficients,
    code4_factor,
    code4p_delta,
)
from cevns_fit.fastlik.model import _HALF_LOG_2PI, FastModel  # noqa: F401
from cevns_fit.fastlik.workspace import (  # noqa: F401
    _DEFAULT_BOUNDS,
    _DEFAULT_INIT,
    SUPPORTED_MODIFIERS,
)

__all__ = ["FastModel", "FastFitResult", "code4_factor", "code4p_delta", "poisson_deviance_half"]
