"""Energy resolution: the seed's Fig. 2 fit, germanium, Poisson PE; the ``resolution`` CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from cevns_fit.cli import resolution as resolution_cli
from cevns_fit.cli._common import emit, run_guarded
from cevns_fit.errors import InputError
from cevns_fit.resolution import (
    FWHM_PER_SIGMA,
    GaussianResolution,
    GermaniumResolution,
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
