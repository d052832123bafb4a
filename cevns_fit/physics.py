"""Physics parameters of the CEvNS cross-section: weak mixing angle, nucleon form factors,
radiative corrections, non-standard interactions, magnetic moment, a light vector mediator.

:class:`PhysicsParameters` is a frozen (hashable) dataclass; its defaults give today's
tree-level, single-form-factor cross-section exactly. Every other value is opt-in. The
cross-section (:mod:`cevns_fit.cross_section`) takes ``physics=PhysicsParameters(...)``.

The amplitude, for an incoming ν_α (or ν̄_α) and every outgoing flavour β, is the weak charge
of the nucleus (Barranco, Miranda & Rashba, JHEP 12 (2005) 021, Eq. 2; couplings normalised so
that g_V^n = −1/2 at tree level)::

    Q_αβ(q) = −2 [ Z F_p(q) (g_V^p δ_αβ + 2ε^u_αβ + ε^d_αβ)
                   + N F_n(q) (g_V^n δ_αβ + ε^u_αβ + 2ε^d_αβ) ]
    dσ/dE_R = G_F² M/(4π) (1 − M E_R/(2E_ν²)) Σ_β Q_αβ² + dσ_μ/dE_R.

With tree-level couplings g_V^p = 1/2 − 2 sin²θ_W, g_V^n = −1/2, ε = 0 and F_p = F_n = F this
is today's Q_W F = [N − (1 − 4 sin²θ_W) Z] F. The ε are vector NSI couplings in the convention
L = −2√2 G_F ε^q_αβ (ν̄_α γ^μ P_L ν_β)(q̄ γ_μ q) (ε^{qV} = ε^{qL} + ε^{qR} of Barranco et al.);
they are real and symmetric (ε_βα = ε_αβ), and the same for antineutrinos.

Parameters (names as used by :meth:`PhysicsParameters.with_value` and a model's ``[physics]``):

* ``sin2_theta_w`` — sin²θ_W at q → 0 (MS-bar), default 0.23857 (PDG); must lie in (0, 1).
* ``nucleon_form_factors`` — False (default): one form factor F(q; A) for the whole weak
  charge, as before. True: F_p from the point-proton radius (measured charge radii,
  :mod:`cevns_fit.nuclear_radii`) and F_n from the neutron rms radius, both of the shape chosen
  by ``form_factor`` (Helm by default) with that rms radius.
* ``neutron_rms_radius_fm`` {element: R_n} or ``neutron_skin_fm`` {element: R_n − R_p} — per
  element (every isotope of it); elements not given take the skin of Trzcińska et al. (2001).
  Need ``nucleon_form_factors = True``.
* ``radiative_corrections`` — False (default, tree level) or True: the couplings of
  :func:`nucleon_couplings` (PDG scheme with flavour-dependent neutrino charge radii).
* ``eps_{u,d}_{ee,mumu,tautau,emu,etau,mutau}`` — vector NSI couplings, default 0.
* ``magnetic_moment_{e,mu,tau}_muB`` — effective neutrino magnetic moments in Bohr magnetons:
  dσ_μ/dE_R = (π α² μ_ν² Z²/m_e²)(1/E_R − 1/E_ν) F_p² (Vogel & Engel, PRD 39 (1989) 3378), added
  to the weak cross-section (no interference: it flips helicity).
* ``mediator_coupling`` g_ν g_q, ``mediator_mass_MeV`` m — a light vector boson coupled
  universally to u and d quarks and to ν_L (the simplified model of Cerdeño et al., JHEP 05
  (2016) 118, Eq. 2.5): an NSI ε^u_αα = ε^d_αα = g_ν g_q / (√2 G_F (q² + m²)) for every flavour,
  i.e. Q_W → Q_W − 3√2 A g_ν g_q /(G_F (q² + m²)) for F = 1 (their sign: g_ν g_q > 0 interferes
  destructively).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import periodictable

from cevns_fit.config import ConfigTable
from cevns_fit.constants import (
    FINE_STRUCTURE,
    SIN2_THETA_W,
    SIN2_THETA_W_ZPOLE,
    ELECTRON_MASS_GeV,
    MUON_MASS_MeV,
    TAU_MASS_MeV,
)
from cevns_fit.errors import InputError

__all__ = [
    "PhysicsParameters",
    "LEPTONS",
    "NSI_NAMES",
    "MAGNETIC_MOMENT_NAMES",
    "check_sin2_theta_w",
    "flavour_leptons",
    "nucleon_couplings",
    "tree_level_couplings",
]

LEPTONS = ("e", "mu", "tau")
_PAIRS = ("ee", "mumu", "tautau", "emu", "etau", "mutau")
NSI_NAMES = tuple(f"eps_{quark}_{pair}" for pair in _PAIRS for quark in ("u", "d"))
MAGNETIC_MOMENT_NAMES = tuple(f"magnetic_moment_{lep}_muB" for lep in LEPTONS)
_RADIUS_TABLES = ("neutron_rms_radius_fm", "neutron_skin_fm")

# A flux flavour -> the charged-lepton flavours it stands for, with weights. Vector couplings
# give ν̄ the same cross-section as ν. ν_x (supernova) is ν_μ, ν̄_μ, ν_τ, ν̄_τ with one spectrum.
_FLAVOUR_LEPTONS: dict[str, tuple[tuple[str, float], ...]] = {
    "nu_e": (("e", 1.0),),
    "nu_e_bar": (("e", 1.0),),
    "nu_mu": (("mu", 1.0),),
    "nu_mu_bar": (("mu", 1.0),),
    "nu_tau": (("tau", 1.0),),
    "nu_tau_bar": (("tau", 1.0),),
    "nu_x": (("mu", 0.5), ("tau", 0.5)),
}

# PDG 2004 low-energy νN parameters as used by Barranco, Miranda & Rashba, JHEP 12 (2005) 021,
# Eq. 3: ρ^NC_νN, κ̂_νN and the box terms λ (defined at ŝ²_Z = 0.2312, for ν_μ beams).
RHO_NU_N = 1.0086
KAPPA_NU_N = 0.9978
LAMBDA_U_L = -0.0031
LAMBDA_D_L = -0.0025
LAMBDA_D_R = 7.5e-5
LAMBDA_U_R = LAMBDA_D_R / 2.0


def check_sin2_theta_w(value: Any, name: str = "sin2_theta_w") -> float:
    """``value`` as a float if it is a finite number in (0, 1), else :class:`InputError`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} = {value!r}: must be a number in (0, 1)")
    value = float(value)
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise InputError(f"{name} = {value!r}: the weak mixing angle needs 0 < sin²θ_W < 1")
    return value


def flavour_leptons(flavour: str) -> tuple[tuple[str, float], ...]:
    """The lepton flavours (e, mu, tau) and weights a flux flavour stands for."""
    try:
        return _FLAVOUR_LEPTONS[flavour]
    except KeyError:
        allowed = ", ".join(_FLAVOUR_LEPTONS)
        raise InputError(f"neutrino flavour {flavour!r}: allowed are {allowed}") from None


def tree_level_couplings(sin2_theta_w: float) -> tuple[float, float]:
    """(g_V^p, g_V^n) = (1/2 − 2 sin²θ_W, −1/2), the tree-level vector couplings."""
    return 0.5 - 2.0 * sin2_theta_w, -0.5


def nucleon_couplings(sin2_theta_w: float, lepton: str) -> tuple[float, float]:
    """(g_V^p, g_V^n) of ν_lepton with radiative corrections (lepton: "e", "mu" or "tau").

    PDG scheme (Erler & Langacker, PDG 2004 Electroweak review; Barranco, Miranda & Rashba,
    JHEP 12 (2005) 021, Eq. 3), for ν_μ::

        g_V^p = ρ (1/2 − 2 κ̂ ŝ²_Z) + 2λ^{uL} + 2λ^{uR} + λ^{dL} + λ^{dR}
        g_V^n = −ρ/2 + λ^{uL} + λ^{uR} + 2λ^{dL} + 2λ^{dR}

    with ρ = 1.0086, κ̂ = 0.9978, λ^{uL} = −0.0031, λ^{dL} = −0.0025, λ^{dR} = 2λ^{uR} = 7.5e-5.
    The flavour dependence is that of the SM neutrino charge radii
    ⟨r²_ν_ℓ⟩ = −G_F/(2√2π²) [3 − 2 ln(m_ℓ²/m_W²)] (Bernabéu, Papavassiliou & Vidal, PRL 89
    (2002) 101802), entering as g_V^p → g_V^p − (2/3) m_W² sin²θ_W ⟨r²_ν_ℓ⟩ (Cadeddu et al.,
    PRD 98 (2018) 113010, Eq. 3); relative to ν_μ this is
    Δg_V^p(ν_e) = +(α/3π) ln(m_μ²/m_e²) = +0.0083, Δg_V^p(ν_τ) = −(α/3π) ln(m_τ²/m_μ²) = −0.0044.

    ``sin2_theta_w`` is the q → 0 value; ŝ²_Z = sin2_theta_w − (0.23857 − 0.23122), so the
    default gives the PDG-scheme couplings and a shifted sin²θ_W shifts ŝ²_Z by as much.
    At the default, Q_W² of ν_μ on ¹³³Cs is 2.9 % above tree level, of ν_e 0.4 %.
    """
    s2_z = sin2_theta_w - (SIN2_THETA_W - SIN2_THETA_W_ZPOLE)
    g_p = (
        RHO_NU_N * (0.5 - 2.0 * KAPPA_NU_N * s2_z)
        + 2.0 * LAMBDA_U_L
        + 2.0 * LAMBDA_U_R
        + LAMBDA_D_L
        + LAMBDA_D_R
    )
    g_n = -0.5 * RHO_NU_N + LAMBDA_U_L + LAMBDA_U_R + 2.0 * LAMBDA_D_L + 2.0 * LAMBDA_D_R
    log_ratio = {
        "e": 2.0 * math.log(MUON_MASS_MeV / (ELECTRON_MASS_GeV * 1e3)),
        "mu": 0.0,
        "tau": -2.0 * math.log(TAU_MASS_MeV / MUON_MASS_MeV),
    }[lepton]
    return g_p + FINE_STRUCTURE / (3.0 * math.pi) * log_ratio, g_n


def _radius_table(value: Any, name: str) -> tuple[tuple[str, float], ...]:
    """{element: number} (or pairs) -> sorted tuple of (symbol, float), validated."""
    items = value.items() if isinstance(value, Mapping) else value
    try:
        pairs = [(str(k), v) for k, v in items]
    except (TypeError, ValueError):
        raise InputError(
            f"{name}: must map element symbols to numbers, e.g. {{Pb = 5.8}}"
        ) from None
    out = {}
    for symbol, v in pairs:
        try:
            periodictable.elements.symbol(symbol)
        except ValueError:
            raise InputError(f"{name}.{symbol}: unknown element symbol") from None
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise InputError(f"{name}.{symbol} = {v!r}: must be a finite number (fm)")
        if name == "neutron_rms_radius_fm" and v <= 0:
            raise InputError(f"{name}.{symbol} = {v!r}: must be > 0 fm")
        out[symbol] = float(v)
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class PhysicsParameters:
    """Physics inputs of dσ/dE_R (see the module docstring for every formula and its source).

    The defaults reproduce the tree-level, single-Helm cross-section exactly. Radius tables may
    be given as dicts ``{"Pb": 5.8}``; they are stored as sorted tuples so that the object stays
    hashable (usable as a cache key).
    """

    sin2_theta_w: float = SIN2_THETA_W
    nucleon_form_factors: bool = False
    neutron_rms_radius_fm: tuple[tuple[str, float], ...] = ()
    neutron_skin_fm: tuple[tuple[str, float], ...] = ()
    radiative_corrections: bool = False
    eps_u_ee: float = 0.0
    eps_d_ee: float = 0.0
    eps_u_mumu: float = 0.0
    eps_d_mumu: float = 0.0
    eps_u_tautau: float = 0.0
    eps_d_tautau: float = 0.0
    eps_u_emu: float = 0.0
    eps_d_emu: float = 0.0
    eps_u_etau: float = 0.0
    eps_d_etau: float = 0.0
    eps_u_mutau: float = 0.0
    eps_d_mutau: float = 0.0
    magnetic_moment_e_muB: float = 0.0
    magnetic_moment_mu_muB: float = 0.0
    magnetic_moment_tau_muB: float = 0.0
    mediator_coupling: float = 0.0
    mediator_mass_MeV: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "sin2_theta_w", check_sin2_theta_w(self.sin2_theta_w))
        for name in ("nucleon_form_factors", "radiative_corrections"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} = {getattr(self, name)!r}: must be true or false")
        for name in (*NSI_NAMES, *MAGNETIC_MOMENT_NAMES, "mediator_coupling"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InputError(f"{name} = {value!r}: must be a number")
            if not math.isfinite(value):
                raise InputError(f"{name} = {value!r}: must be a finite number")
            object.__setattr__(self, name, float(value))
        mass = self.mediator_mass_MeV
        if isinstance(mass, bool) or not isinstance(mass, numbers.Real) or not mass > 0:
            raise InputError(f"mediator_mass_MeV = {mass!r}: must be a finite number > 0")
        if not math.isfinite(mass):
            raise InputError(f"mediator_mass_MeV = {mass!r}: must be a finite number > 0")
        object.__setattr__(self, "mediator_mass_MeV", float(mass))
        for name in _RADIUS_TABLES:
            object.__setattr__(self, name, _radius_table(getattr(self, name), name))
        both = set(dict(self.neutron_rms_radius_fm)) & set(dict(self.neutron_skin_fm))
        if both:
            raise InputError(
                f"{sorted(both)[0]}: give neutron_rms_radius_fm or neutron_skin_fm, not both"
            )
        if (self.neutron_rms_radius_fm or self.neutron_skin_fm) and not self.nucleon_form_factors:
            raise InputError(
                "neutron_rms_radius_fm/neutron_skin_fm need nucleon_form_factors = true "
                "(separate proton and neutron form factors)"
            )

    # -- what the cross-section needs ---------------------------------------------------------

    @property
    def is_tree_level(self) -> bool:
        """True when only sin²θ_W may differ from the defaults: today's formula applies."""
        return self == PhysicsParameters(sin2_theta_w=self.sin2_theta_w)

    @property
    def needs_flavour(self) -> bool:
        """True when the cross-section depends on the neutrino flavour (radiative corrections,
        NSI or a magnetic moment)."""
        return (
            self.radiative_corrections
            or any(getattr(self, n) != 0.0 for n in NSI_NAMES)
            or any(getattr(self, n) != 0.0 for n in MAGNETIC_MOMENT_NAMES)
        )

    def nsi(self, quark: str, lepton_a: str, lepton_b: str) -> float:
        """ε^quark_ab (real and symmetric: ε_ba = ε_ab); leptons "e", "mu", "tau"."""
        a, b = sorted((lepton_a, lepton_b), key=LEPTONS.index)
        return getattr(self, f"eps_{quark}_{a}{b}" if a != b else f"eps_{quark}_{a}{a}")

    def couplings(self, lepton: str) -> tuple[float, float]:
        """(g_V^p, g_V^n) of ν_lepton: tree level, or :func:`nucleon_couplings` if corrected."""
        if self.radiative_corrections:
            return nucleon_couplings(self.sin2_theta_w, lepton)
        return tree_level_couplings(self.sin2_theta_w)

    def magnetic_moment_muB(self, lepton: str) -> float:
        return getattr(self, f"magnetic_moment_{lepton}_muB")

    def neutron_radius_override(self, symbol: str) -> tuple[str, float] | None:
        """("rms", R_n) or ("skin", Δr_np) given for an element, else None (default skin)."""
        rms = dict(self.neutron_rms_radius_fm)
        if symbol in rms:
            return "rms", rms[symbol]
        skin = dict(self.neutron_skin_fm)
        if symbol in skin:
            return "skin", skin[symbol]
        return None

    # -- parameters by name (for scans, POIs and nuisances) -----------------------------------

    @classmethod
    def scalar_names(cls) -> tuple[str, ...]:
        """Names of the numeric parameters that :meth:`with_value` accepts without a dot."""
        skip = {"nucleon_form_factors", "radiative_corrections", *_RADIUS_TABLES}
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in skip)

    def value(self, name: str) -> float:
        """The value of a parameter: a scalar name or ``neutron_rms_radius_fm.Pb`` style
        (``neutron_rms_radius_fm.Cs,I``: the common value of both elements).

        For a radius of an element not given explicitly this is ``nan`` (the default depends on
        the isotope; see :mod:`cevns_fit.nuclear_radii`), as it is for elements that differ."""
        table, _, symbols = name.partition(".")
        if table in _RADIUS_TABLES and symbols:
            entries = dict(getattr(self, table))
            values = {entries.get(symbol, math.nan) for symbol in symbols.split(",")}
            return values.pop() if len(values) == 1 else math.nan
        if name not in self.scalar_names():
            raise InputError(f"physics parameter {name!r}: {self._allowed_names()}")
        return getattr(self, name)

    def with_value(self, name: str, value: float) -> PhysicsParameters:
        """A copy with one parameter changed; ``neutron_rms_radius_fm.Pb`` (or
        ``neutron_skin_fm.Pb``) sets an element's radius and switches on nucleon form factors;
        ``neutron_rms_radius_fm.Cs,I`` sets one common radius for both (the usual CsI fit)."""
        table, _, symbols = name.partition(".")
        if table in _RADIUS_TABLES and symbols:
            entries = dict(getattr(self, table))
            entries.update({symbol: value for symbol in symbols.split(",")})
            return dataclasses.replace(self, nucleon_form_factors=True, **{table: entries})
        if name not in self.scalar_names():
            raise InputError(f"physics parameter {name!r}: {self._allowed_names()}")
        return dataclasses.replace(self, **{name: value})

    @classmethod
    def _allowed_names(cls) -> str:
        return "allowed are " + ", ".join(
            (*cls.scalar_names(), "neutron_rms_radius_fm.<El>", "neutron_skin_fm.<El>")
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in _RADIUS_TABLES:
            out[name] = dict(getattr(self, name))
        return out

    @classmethod
    def from_config(cls, table: ConfigTable) -> PhysicsParameters:
        """Read a model's ``[physics]`` table (keys as the field names; radius tables as
        sub-tables ``neutron_rms_radius_fm = {Cs = 4.9, I = 4.9}``). Errors name file and key."""
        fields = [f.name for f in dataclasses.fields(cls)]
        table.allow(tuple(fields))
        kwargs: dict[str, Any] = {}
        for name in fields:
            if not table.has(name):
                continue
            if name in ("nucleon_form_factors", "radiative_corrections"):
                kwargs[name] = table.boolean(name, False)
            elif name in _RADIUS_TABLES:
                sub = table.table(name)
                kwargs[name] = {k: sub.number(k) for k in sub.data}
            else:
                kwargs[name] = table.number(name)
        try:
            return cls(**kwargs)
        except InputError as exc:
            raise InputError(
                f"{table.path}: [{table.prefix.rstrip('.') or 'physics'}] {exc}"
            ) from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "[physics]") -> PhysicsParameters:
        """Like :meth:`from_config` for a plain mapping; ``where`` starts every error message."""
        return cls.from_config(ConfigTable(Path(where), data, ""))
