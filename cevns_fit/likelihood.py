"""Analysis templates → pyhf workspace (HistFactory JSON), and the one place pyhf is configured.

The workspace is the project's likelihood of record: anyone can load it in plain pyhf
(``pyhf inspect``, ``pyhf fit``) or ROOT (``pyhf json2xml``) and reproduce our numbers.
:mod:`cevns_fit.fastlik` evaluates the same model faster; :mod:`cevns_fit.inference` uses both.

Parameters are named after what they mean, straight from the templates (``templates/``):

=======================  ==========================================================  ==========
parameter                meaning                                                     modifier
=======================  ==========================================================  ==========
``mu``                   CEvNS signal strength (POI; 1 = Standard Model)             normfactor
``flux``, ...            relative normalisation uncertainties (``Sample.norm_sys``)  normsys
``quenching``, ...       ±1σ template variations (``Sample.shape_sys``)              histosys
free background norms    e.g. ``steady_state_norm``, shared with a control channel   normfactor
``staterror_<channel>``  template sampling uncertainty (``Sample.stat_error``)       staterror
=======================  ==========================================================  ==========

Interpolation is pyhf's default (code 4 for normsys, code 4p for histosys). Both extrapolate
linearly beyond ±1σ, so a shape variation can drive a bin negative; each histosys parameter
gets bounds that keep every sample non-negative when it moves alone (at most pyhf's ±5).

pyhf keeps a global backend; :func:`pyhf_backend` sets numpy + minuit and restores the previous
state, and is the only code in the project that touches it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.templates import SIGNAL_POI, AnalysisTemplates, Channel, Sample

__all__ = [
    "MEASUREMENT_NAME",
    "build_workspace",
    "pyhf_backend",
    "pyhf_model",
    "parameter_names",
    "observed_main_data",
    "validate_templates",
    "templates_from_workspace",
]

MEASUREMENT_NAME = "cevns"
# pyhf's default bound for normsys/histosys parameters; POI bounds as pyhf's normfactor default.
_ALPHA_BOUND = 5.0
_POI_BOUNDS = (0.0, 10.0)
# Keep a safety margin from the α where a linearly extrapolated template reaches zero.
_HISTOSYS_MARGIN = 0.95


@contextlib.contextmanager
def pyhf_backend() -> Iterator[object]:
    """Set pyhf to the numpy backend with the minuit optimizer; restore the previous state.

    Yields the ``pyhf`` module. This is the project's only pyhf global-state switch.
    """
    import pyhf

    previous_tensor, previous_opt = pyhf.get_backend()
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    try:
        yield pyhf
    finally:
        pyhf.set_backend(previous_tensor, previous_opt)


def _check_array(values, what: str, n_bins: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.shape != (n_bins,):
        raise InputError(f"{what}: expected {n_bins} bins, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what}: counts must be finite and >= 0")
    # numerical smearing leaves round-off negatives (~1e-15): zero them, reject real ones
    tolerance = 1e-9 * max(1.0, float(np.max(np.abs(arr))))
    if np.any(arr < -tolerance):
        raise InputError(f"{what}: counts must be finite and >= 0 (min {arr.min():.3g})")
    return np.clip(arr, 0.0, None)


def validate_templates(templates: AnalysisTemplates) -> None:
    """Check templates once at the edge: shapes, finite non-negative counts, sane modifiers."""
    if not templates.channels:
        raise InputError("analysis templates: no channels")
    if not (np.isfinite(templates.exposure_kg_yr) and templates.exposure_kg_yr > 0):
        raise InputError(
            f"analysis templates: exposure_kg_yr must be > 0, got {templates.exposure_kg_yr}"
        )
    names = [ch.name for ch in templates.channels]
    if len(set(names)) != len(names):
        raise InputError(f"analysis templates: duplicate channel names {names}")
    has_signal = False
    for ch in templates.channels:
        n = len(ch.bin_edges) - 1  # the edges define the binning; every sample must match
        if n < 1 or not ch.samples:
            raise InputError(f"channel {ch.name!r}: needs at least one bin and one sample")
        snames = [s.name for s in ch.samples]
        if len(set(snames)) != len(snames):
            raise InputError(f"channel {ch.name!r}: duplicate sample names {snames}")
        for s in ch.samples:
            where = f"channel {ch.name!r} sample {s.name!r}"
            _check_array(s.counts, where, n)
            if s.name == templates.signal_sample:
                has_signal = True
                if s.norm_factor != SIGNAL_POI:
                    raise InputError(f"{where}: the signal sample must have norm_factor 'mu'")
            elif s.norm_factor == SIGNAL_POI:
                raise InputError(f"{where}: only the signal sample may carry norm_factor 'mu'")
            for par, rel in s.norm_sys.items():
                lo, hi = normsys_factors(rel)
                if not (np.isfinite(lo) and np.isfinite(hi) and lo > 0 and hi > 0):
                    raise InputError(
                        f"{where} norm_sys {par!r}: a relative 1σ in [0, 1) or positive "
                        "(down, up) factors"
                    )
            for par, (lo, hi) in s.shape_sys.items():
                _check_array(lo, f"{where} shape_sys {par!r} (down)", n)
                _check_array(hi, f"{where} shape_sys {par!r} (up)", n)
            if s.stat_error is not None:
                _check_array(s.stat_error, f"{where} stat_error", n)
        if ch.data is not None:
            _check_array(ch.data, f"channel {ch.name!r} data", n)
    if not has_signal:
        raise InputError(
            f"analysis templates: no sample named {templates.signal_sample!r} (the signal)"
        )


def normsys_factors(value: float | tuple[float, float]) -> tuple[float, float]:
    """(lo, hi) normsys factors of a ``Sample.norm_sys`` entry: a relative 1σ σ gives 1 ∓ σ;
    a pair is taken as given (e.g. log-normal factors for σ >= 1)."""
    if isinstance(value, tuple | list):
        return float(value[0]), float(value[1])
    rel = float(value)
    if not (np.isfinite(rel) and 0 <= rel < 1):
        return math.nan, math.nan
    return 1.0 - rel, 1.0 + rel


def _histosys_bound(nominal: np.ndarray, down: np.ndarray, up: np.ndarray) -> float:
    """Largest |α| (≤ 5) for which code-4p keeps nominal + Δ(α) ≥ 0 in every bin."""
    bound = _ALPHA_BOUND
    delta_dn = nominal - down  # Δ(α) = delta_dn·α for α < −1
    delta_up = up - nominal  # Δ(α) = delta_up·α for α > +1
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_dn = np.where(delta_dn > 0, nominal / delta_dn, np.inf)
        cross_up = np.where(delta_up < 0, nominal / -delta_up, np.inf)
    crossing = float(min(np.min(cross_dn), np.min(cross_up)))
    if crossing < bound / _HISTOSYS_MARGIN:
        bound = max(1.0, _HISTOSYS_MARGIN * crossing)
    return bound


def build_workspace(
    templates: AnalysisTemplates,
    *,
    data: dict[str, np.ndarray] | None = None,
    systematics: bool = True,
    fixed: tuple[str, ...] = (),
) -> dict:
    """A pyhf workspace (dict, HistFactory JSON schema 1.0.0) for ``templates``.

    Observations: ``data`` per channel if given, else the channels' attached data, else the
    Asimov counts at μ = 1 with nominal nuisances. ``systematics=False`` drops normsys,
    histosys and staterror (free normfactors and control channels stay). ``fixed`` names
    parameters to fix at their nominal value (measurement config), e.g. to rank impacts.
    """
    validate_templates(templates)
    histosys_bounds: dict[str, float] = {}
    channels, observations = [], []
    for ch in templates.channels:
        samples = []
        for s in ch.samples:
            nominal = _check_array(s.counts, f"sample {s.name!r}", ch.n_bins)
            mods: list[dict] = []
            if s.norm_factor is not None:
                mods.append({"name": s.norm_factor, "type": "normfactor", "data": None})
            if systematics:
                for par, rel in s.norm_sys.items():
                    lo, hi = normsys_factors(rel)
                    if (lo, hi) != (1.0, 1.0):
                        mods.append({"name": par, "type": "normsys", "data": {"hi": hi, "lo": lo}})
                for par, (lo, hi) in s.shape_sys.items():
                    lo = _check_array(lo, f"sample {s.name!r} shape_sys {par!r}", len(nominal))
                    hi = _check_array(hi, f"sample {s.name!r} shape_sys {par!r}", len(nominal))
                    mods.append(
                        {
                            "name": par,
                            "type": "histosys",
                            "data": {"hi_data": hi.tolist(), "lo_data": lo.tolist()},
                        }
                    )
                    histosys_bounds[par] = min(
                        histosys_bounds.get(par, _ALPHA_BOUND), _histosys_bound(nominal, lo, hi)
                    )
                if s.stat_error is not None and np.any(np.asarray(s.stat_error) > 0):
                    mods.append(
                        {
                            "name": f"staterror_{ch.name}",
                            "type": "staterror",
                            "data": np.asarray(s.stat_error, float).tolist(),
                        }
                    )
            samples.append({"name": s.name, "data": nominal.tolist(), "modifiers": mods})
        channels.append({"name": ch.name, "samples": samples})
    main = observed_main_data(templates, data)
    for ch in templates.channels:
        observations.append({"name": ch.name, "data": main[ch.name].tolist()})

    parameters: list[dict] = [{"name": SIGNAL_POI, "bounds": [list(_POI_BOUNDS)]}]
    for par, bound in sorted(histosys_bounds.items()):
        if bound < _ALPHA_BOUND:
            parameters.append({"name": par, "bounds": [[-bound, bound]]})
    known = set(parameter_names_from_channels(channels))
    for par in fixed:
        if par not in known:
            raise InputError(f"cannot fix parameter {par!r}: the model has {sorted(known)}")
        entry = next((p for p in parameters if p["name"] == par), None)
        if entry is None:
            entry = {"name": par}
            parameters.append(entry)
        entry["fixed"] = True
    return {
        "version": "1.0.0",
        "channels": channels,
        "observations": observations,
        "measurements": [
            {"name": MEASUREMENT_NAME, "config": {"poi": SIGNAL_POI, "parameters": parameters}}
        ],
    }


def parameter_names_from_channels(channels: list[dict]) -> list[str]:
    """Sorted parameter-set names used by the modifiers of workspace channels."""
    return sorted({m["name"] for c in channels for s in c["samples"] for m in s["modifiers"]})


def parameter_names(workspace: dict) -> list[str]:
    """Sorted parameter-set names of a workspace (pyhf's ``model.config.parameters``)."""
    return parameter_names_from_channels(workspace["channels"])


def observed_main_data(
    templates: AnalysisTemplates, data: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Counts per channel: ``data`` if given, else attached data, else Asimov at μ = 1."""
    out = {}
    for ch in templates.channels:
        if data is not None:
            if ch.name not in data:
                raise InputError(f"observed data: no counts for channel {ch.name!r}")
            out[ch.name] = _check_array(
                data[ch.name], f"observed data channel {ch.name!r}", ch.n_bins
            )
        elif ch.data is not None:
            out[ch.name] = np.asarray(ch.data, float)
        else:
            out[ch.name] = np.sum([np.asarray(s.counts, float) for s in ch.samples], axis=0)
    return out


def pyhf_model(workspace: dict):
    """``(model, data)`` of a workspace in plain pyhf (call inside :func:`pyhf_backend`)."""
    import pyhf

    ws = pyhf.Workspace(workspace)
    model = ws.model(measurement_name=MEASUREMENT_NAME)
    return model, ws.data(model)


def templates_from_workspace(spec: dict, *, source: str = "workspace") -> AnalysisTemplates:
    """A pyhf workspace (JSON dict) as :class:`AnalysisTemplates`, so every inference command
    runs on a likelihood written by any tool: the inverse of :func:`build_workspace`.

    The signal is the sample carrying the measurement's POI as a normfactor (renamed ``mu``);
    normsys keep their (lo, hi) factors, histosys their templates, staterror its absolute
    per-bin errors; the observations are attached as data. A workspace has no exposure: the
    result's ``exposure_kg_yr`` is 1, so exposures computed from it are multiples of the
    workspace's own. Modifiers other than normfactor/normsys/histosys/staterror, a POI on no
    or several samples, and measurement settings other than bounds are an InputError."""
    import pyhf

    from cevns_fit.fastlik import SUPPORTED_MODIFIERS

    try:
        pyhf.Workspace(spec)  # pyhf's own schema validation
    except (pyhf.exceptions.InvalidSpecification, KeyError, TypeError, ValueError) as exc:
        first = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise InputError(f"{source}: not a valid pyhf workspace ({first})") from None
    measurement = spec["measurements"][0]
    poi = measurement["config"]["poi"]
    signal_samples = {
        s["name"]
        for c in spec["channels"]
        for s in c["samples"]
        for m in s["modifiers"]
        if m["type"] == "normfactor" and m["name"] == poi
    }
    if len(signal_samples) != 1:
        raise InputError(
            f"{source}: the POI {poi!r} must scale exactly one sample name (the signal), "
            f"found {sorted(signal_samples) or 'none'}"
        )
    signal = signal_samples.pop()
    data = {o["name"]: np.asarray(o["data"], float) for o in spec.get("observations", [])}
    channels = []
    for c in spec["channels"]:
        samples = []
        for s in c["samples"]:
            norm_factor, norm_sys, shape_sys, stat = None, {}, {}, None
            for m in s["modifiers"]:
                kind, name = m["type"], m["name"]
                if kind not in SUPPORTED_MODIFIERS:
                    raise InputError(
                        f"{source}: sample {s['name']!r} uses a {kind} modifier ({name!r}); "
                        f"cevns-fit handles {', '.join(SUPPORTED_MODIFIERS)}"
                    )
                if kind == "normfactor":
                    if norm_factor is not None:
                        raise InputError(f"{source}: sample {s['name']!r} has two normfactors")
                    norm_factor = SIGNAL_POI if name == poi else name
                elif kind == "normsys":
                    norm_sys[name] = (float(m["data"]["lo"]), float(m["data"]["hi"]))
                elif kind == "histosys":
                    shape_sys[name] = (
                        np.asarray(m["data"]["lo_data"], float),
                        np.asarray(m["data"]["hi_data"], float),
                    )
                else:
                    stat = np.asarray(m["data"], float)
            name = "cevns" if s["name"] == signal else s["name"]
            if name == "cevns" and s["name"] != signal:
                raise InputError(f"{source}: a background sample is named 'cevns'")
            samples.append(
                Sample(
                    name=name,
                    counts=np.asarray(s["data"], float),
                    norm_factor=norm_factor,
                    norm_sys=norm_sys,
                    shape_sys=shape_sys,
                    stat_error=stat,
                )
            )
        n = len(c["samples"][0]["data"])
        channels.append(
            Channel(
                name=c["name"],
                bin_edges=np.arange(n + 1.0),
                observable="bin",
                samples=tuple(samples),
                data=data.get(c["name"]),
            )
        )
    notes = [
        f"pyhf workspace {source}: POI {poi!r} (as mu) on sample {signal!r}; exposures are "
        "multiples of the workspace's own (exposure_kg_yr = 1 is the workspace as written)"
    ]
    templates = AnalysisTemplates(
        channels=tuple(channels), exposure_kg_yr=1.0, signal_sample="cevns", notes=tuple(notes)
    )
    validate_templates(templates)
    return templates
