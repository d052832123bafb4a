"""The ``cevns-fit`` command line: parse, call the library, print.

Each command lives in its own module of this package and exposes ``add_parser(subparsers)``,
which registers the sub-command and sets ``func(args) -> dict | None``. A command returns a
JSON-able dict: with ``--json`` it is printed as one JSON object on stdout, otherwise the
command prints its own human-readable text (``args.text`` printer) or a key: value listing.

User mistakes raise :class:`cevns_fit.errors.InputError`; here they become one line on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from cevns_fit import __version__
from cevns_fit.cli._common import EXIT_INPUT_ERROR, emit, run_guarded

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
    parser = argparse.ArgumentParser(
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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_INPUT_ERROR
    try:
        result = run_guarded(args.func, args)
        if isinstance(result, int):
            return result
        emit(result, args)
        sys.stdout.flush()
    except BrokenPipeError:
        # `cevns-fit fit ... | head`: the reader has gone; end quietly. Point stdout at devnull
        # so the interpreter's final flush does not raise a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return 0


if __name__ == "__main__":
    sys.exit(main())
