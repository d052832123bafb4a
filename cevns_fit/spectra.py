"""Measured binned spectra in: CSV or JSON files, one or several channels, validated once.

What to use when
----------------
* :func:`read_spectra` reads a file (CSV or JSON, chosen by its extension) and returns
  ``{channel name: BinnedSpectrum}``. Every count is checked: finite, non-negative and a whole
  number, at least one bin; bin edges strictly increasing. A bad file raises
  :class:`~cevns_fit.errors.InputError` naming the file, the channel and what is allowed.
* :func:`data_for_channels` matches spectra to a model's channels (names and bin counts) and
  returns the ``{channel: counts}`` dict that :meth:`AnalysisTemplates.with_data` takes.
* :func:`observed_counts` gives the observed counts of every channel of a model's templates,
  from the model's own ``[[observations]]`` or from a file (1-D or N-D, below), summing
  finer data bins into the model's and refusing bins that do not line up (exit 2 naming both
  binnings).

File formats
------------
CSV: one header line naming the columns, then one line per bin; ``#`` starts a comment line.
Columns (case-insensitive): ``counts`` (required; alias ``count``, ``n``); either ``low`` and
``high`` (the bin edges; aliases ``bin_low``/``lo``, ``bin_high``/``hi``), or ``center``
(alias ``centre``, ``bin_center``); optionally ``channel`` for several channels in one file
(rows of a channel in increasing bin order). Without a ``channel`` column the single channel
takes the name given by the caller (default ``"data"``)::

    channel,low,high,counts
    beam_on,6,8,41
    beam_on,8,10,52

N-D CSV (energy × time × psd analyses): columns named after the axes, each the bin centre
(``energy``, ``time``, ``psd``) or its edges (``energy_low``, ``energy_high``, ...), a
``counts`` column and optionally ``channel``; every channel's rows fill its grid once::

    channel,energy,time,counts
    beam_on,7,0.25,3
    beam_on,7,0.75,12

JSON: either ``{"channels": [{"name": ..., "counts": [...], "bin_edges": [...]}, ...]}``
(``bin_edges`` optional), or the ``observations`` list of a pyhf workspace
(``{"observations": [{"name": ..., "data": [...]}]}``), or a plain mapping
``{"channel name": [counts...]}``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.tables import AXIS_NAMES, Histogram, describe_edges, histogram_from_rows

__all__ = [
    "BinnedSpectrum",
    "validate_counts",
    "read_spectra",
    "read_spectra_csv",
    "read_spectra_json",
    "data_for_channels",
    "read_nd_spectra_csv",
    "observed_counts",
]

_COUNT_NAMES = ("counts", "count", "n")
_LOW_NAMES = ("low", "bin_low", "lo")
_HIGH_NAMES = ("high", "bin_high", "hi")
_CENTER_NAMES = ("center", "centre", "bin_center", "bin_centre")


@dataclass(frozen=True)
class BinnedSpectrum:
    """Observed counts of one channel; ``bin_edges`` (len n+1) when the file gives them."""

    channel: str
    counts: np.ndarray
    bin_edges: np.ndarray | None = None

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> float:
        return float(np.sum(self.counts))

    def to_dict(self) -> dict:
        return {
            "channel": self.channel,
            "counts": self.counts.tolist(),
            "bin_edges": None if self.bin_edges is None else self.bin_edges.tolist(),
        }


def validate_counts(values, *, source: str) -> np.ndarray:
    """Observed counts as a float array: finite, >= 0, whole numbers, at least one bin.

    ``source`` names the input in the error (e.g. ``"spectrum.csv, channel 'beam_on'"``).
    """
    try:
        counts = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{source}: counts must be numbers, got {values!r:.60}") from None
    if counts.ndim != 1 or counts.size == 0:
        raise InputError(f"{source}: counts must be a non-empty list of numbers")
    bad = ~np.isfinite(counts)
    if bad.any():
        raise InputError(f"{source}: count in bin {int(np.argmax(bad))} is not finite (NaN/inf)")
    if (counts < 0).any():
        i = int(np.argmax(counts < 0))
        raise InputError(f"{source}: count in bin {i} is negative ({counts[i]:g}); counts are >= 0")
    fractional = counts != np.round(counts)
    if fractional.any():
        i = int(np.argmax(fractional))
        raise InputError(
            f"{source}: count in bin {i} is not a whole number ({counts[i]:g}); "
            "observed data are event counts"
        )
    return counts


def _validate_edges(edges, n_bins: int, *, source: str) -> np.ndarray:
    try:
        edges = np.asarray(edges, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{source}: bin edges must be numbers") from None
    if edges.ndim != 1 or len(edges) != n_bins + 1:
        raise InputError(
            f"{source}: {n_bins} counts need {n_bins + 1} bin edges, got {np.size(edges)}"
        )
    if not np.isfinite(edges).all() or not (np.diff(edges) > 0).all():
        raise InputError(f"{source}: bin edges must be finite and strictly increasing")
    return edges


def _edges_from_centers(centers: np.ndarray, *, source: str) -> np.ndarray:
    """Edges half-way between increasing centres; the outer bins mirror their neighbours."""
    if not np.isfinite(centers).all() or not (np.diff(centers) > 0).all():
        raise InputError(f"{source}: bin centres must be finite and strictly increasing")
    if len(centers) == 1:
        return np.array([centers[0] - 0.5, centers[0] + 0.5])
    mid = 0.5 * (centers[1:] + centers[:-1])
    return np.concatenate([[2 * centers[0] - mid[0]], mid, [2 * centers[-1] - mid[-1]]])


def _column(header: list[str], names: tuple[str, ...]) -> int | None:
    for i, h in enumerate(header):
        if h in names:
            return i
    return None


def _csv_rows(path: Path) -> list[list[str]]:
    """The rows of a CSV file that hold something, ``#`` comment lines dropped."""
    return [
        row
        for row in csv.reader(
            line for line in _read_text(path).splitlines() if not line.lstrip().startswith("#")
        )
        if row and any(cell.strip() for cell in row)
    ]


def read_spectra_csv(
    path: str | Path, *, channel: str = "data", rows: list[list[str]] | None = None
) -> dict[str, BinnedSpectrum]:
    """Spectra from a CSV file (format in the module docstring), keyed by channel name
    (``rows``: the file's rows if already read)."""
    path = Path(path)
    rows = _csv_rows(path) if rows is None else rows
    if not rows:
        raise InputError(f"{path}: empty spectrum file (need a header line and one line per bin)")
    header = [h.strip().lower() for h in rows[0]]
    i_counts = _column(header, _COUNT_NAMES)
    i_low, i_high = _column(header, _LOW_NAMES), _column(header, _HIGH_NAMES)
    i_center, i_channel = _column(header, _CENTER_NAMES), _column(header, ("channel",))
    if i_counts is None:
        raise InputError(
            f"{path}: header {rows[0]!r} has no 'counts' column; expected columns "
            "[channel,] low, high, counts  or  [channel,] center, counts"
        )
    if (i_low is None) != (i_high is None):
        raise InputError(f"{path}: give both 'low' and 'high' bin-edge columns, or 'center'")
    if len(rows) == 1:
        raise InputError(f"{path}: no bins after the header line")

    per_channel: dict[str, list[tuple[int, list[str]]]] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(
                f"{path}: data row {line_no - 1} has {len(row)} fields, header has {len(header)}"
            )
        name = row[i_channel].strip() if i_channel is not None else channel
        if not name:
            raise InputError(f"{path}: data row {line_no - 1} has an empty channel name")
        per_channel.setdefault(name, []).append((line_no, row))

    spectra: dict[str, BinnedSpectrum] = {}
    for name, items in per_channel.items():
        source = f"{path}, channel '{name}'"

        def numbers(index: int, what: str, _items=items, _source=source) -> np.ndarray:
            try:
                return np.array([float(r[index]) for _, r in _items])
            except ValueError:
                raise InputError(f"{_source}: column '{what}' must hold numbers") from None

        counts = validate_counts(numbers(i_counts, "counts"), source=source)
        edges = None
        if i_low is not None:
            low, high = numbers(i_low, "low"), numbers(i_high, "high")
            if not (high > low).all() or not np.allclose(low[1:], high[:-1]):
                raise InputError(
                    f"{source}: bins must be contiguous and increasing (high > low, "
                    "each low equal to the previous high)"
                )
            edges = _validate_edges(np.append(low, high[-1]), len(counts), source=source)
        elif i_center is not None:
            edges = _edges_from_centers(numbers(i_center, "center"), source=source)
        spectra[name] = BinnedSpectrum(name, counts, edges)
    return spectra


def read_spectra_json(path: str | Path) -> dict[str, BinnedSpectrum]:
    """Spectra from a JSON file (three layouts, see the module docstring)."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise InputError(f"{path}: empty spectrum file")
    try:
        doc = json.loads(text, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: malformed JSON ({exc.msg}, line {exc.lineno})") from None

    entries: list[tuple[str, object, object]] = []
    if isinstance(doc, dict) and isinstance(doc.get("channels"), list):
        for k, ch in enumerate(doc["channels"]):
            if not isinstance(ch, dict) or "name" not in ch or "counts" not in ch:
                raise InputError(f"{path}: channels[{k}] needs 'name' and 'counts'")
            entries.append((str(ch["name"]), ch["counts"], ch.get("bin_edges")))
    elif isinstance(doc, dict) and isinstance(doc.get("observations"), list):
        for k, ob in enumerate(doc["observations"]):
            if not isinstance(ob, dict) or "name" not in ob or "data" not in ob:
                raise InputError(f"{path}: observations[{k}] needs 'name' and 'data'")
            entries.append((str(ob["name"]), ob["data"], None))
    elif isinstance(doc, dict) and doc and all(isinstance(v, list) for v in doc.values()):
        entries = [(str(k), v, None) for k, v in doc.items()]
    else:
        raise InputError(
            f"{path}: expected {{'channels': [{{'name', 'counts', 'bin_edges'}}]}}, a pyhf "
            "'observations' list, or {channel: [counts]}"
        )
    if not entries:
        raise InputError(f"{path}: no channels in the file")

    spectra: dict[str, BinnedSpectrum] = {}
    for name, raw_counts, raw_edges in entries:
        source = f"{path}, channel '{name}'"
        if name in spectra:
            raise InputError(f"{source}: channel given twice")
        if not isinstance(raw_counts, list) or any(
            isinstance(c, bool) or not isinstance(c, int | float) for c in raw_counts
        ):
            raise InputError(f"{source}: counts must be a list of numbers")
        counts = validate_counts(raw_counts, source=source)
        edges = (
            None if raw_edges is None else _validate_edges(raw_edges, len(counts), source=source)
        )
        spectra[name] = BinnedSpectrum(name, counts, edges)
    return spectra


def read_spectra(path: str | Path, *, channel: str = "data") -> dict[str, BinnedSpectrum]:
    """Spectra from ``path``: ``.json`` as JSON, anything else (``.csv``, ``.txt``) as CSV."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return read_spectra_json(path)
    return read_spectra_csv(path, channel=channel)


def data_for_channels(
    spectra: dict[str, BinnedSpectrum],
    channel_bins: dict[str, int],
    *,
    source: str,
) -> dict[str, np.ndarray]:
    """Observed counts for each model channel, checking names and bin counts.

    ``channel_bins`` maps the model's channel names to their number of bins. A single
    unnamed spectrum (channel ``"data"``) fits a single-channel model whatever its name.
    """
    if len(spectra) == 1 and len(channel_bins) == 1 and "data" in spectra:
        spectra = {next(iter(channel_bins)): spectra["data"]}
    missing = [name for name in channel_bins if name not in spectra]
    if missing:
        raise InputError(
            f"{source}: no data for model channel(s) {missing}; the file has {sorted(spectra)}"
        )
    extra = [name for name in spectra if name not in channel_bins]
    if extra:
        raise InputError(
            f"{source}: channel(s) {extra} are not in the model; its channels are "
            f"{sorted(channel_bins)}"
        )
    out = {}
    for name, n_bins in channel_bins.items():
        got = spectra[name].n_bins
        if got != n_bins:
            raise InputError(f"{source}: channel '{name}' has {got} bins, the model has {n_bins}")
        out[name] = spectra[name].counts
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, expected a spectrum file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected CSV or JSON)") from None


def _is_nd_header(header: list[str]) -> bool:
    return any(h in AXIS_NAMES or h.rpartition("_")[0] in AXIS_NAMES for h in header)


def read_nd_spectra_csv(
    path: str | Path, *, channel: str = "data", rows: list[list[str]] | None = None
) -> dict[str, Histogram]:
    """N-D spectra from a CSV file whose header names the axes (module docstring), keyed by
    channel name; counts validated as observed event counts (``rows``: if already read)."""
    path = Path(path)
    rows = _csv_rows(path) if rows is None else rows
    if len(rows) < 2:
        raise InputError(f"{path}: needs a header line and at least one bin")
    header = [h.strip().lower() for h in rows[0]]
    i_channel = header.index("channel") if "channel" in header else None
    columns = [("_" if i == i_channel else h) for i, h in enumerate(header)]
    per_channel: dict[str, list[list[float]]] = {}
    for line_no, row in enumerate(rows[1:], start=1):
        if len(row) != len(header):
            raise InputError(
                f"{path}: data row {line_no} has {len(row)} fields, header has {len(header)}"
            )
        name = row[i_channel].strip() if i_channel is not None else channel
        try:
            values = [0.0 if i == i_channel else float(c) for i, c in enumerate(row)]
        except ValueError:
            raise InputError(
                f"{path}: data row {line_no} holds a field that is not a number"
            ) from None
        per_channel.setdefault(name, []).append(values)
    out = {}
    for name, values in per_channel.items():
        source = f"{path}, channel '{name}'"
        hist = histogram_from_rows(np.array(values), columns, source)
        validate_counts(hist.values.ravel(), source=source)
        out[name] = hist
    return out


def _targets(channel, axis_edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Bin edges of a channel's axes; axes of the analysis the channel lacks (a control
    channel has no time axis) restrict the data to the analysis window."""
    target = {}
    for name, edges in axis_edges.items():
        if name in channel.axis_names:
            target[name] = np.asarray(channel.axis(name).edges, dtype=float)
        else:
            target[name] = np.asarray(edges, dtype=float)[[0, -1]]
    return target


def observed_counts(
    templates,
    *,
    axis_edges: dict[str, np.ndarray],
    tables: dict[str, Histogram] | None = None,
    path: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Observed counts per channel of ``templates`` (flattened like the templates).

    From ``tables`` (a model's ``[[observations]]``) or the file ``path`` (JSON or CSV, 1-D or
    N-D). ``axis_edges`` maps every analysis axis to its full edges (the analysis window of the
    axes a channel lacks). Data in finer bins are summed into the model's; data bins that
    straddle a model edge, or a binning that differs, are an InputError naming both."""
    channel_bins = {ch.name: int(np.prod(ch.shape)) for ch in templates.channels}
    source = str(path) if path is not None else "the model's observations"
    if tables is None:
        path = Path(path)
        spectra = None
        if path.suffix.lower() != ".json":  # read once, parsed as N-D or 1-D by its header
            rows = _csv_rows(path)
            header = [h.strip().lower() for h in rows[0]] if rows else []
            if _is_nd_header(header):
                tables = read_nd_spectra_csv(path, rows=rows)
            else:
                spectra = read_spectra_csv(path, rows=rows)
        if tables is None:
            spectra = read_spectra(path) if spectra is None else spectra
            data = data_for_channels(spectra, channel_bins, source=source)
            for ch in templates.channels:
                edges = spectra.get(ch.name, spectra.get("data")).bin_edges
                if edges is not None and len(ch.axis_names) == 1:
                    if len(edges) != len(ch.bin_edges) or not np.allclose(edges, ch.bin_edges):
                        raise InputError(
                            f"{source}: channel '{ch.name}' is binned {describe_edges(edges)}, "
                            f"the model {describe_edges(ch.bin_edges)}"
                        )
            return data
    if len(tables) == 1 and len(channel_bins) == 1 and "data" in tables:
        tables = {next(iter(channel_bins)): tables["data"]}
    missing = [c for c in channel_bins if c not in tables]
    if missing:
        raise InputError(f"{source}: no data for model channel(s) {missing}; has {sorted(tables)}")
    extra = [c for c in tables if c not in channel_bins]
    if extra:
        raise InputError(
            f"{source}: channel(s) {extra} are not in the model; its channels are "
            f"{sorted(channel_bins)}"
        )
    out = {}
    for ch in templates.channels:
        target = _targets(ch, axis_edges)
        hist = tables[ch.name]
        lacking = [a for a in ch.axis_names if not hist.has(a)]
        if lacking:
            raise InputError(
                f"{hist.source}: no {lacking[0]!r} column; channel '{ch.name}' has axes "
                f"{list(ch.axis_names)}"
            )
        out[ch.name] = hist.counts_on_bins(target, ch.axis_names).ravel()
    return out
