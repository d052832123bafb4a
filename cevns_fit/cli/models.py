"""``cevns-fit models``: the shipped detectors, sources and data sets, one line each.

Every command that takes a MODEL (or ``--source``, or ``fit --data``) also takes these names.
"""

from __future__ import annotations

import argparse

from cevns_fit.cli._common import add_json_flag
from cevns_fit.registry import KINDS, shipped_models

__all__ = ["add_parser", "run"]


def run(args: argparse.Namespace) -> dict:
    return {"models": [m.to_dict() for m in shipped_models(args.kind)]}


def _text(result: dict) -> None:
    models = result["models"]
    width = max((len(m["name"]) for m in models), default=0)
    for m in models:
        print(f"{m['kind']:<8}  {m['name']:<{width}}  {m['description']}")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models",
        help="list the shipped detector, source and data-set models (usable by name)",
        description="List the models installed with cevns-fit. Any MODEL argument, --source "
        "option or fit --data option accepts these names in place of a file.",
    )
    p.add_argument("--kind", choices=KINDS, default=None, help="list only this kind")
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
