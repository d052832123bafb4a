"""Sources given directly rather than computed from a physical model: a monoenergetic line
(:func:`make_line_source`), or any spectrum from a two-column CSV table
(:func:`load_spectrum_csv`, :func:`make_table_source`) normalised to a given flux.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.sources.base import FluxComponent, Source, _normalised, gauss_legendre_nodes

__all__ = ["make_line_source", "make_table_source", "load_spectrum_csv"]


def make_line_source(
    *,
    name: str = "line",
    enu_MeV: float,
    flux_cm2_s: float,
    flavour: str = "nu_e",
    timing: str | None = None,
    flux_uncertainty: float = 0.0,
    distance_m: float | None = None,
) -> Source:
    """A monoenergetic source: one node at ``enu_MeV`` with weight one."""
    comp = FluxComponent(
        flavour, flavour, flux_cm2_s, np.array([float(enu_MeV)]), np.ones(1), timing
    )
    return Source(
        name=name,
        kind="line",
        components=(comp,),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        parameters={"enu_MeV": enu_MeV},
    )


def load_spectrum_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column CSV spectrum (enu_MeV, relative spectrum per MeV); '#' lines are comments.

    A first line that is not numeric is taken as a header. Energies must be finite, ≥ 0 and
    strictly increasing; values finite, ≥ 0 and not all zero; at least two rows.
    """
    path = Path(path)
    rows: list[tuple[float, float]] = []
    with path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            cells = [c.strip() for c in row]
            if not cells or not any(cells) or cells[0].startswith("#"):
                continue
            if len(cells) != 2:
                raise InputError(
                    f"{path}: line {lineno}: expected 2 columns (enu_MeV, spectrum), "
                    f"got {len(cells)}"
                )
            try:
                rows.append((float(cells[0]), float(cells[1])))
            except ValueError:
                if rows:
                    raise InputError(f"{path}: line {lineno}: non-numeric value {row!r}") from None
                continue  # header line
    if len(rows) < 2:
        raise InputError(f"{path}: a spectrum table needs at least 2 rows of (enu_MeV, spectrum)")
    table = np.array(rows)
    enu, spec = table[:, 0], table[:, 1]
    if not np.all(np.isfinite(table)):
        raise InputError(f"{path}: NaN or infinite values; energies and spectrum must be finite")
    if np.any(enu < 0):
        raise InputError(f"{path}: negative neutrino energy; enu_MeV must be >= 0")
    if np.any(np.diff(enu) <= 0):
        raise InputError(f"{path}: enu_MeV must be strictly increasing (sorted, no duplicates)")
    if np.any(spec < 0):
        raise InputError(f"{path}: negative spectrum value; the spectrum must be >= 0")
    if not np.any(spec > 0):
        raise InputError(f"{path}: the spectrum is zero everywhere")
    return enu, spec


def make_table_source(
    *,
    name: str = "table",
    enu_MeV: np.ndarray,
    spectrum: np.ndarray,
    flux_cm2_s: float,
    flavour: str = "nu_e",
    timing: str | None = None,
    flux_uncertainty: float = 0.0,
    distance_m: float | None = None,
    nodes_total: int = 512,
    order: int = 4,
) -> Source:
    """A source from a tabulated spectrum, linearly interpolated and normalised to ``flux_cm2_s``.

    Each table interval gets its own Gauss–Legendre panels (so kinks of the table fall on panel
    edges), ~``nodes_total`` nodes in all.
    """
    enu_MeV = np.asarray(enu_MeV, dtype=float)
    spectrum = np.asarray(spectrum, dtype=float)
    n_int = len(enu_MeV) - 1
    per_int = max(1, math.ceil(nodes_total / (order * n_int)))
    nodes, rule = [], []
    for a, b in zip(enu_MeV[:-1], enu_MeV[1:], strict=True):
        n, w = gauss_legendre_nodes(a, b, per_int, order)
        nodes.append(n)
        rule.append(w)
    nodes_a, rule_a = np.concatenate(nodes), np.concatenate(rule)
    enu, w = _normalised(nodes_a, rule_a, np.interp(nodes_a, enu_MeV, spectrum))
    comp = FluxComponent(flavour, flavour, flux_cm2_s, enu, w, timing)
    return Source(
        name=name,
        kind="table",
        components=(comp,),
        flux_uncertainty=flux_uncertainty,
        distance_m=distance_m,
        parameters={"table_enu_MeV_range": [float(enu_MeV[0]), float(enu_MeV[-1])]},
    )
