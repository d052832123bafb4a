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
  e.g. ``{"flux": 0.10}``); ``shape_sys`` maps a parameter name to the (down, up) templates
  rebuilt at ∓1σ/±1σ of that parameter (histosys, e.g. ``"quenching"``, ``"threshold"``,
  ``"resolution"``); ``stat_error`` is an absolute per-bin template uncertainty (staterror).
* Every count scales linearly with exposure (signal and backgrounds are per kg per unit
  time), so :meth:`AnalysisTemplates.scaled_to` rescales a model without rebuilding it.
  Observed data are never rescaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Sample", "Channel", "AnalysisTemplates", "SIGNAL_POI"]

SIGNAL_POI = "mu"


@dataclass(frozen=True)
class Sample:
    """One contribution (signal or a background) to one channel, in expected counts per bin."""

    name: str
    counts: np.ndarray
    norm_factor: str | None = None
    norm_sys: dict[str, float] = field(default_factory=dict)
    shape_sys: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    stat_error: np.ndarray | None = None

    def scaled(self, factor: float) -> Sample:
        """The same sample with every expected count (and its variations) times ``factor``."""
        return replace(
            self,
            counts=self.counts * factor,
            shape_sys={k: (lo * factor, hi * factor) for k, (lo, hi) in self.shape_sys.items()},
            stat_error=None if self.stat_error is None else self.stat_error * factor,
        )

    @property
    def total(self) -> float:
        return float(np.sum(self.counts))


@dataclass(frozen=True)
class Channel:
    """A binned observable (keVee, PE, or a flattened PE × time grid) and its samples."""

    name: str
    bin_edges: np.ndarray
    observable: str
    samples: tuple[Sample, ...]
    data: np.ndarray | None = None

    @property
    def n_bins(self) -> int:
        return len(self.samples[0].counts)

    def sample(self, name: str) -> Sample:
        for s in self.samples:
            if s.name == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class AnalysisTemplates:
    """All channels of one analysis at a reference exposure (kg·yr)."""

    channels: tuple[Channel, ...]
    exposure_kg_yr: float
    signal_sample: str = "cevns"
    notes: tuple[str, ...] = ()

    def scaled_to(self, exposure_kg_yr: float) -> AnalysisTemplates:
        """The same analysis at another exposure: all expected counts scale linearly."""
        factor = exposure_kg_yr / self.exposure_kg_yr
        channels = tuple(
            replace(ch, samples=tuple(s.scaled(factor) for s in ch.samples)) for ch in self.channels
        )
        return replace(self, channels=channels, exposure_kg_yr=exposure_kg_yr)

    def with_data(self, data: dict[str, np.ndarray]) -> AnalysisTemplates:
        """Attach observed counts per channel name."""
        channels = tuple(replace(ch, data=np.asarray(data[ch.name], float)) for ch in self.channels)
        return replace(self, channels=channels)

    def total(self, sample_name: str) -> float:
        """Expected counts of one sample summed over channels."""
        return sum(s.total for ch in self.channels for s in ch.samples if s.name == sample_name)

    @property
    def signal_total(self) -> float:
        return self.total(self.signal_sample)

    @property
    def background_total(self) -> float:
        """Expected background in the channels that hold the signal (control channels, which
        only measure a background, are not counted again)."""
        names = [{s.name for s in ch.samples} for ch in self.channels]
        return sum(
            s.total
            for ch, present in zip(self.channels, names, strict=True)
            if self.signal_sample in present
            for s in ch.samples
            if s.name != self.signal_sample
        )


# ================================================================================================
# Template builders: detector model -> expected counts per bin (nominal and ±1σ variations).
#
# The chain, per flux component c (rates.py gives dR_c/dE_R per kg per day per keVnr):
#   1. integrate dR_c/dE_R over fine true-recoil bins (log-spaced up to the largest recoil the
#      source can give; Simpson's rule per bin)                     -> r_c   (n_true,)
#   2. response matrix M (n_true, n_bins): probability that a recoil in true bin i is recorded
#      in analysis bin j, = quenching -> smearing -> efficiency -> rebinning, built once per
#      model (and once per quenching/threshold/resolution variation)
#   3. counts_c = r_c @ M × (kg·days of exposure).
# Smearing is exact for a recoil spread uniformly over its true bin: for Gaussian resolution
# the probability to land below x is [Ψ(x − u0) − Ψ(x − u1)] / (u1 − u0), u0, u1 the bin's
# observable edges and Ψ(t) = σ [z Φ(z) + φ(z)], z = t/σ, the integral of the normal CDF; with
# σ = 0 this is the exact linear overlap, so zero resolution leaves a spectrum unsmeared.
# Photo-electron counting (Poisson, Polya) averages the resolution's count CDFs over 8 points
# per true bin; a bin [a, b) holds the integer counts a..b−1 (COHERENT's 1-PE bins [n − 1, n),
# acceptance at the centre n − 0.5, so the analysis region 6 ≤ PE < 30 holds 6..29 PE).
# ================================================================================================

import math  # noqa: E402  (builders below the interface dataclasses, see the note above)

from scipy.special import ndtr  # noqa: E402

from cevns_fit.constants import DAYS_PER_YEAR  # noqa: E402
from cevns_fit.cross_section import recoil_max_keVnr  # noqa: E402
from cevns_fit.detector import DetectorModel  # noqa: E402
from cevns_fit.efficiency import EfficiencyModel, StepEfficiency  # noqa: E402
from cevns_fit.errors import InputError  # noqa: E402
from cevns_fit.quenching import QuenchingModel, electron_equivalent_keVee  # noqa: E402
from cevns_fit.rates import differential_rate  # noqa: E402
from cevns_fit.resolution import ResolutionModel  # noqa: E402

__all__ += [
    "SignalTemplate",
    "true_recoil_edges_keVnr",
    "recoil_counts_per_kg_day",
    "response_matrix",
    "response_variations",
    "signal_templates_by_component",
    "background_templates",
    "beam_window_fractions",
    "build_templates",
]

_POISSON_SUBPOINTS = 8
# True-recoil grid: from 1e-4 of the largest recoil (nothing below can reach any threshold).
_TRUE_RANGE_DECADES = 4.0


@dataclass(frozen=True)
class SignalTemplate:
    """CEvNS counts of one flux component per analysis bin at ``exposure_kg_yr``.

    ``variations`` maps "quenching", "threshold", "resolution" (those with a 1σ) to the
    (down, up) templates at −1σ/+1σ of that parameter; ``timing`` is the component's
    "prompt"/"delayed"/None, for energy × arrival-time analyses."""

    component: str
    timing: str | None
    bin_edges: np.ndarray
    nominal: np.ndarray
    variations: dict[str, tuple[np.ndarray, np.ndarray]]
    exposure_kg_yr: float

    def to_dict(self) -> dict:
        return {
            "component": self.component,
            "timing": self.timing,
            "bin_edges": self.bin_edges,
            "nominal": self.nominal,
            "variations": {k: {"down": lo, "up": hi} for k, (lo, hi) in self.variations.items()},
            "exposure_kg_yr": self.exposure_kg_yr,
        }


def true_recoil_edges_keVnr(model: DetectorModel) -> np.ndarray:
    """Log-spaced true nuclear-recoil bin edges (keVnr) up to the largest recoil of any isotope
    from the highest neutrino energy of the source (E_R^max = 2E²/(M + 2E))."""
    enu_max = max(float(np.max(c.enu_MeV)) for c in model.source.components)
    e_max = float(np.max(recoil_max_keVnr(enu_max, model.target.mass_GeV)))
    return np.geomspace(e_max * 10.0**-_TRUE_RANGE_DECADES, e_max, model.n_true_bins + 1)


def recoil_counts_per_kg_day(
    model: DetectorModel, true_edges_keVnr: np.ndarray
) -> dict[str, np.ndarray]:
    """Recoils per kg per live day in each true bin, per flux component (Simpson's rule)."""
    edges = np.asarray(true_edges_keVnr, dtype=float)
    mids = 0.5 * (edges[1:] + edges[:-1])
    points = np.concatenate([edges, mids])
    rates = differential_rate(points, model.target, model.source, form_factor=model.form_factor)
    n = len(edges)
    out = {}
    for name, r in rates.items():
        at_edges, at_mids = r[:n], r[n:]
        out[name] = np.diff(edges) * (at_edges[:-1] + 4.0 * at_mids + at_edges[1:]) / 6.0
    return out


def _fine_edges(
    edges: np.ndarray, n_fine: int, extra: tuple[float, ...] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Each analysis bin split in ``n_fine`` equal parts, plus ``extra`` edges (a step
    threshold, so a hard cut is exact wherever it falls). Returns (fine edges, index of each
    analysis edge in them)."""
    sub = np.linspace(0.0, 1.0, n_fine + 1)[:-1]
    fine = (edges[:-1, None] + np.diff(edges)[:, None] * sub[None, :]).ravel()
    inside = [x for x in extra if edges[0] < x < edges[-1]]
    fine = np.unique(np.concatenate([fine, [edges[-1]], inside]))
    return fine, np.searchsorted(fine, edges)


def _rebin(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Sum fine bins (last axis) into the analysis bins whose edges sit at ``index``."""
    cumulative = np.concatenate(
        [np.zeros(values.shape[:-1] + (1,)), np.cumsum(values, axis=-1)], axis=-1
    )
    return np.diff(cumulative[..., index], axis=-1)


def _step_edges(efficiency: EfficiencyModel) -> tuple[float, ...]:
    return (efficiency.threshold,) if isinstance(efficiency, StepEfficiency) else ()


def _normal_cdf_integral(t: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Ψ(t) = ∫_{-∞}^t Φ(s/σ) ds = σ [z Φ(z) + φ(z)], z = t/σ; max(t, 0) for σ = 0."""
    safe = np.where(sigma > 0, sigma, 1.0)
    z = t / safe
    psi = safe * (z * ndtr(z) + np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi))
    return np.where(sigma > 0, psi, np.maximum(t, 0.0))


def _gaussian_cdf_at_edges(u0, u1, sigma, obs_edges) -> np.ndarray:
    """P(recorded value < edge) for a true value uniform on [u0, u1] smeared by N(0, σ)."""
    t0 = obs_edges[None, :] - u0[:, None]
    t1 = obs_edges[None, :] - u1[:, None]
    s = sigma[:, None]
    return (_normal_cdf_integral(t0, s) - _normal_cdf_integral(t1, s)) / (u1 - u0)[:, None]


def _smearing_matrix(true_edges, obs_edges, quenching, resolution, gain) -> np.ndarray:
    """(n_true, n_obs) probabilities of each observable bin for each true bin (no efficiency)."""
    if resolution.kind == "counting":  # integer photo-electrons (Poisson, Polya)
        widths = np.diff(true_edges)
        frac = (np.arange(_POISSON_SUBPOINTS) + 0.5) / _POISSON_SUBPOINTS
        e_sub = true_edges[:-1, None] + widths[:, None] * frac[None, :]
        mean_pe = gain * electron_equivalent_keVee(quenching, e_sub)
        # P(N < edge) = P(N <= ceil(edge) − 1): bins are [a, b) in PE.
        k = np.ceil(obs_edges - 1e-9) - 1.0
        cdf = np.where(
            k[None, None, :] >= 0,
            resolution.count_cdf(np.maximum(k, 0.0)[None, None, :], mean_pe[..., None]),
            0.0,
        )
        # Differences of nearly equal CDFs can round to −1e-16: probabilities are >= 0.
        return np.clip(np.diff(cdf, axis=-1).mean(axis=1), 0.0, None)
    u = gain * electron_equivalent_keVee(quenching, true_edges)
    u0, u1 = u[:-1], u[1:]
    mid_keVee = 0.5 * (u0 + u1) / gain
    sigma = gain * resolution.sigma_keVee(mid_keVee)
    cdf = _gaussian_cdf_at_edges(u0, u1, sigma, obs_edges)
    return np.clip(np.diff(cdf, axis=1), 0.0, None)


def response_matrix(
    true_edges_keVnr: np.ndarray,
    model: DetectorModel,
    *,
    quenching: QuenchingModel | None = None,
    resolution: ResolutionModel | None = None,
    efficiency: EfficiencyModel | None = None,
    bin_edges: np.ndarray | None = None,
) -> np.ndarray:
    """Response matrix (n_true, n_bins): probability that a nuclear recoil uniformly spread
    over true bin i (keVnr) is recorded in observable bin j (keVee or PE), after quenching,
    smearing and efficiency. Build it once and reuse it for every flux component; pass
    ``quenching``/``resolution``/``efficiency`` to build a variation, ``bin_edges`` for other
    observable bins than the model's. Rows sum to the efficiency-weighted probability of
    landing inside the bins (1 with unit efficiency and bins covering the smeared spectrum)."""
    q = model.quenching if quenching is None else quenching
    res = model.resolution if resolution is None else resolution
    eff = model.efficiency if efficiency is None else efficiency
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    fine, index = _fine_edges(edges, model.fine_bins_per_bin, _step_edges(eff))
    smear = _smearing_matrix(np.asarray(true_edges_keVnr, dtype=float), fine, q, res, model.gain)
    smear = smear * eff(0.5 * (fine[1:] + fine[:-1]))[None, :]
    return _rebin(smear, index)


def _variation_settings(model: DetectorModel) -> dict[str, tuple[dict, dict]]:
    """The (down, up) keyword sets of response_matrix for each parameter with a 1σ."""
    out: dict[str, tuple[dict, dict]] = {}
    # One nuisance per independent quenching direction ("quenching", or "quenching_0", ...).
    for name, (q_down, q_up) in model.quenching.variations().items():
        out[name] = ({"quenching": q_down}, {"quenching": q_up})
    lo, hi = model.threshold_sigma
    if lo > 0 or hi > 0:
        out["threshold"] = (
            {"efficiency": model.efficiency.shifted(-lo)},
            {"efficiency": model.efficiency.shifted(+hi)},
        )
    if model.resolution.has_uncertainty:
        rel = model.resolution.relative_sigma
        out["resolution"] = (
            {"resolution": model.resolution.scaled(1.0 - rel)},
            {"resolution": model.resolution.scaled(1.0 + rel)},
        )
    return out


def response_variations(
    model: DetectorModel, true_edges_keVnr: np.ndarray, bin_edges: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """The nominal response matrix and the (down, up) matrices of every varied parameter."""
    nominal = response_matrix(true_edges_keVnr, model, bin_edges=bin_edges)
    variations = {
        name: (
            response_matrix(true_edges_keVnr, model, bin_edges=bin_edges, **down),
            response_matrix(true_edges_keVnr, model, bin_edges=bin_edges, **up),
        )
        for name, (down, up) in _variation_settings(model).items()
    }
    return nominal, variations


def _kg_days(model: DetectorModel, exposure_kg_yr: float | None) -> tuple[float, float]:
    exposure = model.exposure_kg_yr if exposure_kg_yr is None else float(exposure_kg_yr)
    if not (math.isfinite(exposure) and exposure > 0):
        raise InputError(f"exposure_kg_yr = {exposure_kg_yr!r}: must be a positive finite number")
    return exposure, exposure * DAYS_PER_YEAR


def signal_templates_by_component(
    model: DetectorModel,
    *,
    exposure_kg_yr: float | None = None,
    bin_edges: np.ndarray | None = None,
) -> dict[str, SignalTemplate]:
    """Nominal and ±1σ CEvNS templates per flux component (e.g. prompt ν_μ, delayed ν_e,
    delayed ν̄_μ), in the model's observable bins or ``bin_edges``, at ``exposure_kg_yr``
    (default: the model's). Counts are events per bin after quenching, smearing and efficiency."""
    exposure, kg_days = _kg_days(model, exposure_kg_yr)
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    true_edges = true_recoil_edges_keVnr(model)
    recoils = recoil_counts_per_kg_day(model, true_edges)
    nominal_m, variation_m = response_variations(model, true_edges, edges)
    timing = {c.name: c.timing for c in model.source.components}
    out = {}
    for name, r in recoils.items():
        out[name] = SignalTemplate(
            component=name,
            timing=timing[name],
            bin_edges=edges,
            nominal=kg_days * (r @ nominal_m),
            variations={
                k: (kg_days * (r @ lo), kg_days * (r @ hi)) for k, (lo, hi) in variation_m.items()
            },
            exposure_kg_yr=exposure,
        )
    return out


def background_templates(
    model: DetectorModel,
    *,
    exposure_kg_yr: float | None = None,
    bin_edges: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]:
    """Expected background counts per bin, {name: (nominal, {"threshold": (down, up)})}.

    Backgrounds are densities in the observable, so only the efficiency (and its threshold
    variation) acts on them, evaluated at the fine-bin centres like the signal's."""
    _, kg_days = _kg_days(model, exposure_kg_yr)
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    thr = _variation_settings(model).get("threshold")
    efficiencies = {"nominal": model.efficiency}
    if thr is not None:
        efficiencies.update(down=thr[0]["efficiency"], up=thr[1]["efficiency"])

    def binned(bkg, eff: EfficiencyModel | None) -> np.ndarray:
        extra = () if eff is None else _step_edges(eff)
        fine, index = _fine_edges(edges, model.fine_bins_per_bin, extra)
        per_fine = bkg.counts_per_kg_day(fine)
        if eff is not None:
            per_fine = per_fine * eff(0.5 * (fine[1:] + fine[:-1]))
        return kg_days * _rebin(per_fine, index)

    out = {}
    for bkg in model.backgrounds:
        if not bkg.apply_efficiency:
            out[bkg.name] = (binned(bkg, None), {})
            continue
        variations = {}
        if thr is not None:
            variations["threshold"] = (
                binned(bkg, efficiencies["down"]),
                binned(bkg, efficiencies["up"]),
            )
        out[bkg.name] = (binned(bkg, efficiencies["nominal"]), variations)
    return out


def beam_window_fractions(model: DetectorModel) -> dict[str, float]:
    """Fraction of each flux component's CEvNS events inside the source's beam window.

    A pulsed source with a signal window (e.g. SNS: 6 µs after each pulse) reduces the
    steady-state background by its duty factor; the same window keeps only the neutrinos that
    arrive in it (SNS: all prompt ν_μ, ~93 % of the delayed ν_e, ν̄_μ). Steady sources and
    components without timing keep everything."""
    timing = model.source.timing
    return {
        c.name: 1.0 if timing is None or c.timing is None else timing.window_fraction(c.timing)
        for c in model.source.components
    }


def _trim_slice(total: np.ndarray) -> slice:
    """Drop leading and trailing bins with no expected events (they carry no information and
    give zero-yield bins in the likelihood); interior empty bins are kept."""
    nonzero = np.flatnonzero(total > 0)
    if nonzero.size == 0:
        return slice(0, len(total))
    return slice(int(nonzero[0]), int(nonzero[-1]) + 1)


def build_templates(model: DetectorModel, exposure_kg_yr: float | None = None) -> AnalysisTemplates:
    """The analysis of a detector model as :class:`AnalysisTemplates` (at the model's exposure
    unless ``exposure_kg_yr`` is given).

    Main channel (``model.channel``): sample "cevns" (norm_factor "mu", norm_sys {"flux": the
    source's relative 1σ}, shape_sys "quenching"/"threshold"/"resolution" for those with a
    1σ) and one sample per background (norm_sys "<name>_norm", or a free norm_factor
    "<name>_norm" when it is ``constrained_by`` a control measurement; shape_sys "threshold"
    when the efficiency acts on it). Each control measurement is a channel of that name holding
    the constrained backgrounds × ``control_ratio``. Leading/trailing bins with no expected
    events are dropped (a note says so); with nothing expected at all the result keeps every
    bin, all zero, with a note (legal but empty)."""
    exposure, _ = _kg_days(model, exposure_kg_yr)
    components = signal_templates_by_component(model, exposure_kg_yr=exposure)
    names = list(components)
    kept = beam_window_fractions(model)
    signal = np.sum([kept[n] * components[n].nominal for n in names], axis=0)
    var_names = list(components[names[0]].variations)
    signal_sys = {
        k: (
            np.sum([kept[n] * components[n].variations[k][0] for n in names], axis=0),
            np.sum([kept[n] * components[n].variations[k][1] for n in names], axis=0),
        )
        for k in var_names
    }
    backgrounds = background_templates(model, exposure_kg_yr=exposure)

    total = signal + sum((b[0] for b in backgrounds.values()), np.zeros_like(signal))
    keep = _trim_slice(total)
    notes = [
        f"model {model.name}: {model.target.name}, {model.mass_kg:g} kg, "
        f"{exposure:.6g} kg·yr, threshold {model.threshold:g} {model.observable} "
        f"(≈ {model.threshold_keVnr:.3g} keVnr)"
    ]
    if any(f < 1.0 for f in kept.values()):
        window = model.source.timing.window_us
        notes.append(
            f"CEvNS counted in the {window:g} µs beam window: "
            + ", ".join(f"{n} {f:.3f}" for n, f in kept.items())
        )
    if not np.any(total > 0):
        notes.append("no events expected in the analysis range (threshold above every recoil?)")
    elif keep != slice(0, len(total)):
        notes.append(
            f"dropped empty bins outside {model.bin_edges[keep.start]:g}–"
            f"{model.bin_edges[keep.stop]:g} {model.observable}"
        )
    edges = model.bin_edges[keep.start : keep.stop + 1]

    def cut(a: np.ndarray) -> np.ndarray:
        return np.asarray(a[keep], dtype=float)

    flux_unc = model.source.flux_uncertainty
    samples = [
        Sample(
            name="cevns",
            counts=cut(signal),
            norm_factor=SIGNAL_POI,
            norm_sys={"flux": flux_unc} if flux_unc > 0 else {},
            shape_sys={k: (cut(lo), cut(hi)) for k, (lo, hi) in signal_sys.items()},
        )
    ]
    control: dict[str, list[Sample]] = {}
    for bkg in model.backgrounds:
        nominal, variations = backgrounds[bkg.name]
        norm_name = f"{bkg.name}_norm"
        sample = Sample(
            name=bkg.name,
            counts=cut(nominal),
            norm_factor=norm_name if bkg.constrained_by else None,
            norm_sys={norm_name: bkg.norm_uncertainty}
            if bkg.norm_uncertainty > 0 and not bkg.constrained_by
            else {},
            shape_sys={k: (cut(lo), cut(hi)) for k, (lo, hi) in variations.items()},
        )
        samples.append(sample)
        if bkg.constrained_by:
            if bkg.constrained_by == model.channel:
                raise InputError(
                    f"{model.path}: background {bkg.name!r} constrained_by "
                    f"{bkg.constrained_by!r}: a control channel needs its own name"
                )
            control.setdefault(bkg.constrained_by, []).append(sample.scaled(bkg.control_ratio))
    channels = [
        Channel(
            name=model.channel, bin_edges=edges, observable=model.observable, samples=tuple(samples)
        )
    ]
    for name, ctrl_samples in control.items():
        channels.append(
            Channel(
                name=name, bin_edges=edges, observable=model.observable, samples=tuple(ctrl_samples)
            )
        )
        notes.append(
            f"control channel {name!r} constrains "
            + ", ".join(s.name for s in ctrl_samples)
            + " (free normalisation)"
        )
    return AnalysisTemplates(channels=tuple(channels), exposure_kg_yr=exposure, notes=tuple(notes))
