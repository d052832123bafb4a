"""Energy resolution: the seed's Fig. 2 fit, germanium, Poisson PE; the ``resolution`` CLI."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest

from cevns_fit.cli import resolution as resolution_cli
from cevns_fit.cli._common import emit, run_guarded
from cevns_fit.errors import InputError
from cevns_fit.resolution import (
    FWHM_PER_SIGMA,
    GaussianResolution,
    GermaniumResolution,
    NoResolution,
    PoissonPEResolution,
    PolyaPEResolution,
    SeedPerovskiteResolution,
    seed_fwhm_percent,
    seed_threshold_keVee,
)


def test_seed_resolution_is_100_percent_at_4_30_keVee():
    # Seed §5: "worse than 100 % for photon energies below 4.3 keV".
    threshold = seed_threshold_keVee()
    assert threshold == pytest.approx(4.30, abs=0.005)
    assert seed_fwhm_percent(threshold) == pytest.approx(100.0, rel=1e-10, abs=0)


@pytest.mark.parametrize("level", [20.0, 50.0, 100.0, 200.0])
def test_threshold_solves_the_resolution_equation(level):
    e = seed_threshold_keVee(level)
    assert seed_fwhm_percent(e) == pytest.approx(level, rel=1e-10, abs=0)
    # R decreases through the crossing: worse below, better above.
    assert seed_fwhm_percent(0.99 * e) > level > seed_fwhm_percent(1.01 * e)


def test_level_below_the_asymptotic_resolution_is_an_input_error():
    with pytest.raises(InputError, match="asymptotic"):
        seed_threshold_keVee(2.0)  # sqrt(A) = 2.22 %


def test_seed_sigma_is_fwhm_over_2_355():
    assert FWHM_PER_SIGMA == pytest.approx(2.35482, abs=1e-5)
    res = SeedPerovskiteResolution()
    assert res.sigma_keVee(10.0) == pytest.approx(
        seed_fwhm_percent(10.0) / 100 * 10.0 / 2.35482, rel=1e-5, abs=0
    )
    # Finite as E -> 0 (the C/E² term dominates: σ -> sqrt(C)/100/2.355 keVee).
    assert res.sigma_keVee(1e-9) == pytest.approx(res.sigma_keVee(0.0), rel=1e-3, abs=0)
    assert res.scaled(1.2).sigma_keVee(10.0) == pytest.approx(
        1.2 * res.sigma_keVee(10.0), rel=1e-6, abs=0
    )


def test_germanium_fano_and_noise_add_in_quadrature():
    res = GermaniumResolution(fano=0.11, pair_energy_eV=2.96, noise_sigma_keVee=0.0)
    # Fano-limited σ at the 10.37 keV Ge K-shell line: sqrt(F w E) = 59 eV.
    assert res.sigma_keVee(10.37) == pytest.approx(np.sqrt(0.11 * 2.96e-3 * 10.37), rel=1e-6, abs=0)
    noisy = GermaniumResolution(noise_sigma_keVee=0.15)
    assert noisy.sigma_keVee(0.0) == pytest.approx(0.15, rel=1e-6, abs=0)
    assert noisy.sigma_keVee(10.37) == pytest.approx(
        np.hypot(0.15, res.sigma_keVee(10.37)), rel=1e-6, abs=0
    )


def test_gaussian_terms():
    res = GaussianResolution(sigma0_keVee=0.3, stochastic_sqrt_keVee=0.2, relative=0.01)
    e = 4.0
    assert res.sigma_keVee(e) == pytest.approx(
        np.sqrt(0.09 + 0.04 * e + (0.01 * e) ** 2), rel=1e-6, abs=0
    )


def main(argv: list[str]) -> int:
    """The ``cevns-fit`` entry point restricted to this command (registered by the lead)."""
    parser = argparse.ArgumentParser(prog="cevns-fit")
    resolution_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(argv)
    result = run_guarded(args.func, args)
    if isinstance(result, int):
        return result
    emit(result, args)
    return 0


def test_resolution_cli_prints_the_fit_and_threshold(capsys, tmp_path):
    out = tmp_path / "fig2.png"
    assert main(["resolution", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["threshold_keVee_at_100pct"] == pytest.approx(4.30, abs=0.005)
    assert (result["A"], result["B"], result["C"]) == (4.95, -1098.24, 189690.18)
    assert result["threshold_keVnr_at_level"] == pytest.approx(4.30 / 0.3, abs=0.02)
    assert "not the data points" in result["note"]
    assert out.stat().st_size > 1000


def test_resolution_cli_bad_level_exits_2(capsys):
    assert main(["resolution", "--level", "1.0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "resolution level" in err[0]


# ---- thresholds of other fits, the models' contracts ------------------------------------------


def test_a_constant_only_fit_gives_r_equal_sqrt_a_at_every_energy():
    # R = sqrt(A + B/E + C/E²) with B = C = 0 is sqrt(A) everywhere, however small: no floor.
    e = np.array([1.0, 10.0, 100.0])
    np.testing.assert_allclose(seed_fwhm_percent(e, 0.25, 0.0, 0.0), 0.5, rtol=1e-15, atol=0)


def test_threshold_of_a_fit_with_sub_percent_asymptote_solves_its_equation():
    # A = 0.2 (asymptote 0.447 %): R = 0.5 % is reached where (A − R²) E² + B E + C = 0,
    # E = (−B − √(B² − 4aC))/(2a) with a = A − R² = −0.05 (here 95.45 keVee).
    A, B, C = 0.2, -100.0, 1.0e4
    a = A - 0.5**2
    by_hand = (-B - math.sqrt(B * B - 4 * a * C)) / (2 * a)
    e = seed_threshold_keVee(0.5, A, B, C)
    assert e == pytest.approx(by_hand, rel=1e-12, abs=0)
    assert seed_fwhm_percent(e, A, B, C) == pytest.approx(0.5, rel=1e-10, abs=0)


@pytest.mark.parametrize(
    ("level", "A", "shown"),
    [
        (2.0, 4.0, "2"),  # exactly the asymptote sqrt(A): only reached as E → ∞
        (0.0, -1.0, "0"),  # a non-positive level, even for a fit with A < 0
        (-5.0, 4.95, "2.22"),
    ],
)
def test_unreachable_resolution_levels_are_input_errors(level, A, shown):
    with pytest.raises(InputError) as info:
        seed_threshold_keVee(level, A=A)
    assert str(info.value) == (
        f"resolution level {level!r} %: must exceed the asymptotic resolution sqrt(A) = {shown} %"
    )


def test_asymptote_in_the_message_is_sqrt_a():
    with pytest.raises(InputError, match=re.escape("sqrt(A) = 0.5 %")):
        seed_threshold_keVee(0.4, A=0.25)


def test_seed_sigma_below_1_keVee_follows_the_fit():
    # Only E = 0 uses the E → 0 limit; at 0.5 keVee σ = R(0.5)/100 · 0.5/2.3548 by hand.
    e = 0.5
    r = math.sqrt(4.95 - 1098.24 / e + 189690.18 / e**2)
    sigma = r / 100 * e / (2 * math.sqrt(2 * math.log(2)))
    assert SeedPerovskiteResolution().sigma_keVee(e) == pytest.approx(sigma, rel=1e-12, abs=0)


def test_each_gaussian_term_has_its_own_energy_dependence():
    # noise: constant; stochastic: ∝ √E; constant term: ∝ E (the others default to zero).
    e = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(
        GaussianResolution(sigma0_keVee=0.3).sigma_keVee(e), 0.3, rtol=1e-15, atol=0
    )
    np.testing.assert_allclose(
        GaussianResolution(stochastic_sqrt_keVee=0.2).sigma_keVee(e),
        [0.2, 0.4, 0.6],
        rtol=1e-15,
        atol=0,
    )
    np.testing.assert_allclose(
        GaussianResolution(relative=0.01).sigma_keVee(e), [0.01, 0.04, 0.09], rtol=1e-15, atol=0
    )


def test_germanium_defaults_are_fano_011_w_296_eV_and_150_eV_noise():
    # Knoll ch. 12: F ≈ 0.11, w = 2.96 eV; 150 eV electronic noise.
    e = 10.37
    assert GermaniumResolution().sigma_keVee(e) == pytest.approx(
        math.sqrt(0.15**2 + 0.11 * 2.96e-3 * e), rel=1e-12, abs=0
    )


ALL_MODELS = [
    SeedPerovskiteResolution(relative_sigma=0.2),
    GermaniumResolution(noise_sigma_keVee=0.1, relative_sigma=0.1),
    GaussianResolution(sigma0_keVee=0.3, stochastic_sqrt_keVee=0.2, relative=0.01),
    NoResolution(),
    PoissonPEResolution(),
    PolyaPEResolution(theta=2.5),
]


def test_only_a_stated_relative_width_uncertainty_makes_a_resolution_nuisance():
    assert SeedPerovskiteResolution(relative_sigma=0.2).has_uncertainty is True
    assert GermaniumResolution(relative_sigma=0.5).has_uncertainty is True
    for res in (SeedPerovskiteResolution(), GermaniumResolution(), GaussianResolution()):
        assert res.has_uncertainty is False, res
    # Counting statistics and a perfect detector have no free width.
    for res in (NoResolution(), PoissonPEResolution(), PolyaPEResolution(2.0)):
        assert res.has_uncertainty is False, res
        assert res.scaled(1.5) == res


def test_gaussian_and_counting_models_say_which_they_are():
    # The response treats "counting" models as integer PE and every other as a Gaussian width.
    kinds = [r.kind for r in ALL_MODELS]
    assert kinds == ["gaussian"] * 4 + ["counting"] * 2


@pytest.mark.parametrize("res", ALL_MODELS, ids=lambda r: type(r).__name__)
def test_model_description_reads_back_as_the_same_model(res):
    # to_dict() is the model file's [resolution] section (plus the width scale, 1 as loaded).
    from cevns_fit.config import ConfigTable
    from cevns_fit.response_sections import read_resolution

    data = res.to_dict()
    assert data.pop("scale", 1.0) == 1.0
    observable = "PE" if res.kind == "counting" else "keVee"
    assert read_resolution(ConfigTable(Path("m.toml"), data), observable) == res


@pytest.mark.parametrize("res", ALL_MODELS, ids=lambda r: type(r).__name__)
def test_resolution_models_are_immutable_values(res):
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.relative_sigma = 0.5
