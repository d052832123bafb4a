"""The compiled model :class:`FastModel`: layout, exposure scaling, ln L, Asimov data.

:class:`FastModel` holds the arrays :meth:`~FastModel.from_workspace`
(:mod:`cevns_fit.fastlik.workspace`) builds; its kernel (:mod:`cevns_fit.fastlik.kernel`) and
its fits (:mod:`cevns_fit.fastlik.fitting`) come from the classes it inherits. Here: the
parameter layout, :meth:`~FastModel.scaled` (exposure), pyhf's ``logpdf``, −ln L and its
gradient, the Fisher diagonal and Asimov data.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, xlogy

from cevns_fit.fastlik.deviance import poisson_deviance_half
from cevns_fit.fastlik.fitting import FastFitting
from cevns_fit.fastlik.interpolation import _code4_coefficients
from cevns_fit.fastlik.kernel import CompiledKernel
from cevns_fit.fastlik.workspace import WorkspaceCompilation

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


class FastModel(WorkspaceCompilation, CompiledKernel, FastFitting):
    """A compiled HistFactory model (the subset above) with analytic gradients.

    Parameters are ordered as in :attr:`par_names` (sorted parameter-set names, staterror sets
    expanded per bin as ``name[i]``); channels are ordered by name as in pyhf, so the main data
    vector has the same layout as pyhf's.
    """

    def __init__(
        self,
        *,
        channels: list[tuple[str, int]],
        rows: list[tuple[str, str]],
        nominal: np.ndarray,
        normfactor_mask: np.ndarray,
        normfactor_index: np.ndarray,
        normsys_lo: np.ndarray,
        normsys_hi: np.ndarray,
        normsys_index: np.ndarray,
        histo_up: np.ndarray,
        histo_dn: np.ndarray,
        histo_index: np.ndarray,
        stat_index: np.ndarray,
        set_names: list[str],
        set_slices: dict[str, slice],
        set_types: dict[str, str],
        init: np.ndarray,
        bounds: np.ndarray,
        fixed: np.ndarray,
        aux_nominal: np.ndarray,
        aux_sigma: np.ndarray,
        poi_index: int,
        scale: float = 1.0,
    ) -> None:
        self.channels = channels
        self.rows = rows
        self.nominal = nominal
        self.normfactor_mask = normfactor_mask
        self.normfactor_index = normfactor_index
        self.normsys_lo = normsys_lo
        self.normsys_hi = normsys_hi
        self.normsys_index = normsys_index
        self.normsys_coeffs = _code4_coefficients(normsys_lo, normsys_hi)
        self.histo_up = histo_up
        self.histo_dn = histo_dn
        self.histo_index = histo_index
        self.stat_index = stat_index
        self.set_names = set_names
        self.set_slices = set_slices
        self.set_types = set_types
        self.init = init
        self.bounds = bounds
        self.fixed = fixed
        self.aux_nominal = aux_nominal
        self.aux_sigma = aux_sigma
        self.constrained = ~np.isnan(aux_nominal)
        self.poi_index = poi_index
        self.scale = scale
        # staterror: (row, bin) cells multiplied by a γ parameter; -1 where none.
        self._stat_cells = np.nonzero(stat_index >= 0)
        self._stat_pars = stat_index[self._stat_cells]
        self._n_stat = len(self._stat_pars)
        self._n_nf = len(normfactor_index)
        self._n_ns = len(normsys_index)
        self._n_histo = len(histo_index)
        self._compile()

    def scaled(self, factor: float) -> FastModel:
        """The same model with every expected count times ``factor`` (exposure scaling).

        Relative staterror widths and normsys factors are unchanged, as in
        :meth:`cevns_fit.templates.AnalysisTemplates.scaled_to`. Shares all arrays but the
        (rows × bins) nominal, histosys deltas and their stacked form: a few microseconds.
        """
        new = object.__new__(FastModel)
        new.__dict__.update(self.__dict__)
        new.nominal = self.nominal * factor
        new.histo_up = self.histo_up * factor
        new.histo_dn = self.histo_dn * factor
        new.scale = self.scale * factor
        # all counts are linear in the scale: rescale the stacked tensors, recompile nothing
        new._v = self._v * factor
        new._v_rows = self._v_rows * factor
        if self._n_stat:
            new._v3 = self._v3 * factor
        return new

    @property
    def n_pars(self) -> int:
        return len(self.init)

    @property
    def n_bins(self) -> int:
        return self.nominal.shape[1]

    @property
    def par_labels(self) -> list[str]:
        """One label per parameter, pyhf style (``name`` or ``name[i]`` for vector sets)."""
        labels = []
        for name in self.set_names:
            sl = self.set_slices[name]
            n = sl.stop - sl.start
            labels.extend(
                [name]
                if n == 1 and self.set_types[name] != "staterror"
                else [f"{name}[{i}]" for i in range(n)]
            )
        return labels

    def channel_slice(self, name: str) -> slice:
        """Bins of channel ``name`` in the main data vector."""
        start = 0
        for ch, n in self.channels:
            if ch == name:
                return slice(start, start + n)
            start += n
        raise KeyError(name)

    def nominal_pars(self, **values: float) -> np.ndarray:
        """Initial parameters (pyhf's suggested init) with named single parameters overridden."""
        pars = self.init.copy()
        for name, value in values.items():
            pars[self.set_slices[name]] = value
        return pars

    def expected_rows(self, pars: np.ndarray) -> np.ndarray:
        """Expected counts per (channel, sample) row and bin, shape (rows, bins)."""
        additive, mult = self._rows_and_mult(np.asarray(pars, float))
        return additive * mult[:, None]

    def expected_main(self, pars: np.ndarray) -> np.ndarray:
        """Expected counts per bin (channels in name order), shape (bins,)."""
        return self._lam(np.asarray(pars, float))

    def logpdf(self, pars: np.ndarray, main: np.ndarray, aux: np.ndarray | None = None) -> float:
        """Full ln L as ``pyhf.Model.logpdf`` computes it (Poisson with lgamma, Gaussians).

        ``aux`` is aligned with the parameters (NaN for unconstrained ones); default nominal.
        """
        aux = self.aux_nominal if aux is None else aux
        lam = self.expected_main(pars)
        poisson = np.sum(xlogy(main, lam) - lam - gammaln(main + 1.0))
        c = self.constrained
        z = (aux[c] - pars[c]) / self.aux_sigma[c]
        gauss = np.sum(-0.5 * z * z - np.log(self.aux_sigma[c]) - _HALF_LOG_2PI)
        return float(poisson + gauss)

    def nll_and_grad(
        self, pars: np.ndarray, main: np.ndarray, aux: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """−ln L without data-only constants, and its gradient (analytic), at ``pars``.

        Returns (inf, zeros) where some bin has λ ≤ 0 with data (outside the model's domain:
        linearly extrapolated shape variations), so minimisers backtrack.
        """
        pars = np.asarray(pars, float)
        with np.errstate(all="ignore"):
            lam, jac = self._lam_jac(pars)
            nll = poisson_deviance_half(lam, main)
            if not math.isfinite(nll) or np.any(lam[main > 0] <= 0):
                return math.inf, np.zeros_like(pars)
            w = 1.0 - np.where(main > 0, main / lam, 0.0)  # ∂(−ln L)/∂λ_b
        grad = jac @ w
        c = self.constrained
        diff = (pars[c] - aux[c]) / self.aux_sigma[c]
        nll += 0.5 * float(diff @ diff)
        grad[c] += diff / self.aux_sigma[c]
        return nll, grad

    def jacobian(self, pars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected counts λ_b (bins,) and their derivatives ∂λ_b/∂θ_i, shape (pars, bins)."""
        with np.errstate(all="ignore"):
            return self._lam_jac(np.asarray(pars, float))

    def fisher_diagonal(self, pars: np.ndarray) -> np.ndarray:
        """Diagonal of the expected Fisher information Σ_b (∂λ_b/∂θ_i)²/λ_b + 1/σ_i².

        Used to precondition L-BFGS-B: staterror γ with σ ~ 0.03 and a normalisation
        measured to 1 % differ in curvature by orders of magnitude.
        """
        lam, jac = self.jacobian(pars)
        inv_lam = np.where(lam > 0, 1.0 / np.where(lam > 0, lam, 1.0), 0.0)
        return (jac * jac) @ inv_lam + self._inv_var

    def asimov(
        self, pars: np.ndarray | None = None, **values: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Asimov (main, aux) at ``pars`` (default: nominal with named overrides, e.g. mu=1).

        Auxiliary data are set to the parameters' values, as pyhf's ``expected_data`` does.
        """
        pars = self.nominal_pars(**values) if pars is None else pars
        aux = np.where(self.constrained, pars, np.nan)
        return self.expected_main(pars), aux
