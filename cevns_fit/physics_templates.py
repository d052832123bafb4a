"""CEvNS templates of a model whose physics is changed: the ±1σ templates of the physics
nuisances declared in its ``[physics.nuisances]`` (:mod:`cevns_fit.physics_model`).

Each side is recomputed exactly (not linearised): the true-recoil spectra of every flux
component at the varied :class:`~cevns_fit.physics.PhysicsParameters` (cached per physics in
:mod:`cevns_fit.response`) through the model's nominal response matrix.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cevns_fit.detector import DetectorModel
from cevns_fit.physics_model import nuisance_parameter_name
from cevns_fit.response import recoil_counts_per_kg_day, response_matrix, true_recoil_edges_keVnr

__all__ = ["physics_energy_variations"]


def physics_energy_variations(
    model: DetectorModel, kg_days: float, bin_edges: np.ndarray | None = None
) -> dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """{parameter name: (down, up)}, each {flux component: counts per energy bin at
    ``kg_days``}, for every physics nuisance of ``model`` (central value ∓/± its 1σ)."""
    if not model.physics_nuisances:
        return {}
    true_edges = true_recoil_edges_keVnr(model)
    matrix = response_matrix(true_edges, model, bin_edges=bin_edges)
    out = {}
    for name, sigma in model.physics_nuisances:
        central = model.physics.value(name)
        sides = []
        for value in (central - sigma, central + sigma):
            varied = replace(model, physics=model.physics.with_value(name, value))
            recoils = recoil_counts_per_kg_day(varied, true_edges)
            sides.append({c: kg_days * (r @ matrix) for c, r in recoils.items()})
        out[nuisance_parameter_name(name)] = (sides[0], sides[1])
    return out
