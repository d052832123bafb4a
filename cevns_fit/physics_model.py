"""The ``[physics]`` table of a detector model: the physics of its cross-section and which of
those parameters are constrained nuisances of every likelihood built from the model.

::

    [physics]                          optional; absent = today's tree-level cross-section
      sin2_theta_w = 0.23857           any field of cevns_fit.physics.PhysicsParameters
      nucleon_form_factors = true
      neutron_rms_radius_fm = {Cs = 5.0, I = 5.0}
      [physics.nuisances]              name = its 1σ (absolute, in the parameter's units)
      "neutron_rms_radius_fm.Cs,I" = 0.2

A nuisance ``name = σ`` becomes a histosys of the CEvNS sample named
:func:`nuisance_parameter_name` (``physics_neutron_rms_radius_fm_Cs_I``) whose ±1σ templates are
recomputed exactly at the central value ± σ (:mod:`cevns_fit.physics_templates`). The central
value is the ``[physics]`` value of the parameter; a neutron radius has no single default per
element (it depends on the isotope), so a radius nuisance needs its central value given.
"""

from __future__ import annotations

import math
import re

from cevns_fit.config import ConfigTable
from cevns_fit.errors import InputError
from cevns_fit.physics import PhysicsParameters

__all__ = ["read_physics", "nuisance_parameter_name", "check_physics_nuisance"]


def nuisance_parameter_name(name: str) -> str:
    """The likelihood parameter of a physics nuisance: ``physics_`` + the name with every run of
    characters other than letters, digits and ``_`` replaced by ``_``."""
    return "physics_" + re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_")


def check_physics_nuisance(physics: PhysicsParameters, name: str, sigma: float, where: str) -> None:
    """InputError (starting with ``where``) unless ``name`` is a physics parameter with a
    central value and ``sigma`` a positive 1σ that keeps central ± σ legal."""
    if isinstance(sigma, bool) or not isinstance(sigma, int | float) or not math.isfinite(sigma):
        raise InputError(f"{where} = {sigma!r}: the 1σ must be a finite number")
    if sigma <= 0:
        raise InputError(f"{where} = {sigma!r}: the 1σ must be > 0")
    try:
        central = physics.value(name)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    if math.isnan(central):
        raise InputError(
            f"{where}: give the central value of {name} in [physics] "
            f"(e.g. {name.partition('.')[0]} = {{{name.partition('.')[2].split(',')[0]} = 5.0}})"
        )
    for value in (central - sigma, central + sigma):
        try:
            physics.with_value(name, value)
        except InputError as exc:
            raise InputError(f"{where}: central ± 1σ is not allowed ({exc})") from None


def read_physics(top: ConfigTable) -> tuple[PhysicsParameters, tuple[tuple[str, float], ...]]:
    """(physics parameters, ((nuisance name, 1σ), ...)) from a model's optional ``[physics]``."""
    t = top.optional_table("physics")
    if t is None:
        return PhysicsParameters(), ()
    params = {k: v for k, v in t.data.items() if k != "nuisances"}
    physics = PhysicsParameters.from_config(ConfigTable(t.path, params, t.prefix))
    nuis_t = t.optional_table("nuisances")
    nuisances: list[tuple[str, float]] = []
    if nuis_t is not None:
        for name, sigma in nuis_t.data.items():
            check_physics_nuisance(physics, name, sigma, nuis_t.where(name))
            nuisances.append((name, float(sigma)))
    return physics, tuple(nuisances)
