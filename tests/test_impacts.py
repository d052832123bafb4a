"""Impacts (cevns_fit.inference.impacts): the median Z with each nuisance fixed, against the
closed forms of one-bin counting (Cowan et al., arXiv:1007.1727 Eq. 97, and Cowan's 2012 note
on Z_A with a background uncertainty σ_b)."""

from __future__ import annotations

import pytest

from cevns_fit.inference import significance_impacts
from tests.test_inference import counting, cowan_za, cowan_za_sigma_b


@pytest.mark.parametrize("s", [25.0, 0.5])  # 0.5: a total signal below one event is a signal
def test_fixing_the_background_normalisation_gives_the_statistics_only_z(s):
    b, rel_b = 100.0, 0.1
    impacts = significance_impacts(counting(s, b, rel_b=rel_b))
    z_stat = cowan_za(s, b)
    assert impacts.Z_stat_only == pytest.approx(z_stat, rel=1e-6, abs=0)
    assert impacts.Z_expected < 0.9 * z_stat  # σ_b = 10 events against √b = 10
    # the nuisances, and only they: the POI is never "fixed at nominal"
    assert [i.parameter for i in impacts.impacts] == ["bkg_norm"]
    only = impacts.impacts[0]
    assert only.Z_fixed == pytest.approx(z_stat, rel=1e-6, abs=0)
    assert only.delta_Z == pytest.approx(z_stat - impacts.Z_expected, rel=1e-9, abs=0)


def test_a_free_normalisation_measured_off_is_ranked_but_stays_free_for_stat_only():
    # on/off counting with τ = b/σ_b²: Cowan's Z_A(s, b, σ_b); fixing the free background
    # normalisation gives Z_A(s, b); the statistics-only Z fixes constrained nuisances only
    s, b, sigma_b = 20.0, 100.0, 10.0
    impacts = significance_impacts(counting(s, b, control_tau=b / sigma_b**2))
    z_sys = cowan_za_sigma_b(s, b, sigma_b)
    assert impacts.Z_expected == pytest.approx(z_sys, rel=1e-3, abs=0)
    assert impacts.Z_stat_only == pytest.approx(impacts.Z_expected, rel=1e-9, abs=0)
    assert [i.parameter for i in impacts.impacts] == ["bkg_norm"]
    assert impacts.impacts[0].Z_fixed == pytest.approx(cowan_za(s, b), rel=1e-6, abs=0)


def test_no_signal_has_no_significance_and_nothing_to_rank():
    impacts = significance_impacts(counting(0.0, 100.0, rel_b=0.1))
    assert impacts.Z_expected == 0.0 and impacts.Z_stat_only == 0.0
    assert impacts.impacts == () and impacts.most_costly is None


def test_impacts_at_another_exposure_scale_every_count():
    # 4× the exposure: s and b × 4, Z_stat = Z_A(4s, 4b)
    impacts = significance_impacts(counting(5.0, 100.0, rel_b=0.1), exposure_kg_yr=4.0)
    assert impacts.exposure_kg_yr == 4.0
    assert impacts.Z_stat_only == pytest.approx(cowan_za(20.0, 400.0), rel=1e-6, abs=0)
