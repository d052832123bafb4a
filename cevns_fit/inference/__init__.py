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

Layout
------
One module per question, along the data flow; every public name is also importable from
``cevns_fit.inference`` itself:

* :mod:`cevns_fit.inference.results` — the result records (:class:`SignificanceResult`,
  :class:`ExposureResult`, :class:`LimitResult`, :class:`Impact`, :class:`ImpactsResult`);
* :mod:`cevns_fit.inference.engine` — :func:`compile_model` and the discovery test statistic
  q0 on Asimov, observed and toy data (the Asimov q0 of a compiled model is kept while the
  model lives);
* :mod:`cevns_fit.inference.significance` — :func:`expected_significance`: asymptotic, toys,
  exact Poisson, plain pyhf;
* :mod:`cevns_fit.inference.background_free` — the zero-background convention: Z and exposure
  with background-free bins;
* :mod:`cevns_fit.inference.impacts` — :func:`significance_impacts`;
* :mod:`cevns_fit.inference.exposure` — :func:`exposure_needed` (Newton on the concave q0,
  brentq fallback);
* :mod:`cevns_fit.inference.limits` — :func:`upper_limit` (asymptotic CLs, exact Poisson CLs
  without background).
"""

from __future__ import annotations

# Besides the public names, the constants and private helpers of the former single module stay
# importable from here (tests and measure.py use some): the same objects, so to monkeypatch
# one, patch it in the submodule that calls it (e.g. cevns_fit.inference.engine._q0).
from cevns_fit.inference.background_free import (  # noqa: F401
    LN2,
    _background_free_bins,
    _background_free_exposure,
    _background_free_significance,
    _background_free_z,
    _median_background_free_z,
)
from cevns_fit.inference.engine import (  # noqa: F401
    _ASIMOV_AT_NOMINAL,
    _asimov_q0,
    _asimov_q0_fit,
    _check_exposure,
    _main_vector,
    _observed,
    _q0,
    _sample_toys,
    _single_bin_counting,
    _toy_q0s,
    _z_from_q0,
    compile_model,
)
from cevns_fit.inference.exposure import (  # noqa: F401
    _newton_exposure,
    _q0_slope,
    exposure_needed,
)
from cevns_fit.inference.impacts import (  # noqa: F401
    _impacts,
    _nuisance_groups,
    significance_impacts,
)
from cevns_fit.inference.limits import (  # noqa: F401
    _BANDS,
    MU_LIMIT_MAX,
    _background_free_limit,
    _cls_observed,
    _QmuProfile,
    _sqrt_q_target,
    upper_limit,
)
from cevns_fit.inference.results import (
    ExposureResult,
    Impact,
    ImpactsResult,
    LimitResult,
    SignificanceResult,
)
from cevns_fit.inference.significance import (  # noqa: F401
    LOW_COUNT_BACKGROUND,
    METHODS,
    _exact_significance,
    _plain_significance,
    _toy_pvalue,
    expected_significance,
)

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
