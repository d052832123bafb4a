"""Physics sanity of a detector model's response, checked once at load.

A model can be well-formed and still unphysical: a quenching factor Q = 0.3 ± 0.5 is negative
at −1σ, a Lindhard k − σ_k ≤ 0 gives no signal, a quenching polynomial fitted over 5–30 keVnr
may turn negative inside the analysis range, a logistic efficiency with a constant term may
exceed 1. Downstream code floors Q at 1e-6 (:mod:`cevns_fit.quenching`), so such a model would
give a silently wrong number; :func:`check_response` turns it into one
:class:`~cevns_fit.errors.InputError` line naming the file, the key, the value and where.

What is checked, over the *analysis range*:

* quenching: 0 < Q(E_nr) <= 1 for the nominal model and for every (−1σ, +1σ) model of its
  ``variations()`` (the models the likelihood's histosys templates are built from, so
  ``N_SIGMA_CHECKED`` = 1), unfloored. The range in keVnr follows from the model: from the
  lowest true recoil the templates use (1e-4 of the largest recoil the source can give) up to
  the recoil whose mean observable, gain · Q(E) · E, reaches the upper analysis edge (each
  varied model its own), or the source's largest recoil if it never does.
* efficiency: 0 <= ε(x) <= 1 at the nominal threshold and at its −1σ/+1σ shifts, over the
  observable analysis range [first edge, last edge] (keVee or PE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cevns_fit.cross_section import recoil_max_keVnr
from cevns_fit.errors import InputError

if TYPE_CHECKING:
    from cevns_fit.detector import DetectorModel
    from cevns_fit.efficiency import EfficiencyModel
    from cevns_fit.quenching import QuenchingModel

__all__ = [
    "N_SIGMA_CHECKED",
    "check_response",
    "recoil_range_keVnr",
    "check_quenching",
    "check_efficiency",
]

N_SIGMA_CHECKED = 1.0
# Matches templates.true_recoil_edges_keVnr: nothing below 1e-4 of the endpoint reaches a bin.
_TRUE_RANGE_DECADES = 4.0
_GRID_POINTS = 4001
_TOLERANCE = 1e-12


def check_response(model: DetectorModel) -> None:
    """Raise :class:`InputError` if the model's quenching or efficiency leaves its physical
    domain inside the analysis range (module docstring); return None otherwise."""
    lower, upper = recoil_range_keVnr(model)
    grid = np.geomspace(lower, upper, _GRID_POINTS)
    check_quenching(
        model.quenching,
        grid,
        model.gain,
        float(model.bin_edges[-1]),
        where=f"{model.path}: key 'quenching'",
    )
    check_efficiency(
        model.efficiency,
        model.threshold_sigma,
        float(model.bin_edges[0]),
        float(model.bin_edges[-1]),
        where=f"{model.path}: key 'efficiency'",
        unit=model.observable,
    )


def recoil_range_keVnr(model: DetectorModel) -> tuple[float, float]:
    """(lowest, largest) nuclear recoil (keVnr) the templates integrate over: the largest is
    E_R^max = 2E²/(M + 2E) of the lightest isotope at the source's highest neutrino energy."""
    enu_max = max(float(np.max(c.enu_MeV)) for c in model.source.components)
    e_max = float(np.max(recoil_max_keVnr(enu_max, model.target.mass_GeV)))
    return e_max * 10.0**-_TRUE_RANGE_DECADES, e_max


def check_quenching(
    quenching: QuenchingModel,
    energy_keVnr: np.ndarray,
    gain: float,
    observable_max: float,
    *,
    where: str,
) -> None:
    """0 < Q <= 1 for the nominal and every ±1σ model, on the ascending ``energy_keVnr`` up to
    where that model's mean observable gain · Q · E first reaches ``observable_max``."""
    models = [("", quenching)]
    for name, (down, up) in quenching.variations(floor=False).items():
        models += [(f" at −1σ of {name}", down), (f" at +1σ of {name}", up)]
    for label, q in models:
        with np.errstate(all="ignore"):
            values = np.asarray(q.factor(energy_keVnr, floor=False), dtype=float)
        reached = np.flatnonzero(gain * values * energy_keVnr >= observable_max)
        stop = reached[0] + 1 if reached.size else len(energy_keVnr)
        values, energy = values[:stop], energy_keVnr[:stop]
        i = _worst(values, 0.0, 1.0, open_below=True)
        if i is not None:
            raise InputError(
                f"{where}: Q{label} = {values[i]:.4g} at {energy[i]:.4g} keVnr, outside (0, 1] "
                f"in the analysis range {energy[0]:.3g}–{energy[-1]:.4g} keVnr"
            )


def check_efficiency(
    efficiency: EfficiencyModel,
    threshold_sigma: tuple[float, float],
    x_min: float,
    x_max: float,
    *,
    where: str,
    unit: str,
) -> None:
    """0 <= ε(x) <= 1 on [x_min, x_max] (observable units) at the nominal threshold and at its
    −1σ/+1σ shifts (``threshold_sigma`` = (down, up), observable units)."""
    x = np.linspace(x_min, x_max, _GRID_POINTS)
    lo, hi = threshold_sigma
    for label, eff in (
        ("", efficiency),
        (" at the −1σ threshold", efficiency.shifted(-lo)),
        (" at the +1σ threshold", efficiency.shifted(+hi)),
    ):
        values = np.asarray(eff(x), dtype=float)
        i = _worst(values, 0.0, 1.0, open_below=False)
        if i is not None:
            raise InputError(
                f"{where}: efficiency{label} = {values[i]:.4g} at {x[i]:.4g} {unit}, outside "
                f"[0, 1] in the analysis range {x_min:g}–{x_max:g} {unit}"
            )


def _worst(values: np.ndarray, low: float, high: float, *, open_below: bool) -> int | None:
    """Index of the value farthest outside [low, high] ((low, high] if ``open_below``; NaN
    first), or None when all are inside."""
    with np.errstate(invalid="ignore"):
        outside = np.maximum(values - high - _TOLERANCE, low - values - _TOLERANCE)
    if open_below:
        outside = np.where(values <= low, np.maximum(outside, low - values + _TOLERANCE), outside)
    outside = np.where(np.isfinite(values), outside, np.inf)
    if outside.size == 0 or np.max(outside) <= 0:
        return None
    return int(np.argmax(outside))
