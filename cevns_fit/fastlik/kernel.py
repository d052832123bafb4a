"""The compiled kernel of :class:`~cevns_fit.fastlik.FastModel`: λ, Jacobian, curvature.

Precomputed index lists and stacked tensors (:meth:`CompiledKernel._compile`), then the
expected counts λ_b, their derivatives ∂λ_b/∂θ_i and the interpolations' diagonal second
derivatives in a few matrix products per evaluation, whatever the number of modifiers. The
interpolation codes are those of :mod:`cevns_fit.fastlik.interpolation`, in stacked form.
"""

from __future__ import annotations

import numpy as np


class CompiledKernel:
    """The evaluation kernel of :class:`~cevns_fit.fastlik.FastModel` (private methods on the
    arrays its constructor sets)."""

    def _compile(self) -> None:
        """Precompute the index lists and stacked tensors every evaluation uses.

        Code 4p written with two bases per histosys, S = (Δ⁺ + Δ⁻)/2 and A = (Δ⁺ − Δ⁻)/16:
        Δ(α) = α S + c(α) A with c = α²(15 − 10α² + 3α⁴) for |α| ≤ 1 and c = 8|α| outside
        (there α S + 8|α| A equals α Δ⁺ or α Δ⁻). So the additive part of every row is one
        matrix product of the coefficient vector (1, α_1..α_H, c_1..c_H) with the stacked
        bases, and λ, ∂λ/∂θ follow from two more: a few dozen numpy calls per evaluation,
        whatever the number of modifiers (scans are dominated by per-call overhead).
        """
        n_rows, n_bins = self.nominal.shape
        self._h_list = [int(i) for i in self.histo_index]
        self._ns_list = [int(i) for i in self.normsys_index]
        self._nf_list = [int(i) for i in self.normfactor_index]
        n_h = len(self._h_list)
        # multiplicative rows (normfactors, then normsys) and the parameter each one is
        self._mult_index = np.concatenate([self.normfactor_index, self.normsys_index]).astype(int)
        self._nf_maskf = self.normfactor_mask.astype(float)
        self._nf_offset = 1.0 - self._nf_maskf
        # code-4 polynomial coefficients per normsys as (K, 6, rows) for one batched matmul
        # factors of every multiplicative row, (normfactors | normsys) × rows, are linear in
        # u = (1, θ_f..., α_k, α_k², ..., α_k⁶ ...): fac = u @ M (code-4 polynomial inside ±1)
        n_nf, n_ns = len(self._nf_list), len(self._ns_list)
        fac_matrix = np.zeros((1 + n_nf + 6 * n_ns, n_nf + n_ns, n_rows))
        fac_matrix[0, :n_nf] = self._nf_offset
        fac_matrix[0, n_nf:] = 1.0
        for f in range(n_nf):
            fac_matrix[1 + f, f] = self._nf_maskf[f]
        for k in range(n_ns):
            fac_matrix[1 + n_nf + 6 * k : 1 + n_nf + 6 * (k + 1), n_nf + k] = self.normsys_coeffs[
                :, k
            ]
        self._fac_matrix = fac_matrix.reshape(fac_matrix.shape[0], -1)
        # excludes factor q from the product for row q of ∂(row multiplier)/∂θ
        self._eye_q = np.eye(n_nf + n_ns, dtype=bool)[:, :, None]
        self._ns_loglo = np.log(self.normsys_lo)
        self._ns_loghi = np.log(self.normsys_hi)
        # Jacobian assembly: columns [rows | S-projections | A-projections]; the S column of
        # histosys h has weight 1 for its parameter (constant), the A column weight dc/dα
        d0 = np.zeros((self.n_pars, n_rows + 2 * n_h))
        d0[self.histo_index, n_rows + np.arange(n_h)] = 1.0
        self._d0 = d0
        self._h_cols = (self.histo_index, n_rows + n_h + np.arange(n_h))
        self._inv_var = np.where(
            self.constrained, 1.0 / np.where(self.constrained, self.aux_sigma, 1.0) ** 2, 0.0
        )
        self._compile_bins()

    def _compile_bins(self) -> None:
        """The (scale-dependent) stacked bin tensors: nominal, S_h, A_h per row."""
        n_rows, n_bins = self.nominal.shape
        up, dn = self.histo_up, self.histo_dn
        stack = np.concatenate([self.nominal[None], 0.5 * (up + dn), 0.0625 * (up - dn)])
        # (1 + 2H, rows·bins) for the additive rows, (rows, (1 + 2H)·bins) for the row sums
        self._v = stack.reshape(stack.shape[0], n_rows * n_bins)
        self._v_rows = np.ascontiguousarray(stack.transpose(1, 0, 2)).reshape(n_rows, -1)
        self._v3 = stack if self._n_stat else None

    def _coefficients(self, plist: list[float]) -> tuple[np.ndarray, list[float], list[float]]:
        """(1, α_h, c_h(α_h)) as an array, and dc_h/dα_h and d²c_h/dα_h² as lists (code 4p,
        see _compile)."""
        alphas, cs, dcs, d2cs = [], [], [], []
        for i in self._h_list:
            a = plist[i]
            if -1.0 <= a <= 1.0:
                a2 = a * a
                cs.append(a2 * (15.0 + a2 * (-10.0 + 3.0 * a2)))
                dcs.append(a * (30.0 + a2 * (-40.0 + 18.0 * a2)))
                d2cs.append(30.0 + a2 * (-120.0 + 90.0 * a2))
            else:
                cs.append(8.0 * abs(a))
                dcs.append(8.0 if a > 0 else -8.0)
                d2cs.append(0.0)
            alphas.append(a)
        return np.array([1.0, *alphas, *cs]), dcs, d2cs

    def _row_factors(
        self, plist: list[float], derivative: bool
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Multiplicative factors per (normfactor | normsys, row), their first and second
        derivatives (``derivative``: all three; otherwise the factors only).

        All are one matrix product: the factors are linear in (1, θ_f, α_k, α_k², …, α_k⁶)
        (normfactors, and code 4's polynomial for |α| ≤ 1; see :meth:`_compile`); beyond
        |α| = 1 the exponential extrapolation hi**α / lo**(−α) replaces the polynomial.
        """
        values, derivs, second, outside = [1.0], [0.0], [0.0], []
        for i in self._nf_list:
            values.append(plist[i])
            derivs.append(1.0)
            second.append(0.0)
        for k, i in enumerate(self._ns_list):
            a = plist[i]
            a2 = a * a
            a3 = a2 * a
            values += [a, a2, a3, a2 * a2, a3 * a2, a3 * a3]
            derivs += [1.0, 2.0 * a, 3.0 * a2, 4.0 * a3, 5.0 * a2 * a2, 6.0 * a3 * a2]
            second += [0.0, 2.0, 6.0 * a, 12.0 * a2, 20.0 * a3, 30.0 * a2 * a2]
            if not -1.0 <= a <= 1.0:
                outside.append((k, a))
        n_q = self._mult_index.size
        if derivative:
            # (a flat list converts to an array several times faster than a nested one)
            flat = np.array(values + derivs + second).reshape(3, -1)
            fac, dfac, d2fac = (flat @ self._fac_matrix).reshape(3, n_q, -1)
        else:
            fac = (np.array(values) @ self._fac_matrix).reshape(n_q, -1)
            dfac = d2fac = None
        n_nf = len(self._nf_list)
        for k, a in outside:
            log_f = self._ns_loghi[k] if a > 1.0 else self._ns_loglo[k]
            g = np.exp(abs(a) * log_f)
            fac[n_nf + k] = g
            if derivative:
                dfac[n_nf + k] = g * log_f if a > 1.0 else -g * log_f
                d2fac[n_nf + k] = g * log_f * log_f
        return fac, dfac, d2fac

    def _gamma(self, pars: np.ndarray) -> np.ndarray:
        gamma = np.ones(self.nominal.shape)
        gamma[self._stat_cells] = pars[self._stat_pars]
        return gamma

    def _rows_and_mult(self, pars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Additive rows (staterror γ applied), shape (rows, bins), and row multipliers."""
        plist = pars.tolist()
        coef, _, _ = self._coefficients(plist)
        additive = (coef @ self._v).reshape(self.nominal.shape)
        if self._n_stat:
            additive = additive * self._gamma(pars)
        fac, _, _ = self._row_factors(plist, False)
        return additive, fac.prod(axis=0)

    def _lam(self, pars: np.ndarray) -> np.ndarray:
        """Expected counts per bin, shape (bins,)."""
        additive, mult = self._rows_and_mult(pars)
        return mult @ additive

    def _lam_jac(self, pars: np.ndarray, curvature: bool = False):
        """λ_b and ∂λ_b/∂θ_i (pars, bins) in one pass (see :meth:`_compile`); with
        ``curvature`` also the diagonal second derivatives ∂²λ_b/∂θ_i² (pars, bins) of the
        histosys and normsys interpolations (normfactors and staterror are linear)."""
        plist = pars.tolist()
        n_rows, n_bins = self.nominal.shape
        coef, dcs, d2cs = self._coefficients(plist)
        additive = (coef @ self._v).reshape(n_rows, n_bins)
        fac, dfac, d2fac = self._row_factors(plist, True)
        # products over all other factors of each row (no division: exact at μ = 0)
        mult = np.multiply.reduce(fac, axis=0)
        others = np.multiply.reduce(np.where(self._eye_q, 1.0, fac), axis=1)
        if self._n_stat:
            gamma = self._gamma(pars)
            ag = additive * gamma
            weighted = mult[:, None] * gamma
            proj = np.einsum("krb,rb->kb", self._v3, weighted)
        else:
            ag = additive
            proj = (mult @ self._v_rows).reshape(-1, n_bins)
        lam = coef @ proj if not self._n_stat else mult @ ag
        d = self._d0.copy()
        d[self._mult_index, :n_rows] = dfac * others
        if dcs:
            d[self._h_cols] = dcs
        basis = np.concatenate([ag, proj[1:]])
        jac = d @ basis
        if self._n_stat:
            r, b = self._stat_cells
            np.add.at(jac, (self._stat_pars, b), additive[r, b] * mult[r])
        if not curvature:
            return lam, jac
        d2 = np.zeros_like(d)
        d2[self._mult_index, :n_rows] = d2fac * others
        if d2cs:
            d2[self._h_cols[0], self._h_cols[1]] = d2cs
        return lam, jac, d2 @ basis
