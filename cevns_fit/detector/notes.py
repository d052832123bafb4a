"""Notes about a loaded model that results carry along: :func:`recoil_endpoint_note` says when a
threshold lies above every recoil the source can give (a zero significance that is about the
threshold, not the detector).
"""

from __future__ import annotations

import numpy as np

__all__ = ["recoil_endpoint_note"]


def recoil_endpoint_note(model) -> str | None:
    """A note when the model's threshold lies above the largest nuclear recoil its source can
    give (e.g. a Ge detector with a 19 keVnr threshold at a reactor, E_ν ≤ 10 MeV: at most
    ≈ 3 keVnr): whatever signal is left comes from resolution tails only, so Z ≈ 0 is not a
    statement about the detector's sensitivity but about its threshold."""
    from cevns_fit.cross_section import recoil_max_keVnr

    if not all(hasattr(model, a) for a in ("source", "target", "threshold_keVnr")):
        return None  # a stand-in model (tests) or one without a recoil threshold
    enu_max = max(
        (float(np.max(c.enu_MeV[c.weights > 0])) for c in model.source.components),
        default=0.0,
    )
    if enu_max <= 0:
        return None
    endpoint = float(np.max(recoil_max_keVnr(enu_max, model.target.mass_GeV)))
    threshold = float(model.threshold_keVnr)
    if threshold <= endpoint:
        return None
    return (
        f"threshold {threshold:.4g} keVnr is above the largest recoil {endpoint:.4g} keVnr of "
        f"{model.target.name} from {model.source.name} (E_nu up to {enu_max:.4g} MeV): "
        "any signal left comes from resolution tails only"
    )
