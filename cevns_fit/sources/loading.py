"""Source model files: :func:`load_source` reads a TOML model (``models/sources/*.toml``) and
validates it once, then builds the source with the ``make_*_source`` function of its ``type``
(pion_dar, reactor, supernova, line, table). This is the edge: errors name the file, the key and
the allowed values; every other function of :mod:`cevns_fit.sources` trusts its inputs.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path

from cevns_fit.config import ConfigTable
from cevns_fit.errors import InputError
from cevns_fit.sources.base import Source
from cevns_fit.sources.pion_dar import make_pion_dar_source
from cevns_fit.sources.reactor import (
    HUBER_MUELLER_COEFFS,
    ENERGY_PER_FISSION_MeV,
    make_reactor_source,
)
from cevns_fit.sources.supernova import make_supernova_source
from cevns_fit.sources.tabulated import load_spectrum_csv, make_line_source, make_table_source
from cevns_fit.sources.timing import PulseTiming

__all__ = ["load_source"]

_FLAVOURS = ("nu_e", "nu_mu", "nu_tau", "nu_e_bar", "nu_mu_bar", "nu_tau_bar", "nu_x")
_TIMINGS = ("prompt", "delayed")
_KINDS = ("pion_dar", "reactor", "supernova", "line", "table")


def _read_timing(r: ConfigTable) -> PulseTiming:
    t = r.table("timing")
    t.allow(("pulse_shape", "pulse_fwhm_us", "bunch_offsets_us", "repetition_rate_Hz", "window_us"))
    shape = t.string("pulse_shape", allowed=("gaussian", "flat"), default="gaussian")
    fwhm = t.number("pulse_fwhm_us", positive=True)
    offsets = t.data.get("bunch_offsets_us", [0.0])
    if (
        not isinstance(offsets, list)
        or not offsets
        or not all(
            isinstance(o, int | float) and not isinstance(o, bool) and math.isfinite(o)
            for o in offsets
        )
    ):
        raise InputError(
            f"{t.where('bunch_offsets_us')}: must be a non-empty list of finite numbers (µs)"
        )
    return PulseTiming(
        pulse_shape=shape,
        pulse_fwhm_us=fwhm,
        bunch_offsets_us=tuple(float(o) for o in offsets),
        repetition_rate_Hz=t.optional_number("repetition_rate_Hz", positive=True),
        window_us=t.optional_number("window_us", positive=True),
    )


def _flavour(r: ConfigTable, key: str = "flavour", default: str = "nu_e") -> str:
    return r.string(key, allowed=_FLAVOURS, default=default)


def load_source(path: str | Path) -> Source:
    """Read and validate a source model (TOML); see ``models/sources/*.toml`` for each ``type``.

    Raises :class:`InputError` naming the file (missing, unreadable or malformed TOML), the key
    and the allowed values.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(f"source model {path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"source model {path}: malformed TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"source model {path}: not a UTF-8 text file") from None
    r = ConfigTable(path, data)
    kind = r.string("type", allowed=_KINDS)
    name = r.string("name", default=path.stem)
    description = r.string("description", "")
    unc = r.number("flux_uncertainty", default=0.0, nonneg=True, maximum=0.99)
    common = ("type", "name", "description", "flux_uncertainty")

    if kind == "pion_dar":
        r.allow(
            common
            + ("power_MW", "proton_energy_GeV", "nu_per_flavour_per_proton", "distance_m", "timing")
        )
        source = make_pion_dar_source(
            name=name,
            power_MW=r.number("power_MW", positive=True),
            proton_energy_GeV=r.number("proton_energy_GeV", positive=True),
            nu_per_flavour_per_proton=r.number("nu_per_flavour_per_proton", positive=True),
            distance_m=r.number("distance_m", positive=True),
            flux_uncertainty=unc,
            timing=_read_timing(r) if r.has("timing") else None,
        )
    elif kind == "reactor":
        r.allow(
            common
            + (
                "thermal_power_GW",
                "distance_m",
                "fission_fractions",
                "energy_per_fission_MeV",
                "low_energy",
            )
        )
        ff = r.table("fission_fractions")
        ff.allow(tuple(HUBER_MUELLER_COEFFS))
        fractions = {iso: ff.number(iso, nonneg=True) for iso in ff.data}
        total = sum(fractions.values())
        if not fractions or abs(total - 1.0) > 1e-3:
            raise InputError(
                f"{path}: key 'fission_fractions' sums to {total:.4g}: fractions of fissions must "
                f"sum to 1 (isotopes: {', '.join(HUBER_MUELLER_COEFFS)})"
            )
        e_fission = dict(ENERGY_PER_FISSION_MeV)
        if r.has("energy_per_fission_MeV"):
            ef = r.table("energy_per_fission_MeV")
            ef.allow(tuple(HUBER_MUELLER_COEFFS))
            e_fission.update({iso: ef.number(iso, positive=True) for iso in ef.data})
        source = make_reactor_source(
            name=name,
            thermal_power_GW=r.number("thermal_power_GW", positive=True),
            distance_m=r.number("distance_m", positive=True),
            fission_fractions=fractions,
            energy_per_fission_MeV=e_fission,
            flux_uncertainty=unc,
            low_energy=r.string(
                "low_energy", allowed=("vogel-engel", "none"), default="vogel-engel"
            ),
        )
    elif kind == "supernova":
        r.allow(common + ("distance_kpc", "burst_duration_s", "flavours"))
        fl = r.table("flavours")
        if not fl.data:
            raise InputError(f"{path}: key 'flavours' is empty; give at least one flavour table")
        flavours = {}
        for flav in fl.data:
            if flav not in _FLAVOURS:
                raise InputError(
                    f"{path}: key 'flavours.{flav}': allowed flavours are {', '.join(_FLAVOURS)}"
                )
            p = fl.table(flav)
            p.allow(("mean_energy_MeV", "alpha", "energy_erg", "multiplicity"))
            flavours[flav] = {
                "mean_energy_MeV": p.number("mean_energy_MeV", positive=True),
                "alpha": p.number("alpha", positive=True),
                "energy_erg": p.number("energy_erg", positive=True),
                "multiplicity": p.number("multiplicity", default=1.0, positive=True),
            }
        source = make_supernova_source(
            name=name,
            distance_kpc=r.number("distance_kpc", positive=True),
            flavours=flavours,
            burst_duration_s=r.number("burst_duration_s", default=10.0, positive=True),
            flux_uncertainty=unc,
        )
    elif kind == "line":
        r.allow(common + ("enu_MeV", "flux_cm2_s", "flavour", "timing_class", "distance_m"))
        source = make_line_source(
            name=name,
            enu_MeV=r.number("enu_MeV", positive=True),
            flux_cm2_s=r.number("flux_cm2_s", positive=True),
            flavour=_flavour(r),
            timing=r.optional_string("timing_class", allowed=_TIMINGS),
            flux_uncertainty=unc,
            distance_m=r.optional_number("distance_m", positive=True),
        )
    else:  # table
        r.allow(common + ("file", "flux_cm2_s", "flavour", "timing_class", "distance_m"))
        csv_path = path.parent / r.string("file")
        enu, spec = load_spectrum_csv(csv_path)
        source = make_table_source(
            name=name,
            enu_MeV=enu,
            spectrum=spec,
            flux_cm2_s=r.number("flux_cm2_s", positive=True),
            flavour=_flavour(r),
            timing=r.optional_string("timing_class", allowed=_TIMINGS),
            flux_uncertainty=unc,
            distance_m=r.optional_number("distance_m", positive=True),
        )
    return replace(source, description=description)
