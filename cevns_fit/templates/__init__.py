"""Binned templates: expected counts per bin of the observable, nominal and ±1σ variations.

These dataclasses are the interface between the physics/detector layers (which fill them) and
the likelihood layer (which turns them into a pyhf workspace). They know nothing of pyhf.

Conventions
-----------
* ``counts`` are expected events per bin at the exposure ``AnalysisTemplates.exposure_kg_yr``.
* A :class:`Sample` names its modifiers explicitly, so the likelihood layer needs no knowledge
  of physics: ``norm_factor`` is a free multiplicative parameter (``"mu"`` for the CEvNS
  signal, e.g. ``"steady_state_norm"`` for a background measured in a control channel);
  ``norm_sys`` maps a parameter name to a relative 1σ normalisation uncertainty (normsys,
  e.g. ``{"flux": 0.10}``, i.e. factors 1 ∓ σ) or to explicit (down, up) factors (a
  log-normal (1/(1 + σ), 1 + σ) for σ >= 1); ``shape_sys`` maps a parameter name to the
  (down, up) templates rebuilt at ∓1σ/±1σ of that parameter (histosys, e.g.
  ``"quenching"``, ``"threshold"``, ``"resolution"``); ``stat_error`` is an absolute per-bin
  template uncertainty (staterror).
* Every count scales linearly with exposure (signal and backgrounds are per kg per unit
  time), so :meth:`AnalysisTemplates.scaled_to` rescales a model without rebuilding it.
  Observed data are never rescaled.

Layout
------
The interface and its builders, one module each along the data flow; every public name is
also importable from ``cevns_fit.templates`` itself:

* :mod:`cevns_fit.templates.containers` — the interface: :class:`Sample`, :class:`BinAxis`,
  :class:`Channel`, :class:`AnalysisTemplates` (numpy only: no physics, no pyhf);
* :mod:`cevns_fit.templates.signal` — CEvNS templates per flux component
  (:func:`signal_templates_by_component`, :class:`SignalTemplate`) and their spread over the
  time and PSD axes (:func:`axis_spreads`, :func:`beam_window_fractions`);
* :mod:`cevns_fit.templates.background` — :func:`background_templates`, on every axis;
* :mod:`cevns_fit.templates.build` — :func:`build_templates`: the channels and samples of a
  detector model's analysis.

The response functions (:func:`true_recoil_edges_keVnr`, :func:`recoil_counts_per_kg_day`,
:func:`response_matrix`, :func:`response_variations`) live in :mod:`cevns_fit.response` and
are re-exported here.
"""

from __future__ import annotations

# Besides the public names, the private helpers of the former single module stay importable
# from here: the same objects, so to monkeypatch one, patch it in the submodule that calls it.
from cevns_fit.response import (
    recoil_counts_per_kg_day,
    response_matrix,
    response_variations,
    true_recoil_edges_keVnr,
)
from cevns_fit.templates.background import _discrete, background_templates  # noqa: F401
from cevns_fit.templates.build import (  # noqa: F401
    _AXIS_LABELS,
    _computed_signal,
    _expand,
    _trim_slice,
    build_templates,
)
from cevns_fit.templates.containers import (
    SIGNAL_POI,
    AnalysisTemplates,
    BinAxis,
    Channel,
    Sample,
)
from cevns_fit.templates.signal import (  # noqa: F401
    SignalTemplate,
    _kg_days,
    _window_fraction,
    axis_spreads,
    beam_window_fractions,
    signal_templates_by_component,
)

__all__ = [
    "Sample",
    "BinAxis",
    "Channel",
    "AnalysisTemplates",
    "SIGNAL_POI",
    "SignalTemplate",
    "true_recoil_edges_keVnr",
    "recoil_counts_per_kg_day",
    "response_matrix",
    "response_variations",
    "signal_templates_by_component",
    "background_templates",
    "beam_window_fractions",
    "axis_spreads",
    "build_templates",
]
