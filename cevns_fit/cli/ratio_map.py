"""``cevns-fit ratio-map``: σ_eff(A)/σ_eff(B) over neutrino energy and threshold (seed Fig. 4).

Also draws seed Fig. 3 (σ·ε vs threshold, A solid, B dashed) with ``--fig3 PNG``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cevns_fit.cli._common import add_json_flag, save_figure
from cevns_fit.cli.xsec import add_target_options, check_enu, target_from_args
from cevns_fit.errors import InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["add_parser", "ratio_map"]


def ratio_map(enu_MeV, threshold_keVnr, target, reference, **kwargs) -> np.ndarray:
    """σ_eff(target)/σ_eff(reference) per nucleus, shape (n_enu, n_thr); 0 where the target
    sees no recoil above the threshold (the seed's convention for Fig. 4)."""
    import numpy as np

    from cevns_fit.cross_section import sigma_eff

    num = sigma_eff(enu_MeV, threshold_keVnr, target, **kwargs)
    den = sigma_eff(enu_MeV, threshold_keVnr, reference, **kwargs)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _grid(text: str, name: str, *, positive: bool) -> np.ndarray:
    import numpy as np

    try:
        start, stop, n = text.split(":")
        grid = np.linspace(float(start), float(stop), int(n))
    except ValueError:
        raise InputError(f"--{name} {text!r}: expected START:STOP:N") from None
    if len(grid) < 2 or (positive and grid[0] <= 0) or grid[0] < 0:
        sign = "positive" if positive else "non-negative"
        raise InputError(f"--{name} {text!r}: need N >= 2 and {sign} values")
    return grid


def run(args: argparse.Namespace) -> dict:
    import numpy as np

    target = target_from_args(args.target, args, others=(args.reference,))
    reference = target_from_args(args.reference, args, others=(args.target,))
    enu = _grid(args.enu, "enu", positive=True)
    check_enu(enu)
    thr = _grid(args.thresholds, "thresholds", positive=False)
    ratio = ratio_map(
        enu, thr, target, reference, form_factor=args.form_factor, sin2_theta_w=args.sin2_theta_w
    )
    i, j = np.unravel_index(np.argmax(ratio), ratio.shape)
    if args.out or args.fig3:
        from cevns_fit.plots.xsec import ratio_map_figure, sigma_vs_threshold_figure

        if args.out:
            names = {
                "target_name": target.name,
                "reference_name": reference.name,
                "per_kg_factor": target.total_nuclei_per_kg / reference.total_nuclei_per_kg,
            }
            save_figure(ratio_map_figure(enu, thr, ratio, **names), args.out)
        if args.fig3:
            save_figure(
                sigma_vs_threshold_figure(target, reference, form_factor=args.form_factor),
                args.fig3,
            )
    return {
        "target": target.name,
        "reference": reference.name,
        "per": "nucleus",
        "enu_MeV": enu,
        "threshold_keVnr": thr,
        "ratio": ratio,
        "ratio_max": float(ratio[i, j]),
        "ratio_max_at": {"enu_MeV": float(enu[i]), "threshold_keVnr": float(thr[j])},
    }


def _text(result: dict) -> None:
    at = result["ratio_max_at"]
    print(f"sigma_eff({result['target']}) / sigma_eff({result['reference']}) per nucleus")
    print(
        f"max ratio {result['ratio_max']:.3f} at E_nu = {at['enu_MeV']:.4g} MeV, "
        f"threshold = {at['threshold_keVnr']:.4g} keVnr"
    )


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ratio-map", help="sigma_eff ratio of two targets over (E_nu, threshold)")
    add_target_options(p)
    p.add_argument(
        "--reference", required=True, metavar="FORMULA", help="reference target formula, e.g. Ge"
    )
    p.add_argument(
        "--enu",
        default="5:55:101",
        metavar="START:STOP:N",
        help="neutrino-energy grid [MeV] (default 5:55:101)",
    )
    p.add_argument(
        "--thresholds",
        default="0:40:81",
        metavar="START:STOP:N",
        help="nuclear-recoil threshold grid [keVnr] (default 0:40:81)",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PNG",
        help="write the per-nucleus ratio map (seed Fig. 4) to this image file",
    )
    p.add_argument(
        "--fig3",
        default=None,
        metavar="PNG",
        help="also write seed Fig. 3 (sigma_eff x efficiency vs threshold) to this image file",
    )
    add_json_flag(p)
    p.set_defaults(func=run, text=_text)
