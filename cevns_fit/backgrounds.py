"""Backgrounds in the observable (keVee or PE), as rates per kg per live day.

Every background is stored as a piecewise-constant density: counts per observable unit per kg
per live day, before detector efficiency. The detector model converts the units a user gives
(a flat steady-state rate reduced by the beam duty factor; a measured histogram of counts at the
model's exposure; a beam-related shape per GW·hr of beam) into this one form when it loads,
so templates only integrate densities over bins. Kinds:

* ``steady_state`` -- cosmic and radioactive, present with and without beam. At a pulsed
  source only the fraction of live time inside the beam window counts (``duty_factor``, e.g.
  60 Hz × 12 µs = 7.2e-4 for COHERENT CsI 2017), unless the rate was measured in an equivalent
  window (beam-off or anticoincidence data), in which case it is already "in window".
* ``beam`` -- beam-related (prompt) neutrons: shape and normalisation, scaling with beam exposure.
* ``tabulated`` -- any other component given as a table.

A background either has a normalisation uncertainty (``norm_uncertainty``, a normsys in the
likelihood) or is ``constrained_by`` a control measurement (a free normfactor shared with a
control channel whose expected counts are ``control_ratio`` times the signal-window counts).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError

__all__ = ["Background", "flat_density", "histogram_density", "read_histogram_table"]

BACKGROUND_KINDS = ("steady_state", "beam", "tabulated")


@dataclass(frozen=True)
class Background:
    """A background density in the observable: ``density`` (counts / unit / kg / live day) on
    the piecewise-constant bins ``edges``; ``edges=None`` means flat over every observable value."""

    name: str
    kind: str
    density: np.ndarray
    edges: np.ndarray | None = None
    norm_uncertainty: float = 0.0
    constrained_by: str | None = None
    control_ratio: float = 1.0
    apply_efficiency: bool = True
    note: str = ""

    def counts_per_kg_day(self, obs_edges: np.ndarray) -> np.ndarray:
        """Expected counts per kg per live day in each bin of ``obs_edges`` (before efficiency)."""
        obs_edges = np.asarray(obs_edges, dtype=float)
        if self.edges is None:
            return float(self.density[0]) * np.diff(obs_edges)
        # Integrate the piecewise-constant density exactly: interpolate its cumulative integral.
        cumulative = np.concatenate([[0.0], np.cumsum(self.density * np.diff(self.edges))])
        return np.diff(np.interp(obs_edges, self.edges, cumulative))

    def scaled(self, factor: float) -> Background:
        return replace(self, density=self.density * factor)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "norm_uncertainty": self.norm_uncertainty,
            "constrained_by": self.constrained_by,
            "control_ratio": self.control_ratio,
            "apply_efficiency": self.apply_efficiency,
            "flat": self.edges is None,
            "note": self.note,
        }


def flat_density(rate_per_unit_kg_day: float) -> np.ndarray:
    """A flat density (counts per observable unit per kg per day) as a one-element array."""
    return np.array([float(rate_per_unit_kg_day)])


def histogram_density(
    centres: np.ndarray, counts_per_bin: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (midpoints between centres, end bins symmetric) and the density counts/width."""
    centres = np.asarray(centres, dtype=float)
    if len(centres) == 1:
        raise InputError("a background table needs at least two bins")
    mids = 0.5 * (centres[1:] + centres[:-1])
    edges = np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])
    return edges, np.asarray(counts_per_bin, dtype=float) / np.diff(edges)


def read_histogram_table(
    path: Path, *, time_max_us: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(bin centre, counts)`` from a 2-column table or ``(x, t, counts)`` from a
    3-column table (COHERENT PE × arrival-time data), summing over the time bins whose centre
    is below ``time_max_us`` (all if None). Comma- or space-separated, '#' comments, an optional
    text header line. Returns (centres, counts per bin)."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            parts = [p for p in text.replace(",", " ").split()]
            try:
                rows.append([float(p) for p in parts])
            except ValueError:
                if (
                    not rows
                ):  # a header line such as "Photoelectrons (PEs),Arrival time (us),Counts"
                    continue
                raise InputError(f"background table {path}, line {lineno}: not numbers") from None
    if not rows or len({len(r) for r in rows}) != 1 or len(rows[0]) not in (2, 3):
        raise InputError(
            f"background table {path}: expected 2 columns (centre, counts) or 3 (x, t, counts)"
        )
    table = np.array(rows)
    if not np.all(np.isfinite(table)) or np.any(table[:, -1] < 0):
        raise InputError(f"background table {path}: counts must be finite and >= 0")
    if table.shape[1] == 2:
        order = np.argsort(table[:, 0])
        return table[order, 0], table[order, 1]
    if time_max_us is not None:
        table = table[table[:, 1] < time_max_us]
    centres, inverse = np.unique(table[:, 0], return_inverse=True)
    return centres, np.bincount(inverse, weights=table[:, 2], minlength=len(centres))
