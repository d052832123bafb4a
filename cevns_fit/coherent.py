"""The COHERENT CsI[Na] 2017 data release, and its energy × arrival-time analysis templates.

Sources: D. Akimov et al. (COHERENT), Science 357, 1123 (2017), arXiv:1708.01294; data release
arXiv:1804.09459 (Zenodo doi:10.5281/zenodo.1228631). The files are shipped unchanged in
``models/data/coherent_csi_2017/`` (see its README).

What to use when
----------------
* :func:`load_release` reads the whole release directory into a :class:`CoherentRelease`:
  the four (PE × arrival time) count tables, the three arrival-time PDFs, the prompt-neutron PE
  spectrum, the two quenching-factor data sets and the parameters file. Each reader is also
  public (:func:`read_count_table`, :func:`read_arrival_pdf`, ...). The count tables are read
  as the real files are: the two beam-on files have no header line, the beam-off files do.
* :func:`analysis_templates` builds the analysis as :class:`~cevns_fit.templates.AnalysisTemplates`
  from per-component CEvNS energy templates (the detector layer's, in PE) and the release:
  energy only (``timing=False``) or energy × arrival time flattened into one channel
  (``timing=True``), so that both fits share every ingredient and differ only in the use of time.
  :func:`observed_data` gives the matching observed counts.

The analysis (following Akimov et al. 2017 and its release notes)
-----------------------------------------------------------------
Region: 6 ≤ PE < 30 (12 bins of 2 PE) and arrival time t < 6 µs (12 bins of 0.5 µs).

* Channel ``beam_on`` (coincidence window, beam on): CEvNS + prompt neutrons + steady state.
  - CEvNS: Σ_components E_c(PE) ⊗ T_c(t), T_c the prompt-neutrino PDF for prompt ν_μ and the
    delayed-neutrino PDF for ν_e and ν̄_μ; normfactor ``mu``; the components' flux normsys and
    quenching (etc.) histosys summed the same way.
  - Prompt neutrons: promptPDF (per GW·hr, 1-PE bins) × acceptance × exposure, rebinned,
    ⊗ the prompt-neutron arrival PDF; normsys ``prompt_neutron_norm`` ±25 %.
  - Steady state: flat in time; one free normfactor per PE bin (``steady_state_pe06`` ...),
    shared with the control channel: the exact on/off treatment bin by bin.
* Channel ``anticoincidence`` (beam on, window before the spill, same length): the steady
  state alone, in PE bins (the sum over time is what constrains a flat-in-time background).

Without time the ``beam_on`` channel is the same model summed over its time bins; a fraction
of the delayed signal falls after the window in both (the PDFs are not renormalised).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cevns_fit.errors import InputError
from cevns_fit.spectra import validate_counts
from cevns_fit.templates import SIGNAL_POI, AnalysisTemplates, Channel, Sample

__all__ = [
    "DEFAULT_RELEASE_DIR",
    "PE_RANGE",
    "T_MAX_us",
    "CountTable",
    "QFData",
    "ReleaseParameters",
    "CoherentRelease",
    "SignalComponent",
    "read_count_table",
    "read_arrival_pdf",
    "read_prompt_neutron_pdf",
    "read_qf_data",
    "read_parameters",
    "load_release",
    "acceptance",
    "rebin_counts",
    "prompt_neutron_counts_PE",
    "analysis_templates",
    "observed_data",
    "signal_components",
    "templates_for_model",
]

DEFAULT_RELEASE_DIR = (
    Path(__file__).resolve().parent.parent / "models" / "data" / "coherent_csi_2017"
)
PE_RANGE = (6.0, 30.0)  # analysis region in photoelectrons, Akimov et al. 2017
T_MAX_us = 6.0  # arrival-time cut, µs

_COUNT_FILES = {
    "coincidence_on": "data_coincidence_beamOn.txt",
    "anticoincidence_on": "data_anticoincidence_beamOn.txt",
    "coincidence_off": "data_coincidence_beamOff.txt",
    "anticoincidence_off": "data_anticoincidence_beamOff.txt",
}
_PDF_FILES = {
    "prompt_neutrinos": "arrivalTimePDF_promptNeutrinos.txt",
    "delayed_neutrinos": "arrivalTimePDF_delayedNeutrinos.txt",
    "prompt_neutrons": "arrivalTimePDF_promptNeutrons.txt",
}
STEADY_STATE_PREFIX = "steady_state"
PROMPT_NEUTRON_SAMPLE = "prompt_neutrons"
PROMPT_NEUTRON_NORM = "prompt_neutron_norm"


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CountTable:
    """Counts in (PE, arrival time) bins: ``counts[i_pe, i_t]``; edges from the bin centres."""

    pe_edges: np.ndarray
    time_edges_us: np.ndarray
    counts: np.ndarray

    def window(self, pe_range=PE_RANGE, t_max_us: float = T_MAX_us) -> np.ndarray:
        """The (PE, t) sub-table with pe_range[0] ≤ PE < pe_range[1] and t < t_max_us."""
        pe_sel = _edge_selection(self.pe_edges, pe_range, what="PE range")
        t_sel = _edge_selection(self.time_edges_us, (self.time_edges_us[0], t_max_us), what="t_max")
        return self.counts[pe_sel][:, t_sel]


def _numeric_rows(path: Path, n_columns: int) -> list[list[float]]:
    """Rows of comma-separated numbers; '#' comments and one non-numeric header line skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found (a COHERENT release file)") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    rows, header_seen = [], False
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = [f.strip() for f in text.split(",")]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            # The beam-off tables start with a header line, the beam-on tables do not.
            if not rows and not header_seen:
                header_seen = True
                continue
            raise InputError(
                f"{path}: line {line_no} is not {n_columns} numbers: {text!r:.60}"
            ) from None
        if len(values) != n_columns:
            raise InputError(
                f"{path}: line {line_no} has {len(values)} columns, expected {n_columns}"
            )
        rows.append(values)
    if not rows:
        raise InputError(f"{path}: no data rows")
    return rows


def _edges_from_uniform_centres(centres: np.ndarray, *, source: str) -> np.ndarray:
    if len(centres) < 2:
        raise InputError(f"{source}: need at least two bins")
    widths = np.diff(centres)
    if not np.allclose(widths, widths[0], rtol=1e-6) or widths[0] <= 0:
        raise InputError(f"{source}: bin centres must be increasing and equally spaced")
    return np.append(centres - widths[0] / 2, centres[-1] + widths[0] / 2)


def read_count_table(path: str | Path) -> CountTable:
    """A release count table: lines 'PE, arrival time (µs), counts', with or without header.

    The rows must fill the (PE centre × time centre) grid once each; counts must be
    non-negative whole numbers.
    """
    path = Path(path)
    rows = np.array(_numeric_rows(path, 3))
    pe_c, t_c = np.unique(rows[:, 0]), np.unique(rows[:, 1])
    if len(rows) != len(pe_c) * len(t_c):
        raise InputError(
            f"{path}: {len(rows)} rows do not fill the {len(pe_c)} PE × {len(t_c)} time grid"
        )
    counts = np.full((len(pe_c), len(t_c)), np.nan)
    i = np.searchsorted(pe_c, rows[:, 0])
    j = np.searchsorted(t_c, rows[:, 1])
    counts[i, j] = rows[:, 2]
    if np.isnan(counts).any():
        raise InputError(f"{path}: a (PE, time) bin appears twice and another is missing")
    validate_counts(counts.ravel(), source=str(path))
    return CountTable(
        pe_edges=_edges_from_uniform_centres(pe_c, source=f"{path} (PE)"),
        time_edges_us=_edges_from_uniform_centres(t_c, source=f"{path} (time)"),
        counts=counts,
    )


def read_arrival_pdf(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """An arrival-time PDF: (time bin edges in µs, probability per bin)."""
    path = Path(path)
    rows = np.array(_numeric_rows(path, 2))
    prob = rows[:, 1]
    if not np.isfinite(prob).all() or (prob < 0).any():
        raise InputError(f"{path}: probabilities must be finite and >= 0")
    if not 0.9 < prob.sum() < 1.1:
        raise InputError(f"{path}: probabilities sum to {prob.sum():.3g}, expected about 1")
    return _edges_from_uniform_centres(rows[:, 0], source=str(path)), prob


def read_prompt_neutron_pdf(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """The prompt-neutron PE spectrum: (PE bin edges, counts per GW·hr per bin, no acceptance)."""
    path = Path(path)
    rows = np.array(_numeric_rows(path, 2))
    values = rows[:, 1]
    if not np.isfinite(values).all() or (values < 0).any():
        raise InputError(f"{path}: prompt-neutron counts must be finite and >= 0")
    return _edges_from_uniform_centres(rows[:, 0], source=str(path)), values


@dataclass(frozen=True)
class QFData:
    """Quenching-factor measurements: E_nr (keVnr) with errors, QF with (lo, hi) errors."""

    energy_keVnr: np.ndarray
    energy_err_lo_keVnr: np.ndarray
    energy_err_hi_keVnr: np.ndarray
    qf: np.ndarray
    qf_err_lo: np.ndarray
    qf_err_hi: np.ndarray


def read_qf_data(path: str | Path) -> QFData:
    """A release QF file: 4 columns (E, ±σ_E, QF, ±σ_QF; Chicago) or 6 columns
    (E, σ_E hi, σ_E lo, QF, σ_QF hi, σ_QF lo; TUNL)."""
    path = Path(path)
    try:
        rows = np.array(_numeric_rows(path, 4))
    except InputError:
        rows6 = np.array(_numeric_rows(path, 6))
        e, e_hi, e_lo, q, q_hi, q_lo = rows6.T
        return QFData(e, e_lo, e_hi, q, q_lo, q_hi)
    e, e_err, q, q_err = rows.T
    return QFData(e, e_err, e_err, q, q_err, q_err)


@dataclass(frozen=True)
class ReleaseParameters:
    """The numbers of ``coherent_parameters.yaml`` (values with their 1σ uncertainties)."""

    exposure_GWhr: float
    distance_m: float
    quenching_factor: float
    quenching_factor_err: float
    light_yield_PE_per_keVee: float
    light_yield_err: float
    nu_per_flavour_per_proton: float
    nu_per_flavour_per_proton_err: float
    prompt_neutron_norm_err: float
    acceptance_a: float
    acceptance_k: float
    acceptance_x0: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _parse_simple_yaml(path: Path) -> dict[str, dict]:
    """The subset of YAML the release's parameters file uses: top-level blocks of
    ``key: value`` lines, a ``parameters:`` list of ``- name: ...`` items, ``|`` text blocks."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found (the COHERENT parameters file)") from None
    blocks: dict[str, dict] = {}
    current: dict | None = None
    item: dict | None = None
    text_indent: int | None = None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        if text_indent is not None and indent >= text_indent:
            continue  # inside a '|' text block
        text_indent = None
        stripped = line.strip()
        if indent == 0:
            key = stripped.rstrip(":").strip()
            current = blocks.setdefault(key, {})
            item = None
            continue
        if current is None:
            raise InputError(f"{path}: indented line before any top-level key: {stripped!r:.40}")
        match = re.match(r"(-\s+)?([A-Za-z_0-9]+):\s*(.*)$", stripped)
        if not match:
            continue
        is_item, key, value = match.groups()
        if value == "|":
            text_indent = indent + 1
            continue
        if is_item:
            item = {}
            current.setdefault("items", []).append(item)
        target = item if (item is not None and indent > 2) or is_item else current
        target[key] = value
    return blocks


def read_parameters(path: str | Path) -> ReleaseParameters:
    """The release's ``coherent_parameters.yaml`` (a small YAML subset, no YAML library)."""
    path = Path(path)
    blocks = _parse_simple_yaml(path)

    def number(block: str, key: str = "value") -> float:
        try:
            return float(blocks[block][key])
        except KeyError:
            raise InputError(f"{path}: missing '{block}: {key}'") from None
        except ValueError:
            raise InputError(f"{path}: '{block}: {key}' is not a number") from None

    acceptance = {
        it.get("name"): it for it in blocks.get("acceptanceEfficiency", {}).get("items", [])
    }

    def acc(name: str) -> float:
        try:
            return float(acceptance[name]["value"])
        except (KeyError, ValueError):
            raise InputError(f"{path}: acceptanceEfficiency parameter '{name}' missing") from None

    return ReleaseParameters(
        exposure_GWhr=number("beamExposure"),
        distance_m=number("distanceToTarget"),
        quenching_factor=number("csiQF"),
        quenching_factor_err=number("csiQF", "uncertainty"),
        light_yield_PE_per_keVee=number("csiLightYield"),
        light_yield_err=number("csiLightYield", "uncertainty"),
        nu_per_flavour_per_proton=number("neutrinosPerProton"),
        nu_per_flavour_per_proton_err=number("neutrinosPerProton", "uncertainty"),
        prompt_neutron_norm_err=number("promptNeutronNormalization", "uncertainty"),
        acceptance_a=acc("a"),
        acceptance_k=acc("k"),
        acceptance_x0=acc("x_0"),
    )


@dataclass(frozen=True)
class CoherentRelease:
    """Everything in the release directory, read and checked."""

    tables: dict[str, CountTable]  # coincidence_on, anticoincidence_on, coincidence_off, ...
    arrival_time_edges_us: np.ndarray
    arrival_pdfs: dict[str, np.ndarray]  # prompt_neutrinos, delayed_neutrinos, prompt_neutrons
    prompt_neutron_pe_edges: np.ndarray
    prompt_neutron_per_GWhr: np.ndarray
    qf: dict[str, QFData]  # chicago, tunl
    parameters: ReleaseParameters
    directory: Path = field(default=DEFAULT_RELEASE_DIR)


def load_release(directory: str | Path = DEFAULT_RELEASE_DIR) -> CoherentRelease:
    """Read the COHERENT CsI 2017 release directory; every file is checked."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory (expected the COHERENT CsI 2017 release)")
    tables = {key: read_count_table(directory / name) for key, name in _COUNT_FILES.items()}
    reference = tables["coincidence_on"]
    for key, table in tables.items():
        if not (
            np.array_equal(table.pe_edges, reference.pe_edges)
            and np.array_equal(table.time_edges_us, reference.time_edges_us)
        ):
            raise InputError(
                f"{directory / _COUNT_FILES[key]}: binning differs from the beam-on table"
            )
    pdfs = {}
    pdf_edges = None
    for key, name in _PDF_FILES.items():
        edges, prob = read_arrival_pdf(directory / name)
        if pdf_edges is not None and not np.array_equal(edges, pdf_edges):
            raise InputError(f"{directory / name}: time bins differ from the other arrival PDFs")
        pdf_edges = edges
        pdfs[key] = prob
    if not np.allclose(pdf_edges, reference.time_edges_us):
        raise InputError(f"{directory}: arrival-PDF time bins differ from the data's time bins")
    pn_edges, pn_values = read_prompt_neutron_pdf(directory / "promptPDF.txt")
    return CoherentRelease(
        tables=tables,
        arrival_time_edges_us=pdf_edges,
        arrival_pdfs=pdfs,
        prompt_neutron_pe_edges=pn_edges,
        prompt_neutron_per_GWhr=pn_values,
        qf={
            "chicago": read_qf_data(directory / "qfData_chicago.txt"),
            "tunl": read_qf_data(directory / "qfData_tunl.txt"),
        },
        parameters=read_parameters(directory / "coherent_parameters.yaml"),
        directory=directory,
    )


# ---------------------------------------------------------------------------------------------
# Response pieces
# ---------------------------------------------------------------------------------------------


def acceptance(pe, a: float, k: float, x0_PE: float) -> np.ndarray:
    """COHERENT CsI 2017 acceptance f(x) = a / (1 + exp(−k (x − x0))) · H(x) at PE values x.

    H = 0 below 5 PE, 1/2 for 5 ≤ x < 6, 1 from 6 PE (release parameters file). Evaluate at
    1-PE bin centres, as the release prescribes.
    """
    pe = np.asarray(pe, dtype=float)
    step = np.where(pe < 5.0, 0.0, np.where(pe < 6.0, 0.5, 1.0))
    return a / (1.0 + np.exp(-k * (pe - x0_PE))) * step


def rebin_counts(fine_edges, counts, coarse_edges) -> np.ndarray:
    """Sum counts in fine bins into coarse bins whose edges are a subset of the fine edges.

    ``counts`` may have extra leading axes (e.g. (n_variations, n_fine)).
    """
    fine_edges = np.asarray(fine_edges, dtype=float)
    coarse_edges = np.asarray(coarse_edges, dtype=float)
    idx = np.searchsorted(fine_edges, coarse_edges)
    idx = np.clip(idx, 0, len(fine_edges) - 1)
    if not np.allclose(fine_edges[idx], coarse_edges, atol=1e-9):
        raise ValueError(f"coarse edges {coarse_edges.tolist()} are not a subset of the fine edges")
    cumulative = np.concatenate(
        [np.zeros(np.shape(counts)[:-1] + (1,)), np.cumsum(counts, axis=-1)], axis=-1
    )
    return np.diff(cumulative[..., idx], axis=-1)


def prompt_neutron_counts_PE(release: CoherentRelease, pe_edges) -> np.ndarray:
    """Expected prompt-neutron counts per analysis PE bin over all arrival times.

    promptPDF (per GW·hr in 1-PE bins) × acceptance at the 1-PE bin centres × exposure
    (release parameters), summed into ``pe_edges``.
    """
    p = release.parameters
    centres = 0.5 * (release.prompt_neutron_pe_edges[1:] + release.prompt_neutron_pe_edges[:-1])
    per_bin = (
        release.prompt_neutron_per_GWhr
        * acceptance(centres, p.acceptance_a, p.acceptance_k, p.acceptance_x0)
        * p.exposure_GWhr
    )
    return rebin_counts(release.prompt_neutron_pe_edges, per_bin, pe_edges)


def _edge_selection(edges: np.ndarray, bounds, *, what: str) -> slice:
    lo = int(np.argmin(np.abs(edges - bounds[0])))
    hi = int(np.argmin(np.abs(edges - bounds[1])))
    if not (np.isclose(edges[lo], bounds[0]) and np.isclose(edges[hi], bounds[1]) and hi > lo):
        raise InputError(
            f"{what} {tuple(bounds)} must lie on the release's bin edges "
            f"({edges[0]:g} to {edges[-1]:g} in steps of {edges[1] - edges[0]:g})"
        )
    return slice(lo, hi)


# ---------------------------------------------------------------------------------------------
# Analysis templates
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalComponent:
    """CEvNS from one flux component in PE bins, over all arrival times, after acceptance.

    ``timing`` is ``"prompt"`` (π → μ ν_μ) or ``"delayed"`` (μ → e ν_e ν̄_μ); ``shape_sys``
    holds (down, up) templates; ``norm_sys`` relative 1σ normalisation uncertainties.
    """

    name: str
    timing: str
    pe_edges: np.ndarray
    counts: np.ndarray
    shape_sys: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    norm_sys: dict[str, float] = field(default_factory=dict)


def _time_weights(release: CoherentRelease, pdf: str, t_sel: slice) -> np.ndarray:
    return release.arrival_pdfs[pdf][t_sel]


def analysis_templates(
    components: list[SignalComponent] | tuple[SignalComponent, ...],
    release: CoherentRelease,
    *,
    timing: bool = True,
    pe_range=PE_RANGE,
    t_max_us: float = T_MAX_us,
    prompt_neutron_uncertainty: float | None = None,
    exposure_kg_yr: float = 1.0,
) -> AnalysisTemplates:
    """The COHERENT CsI 2017 analysis (module docstring) as AnalysisTemplates.

    ``components``: the CEvNS templates per flux component (PE edges aligned with the release's
    2-PE bins, or finer bins whose edges include them). ``timing=True`` flattens (PE, t) into
    one ``beam_on`` channel, PE-major (index = i_PE · n_t + i_t); ``timing=False`` sums over
    time. ``prompt_neutron_uncertainty`` defaults to the release's 25 %.
    ``exposure_kg_yr`` is only recorded (the counts are at the release's exposure).
    """
    if not components:
        raise InputError("COHERENT analysis: no CEvNS signal components given")
    ac = release.tables["anticoincidence_on"]
    pe_sel = _edge_selection(ac.pe_edges, pe_range, what="PE range")
    t_sel = _edge_selection(ac.time_edges_us, (ac.time_edges_us[0], t_max_us), what="t_max_us")
    pe_edges = ac.pe_edges[pe_sel.start : pe_sel.stop + 1]
    t_edges = ac.time_edges_us[t_sel.start : t_sel.stop + 1]
    n_pe, n_t = len(pe_edges) - 1, len(t_edges) - 1

    def spread(energy: np.ndarray, time_weights: np.ndarray) -> np.ndarray:
        """PE template ⊗ arrival-time weights, flattened PE-major; or summed over time."""
        grid = np.multiply.outer(energy, time_weights)  # (..., n_pe, n_t)
        if timing:
            return grid.reshape(grid.shape[:-2] + (n_pe * n_t,))
        return grid.sum(axis=-1)

    # CEvNS: each component on its own arrival-time PDF; the variations likewise.
    signal = 0.0
    shape_names = sorted({k for c in components for k in c.shape_sys})
    norm_sys: dict[str, float] = {}
    variations = {k: [0.0, 0.0] for k in shape_names}
    for comp in components:
        if comp.timing not in ("prompt", "delayed"):
            raise InputError(
                f"signal component '{comp.name}': timing must be 'prompt' or 'delayed', "
                f"got {comp.timing!r}"
            )
        weights = _time_weights(release, f"{comp.timing}_neutrinos", t_sel)
        try:
            energy = rebin_counts(comp.pe_edges, comp.counts, pe_edges)
        except ValueError:
            raise InputError(
                f"signal component '{comp.name}': its PE bins do not contain the release's "
                f"analysis bins {pe_edges.tolist()}"
            ) from None
        nominal = spread(energy, weights)
        signal = signal + nominal
        for k in shape_names:
            down, up = comp.shape_sys.get(k, (comp.counts, comp.counts))
            variations[k][0] = variations[k][0] + spread(
                rebin_counts(comp.pe_edges, down, pe_edges), weights
            )
            variations[k][1] = variations[k][1] + spread(
                rebin_counts(comp.pe_edges, up, pe_edges), weights
            )
        for k, v in comp.norm_sys.items():
            # components share the flux normalisation uncertainty (one beam, one POT count)
            if k in norm_sys and not np.isclose(norm_sys[k], v):
                raise InputError(
                    f"signal components disagree on the '{k}' normalisation uncertainty"
                )
            norm_sys[k] = v
    cevns = Sample(
        name="cevns",
        counts=np.asarray(signal, dtype=float),
        norm_factor=SIGNAL_POI,
        norm_sys=norm_sys,
        shape_sys={k: (np.asarray(lo), np.asarray(hi)) for k, (lo, hi) in variations.items()},
    )

    # Prompt neutrons: release PE spectrum × acceptance × exposure ⊗ prompt-neutron timing.
    pn_err = (
        release.parameters.prompt_neutron_norm_err
        if prompt_neutron_uncertainty is None
        else prompt_neutron_uncertainty
    )
    neutrons = Sample(
        name=PROMPT_NEUTRON_SAMPLE,
        counts=spread(
            prompt_neutron_counts_PE(release, pe_edges),
            _time_weights(release, "prompt_neutrons", t_sel),
        ),
        norm_sys={PROMPT_NEUTRON_NORM: pn_err},
    )

    # Steady state: flat in time, one free normalisation per PE bin, measured by the
    # anticoincidence window (same length). Nominal = the anticoincidence counts themselves,
    # floored at one count so every normalisation stays identifiable.
    ac_pe = np.maximum(ac.window(pe_range, t_max_us).sum(axis=1), 1.0)
    flat = np.full(n_t, 1.0 / n_t)
    on_samples, ac_samples = [cevns, neutrons], []
    for i in range(n_pe):
        name = f"{STEADY_STATE_PREFIX}_pe{pe_edges[i]:02.0f}"
        row = np.zeros(n_pe)
        row[i] = ac_pe[i]
        on_samples.append(Sample(name=name, counts=spread(row, flat), norm_factor=name))
        ac_samples.append(Sample(name=name, counts=row.copy(), norm_factor=name))

    edges_on = np.arange(n_pe * n_t + 1, dtype=float) if timing else pe_edges
    notes = (
        "COHERENT CsI 2017 analysis: "
        + ("energy x arrival time, beam_on flattened PE-major" if timing else "energy only")
        + f", {pe_range[0]:g} <= PE < {pe_range[1]:g}, t < {t_max_us:g} us",
        f"PE edges: {pe_edges.tolist()}",
        f"time edges (us): {t_edges.tolist()}",
    )
    return AnalysisTemplates(
        channels=(
            Channel(
                name="beam_on",
                bin_edges=edges_on,
                observable="PE x time (flattened)" if timing else "PE",
                samples=tuple(on_samples),
            ),
            Channel(
                name="anticoincidence",
                bin_edges=pe_edges,
                observable="PE",
                samples=tuple(ac_samples),
            ),
        ),
        exposure_kg_yr=exposure_kg_yr,
        notes=notes,
    )


def observed_data(
    release: CoherentRelease,
    *,
    timing: bool = True,
    pe_range=PE_RANGE,
    t_max_us: float = T_MAX_us,
) -> dict[str, np.ndarray]:
    """Observed counts for :func:`analysis_templates`' channels: beam-on coincidence
    (PE × t flattened PE-major, or summed over t) and anticoincidence (PE)."""
    on = release.tables["coincidence_on"].window(pe_range, t_max_us)
    ac = release.tables["anticoincidence_on"].window(pe_range, t_max_us)
    return {
        "beam_on": on.ravel() if timing else on.sum(axis=1),
        "anticoincidence": ac.sum(axis=1),
    }


def signal_components(model, pe_edges) -> list[SignalComponent]:
    """The detector layer's CEvNS templates per flux component, in ``pe_edges`` (PE bins).

    ``model`` is a :class:`cevns_fit.detector.DetectorModel` with a PE observable and a π-DAR
    source whose components carry their timing ("prompt"/"delayed").
    """
    from cevns_fit.templates import signal_templates_by_component

    if getattr(model, "observable", None) != "PE":
        raise InputError(
            f"{getattr(model, 'path', 'model')}: the COHERENT release is binned in PE; "
            f"this model's observable is {getattr(model, 'observable', None)!r}"
        )
    flux = model.source.flux_uncertainty
    out = []
    for name, t in signal_templates_by_component(
        model, bin_edges=np.asarray(pe_edges, float)
    ).items():
        if t.timing not in ("prompt", "delayed"):
            raise InputError(
                f"{model.path}: source component {name!r} has no prompt/delayed timing; "
                "an energy x time analysis needs a pulsed (pi-DAR) source"
            )
        out.append(
            SignalComponent(
                name=name,
                timing=t.timing,
                pe_edges=t.bin_edges,
                counts=t.nominal,
                shape_sys=dict(t.variations),
                norm_sys={"flux": flux} if flux > 0 else {},
            )
        )
    return out


def templates_for_model(
    model_path: str | Path,
    release: CoherentRelease,
    *,
    timing: bool = True,
    pe_range=PE_RANGE,
    t_max_us: float = T_MAX_us,
) -> AnalysisTemplates:
    """:func:`analysis_templates` for a detector model file (e.g. coherent_csi_2017.toml)."""
    from cevns_fit.detector import load_detector_model

    model = load_detector_model(model_path)
    ac = release.tables["anticoincidence_on"]
    pe_sel = _edge_selection(ac.pe_edges, pe_range, what="PE range")
    pe_edges = ac.pe_edges[pe_sel.start : pe_sel.stop + 1]
    return analysis_templates(
        signal_components(model, pe_edges),
        release,
        timing=timing,
        pe_range=pe_range,
        t_max_us=t_max_us,
        exposure_kg_yr=model.exposure_kg_yr,
    )
