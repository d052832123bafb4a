"""The results file of a scan: what a record must hold, what its fingerprint covers, and the
exclusive lock under which a scan reads and appends it.

A results file holds one JSON object per line (JSON lines), one per finished scan point, each
with the point's ``key`` (:func:`point_key`) and the ``fingerprint`` of what the results
depend on besides the point (:func:`scan_fingerprint`: the bytes of every file the model
reads, the significances asked for, the package version). On resume a scan trusts only the
records that :func:`validate_record` accepts; everything else is recomputed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cevns_fit.errors import InputError

__all__ = [
    "Finished",
    "locked_results",
    "model_files",
    "point_key",
    "read_finished",
    "read_results",
    "scan_fingerprint",
    "validate_record",
]


def point_key(point: dict[str, float]) -> str:
    """A canonical text key of a point's varied values (12 significant digits), for resuming."""
    return json.dumps({k: float(f"{v:.12g}") for k, v in sorted(point.items())}, sort_keys=True)


def model_files(model) -> list[Path]:
    """Every file a detector model reads: the model, its source, and each file named by a
    string value of either TOML that exists relative to it (data tables, spectra, quenching
    tables, …; folders of data releases file by file), sorted and without repeats."""
    seen: dict[Path, None] = {}

    def visit(path: Path) -> None:
        path = path.resolve()
        if path in seen:
            return
        seen[path] = None
        if path.suffix.lower() != ".toml":
            return
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return  # the loader has read it already; nothing further to follow
        for text in _strings(data):
            candidate = path.parent / text
            with contextlib.suppress(OSError, ValueError):
                if candidate.is_file():
                    visit(candidate)
                elif candidate.is_dir() and text not in (".", ".."):
                    for inner in sorted(candidate.rglob("*")):
                        if inner.is_file():
                            seen.setdefault(inner.resolve(), None)

    for path in (model.path, model.source_path):
        if path is not None:
            visit(Path(path))
    return sorted(seen)


def _strings(obj) -> Iterator[str]:
    if isinstance(obj, str):
        if obj and "\n" not in obj and len(obj) < 4096:
            yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def scan_fingerprint(model, sigmas: tuple[float, ...]) -> str:
    """A hash of what a scan's results depend on besides the varied values: the bytes of every
    file the model reads (:func:`model_files`), the significances asked for and the package
    version."""
    from cevns_fit import __version__

    digest = hashlib.sha256()
    for path in model_files(model):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes())
    digest.update(json.dumps([list(map(float, sigmas)), __version__]).encode())
    return digest.hexdigest()[:16]


_RESULT_NUMBERS = ("at_exposure_kg_yr", "signal_events", "background_events")


def validate_record(record, names: Iterable[str], sigmas: tuple[float, ...]) -> str | None:
    """Why a results-file record cannot be reused for a scan over ``names`` with ``sigmas``
    (None if it can): every varied value, the key made from them, the significance and each
    exposure needed must be present and of the right kind."""
    if not isinstance(record, dict):
        return "not a JSON object"
    names = list(names)
    point = {}
    for name in names:
        value = record.get(name)
        if not _is_number(value):
            return f"no value for {name!r}"
        point[name] = value
    if _key_names(record) not in (None, set(names)):
        return "varies other parameters"
    if record.get("key") != point_key(point):
        return "its key does not match its values"
    if "error" in record:
        return "a failed point"
    z, p0 = record.get("Z_expected", "missing"), record.get("p0_expected", "missing")
    if not (z is None or (_is_number(z) and z >= 0)):
        return "no valid Z_expected"
    if not (_is_number(p0) and 0 <= p0 <= 1):
        return "no valid p0_expected"
    if not isinstance(record.get("method"), str):
        return "no method"
    for key in _RESULT_NUMBERS:
        if not _is_number(record.get(key)):
            return f"no valid {key}"
    for s in sigmas:
        key = f"exposure_kg_yr_{s:g}sigma"
        value = record.get(key, "missing")
        if not (value is None or (_is_number(value) and value > 0)):
            return f"no valid {key}"
    return None


def _key_names(record: dict) -> set[str] | None:
    """The varied names a record's key speaks of (None if the key is not a point key)."""
    try:
        key = json.loads(record.get("key"))
    except (TypeError, json.JSONDecodeError):
        return None
    return set(key) if isinstance(key, dict) else None


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Finished:
    """What a results file holds for a scan: its valid records by key, how many records were
    dropped as invalid, and whether a torn last line was found."""

    records: dict[str, dict]
    dropped: int = 0
    torn: bool = False


def read_results(fh, out: Path, fingerprint, names, sigmas, *, repair: bool = True) -> Finished:
    """Records of an open results file (see :func:`read_finished`); with ``repair`` (the file
    locked by this scan) a torn last line is cut off the file, else only skipped."""
    fh.seek(0)
    raw = fh.read()
    result = Finished({})
    if not raw:
        return result
    if not raw.endswith(b"\n"):  # killed mid-write: drop the partial record
        cut = raw.rfind(b"\n") + 1
        raw = raw[:cut]
        if repair:
            fh.truncate(cut)
        result.torn = True
    scan_like = 0
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            record = None
        if isinstance(record, dict) and "fingerprint" in record:
            scan_like += 1
            if fingerprint is not None and record["fingerprint"] != fingerprint:
                raise InputError(
                    f"--out {out}: holds results of another model, source, data file or "
                    "--sigma (or of an edited model file); use a new file or delete this one"
                )
        if isinstance(record, dict) and _key_names(record) != set(names):
            continue  # a point of another grid in the same file: not ours to judge
        if validate_record(record, names, sigmas) is None:
            result.records[record["key"]] = record
        else:
            result.dropped += 1
    if scan_like == 0 and raw.strip():
        raise InputError(
            f"--out {out}: exists and is not a scan results file (no line is a scan record); "
            "give a new file name"
        )
    return result


def read_finished(
    out: Path,
    fingerprint: str | None = None,
    names: Iterable[str] | None = None,
    sigmas: tuple[float, ...] = (3.0, 5.0),
) -> dict[str, dict]:
    """Valid points already in a JSON-lines results file, by key (see :func:`validate_record`;
    ``names`` default to the varied names of the first record). A torn last line is skipped
    (:func:`run_scan` cuts it off the file it has locked).

    With a ``fingerprint``, a file holding results for another model, source, data file or
    ``sigmas`` is an :class:`InputError` (its points would silently answer a different
    question); so is a file that is not a scan's results."""
    out = Path(out)
    if not out.exists():
        return {}
    if names is None:
        with out.open("rb") as fh:
            try:
                first = json.loads(fh.readline())
            except (json.JSONDecodeError, UnicodeDecodeError):
                first = None
        names = sorted(_key_names(first) or ()) if isinstance(first, dict) else []
    with out.open("rb") as fh:
        return read_results(fh, out, fingerprint, names, sigmas, repair=False).records


@contextlib.contextmanager
def locked_results(out: Path):
    """The results file opened for reading and appending, under an exclusive lock (a second
    scan on the same file is refused, not interleaved)."""
    import fcntl

    try:
        fh = out.open("a+b")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot open ({exc.strerror or exc})") from None
    try:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise InputError(
                f"--out {out}: another scan is writing this file; wait for it or use another"
            ) from None
        yield fh
    finally:
        fh.close()  # releases the lock
