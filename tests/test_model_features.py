"""Model-file features, end to end through ``cevns-fit rate``, against counts computed by hand.

A hand model isolates one feature at a time: a ⁷⁶Ge target (``[composition]``), the shipped
monoenergetic line (29.79 MeV, 1.49e7 ν cm⁻² s⁻¹, ``models/sources/line_example.toml``), no
form factor, no resolution, 1 kg·yr, explicit ``analysis.edges``. Then the counts in a bin
[a, b) keVee are, with F = 1 (tests/handcalc.py),

    N = T · 86400 s · Φ · n_76 · [σ(E_ν, E_nr(a)) − σ(E_ν, E_nr(b))],

σ(E_ν, T) the closed-form cross-section above a recoil T, E_nr(x) the recoil whose
electron-equivalent energy is x (inverting the quenching by hand), n_76 the nuclei per kg and
T = 365.25 days. The templates spread each recoil uniformly over its true bin (300 log-spaced
bins, 3 % wide), which moves counts across an observable edge by up to ~0.3 % of a bin (most
near the endpoint, where dR/dE_R → 0): bins are compared at 5e-3, totals at 1e-4. What each
test varies: the quenching model (constant, polynomial, tabulated
inline and from a file) and the efficiency (tabulated).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.integrate import quad

from tests.conftest import MODELS
from tests.handcalc import GE76, dsigma_closed_cm2_per_keV, nuclei_per_kg, sigma_closed_cm2

ENU, FLUX = 29.79, 1.49e7  # line_example.toml
KG_S = 365.25 * 86400.0  # 1 kg·yr in kg·s


def write_model(tmp_path, quenching: str, efficiency: str = 'model = "step"\nthreshold = 0.0'):
    path = tmp_path / "hand.toml"
    path.write_text(
        f"""name = "hand"
target = "Ge"

[composition.Ge]
"76" = 1.0

[source]
file = "{(MODELS / "sources" / "line_example.toml").as_posix()}"

[array]
n_sensors = 1
sensor_mass_kg = 1.0
channels_per_sensor = 1
live_time_yr = 1.0

[quenching]
{quenching}

[resolution]
model = "none"

[efficiency]
{efficiency}

[analysis]
observable = "keVee"
edges = [1.0, 2.0, 4.0, 5.0, 7.0]
form_factor = "none"
""",
        encoding="utf-8",
    )
    return path


def rate_json(cli_main, path) -> dict:
    code, out, err = cli_main("rate", path, "--json")
    assert code == 0, err
    return json.loads(out)


def hand_counts(edges, e_nr_of_ee) -> np.ndarray:
    """Counts per bin for 1 kg·yr: the closed form between the recoils of each edge."""
    n76 = nuclei_per_kg(GE76)
    sig = [sigma_closed_cm2(GE76, ENU, e_nr_of_ee(x)) for x in edges]
    return KG_S * FLUX * n76 * -np.diff(sig)


def test_constant_quenching_composition_and_explicit_edges(tmp_path, cli_main):
    # Q = 0.25: E_nr = E_ee / 0.25. The ⁷⁶Ge endpoint 2E²/(M + 2E) = 25.1 keVnr = 6.27 keVee
    # falls inside the last bin; past it nothing. A natural-Ge target would differ by ~8 %.
    out = rate_json(cli_main, write_model(tmp_path, 'model = "constant"\nvalue = 0.25'))
    assert out["bins"] == [1.0, 2.0, 4.0, 5.0, 7.0]
    expected = hand_counts(out["bins"], lambda x: x / 0.25)
    np.testing.assert_allclose(out["signal"], expected, rtol=5e-3)
    assert out["signal_events"] == pytest.approx(expected.sum(), rel=1e-4, abs=0)
    assert out["exposure_kg_yr"] == 1.0


def _poly_inverse(x: float, c0: float, c1: float) -> float:
    """E_nr with (c0 + c1 E_nr) E_nr = x: the positive root of c1 E² + c0 E − x = 0."""
    return (-c0 + math.sqrt(c0 * c0 + 4 * c1 * x)) / (2 * c1)


def test_polynomial_quenching(tmp_path, cli_main):
    # Q(E_nr) = 0.2 + 0.004 E_nr (keVnr): E_ee = 0.2 E + 0.004 E², inverted by hand.
    quenching = 'model = "polynomial"\ncoefficients = [0.2, 0.004]'
    out = rate_json(cli_main, write_model(tmp_path, quenching))
    expected = hand_counts(out["bins"], lambda x: _poly_inverse(x, 0.2, 0.004))
    np.testing.assert_allclose(out["signal"], expected, rtol=5e-3)


@pytest.mark.parametrize("from_file", [False, True], ids=["inline", "file"])
def test_tabulated_quenching_interpolates_linearly(tmp_path, cli_main, from_file):
    # Points (0, 0.2) and (100, 0.6) interpolate to Q = 0.2 + 0.004 E_nr: the polynomial above.
    if from_file:
        (tmp_path / "qf.csv").write_text("# E_nr [keVnr], Q\n0, 0.2\n100, 0.6\n", encoding="utf-8")
        quenching = 'model = "tabulated"\nfiles = ["qf.csv"]'
    else:
        quenching = 'model = "tabulated"\nenergy_keVnr = [0.0, 100.0]\nvalues = [0.2, 0.6]'
    out = rate_json(cli_main, write_model(tmp_path, quenching))
    expected = hand_counts(out["bins"], lambda x: _poly_inverse(x, 0.2, 0.004))
    np.testing.assert_allclose(out["signal"], expected, rtol=5e-3)


def test_tabulated_efficiency_ramp(tmp_path, cli_main):
    # ε rises linearly from 0 at 2 keVee to 1 at 3 keVee (Q = 0.25 constant): the [2, 4) bin
    # holds ∫ ε(x) dN/dx dx, dN/dx = (1/Q) dN/dE_nr(x/Q); the [1, 2) bin is empty and dropped.
    efficiency = 'model = "tabulated"\nx = [0.0, 2.0, 3.0, 10.0]\nvalues = [0.0, 0.0, 1.0, 1.0]'
    out = rate_json(cli_main, write_model(tmp_path, 'model = "constant"\nvalue = 0.25', efficiency))
    assert out["bins"] == [2.0, 4.0, 5.0, 7.0]
    n76 = nuclei_per_kg(GE76)

    def density(x):  # events per keVee at 1 kg·yr
        return KG_S * FLUX * n76 * dsigma_closed_cm2_per_keV(GE76, ENU, x / 0.25) / 0.25

    ramp = quad(lambda x: (x - 2.0) * density(x), 2.0, 3.0)[0] + quad(density, 3.0, 4.0)[0]
    # efficiency at 4 fine-bin midpoints per bin: a quadratic integrand, ~0.2 % off
    assert out["signal"][0] == pytest.approx(ramp, rel=5e-3, abs=0)
    np.testing.assert_allclose(
        out["signal"][1:], hand_counts([4.0, 5.0, 7.0], lambda x: x / 0.25), rtol=5e-3
    )
