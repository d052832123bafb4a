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
inline and from a file, with its point errors as the ±1σ or without), the efficiency
(tabulated) and a background table's time column summed over a window.
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


@pytest.mark.parametrize("use_point_errors", [True, False])
def test_quenching_table_point_errors_are_the_quenching_uncertainty(
    tmp_path, cli_main, use_point_errors
):
    # Points (E, dE, Q, dQ) = (0, 0, 0.2, 0.02) and (100, 0, 0.6, 0.06): Q = 0.2 + 0.004 E_nr
    # with a 10 % error, so the ±1σ templates are the counts at Q × (1 ± 0.1), by hand;
    # use_point_errors = false keeps the central values and drops the uncertainty.
    (tmp_path / "qf.csv").write_text(
        "# E_nr, dE, Q, dQ\n0, 0, 0.2, 0.02\n100, 0, 0.6, 0.06\n", encoding="utf-8"
    )
    quenching = 'model = "tabulated"\nfiles = ["qf.csv"]'
    if not use_point_errors:
        quenching += "\nuse_point_errors = false"
    path = write_model(tmp_path, quenching)
    code, _, err = cli_main("workspace", path, "-o", tmp_path / "ws.json")
    assert code == 0, err
    (sample,) = json.loads((tmp_path / "ws.json").read_text())["channels"][0]["samples"]
    edges = [1.0, 2.0, 4.0, 5.0, 7.0]
    nominal = hand_counts(edges, lambda x: _poly_inverse(x, 0.2, 0.004))
    np.testing.assert_allclose(sample["data"], nominal, rtol=5e-3, atol=0)
    histosys = {m["name"]: m["data"] for m in sample["modifiers"] if m["type"] == "histosys"}
    if not use_point_errors:
        assert "quenching" not in histosys
        return
    up = hand_counts(edges, lambda x: _poly_inverse(x, 0.22, 0.0044))
    down = hand_counts(edges, lambda x: _poly_inverse(x, 0.18, 0.0036))
    np.testing.assert_allclose(histosys["quenching"]["hi_data"], up, rtol=5e-3, atol=0)
    np.testing.assert_allclose(histosys["quenching"]["lo_data"], down, rtol=5e-3, atol=0)


@pytest.mark.parametrize("window", ["time_max_us = 4.0", "time_window_us = [0.0, 4.0]"])
def test_a_background_tables_time_column_is_summed_up_to_time_max(tmp_path, cli_main, window):
    # An energy-only analysis reading an energy × time table: counts over [first time edge,
    # time_max_us] = [0, 4] µs, i.e. the [0, 2) bin and half of [2, 6) (flat inside a bin),
    # then spread over the analysis bins by width: [1, 4) keVee → 1/3 in [1, 2), 2/3 in [2, 4).
    rows = [(1, 4, 0, 2, 30.0), (1, 4, 2, 6, 12.0), (1, 4, 6, 10, 500.0)]
    rows += [(4, 7, 0, 2, 9.0), (4, 7, 2, 6, 6.0), (4, 7, 6, 10, 700.0)]
    lines = ["energy_low,energy_high,time_low,time_high,counts"]
    lines += [",".join(map(str, r)) for r in rows]
    (tmp_path / "bkg.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    path = write_model(tmp_path, 'model = "constant"\nvalue = 0.25')
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[backgrounds]]\nname = "late"\nkind = "tabulated"\nfile = "bkg.csv"\n'
            f'file_units = "counts"\n{window}\n'
        )
    code, _, err = cli_main("workspace", path, "-o", tmp_path / "ws.json")
    assert code == 0, err
    samples = json.loads((tmp_path / "ws.json").read_text())["channels"][0]["samples"]
    late = next(s for s in samples if s["name"] == "late")
    low, high = 30.0 + 12.0 / 2, 9.0 + 6.0 / 2
    expected = [low / 3, 2 * low / 3, high / 3, 2 * high / 3]
    assert late["data"] == pytest.approx(expected, rel=1e-12, abs=0)
