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
    "models",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cevns-fit",
        description="Sensitivity and fitting of coherent elastic neutrino-nucleus scattering.",
    )
    parser.add_argument("--version", action="version", version=f"cevns-fit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"cevns_fit.cli.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_INPUT_ERROR
    result = run_guarded(args.func, args)
    if isinstance(result, int):
        return result
    emit(result, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
