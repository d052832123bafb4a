"""Tabulated shapes from files: 1-D to 3-D histograms in the layouts data releases use.

A model file points at a table and names its columns; :func:`read_table` returns a
:class:`Histogram` (axis names, bin edges per axis, values on the full grid), and everything
downstream maps histograms onto the analysis bins with :meth:`Histogram.on_bins` (templates:
piecewise-constant densities, exact for any binning) or :meth:`Histogram.counts_on_bins`
(observed data: bins must line up, events are never split).

Layouts
-------
``rows`` (default): one row per bin, comma- or white-space separated, ``#`` comments, an
optional text header line. ``columns`` names every column in order:

* an axis given by its bin centre: ``"energy"``, ``"time"`` or ``"psd"``; edges are the
  midpoints between neighbouring centres (the outer bins mirror their neighbours);
* an axis given by its edges: ``"energy_low"`` and ``"energy_high"`` (any axis);
* exactly one value column, any other name (``"counts"``, ``"prob"``, ``"rate"``, ...);
* ``"_"`` for a column to ignore (e.g. an error column).

The rows must fill the grid of the axes once each (missing or repeated bins are errors). If the
model gives no ``columns``, a header line naming the axes is used; without one, two columns
are (energy, value) and three (energy, time, value).

``matrix``: a grid of numbers, one line per bin of the first axis and one column per bin of
the second (2-D), with the edges (or centres) of both axes given in the model file.

Every error is an :class:`~cevns_fit.errors.InputError` naming the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError

__all__ = [
    "AXIS_NAMES",
    "Histogram",
    "read_table",
    "histogram_from_rows",
    "read_matrix",
    "overlap_matrix",
    "edges_from_centres",
    "describe_edges",
]

AXIS_NAMES = ("energy", "time", "psd")
_IGNORE = "_"


def edges_from_centres(centres: np.ndarray, *, source: str) -> np.ndarray:
    """Bin edges half-way between strictly increasing centres; the outer bins mirror their
    neighbours (a single centre is not enough to know a width)."""
    centres = np.asarray(centres, dtype=float)
    if len(centres) < 2:
        raise InputError(f"{source}: needs at least two bins to infer bin edges from centres")
    if not np.all(np.isfinite(centres)) or np.any(np.diff(centres) <= 0):
        raise InputError(f"{source}: bin centres must be finite and strictly increasing")
    mids = 0.5 * (centres[1:] + centres[:-1])
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


def overlap_matrix(table_edges: np.ndarray, target_edges: np.ndarray) -> np.ndarray:
    """(n_target, n_table): the fraction of each table bin that lies inside each target bin.

    Multiplying a histogram by it integrates the piecewise-constant density the histogram
    describes over the target bins: exact for any binning, and it conserves counts wherever
    the target bins cover the table's."""
    a = np.asarray(table_edges, dtype=float)
    b = np.asarray(target_edges, dtype=float)
    lo = np.maximum(b[:-1, None], a[None, :-1])
    hi = np.minimum(b[1:, None], a[None, 1:])
    return np.clip(hi - lo, 0.0, None) / np.diff(a)[None, :]


@dataclass(frozen=True)
class Histogram:
    """Values on a grid of bins: ``values[i_axis0, i_axis1, ...]`` with ``edges[k]`` the bin
    edges of axis ``axes[k]`` (energy in the observable, time in µs, psd dimensionless)."""

    axes: tuple[str, ...]
    edges: tuple[np.ndarray, ...]
    values: np.ndarray
    source: str = "table"

    def __post_init__(self) -> None:
        shape = tuple(len(e) - 1 for e in self.edges)
        if np.shape(self.values) != shape:
            raise ValueError(f"{self.source}: values of shape {np.shape(self.values)} != {shape}")

    def has(self, axis: str) -> bool:
        return axis in self.axes

    def edges_of(self, axis: str) -> np.ndarray:
        return self.edges[self.axes.index(axis)]

    @property
    def total(self) -> float:
        return float(np.sum(self.values))

    def scaled(self, factor: float) -> Histogram:
        return replace(self, values=self.values * factor)

    def on_bins(self, target: dict[str, np.ndarray], order: tuple[str, ...]) -> np.ndarray:
        """The histogram as a piecewise-constant density integrated over ``target`` bins.

        ``target`` maps axis names to bin edges; ``order`` gives the axes of the result (every
        axis of the histogram must be in ``target``; an axis of ``order`` the histogram lacks is
        an error; axes of ``target`` not in ``order`` restrict the range and are summed)."""
        missing = [a for a in self.axes if a not in target]
        if missing:
            raise InputError(
                f"{self.source}: has axis {missing[0]!r} which the analysis does not have "
                f"(analysis axes: {list(order)})"
            )
        absent = [a for a in order if a not in self.axes]
        if absent:
            raise InputError(f"{self.source}: no {absent[0]!r} column; give its shape separately")
        out = self.values
        for k, axis in enumerate(self.axes):
            w = overlap_matrix(self.edges[k], target[axis])
            out = np.moveaxis(np.tensordot(w, out, axes=([1], [k])), 0, k)
        # sum the axes that only restrict the range, then put the rest in the requested order
        keep = [k for k, a in enumerate(self.axes) if a in order]
        summed = tuple(k for k in range(len(self.axes)) if k not in keep)
        out = out.sum(axis=summed) if summed else out
        kept_names = [self.axes[k] for k in keep]
        return np.transpose(out, [kept_names.index(a) for a in order])

    def counts_on_bins(self, target: dict[str, np.ndarray], order: tuple[str, ...]) -> np.ndarray:
        """Observed counts summed into ``target`` bins without splitting any table bin: every
        table bin inside the analysis range must lie inside one target bin (bins outside the
        range are dropped). Otherwise an error names both binnings."""
        for k, axis in enumerate(self.axes):
            if axis not in target:
                continue
            w = overlap_matrix(self.edges[k], target[axis])
            inside = w.sum(axis=0)  # fraction of each table bin inside the analysis range
            split = (inside > 1e-9) & (w.max(axis=0) < 1 - 1e-9)
            empty = w.sum(axis=1) <= 0  # model bins no table bin falls into
            if np.any(split) or np.any(empty):
                raise InputError(
                    f"{self.source}: its {axis} bins {describe_edges(self.edges[k])} do not line "
                    f"up with the model's {axis} bins {describe_edges(target[axis])}"
                )
        return self.on_bins(target, order)


def describe_edges(edges: np.ndarray) -> str:
    """Bin edges for an error message: all of them, or the first two and the last."""
    e = np.asarray(edges, dtype=float)
    if len(e) <= 6:
        return "[" + ", ".join(f"{x:g}" for x in e) + "]"
    return f"[{e[0]:g}, {e[1]:g}, ..., {e[-1]:g}] ({len(e) - 1} bins)"


def _split(line: str) -> list[str]:
    return [p for p in line.replace(",", " ").replace(";", " ").split()]


def _text_lines(path: Path, what: str) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{what} {path}: is a directory, expected a table file") from None
    except PermissionError:
        raise InputError(f"{what} {path}: not readable (permission denied)") from None
    except UnicodeDecodeError:
        raise InputError(f"{what} {path}: not a text file") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0].strip()
        if stripped:
            out.append((lineno, stripped))
    return out


def _numbers(fields: list[str]) -> list[float] | None:
    try:
        return [float(f) for f in fields]
    except ValueError:
        return None


def _column_roles(columns: list[str], source: str) -> tuple[dict[str, tuple[int, ...]], int]:
    """{axis: (centre column,) or (low column, high column)} and the value column's index."""
    axes: dict[str, list[tuple[str, int]]] = {}
    values = []
    for i, name in enumerate(columns):
        if name == _IGNORE:
            continue
        base, _, end = name.rpartition("_")
        if name in AXIS_NAMES:
            axes.setdefault(name, []).append(("centre", i))
        elif end in ("low", "high") and base in AXIS_NAMES:
            axes.setdefault(base, []).append((end, i))
        else:
            values.append(i)
    if len(values) != 1:
        raise InputError(
            f"{source}: columns {columns} must name exactly one value column besides the axes "
            f"{list(AXIS_NAMES)} (or <axis>_low/<axis>_high); use '_' for columns to ignore"
        )
    if not axes:
        raise InputError(f"{source}: columns {columns} name no axis ({', '.join(AXIS_NAMES)})")
    roles: dict[str, tuple[int, ...]] = {}
    for axis, parts in axes.items():
        kinds = sorted(k for k, _ in parts)
        if kinds == ["centre"]:
            roles[axis] = (parts[0][1],)
        elif kinds == ["high", "low"]:
            d = dict(parts)
            roles[axis] = (d["low"], d["high"])
        else:
            raise InputError(
                f"{source}: axis {axis!r} must be one centre column or {axis}_low and {axis}_high"
            )
    return roles, values[0]


_POSITIONAL = {2: ["energy", "counts"], 3: ["energy", "time", "counts"]}


def _default_columns(header: list[str] | None, n: int, source: str) -> list[str]:
    """Columns when the model names none: the header's if it names an axis, else by position
    (2 columns: energy, value; 3 columns: energy, time, value)."""
    if (
        header is not None
        and len(header) == n
        and any(h in AXIS_NAMES or h.rpartition("_")[0] in AXIS_NAMES for h in header)
    ):
        return header
    if n in _POSITIONAL:
        return _POSITIONAL[n]
    raise InputError(
        f"{source}: {n} columns and no header naming them; name the columns in the model "
        "file (columns = [...])"
    )


def read_table(
    path: str | Path,
    columns: list[str] | None = None,
    *,
    what: str = "table",
    value_range: tuple[float, float] = (0.0, math.inf),
) -> Histogram:
    """Read a ``rows``-layout table (module docstring) into a :class:`Histogram`.

    ``what`` names the table in errors (e.g. "background 'neutrons' table"); values must be
    finite and inside ``value_range`` (default: >= 0)."""
    path = Path(path)
    source = f"{what} {path}"
    lines = _text_lines(path, what)
    header = None
    rows: list[list[float]] = []
    for lineno, line in lines:
        fields = _split(line)
        values = _numbers(fields)
        if values is None:
            if not rows and header is None:
                header = [f.strip().lower() for f in line.replace(";", ",").split(",")]
                if len(header) == 1:
                    header = [f.lower() for f in fields]
                continue
            raise InputError(f"{source}: line {lineno} is not numbers: {line!r:.60}")
        rows.append(values)
    if not rows:
        raise InputError(f"{source}: no data rows")
    if columns is None:
        columns = _default_columns(header, len(rows[0]), source)
    n_cols = {len(r) for r in rows}
    if n_cols != {len(columns)}:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(columns))
        raise InputError(
            f"{source}: data row {bad + 1} has {len(rows[bad])} columns, "
            f"the model names {len(columns)} ({', '.join(columns)})"
        )
    return histogram_from_rows(np.array(rows, dtype=float), columns, source, value_range)


def histogram_from_rows(
    table: np.ndarray,
    columns: list[str],
    source: str,
    value_range: tuple[float, float] = (0.0, math.inf),
) -> Histogram:
    """A :class:`Histogram` from numeric rows whose columns are named by ``columns`` (module
    docstring); ``source`` names the input in errors."""
    if not np.all(np.isfinite(table)):
        raise InputError(f"{source}: every entry must be a finite number (NaN/inf found)")
    roles, value_col = _column_roles(list(columns), source)
    values = table[:, value_col]
    lo, hi = value_range
    if np.any(values < lo) or np.any(values > hi):
        i = int(np.argmax((values < lo) | (values > hi)))
        raise InputError(
            f"{source}: value {values[i]:g} in data row {i + 1} is outside [{lo:g}, {hi:g}]"
        )
    axes, edges, index = [], [], []
    for axis in AXIS_NAMES:  # canonical order: energy, time, psd
        if axis not in roles:
            continue
        cols = roles[axis]
        if len(cols) == 1:
            centres = np.unique(table[:, cols[0]])
            e = edges_from_centres(centres, source=f"{source} ({axis} centres)")
            idx = np.searchsorted(centres, table[:, cols[0]])
        else:
            lows, highs = table[:, cols[0]], table[:, cols[1]]
            if np.any(highs <= lows):
                raise InputError(f"{source}: {axis}_high must be > {axis}_low in every row")
            ulo, inv = np.unique(lows, return_inverse=True)
            uhi = np.array([highs[inv == k][0] for k in range(len(ulo))])
            if np.any(np.abs(highs - uhi[inv]) > 1e-9 * np.maximum(1.0, np.abs(highs))) or (
                len(ulo) > 1 and not np.allclose(ulo[1:], uhi[:-1])
            ):
                raise InputError(
                    f"{source}: {axis} bins must be contiguous (each {axis}_low equal to the "
                    f"previous {axis}_high)"
                )
            e = np.append(ulo, uhi[-1])
            idx = inv
        axes.append(axis)
        edges.append(e)
        index.append(idx)
    shape = tuple(len(e) - 1 for e in edges)
    grid = np.full(shape, np.nan)
    flat = np.ravel_multi_index(tuple(index), shape)
    counts = np.bincount(flat, minlength=int(np.prod(shape)))
    if np.any(counts > 1):
        k = np.unravel_index(int(np.argmax(counts > 1)), shape)
        where = ", ".join(f"{a} bin {i}" for a, i in zip(axes, k, strict=True))
        raise InputError(f"{source}: a bin appears twice ({where})")
    if np.any(counts == 0):
        k = np.unravel_index(int(np.argmax(counts == 0)), shape)
        where = ", ".join(
            f"{a} [{edges[j][i]:g}, {edges[j][i + 1]:g})"
            for j, (a, i) in enumerate(zip(axes, k, strict=True))
        )
        raise InputError(f"{source}: missing bin {where} (rows must fill the grid once each)")
    grid.ravel()[flat] = values
    return Histogram(tuple(axes), tuple(edges), grid, source=source)


def read_matrix(
    path: str | Path,
    axes: tuple[str, str],
    edges: tuple[np.ndarray, np.ndarray],
    *,
    what: str = "table",
    value_range: tuple[float, float] = (0.0, math.inf),
) -> Histogram:
    """Read a ``matrix``-layout table: one line per bin of ``axes[0]``, one column per bin of
    ``axes[1]``, with the bin edges of both given by the caller (from the model file)."""
    path = Path(path)
    source = f"{what} {path}"
    rows = []
    for lineno, line in _text_lines(path, what):
        values = _numbers(_split(line))
        if values is None:
            raise InputError(f"{source}: line {lineno} is not numbers: {line!r:.60}")
        rows.append(values)
    shape = (len(edges[0]) - 1, len(edges[1]) - 1)
    if len(rows) != shape[0] or any(len(r) != shape[1] for r in rows):
        got = (len(rows), max((len(r) for r in rows), default=0))
        raise InputError(
            f"{source}: a {shape[0]} × {shape[1]} matrix ({axes[0]} × {axes[1]} bins) was "
            f"expected, the file holds {got[0]} rows of up to {got[1]} numbers"
        )
    grid = np.array(rows, dtype=float)
    lo, hi = value_range
    if not np.all(np.isfinite(grid)) or np.any(grid < lo) or np.any(grid > hi):
        raise InputError(f"{source}: entries must be finite and inside [{lo:g}, {hi:g}]")
    return Histogram(tuple(axes), tuple(np.asarray(e, float) for e in edges), grid, source=source)
