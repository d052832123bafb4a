"""Form factors: coherence at q -> 0, published shapes, per-isotope evaluation."""

import numpy as np
import pytest
from scipy.integrate import quad

from cevns_fit.errors import InputError
from cevns_fit.form_factors import get_form_factor, helm, klein_nystrand, unity


@pytest.mark.parametrize("ff", [helm, klein_nystrand, unity])
@pytest.mark.parametrize("A", [28, 40, 73, 127, 133, 208])
def test_form_factor_tends_to_one_as_q_tends_to_zero(ff, A):
    q = np.array([0.0, 1e-6, 1e-4, 1e-3])
    assert np.allclose(ff(q, A), 1.0, atol=1e-6)


def test_form_factors_fall_with_momentum_transfer_and_faster_for_heavier_nuclei():
    q = np.linspace(0.01, 0.5, 50)
    for ff in (helm, klein_nystrand):
        assert np.all(np.diff(ff(q, 133)) < 0)
        assert np.all(ff(q, 208) < ff(q, 73))


def test_helm_equals_fourier_transform_of_its_density():
    # Helm's density is a uniform sphere of radius r_n folded with a Gaussian of width s, so F
    # is the product of the sphere's transform (computed here by direct integration) and
    # exp(-q²s²/2).
    A, q = 133, 0.3
    c = 1.23 * A ** (1 / 3) - 0.60
    r_n = np.sqrt(c**2 + 7 / 3 * np.pi**2 * 0.52**2 - 5 * 0.9**2)
    sphere = quad(lambda r: r**2 * np.sin(q * r) / (q * r), 0, r_n)[0] / (r_n**3 / 3)
    assert helm(q, A) == pytest.approx(sphere * np.exp(-((q * 0.9) ** 2) / 2), rel=1e-9, abs=0)


def test_helm_and_klein_nystrand_agree_within_a_few_percent_at_pi_dar_momentum():
    # At q ≈ 0.2 fm⁻¹ (E_R ≈ 20 keVnr on Cs) both parametrise the same nucleus.
    assert helm(0.2, 133) == pytest.approx(klein_nystrand(0.2, 133), rel=0.05, abs=0)


def test_unknown_form_factor_is_an_input_error():
    with pytest.raises(InputError) as info:
        get_form_factor("gaussian")
    assert str(info.value) == (
        "form factor 'gaussian': unknown, allowed: helm, klein-nystrand, none"
    )
    assert get_form_factor("klein-nystrand") is klein_nystrand
    assert get_form_factor("none") is unity and get_form_factor("helm") is helm


def _sphere(x: float) -> float:
    """3 j₁(x)/x = 3 (sin x − x cos x)/x³ (no cancellation problem for x ≳ 0.05)."""
    return 3 * (np.sin(x) - x * np.cos(x)) / x**3


def test_klein_nystrand_is_the_hard_sphere_times_a_yukawa():
    # F = 3 j₁(qR)/(qR) / (1 + q² a_k²), R = 1.2 A^(1/3) fm, a_k = 0.7 fm (Klein & Nystrand,
    # PRC 60, 014903 (1999)).
    for A in (73, 133, 208):
        for q in (0.05, 0.3, 0.8):
            radius = 1.2 * A ** (1 / 3)
            expected = _sphere(q * radius) / (1 + (0.7 * q) ** 2)
            assert klein_nystrand(q, A) == pytest.approx(expected, rel=1e-12, abs=0)


def test_sphere_transform_below_and_above_the_series_switch():
    # Below |x| = 1e-3 the library uses 1 − x²/10 + x⁴/280 (next term x⁶/15120 < 1e-22);
    # above, scipy's j₁. Both must be the function 3 j₁(x)/x: with Helm's s = 0.9 fm and
    # r_n(A = 133) the argument is x = q r_n, so q picks x.
    c = 1.23 * 133 ** (1 / 3) - 0.60
    r_n = np.sqrt(c**2 + 7 / 3 * np.pi**2 * 0.52**2 - 5 * 0.9**2)
    for x in (9.9e-4, 5e-4):
        q = x / r_n
        series = 1 - x**2 / 10 + x**4 / 280
        assert helm(q, 133) / np.exp(-((q * 0.9) ** 2) / 2) == pytest.approx(
            series, rel=1e-15, abs=0
        )
    for x in (0.05, 0.5, 2.0):
        q = x / r_n
        assert helm(q, 133) == pytest.approx(
            _sphere(x) * np.exp(-((q * 0.9) ** 2) / 2), rel=1e-12, abs=0
        )
