"""Compiling a pyhf workspace dict into a :class:`~cevns_fit.fastlik.FastModel`.

The HistFactory modifiers the fast path implements (:data:`SUPPORTED_MODIFIERS`), pyhf 0.7.6's
default bounds and initial values per modifier type, and :meth:`FastModel.from_workspace`:
parameter sets, staterror widths as pyhf computes them, and the per-(channel, sample) arrays
the compiled kernel (:mod:`cevns_fit.fastlik.kernel`) stacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cevns_fit.errors import InputError

if TYPE_CHECKING:
    from cevns_fit.fastlik.model import FastModel

# The HistFactory modifiers of the fast path; likelihood.templates_from_workspace reads the
# same set from any workspace.
SUPPORTED_MODIFIERS = ("normfactor", "normsys", "histosys", "staterror")
# pyhf 0.7.6 default bounds and inits per modifier type.
_DEFAULT_BOUNDS = {
    "normfactor": (0.0, 10.0),
    "normsys": (-5.0, 5.0),
    "histosys": (-5.0, 5.0),
    "staterror": (1e-10, 10.0),
}
_DEFAULT_INIT = {"normfactor": 1.0, "normsys": 0.0, "histosys": 0.0, "staterror": 1.0}


class WorkspaceCompilation:
    """:meth:`from_workspace`: the building half of :class:`~cevns_fit.fastlik.FastModel`."""

    @classmethod
    def from_workspace(cls, spec: dict, measurement: str | None = None) -> FastModel:
        """Compile a pyhf workspace dict (the subset in the module docstring)."""
        channels_spec = sorted(spec["channels"], key=lambda c: c["name"])
        measurements = spec["measurements"]
        meas = measurements[0]
        if measurement is not None:
            matches = [m for m in measurements if m["name"] == measurement]
            if not matches:
                raise InputError(f"workspace has no measurement {measurement!r}")
            meas = matches[0]
        poi = meas["config"]["poi"]
        par_config = {p["name"]: p for p in meas["config"].get("parameters", [])}

        channels = [(c["name"], len(c["samples"][0]["data"])) for c in channels_spec]
        offsets = np.cumsum([0] + [n for _, n in channels])
        n_bins = int(offsets[-1])
        rows: list[tuple[str, str]] = []
        nominal_rows = []
        # parameter sets: name -> (type, n_parameters)
        set_types: dict[str, str] = {}
        set_sizes: dict[str, int] = {}
        staterror_info: dict[str, dict] = {}
        used_as: dict[str, set[str]] = {}
        for ci, ch in enumerate(channels_spec):
            for smp in ch["samples"]:
                for mod in smp["modifiers"]:
                    mtype, mname = mod["type"], mod["name"]
                    if mtype not in SUPPORTED_MODIFIERS:
                        raise InputError(
                            f"workspace modifier {mname!r} has type {mtype!r}; the fast path "
                            f"supports {', '.join(SUPPORTED_MODIFIERS)} (use fast=False)"
                        )
                    used_as.setdefault(mname, set()).add(mtype)
                    previous = set_types.setdefault(mname, mtype)
                    # one α may drive a normsys and a histosys of the same name (HistFactory
                    # OverallSys + HistoSys); both are N(0|α,1)-constrained with equal bounds
                    if previous != mtype and {previous, mtype} != {"normsys", "histosys"}:
                        raise InputError(
                            f"workspace parameter {mname!r} is used as both {previous} and {mtype}"
                        )
                    if mtype == "staterror":
                        info = staterror_info.setdefault(mname, {"channel": ci, "samples": []})
                        if info["channel"] != ci:
                            raise InputError(
                                f"workspace staterror {mname!r} appears in two channels"
                            )
                        info["samples"].append((smp["data"], mod["data"]))
                        set_sizes[mname] = channels[ci][1]
                    else:
                        set_sizes[mname] = 1
        if poi not in set_types or set_types[poi] != "normfactor":
            raise InputError(f"workspace POI {poi!r} must be a normfactor of some sample")

        set_names = sorted(set_types)
        set_slices: dict[str, slice] = {}
        start = 0
        for name in set_names:
            set_slices[name] = slice(start, start + set_sizes[name])
            start += set_sizes[name]
        n_pars = start
        init = np.zeros(n_pars)
        bounds = np.zeros((n_pars, 2))
        fixed = np.zeros(n_pars, bool)
        aux_nominal = np.full(n_pars, np.nan)
        aux_sigma = np.full(n_pars, np.nan)
        for name in set_names:
            sl, mtype = set_slices[name], set_types[name]
            init[sl] = _DEFAULT_INIT[mtype]
            bounds[sl] = _DEFAULT_BOUNDS[mtype]
            if mtype in ("normsys", "histosys"):
                aux_nominal[sl], aux_sigma[sl] = 0.0, 1.0
        # staterror widths, as pyhf's staterror_builder computes them
        for name, info in staterror_info.items():
            nom_sum = np.sum([np.asarray(d, float) for d, _ in info["samples"]], axis=0)
            rel2 = np.zeros_like(nom_sum)
            for _, unc in info["samples"]:
                unc = np.asarray(unc, float)
                safe = np.where(nom_sum > 0, nom_sum, 1.0)
                rel2 += np.where(nom_sum > 0, (unc / safe) ** 2, 0.0)
            sigma = np.sqrt(rel2)
            is_fixed = sigma == 0
            sl = set_slices[name]
            aux_nominal[sl] = 1.0
            aux_sigma[sl] = np.where(is_fixed, 1.0, sigma)
            fixed[sl] = is_fixed
        for name, cfg in par_config.items():
            if name not in set_slices:
                continue
            sl = set_slices[name]
            if "bounds" in cfg:
                bounds[sl] = np.asarray(cfg["bounds"], float)
            if "inits" in cfg:
                init[sl] = np.asarray(cfg["inits"], float)
            if cfg.get("fixed"):
                fixed[sl] = True

        # per-row (channel, sample) arrays
        nf_names = [n for n in set_names if set_types[n] == "normfactor"]
        ns_names = [n for n in set_names if "normsys" in used_as[n]]
        hs_names = [n for n in set_names if "histosys" in used_as[n]]
        rows_nf, rows_lo, rows_hi, rows_up, rows_dn, rows_stat = [], [], [], [], [], []
        for ci, ch in enumerate(channels_spec):
            b0, b1 = offsets[ci], offsets[ci + 1]
            for smp in ch["samples"]:
                rows.append((ch["name"], smp["name"]))
                nom = np.zeros(n_bins)
                nom[b0:b1] = np.asarray(smp["data"], float)
                nominal_rows.append(nom)
                nf = np.zeros(len(nf_names), bool)
                lo = np.ones(len(ns_names))
                hi = np.ones(len(ns_names))
                up = np.zeros((len(hs_names), n_bins))
                dn = np.zeros((len(hs_names), n_bins))
                stat = np.full(n_bins, -1, int)
                for mod in smp["modifiers"]:
                    mtype, mname, data = mod["type"], mod["name"], mod["data"]
                    if mtype == "normfactor":
                        nf[nf_names.index(mname)] = True
                    elif mtype == "normsys":
                        k = ns_names.index(mname)
                        lo[k], hi[k] = float(data["lo"]), float(data["hi"])
                    elif mtype == "histosys":
                        k = hs_names.index(mname)
                        up[k, b0:b1] = np.asarray(data["hi_data"], float) - nom[b0:b1]
                        dn[k, b0:b1] = nom[b0:b1] - np.asarray(data["lo_data"], float)
                    elif mtype == "staterror":
                        if np.any(stat[b0:b1] >= 0):
                            raise InputError(
                                f"sample {smp['name']!r} carries two staterror modifiers"
                            )
                        sl = set_slices[mname]
                        stat[b0:b1] = np.arange(sl.start, sl.stop)
                rows_nf.append(nf)
                rows_lo.append(lo)
                rows_hi.append(hi)
                rows_up.append(up)
                rows_dn.append(dn)
                rows_stat.append(stat)
        n_rows = len(rows)
        return cls(
            channels=channels,
            rows=rows,
            nominal=np.array(nominal_rows),
            normfactor_mask=np.array(rows_nf).reshape(n_rows, len(nf_names)).T,
            normfactor_index=np.array([set_slices[n].start for n in nf_names], int),
            normsys_lo=np.array(rows_lo).reshape(n_rows, len(ns_names)).T,
            normsys_hi=np.array(rows_hi).reshape(n_rows, len(ns_names)).T,
            normsys_index=np.array([set_slices[n].start for n in ns_names], int),
            histo_up=np.array(rows_up).reshape(n_rows, len(hs_names), n_bins).transpose(1, 0, 2),
            histo_dn=np.array(rows_dn).reshape(n_rows, len(hs_names), n_bins).transpose(1, 0, 2),
            histo_index=np.array([set_slices[n].start for n in hs_names], int),
            stat_index=np.array(rows_stat),
            set_names=set_names,
            set_slices=set_slices,
            set_types=set_types,
            init=init,
            bounds=bounds,
            fixed=fixed,
            aux_nominal=aux_nominal,
            aux_sigma=aux_sigma,
            poi_index=set_slices[poi].start,
        )
