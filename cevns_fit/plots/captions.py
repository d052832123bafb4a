"""Words on figures: what a model assumes, in one caption line, and names a reader knows.

Every figure of a detector model states its target, source (power, distance), exposure,
threshold and the assumptions behind them (an unmeasured quenching factor, costs), so a figure
cut out of its context still says what it shows. Flux components get physics names
(``prompt ν_μ``, ``delayed ν̄_μ``), not code names (``prompt_nu_mu``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cevns_fit.detector import DetectorModel
    from cevns_fit.sources import Source

__all__ = [
    "OBSERVABLE_LABELS",
    "comparison_caption",
    "flux_label",
    "model_label",
    "model_caption",
    "observable_label",
    "quenching_text",
    "source_text",
    "wrap_caption",
]

OBSERVABLE_LABELS = {
    "keVee": "electron-equivalent energy [keVee]",
    "keVnr": "nuclear recoil energy [keVnr]",
    "PE": "detected light [photoelectrons, PE]",
}

_NEUTRINOS = {
    "nu_e_bar": r"$\bar\nu_e$",
    "nu_mu_bar": r"$\bar\nu_\mu$",
    "nu_tau_bar": r"$\bar\nu_\tau$",
    "nu_e": r"$\nu_e$",
    "nu_mu": r"$\nu_\mu$",
    "nu_tau": r"$\nu_\tau$",
    "nu_x": r"$\nu_x$",
}
_NEUTRINO_RE = re.compile("|".join(sorted(map(re.escape, _NEUTRINOS), key=len, reverse=True)))


def flux_label(name: str) -> str:
    """``prompt_nu_mu`` -> ``prompt $\\nu_\\mu$`` (matplotlib mathtext); other underscores
    become spaces."""
    parts = []
    pos = 0
    for match in _NEUTRINO_RE.finditer(name):
        parts.append(name[pos : match.start()].replace("_", " "))
        parts.append(_NEUTRINOS[match.group(0)])
        pos = match.end()
    parts.append(name[pos:].replace("_", " "))
    return re.sub(r"\s+", " ", "".join(parts)).strip()


def observable_label(observable: str) -> str:
    """An axis label naming the quantity and its unit (``keVee`` alone says only the unit)."""
    return OBSERVABLE_LABELS.get(observable, observable)


def source_text(source: Source) -> str:
    """``SNS 1.4 MW at 19.3 m``."""
    power = source.parameters.get("power_MW")
    text = source.name + (f" {power:g} MW" if power else "")
    if source.distance_m is not None:
        text += f" at {source.distance_m:g} m"
    return text


def quenching_text(model: DetectorModel) -> str:
    """``Q = 0.30 ± 0.10 (assumed, unmeasured)`` or ``Lindhard k = 0.157 ± 0.02``."""
    q = model.quenching.to_dict()
    assumed = "assumption" in str(q.get("note", "")).lower()
    if q.get("model") == "constant":
        text = f"Q = {q['value']:.3g} ± {q.get('sigma', 0.0):.2g}"
    elif q.get("model") == "lindhard":
        text = f"Lindhard k = {q['k']:.3g} ± {q.get('sigma_k', 0.0):.2g}"
    else:
        text = f"quenching: {q.get('model')}"
    return text + (" (assumed, unmeasured)" if assumed else "")


def model_caption(model: DetectorModel, exposure_kg_yr: float | None = None) -> str:
    """One line: target, source, exposure, threshold and quenching of a detector model."""
    exposure = model.exposure_kg_yr if exposure_kg_yr is None else exposure_kg_yr
    return (
        f"{model.target.name} · {source_text(model.source)} · {exposure:.3g} kg·yr · "
        f"threshold {model.threshold:.3g} {model.observable} "
        f"(≈ {model.threshold_keVnr:.3g} keVnr) · {quenching_text(model)}"
    )


def wrap_caption(text: str, width: int = 95) -> str:
    """Break a caption into lines of at most ``width`` characters at its `` · `` separators."""
    lines, line = [], ""
    for part in text.split(" · "):
        candidate = f"{line} · {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line)
            candidate = part
        line = candidate
    return "\n".join([*lines, line])


def model_label(model: DetectorModel) -> str:
    """A legend entry: ``cspbi3_array: 4.3 keVee (≈ 14.3 keVnr), Q = 0.3 ± 0.1 (assumed)``."""
    q = quenching_text(model).replace(" (assumed, unmeasured)", " (assumed)")
    return (
        f"{model.name}: {model.threshold:.3g} {model.observable} "
        f"(≈ {model.threshold_keVnr:.3g} keVnr), {q}"
    )


def comparison_caption(models: list[DetectorModel]) -> str:
    """The sources (once if shared) and what each model assumes, for comparison figures."""
    sources = list(dict.fromkeys(source_text(m.source) for m in models))
    parts = [" / ".join(sources)]
    for m in models:
        parts.append(f"{m.name} ({m.target.name}, {m.mass_kg:.3g} kg): {quenching_text(m)}")
    if any(m.cost.to_dict().get("is_assumption") for m in models):
        parts.append("costs are assumptions of the model files")
    return wrap_caption(" · ".join(parts), width=120)
