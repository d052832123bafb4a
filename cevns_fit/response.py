"""Detector response: true nuclear recoils → binned observable (keVee or PE), nominal and ±1σ.

The chain, per flux component c (rates.py gives dR_c/dE_R per kg per day per keVnr):

1. integrate dR_c/dE_R over fine true-recoil bins (log-spaced up to the largest recoil the
   source can give; Simpson's rule per bin)                     -> r_c   (n_true,)
2. response matrix M (n_true, n_bins): probability that a recoil in true bin i is recorded in
   analysis bin j, = quenching -> smearing -> efficiency -> rebinning, built once per model (and
   once per quenching/threshold/resolution variation)
3. counts_c = r_c @ M × (kg·days of exposure)  (templates/signal.py).

Smearing is exact for a recoil spread uniformly over its true bin: for Gaussian resolution the
probability to land below x is [Ψ(x − u0) − Ψ(x − u1)] / (u1 − u0), u0, u1 the bin's observable
edges and Ψ(t) = σ [z Φ(z) + φ(z)], z = t/σ, the integral of the normal CDF; with σ = 0 this is
the exact linear overlap, so zero resolution leaves a spectrum unsmeared. Photo-electron
counting (Poisson, Polya) averages the resolution's count CDFs over 8 points per true bin; a
bin [a, b) holds the integer counts a..b−1 and the efficiency of a count n is taken at n + 0.5
(the analysis region 6 ≤ PE < 30 holds 6..29 photo-electrons).

The efficiency multiplies the smeared spectrum on fine observable bins. Their number is chosen
by the efficiency itself, so nobody has to tune it (:func:`fine_edges`): each analysis bin
starts split in ``fine_bins_per_bin`` parts and any fine bin over which the efficiency changes
by more than 1 % (or bends by more than 2e-4) is halved, up to 12 times; a step threshold is
an exact edge. Discrete PE observables use one fine bin per integer count, exact by
construction.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from scipy.special import ndtr

from cevns_fit.cross_section import recoil_max_keVnr
from cevns_fit.detector import DetectorModel
from cevns_fit.efficiency import EfficiencyModel, StepEfficiency
from cevns_fit.quenching import QuenchingModel, electron_equivalent_keVee
from cevns_fit.rates import differential_rate
from cevns_fit.resolution import ResolutionModel

__all__ = [
    "true_recoil_edges_keVnr",
    "recoil_counts_per_kg_day",
    "recoil_cache_entries",
    "preload_recoil_cache",
    "fine_edges",
    "cached_fine_edges",
    "rebin",
    "response_matrix",
    "response_matrices",
    "response_variations",
    "smeared_cdf",
    "smeared_probabilities",
    "variation_settings",
]

_POISSON_SUBPOINTS = 8
# True-recoil grid: from 1e-4 of the largest recoil (nothing below can reach any threshold).
_TRUE_RANGE_DECADES = 4.0


def true_recoil_edges_keVnr(model: DetectorModel) -> np.ndarray:
    """Log-spaced true nuclear-recoil bin edges (keVnr) up to the largest recoil of any isotope
    from the highest neutrino energy of the source (E_R^max = 2E²/(M + 2E))."""
    enu_max = max(float(np.max(c.enu_MeV)) for c in model.source.components)
    e_max = float(np.max(recoil_max_keVnr(enu_max, model.target.mass_GeV)))
    return np.geomspace(e_max * 10.0**-_TRUE_RANGE_DECADES, e_max, model.n_true_bins + 1)


# True-recoil spectra depend only on (target, source, form factor, true bins): a scan that varies
# the threshold, quenching, resolution, mass or exposure reuses them (dσ/dE_R over isotopes ×
# neutrino energies × recoil energies is most of a template build). Keyed by a hash of the
# numbers themselves, so two models with the same physics share an entry; bounded.
_RECOIL_CACHE: dict[bytes, dict[str, np.ndarray]] = {}
_RECOIL_CACHE_SIZE = 16


def _recoil_key(model: DetectorModel, edges: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    tgt = model.target
    for arr in (tgt.Z, tgt.N, tgt.A, tgt.mass_GeV, tgt.nuclei_per_formula_unit, edges):
        h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
    h.update(f"{tgt.molar_mass_g_per_mol!r}|{model.form_factor}".encode())
    for c in model.source.components:
        h.update(f"{c.name}|{c.flavour}|{c.flux_cm2_s!r}".encode())
        h.update(np.ascontiguousarray(c.enu_MeV, dtype=float).tobytes())
        h.update(np.ascontiguousarray(c.weights, dtype=float).tobytes())
    h.update(repr(getattr(model, "physics", None)).encode())
    return h.digest()


def recoil_counts_per_kg_day(
    model: DetectorModel, true_edges_keVnr: np.ndarray
) -> dict[str, np.ndarray]:
    """Recoils per kg per live day in each true bin, per flux component (Simpson's rule).

    Cached per (target, source, form factor, true bins): the arrays returned are read-only."""
    edges = np.asarray(true_edges_keVnr, dtype=float)
    key = _recoil_key(model, edges)
    cached = _RECOIL_CACHE.get(key)
    if cached is not None:
        return cached
    out = _recoil_counts(model, edges)
    _store(key, out)
    return out


def _remember(cache: dict, limit: int, key, arrays: list[np.ndarray], value) -> None:
    """Keep ``value`` (made of ``arrays``, now read-only) in a cache bounded to ``limit``
    entries, dropping the oldest first."""
    for arr in arrays:
        arr.setflags(write=False)
    if key not in cache and len(cache) >= limit:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _store(key: bytes, arrays: dict[str, np.ndarray]) -> None:
    _remember(_RECOIL_CACHE, _RECOIL_CACHE_SIZE, key, list(arrays.values()), arrays)


def recoil_cache_entries(model: DetectorModel) -> dict[bytes, dict[str, np.ndarray]]:
    """The model's true-recoil spectra keyed as the cache keys them, computed here if needed:
    what a scan ships to its worker processes (:func:`preload_recoil_cache`) so that dσ/dE_R
    is integrated once per scan, not once per worker. Empty for a tabulated signal."""
    if getattr(model, "signal_table", None) is not None:
        return {}
    edges = true_recoil_edges_keVnr(model)
    arrays = recoil_counts_per_kg_day(model, edges)
    return {_recoil_key(model, edges): arrays}


def preload_recoil_cache(entries: dict[bytes, dict[str, np.ndarray]]) -> None:
    """Put spectra from :func:`recoil_cache_entries` (computed in another process) into this
    process' cache."""
    for key, arrays in entries.items():
        _store(key, {name: np.array(arr, dtype=float) for name, arr in arrays.items()})


def _recoil_counts(model: DetectorModel, edges: np.ndarray) -> dict[str, np.ndarray]:
    mids = 0.5 * (edges[1:] + edges[:-1])
    points = np.concatenate([edges, mids])
    rates = differential_rate(
        points,
        model.target,
        model.source,
        form_factor=model.form_factor,
        physics=getattr(model, "physics", None),
    )
    n = len(edges)
    out = {}
    for name, r in rates.items():
        at_edges, at_mids = r[:n], r[n:]
        out[name] = np.diff(edges) * (at_edges[:-1] + 4.0 * at_mids + at_edges[1:]) / 6.0
    return out


def _uniform_fine_edges(
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


def rebin(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Sum fine bins (last axis) into the analysis bins whose edges sit at ``index`` (each
    analysis bin holds at least one fine bin). Summed group by group, not as differences
    of a running sum, which would lose a tail bin's 1e-20 behind the 1e-5 before it."""
    index = np.asarray(index)
    if np.any(np.diff(index) < 1):
        raise ValueError("rebin: every analysis bin needs at least one fine bin")
    return np.add.reduceat(values, index[:-1], axis=-1)


def _step_edges(efficiency: EfficiencyModel) -> tuple[float, ...]:
    return (efficiency.threshold,) if isinstance(efficiency, StepEfficiency) else ()


# An efficiency may change by at most this much over one fine bin, and bend (midpoint vs
# Simpson) by at most _MAX_BEND: then the midpoint efficiency times the exactly smeared
# counts is good to well below 1e-3 of a bin's content (tests compare to a 20× refinement).
# The midpoint rule's error is Δε·(Δρ/ρ)/12 + ε''h²/24 per fine bin: with the bend bounded,
# a 3 % step costs < 6e-4 of any populated bin of the Ge array (1 %: 4e-4) for 40 % fewer
# fine bins across a trigger turn-on (each one a column of the smearing).
_MAX_STEP = 0.03
_MAX_BEND = 2e-4
_MAX_HALVINGS = 12


def fine_edges(
    edges: np.ndarray,
    efficiency: EfficiencyModel | None,
    *,
    n_fine: int = 4,
    discrete: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Fine observable bins on which the efficiency multiplies the smeared spectrum, and the
    index of each analysis edge among them.

    ``discrete`` (PE counts): one fine bin [n, n + 1) per integer count n, the efficiency
    taken at n + 0.5, whatever the analysis binning. Otherwise each analysis bin is split in
    ``n_fine`` parts and every fine bin over which the efficiency changes by more than 1 % or
    bends by more than 2e-4 is halved until it does not (at most 12 times); a step threshold
    is an exact edge."""
    edges = np.asarray(edges, dtype=float)
    if discrete:
        integers = np.arange(math.floor(edges[0]), math.ceil(edges[-1]) + 1, dtype=float)
        inside = integers[(integers > edges[0]) & (integers < edges[-1])]
        fine = np.unique(np.concatenate([edges, inside]))
        return fine, np.searchsorted(fine, edges)
    extra = () if efficiency is None else _step_edges(efficiency)
    fine, _ = _uniform_fine_edges(edges, n_fine, extra)
    if efficiency is not None:
        fine = _merge_flat_bins(fine, edges, efficiency, extra)
    # a step is flat on both sides of its exact edge: halving towards it would gain nothing
    if efficiency is not None and not isinstance(efficiency, StepEfficiency):
        for _ in range(_MAX_HALVINGS):
            lo, hi = fine[:-1], fine[1:]
            mid = 0.5 * (lo + hi)
            f_lo, f_mid, f_hi = efficiency(lo), efficiency(mid), efficiency(hi)
            split = (np.abs(f_hi - f_lo) > _MAX_STEP) | (
                np.abs(f_lo + f_hi - 2.0 * f_mid) / 6.0 > _MAX_BEND
            )
            if not np.any(split):
                break
            fine = np.union1d(fine, mid[split])
    return fine, np.searchsorted(fine, edges)


# An efficiency that changes by less than this over an analysis bin is flat there: its
# sub-bins would each multiply the smeared counts by the same number, so one fine bin gives
# the same content (to this relative precision) for a fraction of the smearing's cost.
_FLAT = 1e-12


def _merge_flat_bins(
    fine: np.ndarray, edges: np.ndarray, efficiency: EfficiencyModel, extra: tuple[float, ...]
) -> np.ndarray:
    """``fine`` without the sub-edges inside segments (analysis bins, split at a step
    threshold) over which the efficiency is flat: equal, to 1e-12, at every sub-bin's
    midpoint (where the midpoint rule evaluates it) and at the sub-edges inside the segment
    (one of which is the merged bin's own midpoint), so merging changes no bin's content."""
    inside = np.asarray([x for x in extra if edges[0] < x < edges[-1]], dtype=float)
    segments = np.union1d(edges, inside)
    mids = 0.5 * (fine[1:] + fine[:-1])
    owner_mid = np.searchsorted(segments, mids, side="right") - 1
    owner_edge = np.searchsorted(segments, fine, side="right") - 1
    interior = np.isin(fine, segments, invert=True)
    points = np.concatenate([mids, fine[interior]])
    owners = np.concatenate([owner_mid, owner_edge[interior]])
    values = efficiency(points)
    lo = np.full(segments.size - 1, np.inf)
    hi = np.full(segments.size - 1, -np.inf)
    np.minimum.at(lo, owners, values)
    np.maximum.at(hi, owners, values)
    flat = hi - lo <= _FLAT
    drop = np.zeros(fine.size, dtype=bool)
    drop[interior] = flat[owner_edge[interior]]
    return fine[~drop]


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _normal_cdf_integral(t: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Ψ(t) = ∫_{-∞}^t Φ(s/σ) ds = σ [z Φ(z) + φ(z)], z = t/σ; max(t, 0) for σ = 0."""
    if np.all(sigma > 0):  # the usual case, in place: this is most of a template's cost
        z = t / sigma
        gauss = z * z
        gauss *= -0.5
        np.exp(gauss, out=gauss)
        gauss *= _INV_SQRT_2PI
        psi = ndtr(z)
        psi *= z
        psi += gauss
        psi *= sigma
        return psi
    safe = np.where(sigma > 0, sigma, 1.0)
    z = t / safe
    psi = safe * (z * ndtr(z) + np.exp(-0.5 * z * z) * _INV_SQRT_2PI)
    return np.where(sigma > 0, psi, np.maximum(t, 0.0))


def _gaussian_cdf_at_edges(u0, u1, sigma, obs_edges) -> tuple[np.ndarray, ...]:
    """P(recorded value < edge) for a true value uniform on [u0, u1] smeared by N(0, σ), in
    three parts (below, above, step): ``below`` is that probability at edges below the bin's
    centre, ``above`` minus the probability of ≥ edge at edges above it and ``step`` 1 there,
    so the CDF is their sum with each part computed without cancellation.

    C(x) = [Ψ(x − u0) − Ψ(x − u1)]/(u1 − u0) and, from Ψ(t) − Ψ(−t) = t,
    1 − C(x) = [Ψ(u1 − x) − Ψ(u0 − x)]/(u1 − u0): far above the bin C rounds to 1 and the
    tail probabilities of the bins up there to noise of ~1e-16 × x/(u1 − u0); the second
    form keeps them to full relative precision."""
    centre = 0.5 * (u0 + u1)
    above = obs_edges[None, :] > centre[:, None]
    sign = np.where(above, -1.0, 1.0)
    t0 = sign * (obs_edges[None, :] - u0[:, None])
    t1 = sign * (obs_edges[None, :] - u1[:, None])
    s = sigma[:, None]
    tail = _normal_cdf_integral(t0, s)
    tail -= _normal_cdf_integral(t1, s)
    tail /= (u1 - u0)[:, None]
    return np.where(above, 0.0, tail), np.where(above, tail, 0.0), above.astype(float)


def smeared_cdf(
    true_edges_keVnr: np.ndarray,
    obs_edges: np.ndarray,
    quenching: QuenchingModel,
    resolution: ResolutionModel,
    gain: float,
) -> tuple[np.ndarray, ...]:
    """Probability that a recoil uniform over true bin i is recorded below observable edge
    j (no efficiency), as parts of shape (n_true, n_edges) that add up to it (one part for
    counting observables; three for a Gaussian, see :func:`_gaussian_cdf_at_edges`).
    Counting observables (Poisson, Polya PE) average the count distribution over 8 points
    per true bin; a bin [a, b) holds the integer counts a..b−1, so
    P(N < edge) = P(N ≤ ⌈edge⌉ − 1)."""
    true_edges = np.asarray(true_edges_keVnr, dtype=float)
    obs_edges = np.asarray(obs_edges, dtype=float)
    if resolution.kind == "counting":
        widths = np.diff(true_edges)
        frac = (np.arange(_POISSON_SUBPOINTS) + 0.5) / _POISSON_SUBPOINTS
        e_sub = true_edges[:-1, None] + widths[:, None] * frac[None, :]
        mean_pe = gain * electron_equivalent_keVee(quenching, e_sub)
        k = (np.ceil(obs_edges - 1e-9) - 1.0).astype(int)
        n_max = max(int(k.max(initial=0)), 0)
        # P(N ≤ k) as running sums of the count probabilities, averaged over the sub-points
        cumulative = np.cumsum(resolution.count_pmf(n_max, mean_pe), axis=-1).mean(axis=1)
        return (np.where(k[None, :] >= 0, cumulative[:, np.maximum(k, 0)], 0.0),)
    u = gain * electron_equivalent_keVee(quenching, true_edges)
    u0, u1 = u[:-1], u[1:]
    sigma = gain * resolution.sigma_keVee(0.5 * (u0 + u1) / gain)
    return _gaussian_cdf_at_edges(u0, u1, sigma, obs_edges)


def smeared_probabilities(parts: tuple[np.ndarray, ...]) -> np.ndarray:
    """(n_true, n_edges − 1) probabilities of the bins between consecutive edges from the
    parts of :func:`smeared_cdf` (each part differenced on its own: no cancellation).
    Differences of nearly equal CDFs can round to −1e-16: probabilities are >= 0."""
    total = np.diff(parts[0], axis=1)
    for part in parts[1:]:
        total += np.diff(part, axis=1)
    return np.clip(total, 0.0, None, out=total)


def response_matrices(
    true_edges_keVnr: np.ndarray,
    model: DetectorModel,
    efficiencies: list[EfficiencyModel],
    *,
    quenching: QuenchingModel | None = None,
    resolution: ResolutionModel | None = None,
    bin_edges: np.ndarray | None = None,
) -> list[np.ndarray]:
    """:func:`response_matrix` for several efficiencies with the same quenching and
    resolution (nominal and the threshold's ±1σ): the smeared CDF is computed once, on the
    union of their fine bins, and each matrix takes the columns at its own fine edges, so
    every matrix equals the one :func:`response_matrix` builds alone."""
    q = model.quenching if quenching is None else quenching
    res = model.resolution if resolution is None else resolution
    edges = model.bin_edges if bin_edges is None else np.asarray(bin_edges, dtype=float)
    discrete = res.kind == "counting"
    grids = [
        cached_fine_edges(edges, eff, model.fine_bins_per_bin, discrete) for eff in efficiencies
    ]
    union = grids[0][0] if len(grids) == 1 else np.unique(np.concatenate([g for g, _ in grids]))
    parts = smeared_cdf(true_edges_keVnr, union, q, res, model.gain)
    out = []
    for (fine, index), eff in zip(grids, efficiencies, strict=True):
        if fine is not union:
            columns = np.searchsorted(union, fine)
            smear = smeared_probabilities(tuple(p[:, columns] for p in parts))
        else:
            smear = smeared_probabilities(parts)
        smear *= eff(0.5 * (fine[1:] + fine[:-1]))[None, :]
        out.append(rebin(smear, index))
    return out


# The fine grid depends on the analysis edges and the efficiency alone: the nominal one serves
# the quenching and resolution variations too, and a scan asks again at every point with
# the same efficiency. Keyed by value (the edges' bytes, the efficiency's frozen dataclass).
_FINE_CACHE: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_FINE_CACHE_SIZE = 64


def cached_fine_edges(edges: np.ndarray, efficiency, n_fine: int, discrete: bool):
    """:func:`fine_edges`, cached by value (read-only arrays)."""
    edges = np.asarray(edges, dtype=float)
    try:
        key = (edges.tobytes(), efficiency, n_fine, discrete, _MAX_STEP, _MAX_BEND, _MAX_HALVINGS)
        hash(key)
    except TypeError:  # an efficiency that is not hashable (e.g. holds arrays): no cache
        return fine_edges(edges, efficiency, n_fine=n_fine, discrete=discrete)
    cached = _FINE_CACHE.get(key)
    if cached is None:
        cached = fine_edges(edges, efficiency, n_fine=n_fine, discrete=discrete)
        _remember(_FINE_CACHE, _FINE_CACHE_SIZE, key, list(cached), cached)
    return cached


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
    eff = model.efficiency if efficiency is None else efficiency
    return response_matrices(
        true_edges_keVnr,
        model,
        [eff],
        quenching=quenching,
        resolution=resolution,
        bin_edges=bin_edges,
    )[0]


def variation_settings(model: DetectorModel) -> dict[str, tuple[dict, dict]]:
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
    """The nominal response matrix and the (down, up) matrices of every varied parameter.

    Variations of the efficiency alone (the threshold) share the nominal smearing
    (:func:`response_matrices`); the others rebuild it."""
    settings = variation_settings(model)
    efficiency_only = [
        name for name, pair in settings.items() if all(set(s) == {"efficiency"} for s in pair)
    ]
    efficiencies = [model.efficiency]
    for name in efficiency_only:
        efficiencies += [settings[name][0]["efficiency"], settings[name][1]["efficiency"]]
    shared = response_matrices(true_edges_keVnr, model, efficiencies, bin_edges=bin_edges)
    nominal = shared[0]
    variations = {}
    for name, (down, up) in settings.items():
        if name in efficiency_only:
            k = 1 + 2 * efficiency_only.index(name)
            variations[name] = (shared[k], shared[k + 1])
        else:
            variations[name] = (
                response_matrix(true_edges_keVnr, model, bin_edges=bin_edges, **down),
                response_matrix(true_edges_keVnr, model, bin_edges=bin_edges, **up),
            )
    return nominal, variations
