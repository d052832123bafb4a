"""Detector models: a TOML file describing an array, its response, backgrounds and binning.

:func:`load_detector_model` reads and validates a model once (every error names the file, the
key and what is allowed); everything downstream trusts the :class:`DetectorModel` it returns.
Paths inside a model (source model, data tables) are relative to the model file.

Schema (see ``models/detectors/*.toml`` for complete, commented examples)::

    name, description, target (chemical formula), composition (optional {El = {"A" = f}}), notes
    [source]      file; optional overrides distance_m, nu_per_flavour_per_proton, flux_uncertainty
    [array]       n_sensors, sensor_mass_kg (or mass_kg), channels_per_sensor,
                  live_time_yr  or  beam_exposure_GWhr (π-DAR: live time at the source's power)
    [cost]        material_usd_per_kg, usd_per_channel, note     (always assumptions)
    [quenching]   model = constant (value, sigma) | lindhard (k, sigma_k, Z, A) |
                  polynomial (coefficients, lowest order first, keVnr; relative_sigma, or
                  sigmas = 1σ per coefficient + optional correlation = [[...]]: one nuisance
                  per eigen-direction, "quenching_0", ...) | tabulated (energy_keVnr/values
                  or files, relative_sigma, use_point_errors)
    [resolution]  model = seed_perovskite | germanium | gaussian | poisson_pe | none |
                  polya_pe (theta: gamma shape of the single-PE gain, Var N = μ (1 + 1/θ))
    [efficiency]  model = step | erf | logistic (a, k, x0, optional offset, heaviside) |
                  tabulated (in the observable);
                  threshold_sigma or threshold_sigma_lo/_hi (observable units)
    [analysis]    the energy axis: observable = keVee | PE, light_yield_PE_per_keVee (PE),
                  bins: edges = [...] or bin_min/bin_max/bin_width; form_factor, channel (name
                  of the main channel); fine_bins_per_bin (start of the self-refining sampling)
    [analysis.time]  an arrival-time axis: edges (µs), t0_us, signal_pdf.prompt/.delayed
                  (tables), efficiency = {x_us, values}                      (optional)
    [analysis.psd]   a pulse-shape axis: name, edges, nuclear (P(psd | energy) table),
                  electron                                                   (optional)
    [[backgrounds]] name, kind = steady_state | beam | neutrino_induced | tabulated;
                  rate_per_kg_day (flat) or a table (file, columns, layout) with file_units =
                  counts | per_GWhr | per_kg_day; time and psd shapes; duty_factor;
                  norm_uncertainty (+ norm_model linear | lognormal) or constrained_by
                  (+ control_ratio, free_per_energy_bin); target_events; apply_efficiency;
                  [[backgrounds.systematics]] name, down, up (±1σ tables); note
    [signal]      optional tabulated CEvNS prediction (file, columns, file_units, shapes,
                  systematics) replacing the computed one; μ and the flux uncertainty stay
    [[observations]] channel, file, columns: measured counts shipped with the model

The analysis sections are documented key by key in :mod:`cevns_fit.sections`, the table
layouts in :mod:`cevns_fit.tables`; ``models/detectors/coherent_csi_2017.toml`` (energy × time
from a data release) and ``examples/lar_like_3d.py`` (energy × time × pulse shape) use them.

Physics sanity (:mod:`cevns_fit.response_checks`, after everything is read): 0 < Q <= 1 for
the nominal and every ±1σ quenching model and 0 <= ε <= 1 at the nominal and ±1σ thresholds,
over the analysis range.

Exposure bookkeeping: mass = n_sensors × sensor_mass; channels = n_sensors × channels_per_sensor;
exposure (kg·yr) = mass × live time. For a π-DAR source the live time is measured at the source's
nominal beam power, so a beam exposure E (GW·hr) is E / P live hours, and the protons on target
are E / E_p (1 GeV protons: 7.47594 GW·hr = 1.68e23 POT). Costs are assumptions, always.

The package follows the data flow; every public name is also importable from
``cevns_fit.detector`` itself:

* :mod:`cevns_fit.detector.loading` — :func:`load_detector_model`, the TOML edge (top-level
  tables; the sections through :mod:`cevns_fit.response_sections` and :mod:`cevns_fit.sections`);
* :mod:`cevns_fit.detector.model` — :class:`DetectorModel`, :class:`CostModel`, the exposure
  bookkeeping and the scan overrides (:meth:`DetectorModel.with_overrides`);
* :mod:`cevns_fit.detector.notes` — :func:`recoil_endpoint_note` for results.
"""

from __future__ import annotations

from cevns_fit.detector.loading import (  # the loader's constants stay importable from here
    FORM_FACTORS,  # noqa: F401
    MAX_RELATIVE_SIGMA,  # noqa: F401
    OBSERVABLES,  # noqa: F401
    load_detector_model,
)
from cevns_fit.detector.model import CostModel, DetectorModel, protons_on_target
from cevns_fit.detector.notes import recoil_endpoint_note

__all__ = [
    "DetectorModel",
    "CostModel",
    "load_detector_model",
    "protons_on_target",
    "recoil_endpoint_note",
]
