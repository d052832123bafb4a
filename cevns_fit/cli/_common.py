"""Shared plumbing of the CLI: JSON output, error handling, common options."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
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
    "MODEL_HELP",
    "add_json_flag",
    "add_progress_flag",
    "emit",
    "plain_text",
    "run_guarded",
    "save_figure",
    "to_jsonable",
]

EXIT_INPUT_ERROR = 2
EXIT_FIT_FAILED = 3

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


def save_figure(fig: Any, out: str | Path, *, dpi: int = 150) -> str:
    """Save a matplotlib figure to ``out`` (format from its suffix); return the path as given.

    A path that cannot be written (missing folder, unknown suffix) is a user mistake: one
    :class:`InputError` line naming ``--out``, not a traceback."""
    import matplotlib.pyplot as plt

    try:
        fig.savefig(Path(out), dpi=dpi)
    except (OSError, ValueError) as exc:
        raise InputError(f"--out {out}: cannot write the figure ({exc})") from None
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


def run_guarded(func: Callable[[argparse.Namespace], Any], args: argparse.Namespace) -> Any:
    """Run a command; user mistakes become one stderr line and exit code 2."""
    try:
        return func(args)
    except InputError as exc:
        print(f"cevns-fit: error: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except FileNotFoundError as exc:
        print(f"cevns-fit: error: file not found: {exc.filename}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except tomllib.TOMLDecodeError as exc:
        print(f"cevns-fit: error: malformed TOML: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except FitFailedError as exc:
        print(f"cevns-fit: fit failed: {exc}", file=sys.stderr)
        return EXIT_FIT_FAILED
