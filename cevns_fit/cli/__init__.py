"""The ``cevns-fit`` command line: parse, call the library, print.

Each command lives in its own module of this package and exposes ``add_parser(subparsers)``,
which registers the sub-command and sets ``func(args) -> dict | None``. A command returns a
JSON-able dict: with ``--json`` it is printed as one JSON object on stdout, otherwise the
command prints its own human-readable text (``args.text`` printer) or a key: value listing.

User mistakes raise :class:`cevns_fit.errors.InputError`; here they become one line on stderr
and exit code 2, never a traceback. Exit codes: 0 success, 1 a bug (one line), 2 bad input
(argument, path, file content), 3 a failed fit (the minimiser's status), 130 interrupted
(Ctrl-C; outputs are written atomically, so files are either complete or untouched).
Output paths are checked before any work starts (:func:`_common.check_output`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cevns_fit import __version__
from cevns_fit.cli._common import (
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    OneLineParser,
    check_output,
    emit,
    run_guarded,
)

__all__ = ["main", "build_parser"]

# Sub-command modules, in the order `cevns-fit --help` lists them.
COMMAND_MODULES = [
    "xsec",
    "ratio_map",
    "resolution",
    "spectrum",
    "rate",
    "workspace",
    "significance",
    "exposure",
    "limit",
    "fit",
    "compare",
    "scan",
    "map",
    "measure",
    "models",
]


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="cevns-fit",
        description="Sensitivity and fitting of coherent elastic neutrino-nucleus scattering "
        "(CEvNS) detectors. A MODEL is a detector model TOML file or the name of a shipped "
        "model (cevns-fit models). Every command takes --json and then prints one JSON object "
        "on stdout; energies in keVnr/keVee (recoils) and MeV (neutrinos), exposures in kg·yr.",
        epilog="Run 'cevns-fit COMMAND --help' for a command's options and units.",
    )
    parser.add_argument("--version", action="version", version=f"cevns-fit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cevns_fit.cli.{name}").add_parser(sub)
    return parser


# A shell's exit status for a process ended by SIGPIPE (128 + 13), what `yes | head` reports.
EXIT_BROKEN_PIPE = 141

# What each command's output options are (checked before any work): flag -> kind.
OUTPUT_KINDS = {
    "compare": {"out": ("--out", "dir")},
    "map": {"out": ("--out", "dir")},
    "measure": {"out": ("--out", "dir")},
    "scan": {"out": ("--out", "file")},
    "workspace": {"out": ("-o/--out", "file")},
}
FIGURE_OUTPUTS = {"out": ("--out", "figure"), "fig3": ("--fig3", "figure")}


def _check_outputs(args: argparse.Namespace) -> None:
    for attr, (flag, kind) in OUTPUT_KINDS.get(args.command, FIGURE_OUTPUTS).items():
        value = getattr(args, attr, None)
        if value is not None:
            check_output(value, flag, kind)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_INPUT_ERROR
        result = run_guarded(lambda a: _check_outputs(a) or a.func(a), args)
        if isinstance(result, int):
            return result
        emit(result, args)
        sys.stdout.flush()
        return 0
    except KeyboardInterrupt:
        print("cevns-fit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `cevns-fit fit ... | head`: the reader has gone; end quietly. Point stdout at devnull
        # so the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
