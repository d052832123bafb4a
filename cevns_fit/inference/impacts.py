"""Impacts: the median expected Z with each nuisance parameter (set) fixed in turn.

:func:`significance_impacts` ranks the systematics by the significance they cost, and gives
the statistics-only Z (every constrained nuisance fixed); :func:`_impacts` also names the
systematic that caps Z for :func:`~cevns_fit.inference.exposure_needed`.
"""

from __future__ import annotations

import numpy as np

from cevns_fit.fastlik import FastModel
from cevns_fit.inference.engine import _asimov_q0, _check_exposure, _z_from_q0, compile_model
from cevns_fit.inference.results import Impact, ImpactsResult
from cevns_fit.likelihood import validate_templates
from cevns_fit.templates import AnalysisTemplates


def _nuisance_groups(fm: FastModel) -> dict[str, np.ndarray]:
    """Parameter sets that can be fixed one at a time: every set but the POI and fixed ones."""
    groups = {}
    for name in fm.set_names:
        sl = fm.set_slices[name]
        mask = np.zeros(fm.n_pars, bool)
        mask[sl] = True
        if sl.start == fm.poi_index or np.all(fm.fixed[sl]):
            continue
        groups[name] = mask
    return groups


def _impacts(fm: FastModel, z_full: float) -> tuple[float, list[Impact]]:
    groups = _nuisance_groups(fm)
    impacts = []
    for name, mask in groups.items():
        z_fixed = _z_from_q0(_asimov_q0(fm, fixed_mask=mask)[0])
        impacts.append(Impact(name, z_fixed, z_fixed - z_full))
    impacts.sort(key=lambda i: i.delta_Z, reverse=True)
    all_constrained = fm.constrained & ~fm.fixed
    z_stat = _z_from_q0(_asimov_q0(fm, fixed_mask=all_constrained)[0])
    return z_stat, impacts


def significance_impacts(
    templates: AnalysisTemplates, *, exposure_kg_yr: float | None = None
) -> ImpactsResult:
    """Median expected Z with each nuisance parameter (set) fixed at nominal, largest gain first.

    ``Z_stat_only`` fixes every constrained nuisance (free normalisations stay free), which
    equals ``expected_significance(..., systematics=False)``.
    """
    if exposure_kg_yr is not None:
        _check_exposure(exposure_kg_yr)
        templates = templates.scaled_to(exposure_kg_yr)
    validate_templates(templates)
    if templates.signal_total <= 0:
        return ImpactsResult(0.0, 0.0, (), templates.exposure_kg_yr)
    fm = compile_model(templates)
    z_full = _z_from_q0(_asimov_q0(fm)[0])
    z_stat, impacts = _impacts(fm, z_full)
    return ImpactsResult(z_full, z_stat, tuple(impacts), templates.exposure_kg_yr)
