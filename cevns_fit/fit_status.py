"""What a minimisation's outcome means: the minimiser's status in words and the parameters
that ended on (or near) their bounds.

:func:`fmin_problems` reads only iminuit's public, version-stable ``FMin`` flags;
:func:`bound_flags` decides per parameter whether it sits *at* a bound (the maximum of the
likelihood may lie beyond it) or *near* one (its Gaussian error is approximate), and whether
that bound is the physical boundary of a yield (μ ≥ 0). :mod:`cevns_fit.fit` turns these
into ``converged``, ``status``, ``at_bounds`` and ``near_bounds``.
"""

from __future__ import annotations

import math

__all__ = ["BENIGN_PROBLEMS", "bound_flags", "fmin_problems"]


# Problems that leave the minimum and its covariance usable (the bound is judged separately,
# per parameter, by :func:`bound_flags`).
BENIGN_PROBLEMS = ("a parameter near its limit",)


def fmin_problems(fmin, *, hesse: bool) -> list[str]:
    """What is wrong with an iminuit ``FMin``, in words, from its public flags only
    (``is_valid``, ``is_above_max_edm``, ``has_reached_call_limit``, ``has_covariance``,
    ``has_accurate_covar``, ``has_posdef_covar``, ``has_made_posdef_covar``, ``hesse_failed``,
    ``has_parameters_at_limit``; stable across iminuit 2.x). Empty for a clean minimum."""
    checks = [
        (fmin.is_above_max_edm, f"EDM {fmin.edm:.3g} above the goal {fmin.edm_goal:.3g}"),
        (fmin.has_reached_call_limit, f"call limit reached ({fmin.nfcn} calls)"),
        (
            not fmin.is_valid and not (fmin.is_above_max_edm or fmin.has_reached_call_limit),
            "invalid minimum",
        ),
        (not fmin.has_covariance, "no covariance"),
    ]
    if hesse:
        checks += [
            (fmin.hesse_failed, "HESSE failed"),
            (fmin.has_covariance and not fmin.has_posdef_covar, "covariance not positive definite"),
            (fmin.has_made_posdef_covar, "covariance forced positive definite"),
            (
                fmin.has_covariance and not fmin.has_accurate_covar and not fmin.hesse_failed,
                "covariance not accurate",
            ),
        ]
    checks.append((fmin.has_parameters_at_limit, "a parameter near its limit"))
    return [text for flag, text in checks if flag]


def bound_flags(
    names, values, errors, bounds, fixed, *, physical: frozenset[str] = frozenset()
) -> tuple[dict[str, dict], dict[str, dict]]:
    """Free parameters at a bound, and near one, as ``{name: {"bound", "limit", ...}}``.

    *At* a bound: within 10⁻⁴ of the allowed range (the minimiser stopped on the wall, the
    true maximum of L may lie beyond it; its HESSE error is meaningless). *Near*: within one
    HESSE error of it (the Gaussian error is then only approximate). ``physical`` names
    parameters whose lower bound of 0 is the physical boundary of a yield (μ ≥ 0)."""
    at, near = {}, {}
    for name, value, error, (lo, hi), is_fixed in zip(
        names, values, errors, bounds, fixed, strict=True
    ):
        if is_fixed:
            continue
        tol = 1e-4 * (hi - lo)
        for side, limit in (("lower", lo), ("upper", hi)):
            distance = abs(value - limit)
            entry = {"bound": side, "limit": float(limit), "value": float(value)}
            if distance <= tol:
                entry["physical_boundary"] = side == "lower" and limit == 0.0 and name in physical
                at[name] = entry
            elif math.isfinite(error) and distance < error:
                entry["distance_in_errors"] = float(distance / error)
                near[name] = entry
    return at, near
