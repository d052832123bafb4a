"""Maximum-likelihood fits of a :class:`~cevns_fit.fastlik.FastModel` inside pyhf's bounds.

A projected Gauss-Newton method with a backtracking line search (:meth:`FastFitting._newton`,
typically 3–8 likelihood evaluations per fit), falling back on scipy's L-BFGS-B (analytic
gradients, preconditioned by the Fisher diagonal) where it does not converge
(:meth:`FastFitting.fit`); each fit returns a :class:`FastFitResult`. The small BLAS calls run
on one OpenBLAS thread (:func:`_single_threaded_blas`).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dposv as _dposv
from scipy.optimize import minimize


@functools.cache
def _blas_controller():
    """threadpoolctl's view of the BLAS libraries loaded (numpy's and scipy's OpenBLAS)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """Run small BLAS calls on one thread, restoring the previous setting afterwards.

    With several OpenBLAS threads, each small BLAS call wakes and synchronises the pool: on a
    loaded 2-core machine a 20-bin L-BFGS-B fit measured 290 ms instead of 40 ms, a 200-bin
    Newton fit 50 ms instead of 5. Other code is unaffected.
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class FastFitResult:
    """One maximum-likelihood fit: best parameters, −ln L at the minimum (no data constants)."""

    pars: np.ndarray
    nll: float
    success: bool
    n_evaluations: int
    message: str


class FastFitting:
    """The fitting half of :class:`~cevns_fit.fastlik.FastModel`: :meth:`fit` (Gauss-Newton,
    else L-BFGS-B) on the kernel's λ, Jacobian and curvature."""

    def _newton(
        self,
        x0: np.ndarray,
        free: np.ndarray,
        bounds: np.ndarray,
        main: np.ndarray,
        aux: np.ndarray,
        max_iter: int = 60,
        reference_nll: float | None = None,
    ) -> tuple[np.ndarray, float, int, bool]:
        """Projected Gauss-Newton with a backtracking line search inside the box.

        Curvature: Σ_b n_b/λ_b² ∇λ_b ∇λ_bᵀ + diag(1/σ²), the exact Hessian of the Poisson term
        wherever λ is linear in the parameters (normfactors, staterror), positive
        semi-definite everywhere. Stops without re-linearising once the predicted decrease
        of a step is below ~1e-9, or below 1e-7 × (nll − ``reference_nll``) when a reference
        (the other fit of a likelihood ratio) is given: the step is still taken, and Gauss-
        Newton's linear convergence leaves a remaining error well below that, i.e. < 1e-8 of
        q. Returns (pars, nll, evaluations, converged).
        """
        # Large models (hundreds of staterror γ) make the curvature matrix products big
        # enough for OpenBLAS to wake its threads, which stall on a busy machine (a 200-bin
        # fit: 50 ms instead of 5); the matrices are at most a few hundred wide, one thread
        # is fastest whatever the load.
        blas = contextlib.nullcontext() if int(free.sum()) <= 32 else _single_threaded_blas()
        with np.errstate(all="ignore"), blas:
            return self._newton_loop(x0, free, bounds, main, aux, max_iter, reference_nll)

    def _newton_loop(self, x0, free, bounds, main, aux, max_iter, reference_nll):
        """The body of :meth:`_newton` (under one ``np.errstate``)."""
        x = x0
        lo, hi = bounds[:, 0], bounds[:, 1]
        inv_var = self._inv_var
        aux0 = np.where(self.constrained, aux, 0.0)
        positive = main > 0
        all_positive = bool(positive.all())
        main_pos = main[positive]
        free_list = np.flatnonzero(free).tolist()
        free_idx = np.array(free_list, dtype=int)
        lo_list, hi_list = lo.tolist(), hi.tolist()
        small = len(free_list) <= 32  # active set in plain Python: cheaper for few parameters

        def nll_of(pars: np.ndarray, lam: np.ndarray) -> float:
            lam_pos = lam if all_positive else lam[positive]
            if not lam_pos.min(initial=math.inf) > 0:  # also catches NaN
                return math.inf
            diff = pars - aux0
            excess = lam - main  # the deviance form of poisson_deviance_half
            excess_pos = excess if all_positive else excess[positive]
            poisson = excess.sum() - main_pos @ np.log1p(excess_pos / main_pos)
            value = float(poisson + 0.5 * (diff @ (diff * inv_var)))
            return value if math.isfinite(value) else math.inf

        lam, jac, curv = self._lam_jac(x, True)
        nll = nll_of(x, lam)
        n_eval = 1
        if not math.isfinite(nll):
            return x, nll, n_eval, False
        for _ in range(max_iter):
            if all_positive:
                ratio = main / lam
                weight = ratio / lam
            else:
                ratio = np.where(positive, main / lam, 0.0)
                weight = np.where(positive, ratio / lam, 1e-12 / np.maximum(lam, 1e-300))
            grad = jac @ (1.0 - ratio) + (x - aux0) * inv_var
            # active set: at a bound with the gradient pushing outwards
            if small:
                xl, gl = x.tolist(), grad.tolist()
                keep = [
                    i
                    for i in free_list
                    if not (
                        (xl[i] <= lo_list[i] and gl[i] > 0) or (xl[i] >= hi_list[i] and gl[i] < 0)
                    )
                ]
                idx = free_idx if len(keep) == len(free_list) else np.array(keep, dtype=int)
            else:
                active = ~free | ((x <= lo) & (grad > 0)) | ((x >= hi) & (grad < 0))
                idx = np.flatnonzero(~active)
            if idx.size == 0:
                return x, nll, n_eval, True
            j = jac[idx]
            hess = (j * weight) @ j.T
            # Gauss-Newton drops Σ_b (1 − n_b/λ_b) ∂²λ_b/∂θ², the curvature of the
            # interpolations themselves; where that term is positive (a fit pulling a curved
            # histosys/normsys against data it cannot match, e.g. μ = 0 on signal-like data)
            # the step overshoots and oscillates. Its positive diagonal part restores the
            # curvature and keeps the matrix positive definite.
            residual_curv = curv[idx] @ (1.0 - ratio)
            hess.flat[:: idx.size + 1] += inv_var[idx] + 1e-12 + np.maximum(residual_curv, 0.0)
            g = grad[idx]
            # Cholesky solve straight from LAPACK (np.linalg.solve's wrappers cost 4x more
            # than a 6x6 solve; the matrix is positive definite by construction), on one
            # thread for large models (see _newton)
            _, step, info = _dposv(hess, -g)
            if info != 0:
                return x, nll, n_eval, False
            decrement = -float(g @ step)
            if not (decrement >= 0.0) or not math.isfinite(decrement):
                return x, nll, n_eval, False
            scale_nll = max(1.0, abs(nll))
            if decrement < 1e-13 * scale_nll or decrement < 1e-12:
                return x, nll, n_eval, True
            last_tol = 1e-9 + 1e-13 * scale_nll
            if reference_nll is not None:
                last_tol = max(last_tol, 1e-7 * (nll - reference_nll))
            last = decrement < last_tol
            t = 1.0
            accepted = False
            x_idx, lo_idx, hi_idx = x[idx], lo[idx], hi[idx]
            for ls in range(40):
                trial = x.copy()
                trial[idx] = np.minimum(np.maximum(x_idx + t * step, lo_idx), hi_idx)
                # the Jacobian comes along with the first (usually accepted) trial
                if ls == 0 and not last:
                    new_lam, new_jac, new_curv = self._lam_jac(trial, True)
                else:
                    new_lam, new_jac = self._lam(trial), None
                new_nll = nll_of(trial, new_lam)
                n_eval += 1
                # Armijo on the projected path
                if new_nll <= nll - 1e-4 * t * decrement + 1e-12 * abs(nll):
                    accepted = True
                    break
                t *= 0.5
            if not accepted:
                # no decrease possible at machine precision: converged if the step was tiny
                return x, nll, n_eval, decrement < 1e-8
            if last:
                return trial, new_nll, n_eval, True
            x, nll, lam = trial, new_nll, new_lam
            if new_jac is None:
                lam, jac, curv = self._lam_jac(x, True)
            else:
                jac, curv = new_jac, new_curv
        return x, nll, n_eval, False

    def fit(
        self,
        main: np.ndarray,
        aux: np.ndarray | None = None,
        *,
        fix: dict[int, float] | None = None,
        fixed_mask: np.ndarray | None = None,
        init: np.ndarray | None = None,
        bounds: np.ndarray | None = None,
        reference_nll: float | None = None,
    ) -> FastFitResult:
        """Minimise −ln L inside the parameter bounds (Gauss-Newton, else L-BFGS-B).

        ``fix`` maps parameter indices to fixed values (e.g. ``{poi_index: 0.0}``);
        ``fixed_mask`` adds further fixed parameters (kept at ``init``). ``init`` warm-starts.
        ``reference_nll`` (−ln L of the other fit of a likelihood ratio, e.g. the free fit
        for q0) lets the fit stop at a precision relative to the ratio instead of absolute.
        """
        aux = self.aux_nominal if aux is None else aux
        x0 = np.array(self.init if init is None else init, dtype=float)
        bnds = self.bounds if bounds is None else bounds
        fixed = self.fixed if fixed_mask is None else (self.fixed | fixed_mask)
        if fix:
            fixed = fixed.copy()
            for i, v in fix.items():
                x0[i] = v
                fixed[i] = True
        free = ~fixed
        x0 = np.where(free, np.clip(x0, bnds[:, 0], bnds[:, 1]), x0)
        newton_x, newton_nll, newton_evals, converged = self._newton(
            x0, free, bnds, main, aux, reference_nll=reference_nll
        )
        if init is not None and not math.isfinite(newton_nll):
            # a warm start from another point can lie outside this one's domain (λ ≤ 0 in a
            # bin with data, e.g. a background shape driven negative that the signal at a
            # larger μ compensated): start from the nominal parameters instead
            x0 = np.where(free, np.clip(self.init, bnds[:, 0], bnds[:, 1]), x0)
            newton_x, newton_nll, evals, converged = self._newton(
                x0, free, bnds, main, aux, reference_nll=reference_nll
            )
            newton_evals += evals
        if converged:
            return FastFitResult(
                newton_x, float(newton_nll), True, newton_evals, "Newton converged"
            )
        # fall back on L-BFGS-B (from the start point) where Newton did not converge
        full = x0.copy()
        # precondition: work in units of each parameter's expected 1σ (diagonal Fisher)
        info = self.fisher_diagonal(x0)[free]
        step = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), 1.0)

        def fun(y: np.ndarray) -> tuple[float, np.ndarray]:
            full[free] = y * step
            value, grad = self.nll_and_grad(full, main, aux)
            if not math.isfinite(value):
                # outside the model's domain (λ ≤ 0 with n > 0): a huge value makes
                # L-BFGS-B's line search backtrack
                return 1e300, np.zeros_like(y)
            return value, grad[free] * step

        if not free.any():
            value, _ = self.nll_and_grad(x0, main, aux)
            return FastFitResult(x0, value, bool(np.isfinite(value)), 1, "all parameters fixed")
        scaled_bounds = bnds[free] / step[:, None]
        y = x0[free] / step
        n_eval = 0
        with _single_threaded_blas():
            for _attempt in range(3):
                res = minimize(
                    fun,
                    y,
                    jac=True,
                    method="L-BFGS-B",
                    bounds=scaled_bounds,
                    options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 5000, "maxcor": 20},
                )
                y, n_eval = res.x, n_eval + int(res.nfev)
                # L-BFGS-B can stop early on a flat stretch: restart while the projected
                # gradient (in units of 1σ) is not small
                _, g = fun(y)
                at_lo = (y <= scaled_bounds[:, 0]) & (g > 0)
                at_hi = (y >= scaled_bounds[:, 1]) & (g < 0)
                projected = np.where(at_lo | at_hi, 0.0, g)
                if np.max(np.abs(projected), initial=0.0) < 1e-4:
                    break
        pars = x0.copy()
        pars[free] = np.clip(y * step, bnds[free, 0], bnds[free, 1])
        value, _ = self.nll_and_grad(pars, main, aux)
        # L-BFGS-B's "ABNORMAL" line-search stop at machine precision is a converged minimum.
        ok = bool(res.success or "ABNORMAL" in str(res.message)) and bool(np.isfinite(value))
        return FastFitResult(pars, float(value), ok, n_eval, str(res.message))
