"""Shared plumbing of the CLI: JSON output, error handling, common options."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cevns_fit.errors import FitFailedError, InputError

# numpy and everything heavy are imported inside the functions that need them: `cevns-fit
# --help` must not pay for them (benchmarks/bench_startup.py).

__all__ = [
    "EXIT_INPUT_ERROR",
    "EXIT_FIT_FAILED",
    "EXIT_INTERRUPTED",
    "FIGURE_SUFFIXES",
    "MODEL_HELP",
    "OneLineParser",
    "add_executor_options",
    "add_json_flag",
    "add_progress_flag",
    "atomic_output",
    "check_output",
    "emit",
    "finite_float",
    "int_at_least",
    "plain_text",
    "positive_float",
    "run_guarded",
    "save_figure",
    "to_jsonable",
]

EXIT_INPUT_ERROR = 2
EXIT_FIT_FAILED = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
# Formats matplotlib's Agg/PDF/SVG/PS backends write (``savefig`` picks one by the suffix).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg", ".svgz", ".eps", ".ps", ".jpg", ".jpeg", ".webp")


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors on one stderr line (``cevns-fit scan: error: ...``), exit 2,
    instead of the usage block plus the message."""

    def error(self, message: str):  # noqa: D102 - argparse's hook
        message = " ".join(message.split())
        self.exit(EXIT_INPUT_ERROR, f"{self.prog}: error: {message} (see {self.prog} -h)\n")


def int_at_least(minimum: int) -> Callable[[str], int]:
    """argparse ``type=``: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be an integer >= {minimum}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def finite_float(text: str) -> float:
    """argparse ``type=``: a finite number (no nan, no inf, no overflow like 1e400)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a finite number")
    return value


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a number > 0")
    return value


def _writable_dir(folder: Path, flag: str, out: Path) -> None:
    if not folder.is_dir():
        raise InputError(f"{flag} {out}: folder {folder} does not exist")
    try:  # a real probe: os.access says yes to root on read-only file systems
        with tempfile.TemporaryFile(dir=folder, prefix=".cevns-fit-probe-"):
            pass
    except OSError as exc:
        raise InputError(
            f"{flag} {out}: folder {folder} is not writable ({exc.strerror or exc})"
        ) from None


def check_output(path: str | Path, flag: str, kind: str = "file") -> Path:
    """Refuse an output path before any work starts; return it as a Path.

    ``kind``: "file" (any regular file), "figure" (a file whose suffix names a matplotlib
    format, so that ``--out DIR`` never becomes ``DIR.png``), "dir" (a folder, created later
    with its parents). An existing output must be a writable regular file (not a folder,
    ``/dev/full``, a FIFO); the folder it goes into must exist and be writable."""
    text = str(path)
    if not text.strip():
        raise InputError(f"{flag}: an empty path")
    out = Path(text)
    if kind == "dir":
        if out.exists():
            if not out.is_dir():
                raise InputError(f"{flag} {out}: exists and is not a folder")
            _writable_dir(out, flag, out)
            return out
        ancestor = out.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        _writable_dir(ancestor, flag, out)
        return out
    if out.is_dir() or text.endswith(os.sep):
        raise InputError(f"{flag} {out}: is a folder, expected a file name")
    if out.exists() or out.is_symlink():
        try:
            mode = out.stat().st_mode
        except OSError as exc:
            raise InputError(f"{flag} {out}: cannot use it ({exc.strerror})") from None
        if not stat.S_ISREG(mode):
            raise InputError(f"{flag} {out}: not a regular file (a device, FIFO or socket)")
        if not os.access(out, os.W_OK):
            raise InputError(f"{flag} {out}: the file is not writable")
    _writable_dir(out.parent, flag, out)
    if kind == "figure" and out.suffix.lower() not in FIGURE_SUFFIXES:
        allowed = ", ".join(FIGURE_SUFFIXES[:3])
        raise InputError(
            f"{flag} {out}: a figure needs a file name ending in a format ({allowed}, ...)"
        )
    return out


@contextlib.contextmanager
def atomic_output(out: str | Path, flag: str = "--out"):
    """Yield a temporary path beside ``out``; on success it replaces ``out`` in one rename.

    An interrupted or failed write leaves ``out`` as it was (absent or the old file) and no
    temporary file behind."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{out.name}.", suffix=f".part{out.suffix}", dir=out.parent or "."
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, out)
    except OSError as exc:
        raise InputError(f"{flag} {out}: cannot write ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


MODEL_HELP = (
    "detector model: a TOML file, or a shipped model's name such as cspbi3_array "
    "(list them with: cevns-fit models)"
)

_REST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_text(doc: str) -> str:
    """A docstring as plain help text: ``code`` and :role:`target` lose their reST markup
    (a ``~`` target keeps only its last dotted part)."""
    text = _REST_ROLE.sub(
        lambda m: m.group(1).rsplit(".", 1)[-1] if "~" in m.group(0) else m.group(1), doc
    )
    return text.replace("``", "")


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """--executor, --scheduler and --workers: where the points of a scan (or map) run."""
    parser.add_argument(
        "--executor",
        choices=["local", "dask"],
        default="local",
        help="local: worker processes on this machine (default); dask: a dask.distributed "
        "cluster (--scheduler, or a LocalCluster)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="dask scheduler address, e.g. tcp://host:8786 (default: start a LocalCluster)",
    )
    parser.add_argument(
        "--workers",
        type=int_at_least(1),
        default=None,
        metavar="N",
        help="worker processes (default: all cores)",
    )


def add_progress_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress report on stderr (by default a bar on a terminal, otherwise one "
        "plain line every few seconds)",
    )


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object on stdout and nothing else"
    )


def to_jsonable(obj: Any) -> Any:
    """Convert numpy arrays/scalars and dataclass results to plain JSON types (NaN -> null)."""
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v) for v in obj]
    import numpy as np  # only here: this module is imported by `cevns-fit --help`

    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_ | bool):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating | float):
        value = float(obj)
        return None if not math.isfinite(value) else value
    return obj


def save_figure(fig: Any, out: str | Path, *, dpi: int = 150, flag: str = "--out") -> str:
    """Save a matplotlib figure to ``out`` (format from its suffix); return the path as given.

    The path is checked as by :func:`check_output` and written atomically; a path that
    cannot be written is one :class:`InputError` line naming ``flag``, not a traceback."""
    import matplotlib.pyplot as plt

    try:
        path = check_output(out, flag, "figure")
        with atomic_output(path, flag) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lower().lstrip("."))
    except ValueError as exc:
        raise InputError(f"{flag} {out}: cannot write the figure ({exc})") from None
    finally:
        plt.close(fig)  # pyplot keeps every figure alive until closed
    return str(out)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and len(value) > 8:
        return f"[{len(value)} values]"
    return str(value)


def emit(result: dict | None, args: argparse.Namespace) -> None:
    """Print a command's result: JSON with --json, else the command's own text or key: value."""
    if result is None:
        return
    data = to_jsonable(result)
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, allow_nan=False)
        sys.stdout.write("\n")
        return
    printer = getattr(args, "text", None)
    if printer is not None:
        printer(result)
        return
    for key, value in data.items():
        print(f"{key}: {_format_value(value)}")


def _os_error_line(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else "a file"
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {name}"
    if isinstance(exc, IsADirectoryError):
        return f"{name}: is a folder, expected a file"
    if isinstance(exc, PermissionError):
        return f"{name}: permission denied"
    return f"{name}: {exc.strerror or exc}"


def _file_being_read(tb) -> str | None:
    """The file a loader was reading when decoding failed: the innermost frame with a local
    ``path``/``source``/``filename`` or an open file ``fh`` (loaders without their own
    ``UnicodeDecodeError`` handling still get an error line that names the file)."""
    found = None
    while tb is not None:
        local = tb.tb_frame.f_locals
        for key in ("fh", "path", "filename", "source"):
            value = local.get(key)
            if key == "fh" and hasattr(value, "name"):
                value = value.name
            if isinstance(value, str | Path) and str(value):
                found = str(value)
                break
        tb = tb.tb_next
    return found


def run_guarded(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> Any:
    """Run a command; user mistakes become one stderr line and exit code 2, a failed fit one
    line and exit code 3. Anything else is a bug: one line and exit code 1 (the traceback
    with ``CEVNS_FIT_TRACEBACK=1``)."""
    try:
        return func(args)
    except InputError as exc:
        _error_line(f"error: {exc}")
        return EXIT_INPUT_ERROR
    except OSError as exc:
        _error_line(f"error: {_os_error_line(exc)}")
        return EXIT_INPUT_ERROR
    except UnicodeDecodeError as exc:
        name = _file_being_read(exc.__traceback__) or "an input file"
        _error_line(f"error: {name}: not a UTF-8 text file ({exc.reason} at byte {exc.start})")
        return EXIT_INPUT_ERROR
    except tomllib.TOMLDecodeError as exc:
        _error_line(f"error: malformed TOML: {exc}")
        return EXIT_INPUT_ERROR
    except FitFailedError as exc:
        _error_line(f"fit failed: {exc}")
        return EXIT_FIT_FAILED
    except (KeyboardInterrupt, SystemExit, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, details on request
        if os.environ.get("CEVNS_FIT_TRACEBACK"):
            raise
        _error_line(
            f"internal error: {type(exc).__name__}: {exc} (a bug; please report it with the "
            "command line; CEVNS_FIT_TRACEBACK=1 shows the traceback)"
        )
        return 1


def _error_line(text: str) -> None:
    print("cevns-fit: " + " ".join(str(text).split()), file=sys.stderr)
