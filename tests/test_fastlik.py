"""The fast likelihood is pyhf's likelihood: same ln L, same gradients, same q0 and Z.

Independent references: pyhf 0.7.6 itself (``Model.logpdf``, its interpolators, its q0 with
the minuit optimizer) and central finite differences for the analytic gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

from cevns_fit.errors import InputError
from cevns_fit.fastlik import FastModel, code4_factor, code4p_delta
from cevns_fit.fastlik import _code4_coefficients as code4_coefficients
from cevns_fit.likelihood import build_workspace, pyhf_backend, pyhf_model
from cevns_fit.templates import AnalysisTemplates, Channel, Sample
from tests.conftest import plain_q0


def random_templates(
    seed: int, n_bins: int = 8, *, control: bool = True, stat: bool = True
) -> AnalysisTemplates:
    """A random model using every modifier the builder emits, with a zero-yield bin.

    Signal: mu, flux (normsys), quenching/threshold (histosys), staterror. Background A:
    free normalisation shared with a one-bin control channel, staterror. Background B:
    normsys plus a histosys sharing the name "quenching" with the signal.
    """
    rng = np.random.default_rng(seed)
    sig = rng.uniform(2, 30, n_bins)
    sig[-1] = 0.0  # zero-yield signal bin
    bkg_a = rng.uniform(10, 80, n_bins)
    bkg_a[-1] = 0.0
    bkg_b = rng.uniform(1, 10, n_bins)
    bkg_b[-1] = 0.0  # bin with nothing at all: staterror there must be fixed
    up = sig * rng.uniform(1.02, 1.3, n_bins)
    dn = sig * rng.uniform(0.7, 0.98, n_bins)
    t_up = sig * rng.uniform(0.9, 1.1, n_bins)
    t_dn = sig * rng.uniform(0.9, 1.1, n_bins)
    samples = (
        Sample(
            "cevns",
            sig,
            norm_factor="mu",
            norm_sys={"flux": rng.uniform(0.05, 0.2)},
            shape_sys={"quenching": (dn, up), "threshold": (t_dn, t_up)},
            stat_error=sig * rng.uniform(0.01, 0.1, n_bins) if stat else None,
        ),
        Sample(
            "steady_state",
            bkg_a,
            norm_factor="steady_state_norm" if control else None,
            norm_sys={} if control else {"steady_state_norm": 0.1},
            stat_error=bkg_a * rng.uniform(0.01, 0.05, n_bins) if stat else None,
        ),
        Sample(
            "neutrons",
            bkg_b,
            norm_sys={"neutron_norm": rng.uniform(0.1, 0.4)},
            shape_sys={"quenching": (bkg_b * 0.9, bkg_b * 1.15)},
        ),
    )
    channels = [Channel("beam_on", np.arange(n_bins + 1.0), "PE", samples)]
    if control:
        channels.append(
            Channel(
                "beam_off",
                np.array([0.0, 1.0]),
                "PE",
                (
                    Sample(
                        "steady_state", np.array([3 * bkg_a.sum()]), norm_factor="steady_state_norm"
                    ),
                ),
            )
        )
    return AnalysisTemplates(tuple(channels), exposure_kg_yr=2.0)


def pyhf_pars(fm: FastModel, model, pars: np.ndarray) -> np.ndarray:
    out = np.array(model.config.suggested_init(), float)
    for name in model.config.par_order:
        out[model.config.par_slice(name)] = pars[fm.set_slices[name]]
    return out


def pyhf_aux(fm: FastModel, model, aux: np.ndarray) -> np.ndarray:
    return np.concatenate([aux[fm.set_slices[name]] for name in model.config.auxdata_order])


def plain_asimov_q0(fm: FastModel, workspace: dict) -> float:
    """Plain pyhf's discovery q0 (two minuit fits) on its own Asimov data at μ = 1."""
    return plain_q0(
        workspace, asimov_pars=lambda model: pyhf_pars(fm, model, fm.nominal_pars(mu=1.0))
    )


def random_point(fm: FastModel, rng: np.random.Generator) -> np.ndarray:
    pars = fm.init.copy()
    for name, sl in fm.set_slices.items():
        kind = fm.set_types[name]
        n = sl.stop - sl.start
        if kind == "normfactor":
            pars[sl] = rng.uniform(0.3, 3.0, n)
        elif kind == "staterror":
            pars[sl] = np.where(fm.fixed[sl], 1.0, rng.uniform(0.8, 1.2, n))
        else:  # both sides of |α| = 1, where the interpolation changes regime
            pars[sl] = rng.uniform(-2.0, 2.0, n)
    return pars


@pytest.mark.parametrize(
    ("seed", "stat"), [(0, True), (1, True), (2, True), (3, False), (4, False)]
)
def test_logpdf_equals_pyhf_at_random_points(seed, stat):
    """Both compiled kernels (with and without staterror γ) give pyhf's ln L and λ."""
    templates = random_templates(seed, stat=stat)
    workspace = build_workspace(templates)
    fm = FastModel.from_workspace(workspace)
    rng = np.random.default_rng(100 + seed)
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        assert sorted(model.config.par_order) == fm.set_names
        assert model.config.npars == fm.n_pars
        for _ in range(5):
            pars = random_point(fm, rng)
            main = rng.poisson(fm.expected_main(pars)).astype(float)
            aux = fm.aux_nominal.copy()
            aux[fm.constrained & ~fm.fixed] += rng.normal(
                0, 0.3, (fm.constrained & ~fm.fixed).sum()
            )
            data = np.concatenate([main, pyhf_aux(fm, model, aux)])
            expected = float(model.logpdf(pyhf_pars(fm, model, pars), data)[0])
            assert fm.logpdf(pars, main, aux) == pytest.approx(expected, rel=1e-12, abs=1e-10)
            np.testing.assert_allclose(
                fm.expected_main(pars),
                model.expected_actualdata(pyhf_pars(fm, model, pars)),
                rtol=1e-12,
            )


def test_staterror_in_a_zero_yield_bin_is_fixed_as_in_pyhf():
    workspace = build_workspace(random_templates(3))
    fm = FastModel.from_workspace(workspace)
    with pyhf_backend():
        model, _ = pyhf_model(workspace)
        sl = model.config.par_slice("staterror_beam_on")
        np.testing.assert_array_equal(
            fm.fixed[fm.set_slices["staterror_beam_on"]],
            np.array(model.config.suggested_fixed())[sl],
        )
    assert fm.fixed[fm.set_slices["staterror_beam_on"]][-1]


@pytest.mark.parametrize("seed", [4, 5])
def test_analytic_gradient_matches_finite_differences(seed):
    fm = FastModel.from_workspace(build_workspace(random_templates(seed)))
    rng = np.random.default_rng(seed)
    pars = random_point(fm, rng)
    main = rng.poisson(fm.expected_main(pars)).astype(float)
    aux = fm.aux_nominal
    _, grad = fm.nll_and_grad(pars, main, aux)
    numeric = np.empty_like(grad)
    for i in range(fm.n_pars):
        h = 1e-6 * max(1.0, abs(pars[i]))
        up, dn = pars.copy(), pars.copy()
        up[i] += h
        dn[i] -= h
        numeric[i] = (fm.nll_and_grad(up, main, aux)[0] - fm.nll_and_grad(dn, main, aux)[0]) / (
            2 * h
        )
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-4)


def test_interpolation_codes_equal_pyhf_interpolators():
    import pyhf

    rng = np.random.default_rng(7)
    nom = rng.uniform(5, 10, 6)
    lo, hi = nom * rng.uniform(0.6, 0.95, 6), nom * rng.uniform(1.05, 1.5, 6)
    alphas = np.array([-3.2, -1.0, -0.7, -0.1, 0.0, 0.4, 1.0, 1.3, 4.0])
    with pyhf_backend():
        hset = [[[list(lo), list(nom), list(hi)]]]
        ref4p = np.asarray(pyhf.interpolators.code4p(hset)(np.array([alphas])))
        ref4 = np.asarray(pyhf.interpolators.code4([[[[0.8], [1.0], [1.25]]]])(np.array([alphas])))
    for j, a in enumerate(alphas):
        delta, _ = code4p_delta(np.array([a]), (hi - nom)[None], (nom - lo)[None])
        np.testing.assert_allclose(delta[0], ref4p[0, 0, j], rtol=1e-12, atol=1e-12)
        lo_f, hi_f = np.array([0.8]), np.array([1.25])
        factor, _ = code4_factor(np.array([a]), lo_f, hi_f, code4_coefficients(lo_f, hi_f))
        assert factor[0] == pytest.approx(ref4[0, 0, j, 0], rel=1e-12, abs=0)


@pytest.mark.parametrize("seed", [0, 6])
def test_asimov_q0_equals_plain_pyhf(seed):
    """Discovery q0 on Asimov data at μ = 1: fast path (one fit) vs plain pyhf (two fits)."""
    workspace = build_workspace(random_templates(seed, n_bins=6))
    fm = FastModel.from_workspace(workspace)
    main, aux = fm.asimov(mu=1.0)
    nominal = fm.nominal_pars(mu=1.0)
    fit0 = fm.fit(main, aux, fix={fm.poi_index: 0.0})
    assert fit0.success
    q0_fast = 2 * (fit0.nll - fm.nll_and_grad(nominal, main, aux)[0])
    assert np.sqrt(q0_fast) == pytest.approx(
        np.sqrt(plain_asimov_q0(fm, workspace)), rel=1e-4, abs=0
    )


def test_free_fit_to_prefit_asimov_returns_the_generating_point():
    fm = FastModel.from_workspace(build_workspace(random_templates(8)))
    main, aux = fm.asimov(mu=1.0)
    fit = fm.fit(main, aux, init=fm.nominal_pars(mu=0.5))
    free = ~fm.fixed
    np.testing.assert_allclose(fit.pars[free], fm.nominal_pars(mu=1.0)[free], atol=2e-4)


def test_scaled_model_equals_model_of_scaled_templates():
    templates = random_templates(9)
    fm = FastModel.from_workspace(build_workspace(templates)).scaled(7.5)
    ref = FastModel.from_workspace(build_workspace(templates.scaled_to(15.0)))
    rng = np.random.default_rng(9)
    pars = random_point(ref, rng)
    main = rng.poisson(ref.expected_main(pars)).astype(float)
    assert fm.logpdf(pars, main) == pytest.approx(ref.logpdf(pars, main), rel=1e-12, abs=0)


def test_fixed_poi_is_respected_and_nuisances_profiled():
    fm = FastModel.from_workspace(build_workspace(random_templates(10)))
    main, aux = fm.asimov(mu=1.0)
    fit = fm.fit(main, aux, fix={fm.poi_index: 0.0})
    assert fit.pars[fm.poi_index] == 0.0
    # without signal the free background normalisation must absorb part of it
    assert fit.pars[fm.set_slices["steady_state_norm"]][0] > 1.0


def test_unsupported_modifier_is_an_input_error():
    workspace = build_workspace(random_templates(11))
    workspace["channels"][0]["samples"][1]["modifiers"].append(
        {"name": "lumi", "type": "lumi", "data": None}
    )
    with pytest.raises(InputError, match="lumi"):
        FastModel.from_workspace(workspace)


@pytest.mark.parametrize("stat", [True, False])
def test_jacobian_equals_finite_differences_on_both_kernels(stat):
    fm = FastModel.from_workspace(build_workspace(random_templates(11, stat=stat)))
    rng = np.random.default_rng(5)
    pars = random_point(fm, rng)
    pars[fm.poi_index] = 0.0  # exact products at μ = 0 (no division by the factor)
    lam, jac = fm.jacobian(pars)
    np.testing.assert_allclose(lam, fm.expected_main(pars), rtol=1e-12)
    for i in range(fm.n_pars):
        h = 1e-6 * max(1.0, abs(pars[i]))
        up, dn = pars.copy(), pars.copy()
        up[i] += h
        dn[i] -= h
        numeric = (fm.expected_main(up) - fm.expected_main(dn)) / (2 * h)
        np.testing.assert_allclose(jac[i], numeric, rtol=1e-6, atol=1e-6 * lam.max())


def test_relative_stopping_and_warm_starts_give_the_fully_converged_q0():
    """The q0 fit may stop at 1e-7 of q0 and start from another exposure's fit: same q0."""
    from cevns_fit.inference import _asimov_q0

    fm = FastModel.from_workspace(build_workspace(random_templates(12, stat=False)))
    previous = None
    for factor in (0.5, 0.7, 1.0, 3.0, 10.0):
        scaled = fm.scaled(factor)
        q0, previous = _asimov_q0(scaled, init=previous)
        main, aux = scaled.asimov(mu=1.0)
        # reference: fully converged cold fit (no relative stopping), free fit at nominal
        cold = scaled.fit(main, aux, fix={scaled.poi_index: 0.0})
        nominal = scaled.nominal_pars(mu=1.0)
        q0_ref = 2 * (cold.nll - scaled.nll_and_grad(nominal, main, aux)[0])
        assert q0 == pytest.approx(q0_ref, rel=1e-7, abs=1e-10)


@pytest.mark.parametrize("stat", [True, False])
def test_interpolation_curvature_equals_finite_differences(stat):
    """∂²λ/∂θ_i² of the compiled kernel (histosys code 4p, normsys code 4 on both sides of
    |α| = 1) equals the second difference of λ; linear parameters have none."""
    fm = FastModel.from_workspace(build_workspace(random_templates(13, stat=stat)))
    rng = np.random.default_rng(13)
    pars = random_point(fm, rng)
    lam, _, curv = fm._lam_jac(pars, True)
    for i in range(fm.n_pars):
        h = 1e-4 * max(1.0, abs(pars[i]))
        up, dn = pars.copy(), pars.copy()
        up[i] += h
        dn[i] -= h
        numeric = (fm.expected_main(up) - 2 * lam + fm.expected_main(dn)) / h**2
        np.testing.assert_allclose(curv[i], numeric, rtol=1e-4, atol=1e-5 * lam.max())
    linear = [fm.set_slices[n] for n, kind in fm.set_types.items() if kind != "histosys"]
    assert any(np.any(curv[sl] != 0) for sl in linear)  # normsys curve, normfactors do not
    assert np.all(curv[fm.poi_index] == 0)


@pytest.mark.parametrize("name", ["cspbi3_array", "ge_array", "coherent_csi_2017"])
def test_newton_alone_converges_on_the_discovery_fit_and_equals_plain_pyhf(name):
    """The μ = 0 fit to Asimov data at a raised threshold (a background norm far from its
    nominal, a curved threshold histosys) converges by Newton in a few steps, without the
    L-BFGS-B fallback, to plain pyhf's q0. Gauss-Newton alone oscillated there."""
    from cevns_fit.detector import load_detector_model
    from cevns_fit.registry import detector_path
    from cevns_fit.templates import build_templates

    model = load_detector_model(detector_path(name))
    templates = build_templates(model.with_overrides(threshold_keVnr=1.2 * model.threshold_keVnr))
    workspace = build_workspace(templates)
    fm = FastModel.from_workspace(workspace)
    main, aux = fm.asimov(mu=1.0)
    fit0 = fm.fit(main, aux, fix={fm.poi_index: 0.0}, reference_nll=0.0)
    assert fit0.success and fit0.message == "Newton converged"
    assert fit0.n_evaluations <= 25
    q0_fast = 2 * fit0.nll  # deviance convention: the free fit's −ln L is 0 on Asimov data
    assert np.sqrt(q0_fast) == pytest.approx(
        np.sqrt(plain_asimov_q0(fm, workspace)), rel=1e-4, abs=0
    )


@pytest.mark.parametrize("seed", [21, 22])
def test_newton_on_a_model_with_many_free_parameters_equals_plain_pyhf(seed):
    """40 bins with staterror on two samples: > 32 free parameters, where the Newton loop
    takes its vectorised active set (the shipped models never do). The Asimov q0 and the
    free fit to Poisson data, with empty bins, equal plain pyhf's."""
    workspace = build_workspace(random_templates(seed, n_bins=40))
    fm = FastModel.from_workspace(workspace)
    assert int((~fm.fixed).sum()) > 32
    main, aux = fm.asimov(mu=1.0)
    fit0 = fm.fit(main, aux, fix={fm.poi_index: 0.0}, reference_nll=0.0)
    assert fit0.success and fit0.message == "Newton converged"
    assert np.sqrt(2 * fit0.nll) == pytest.approx(
        np.sqrt(plain_asimov_q0(fm, workspace)), rel=1e-4, abs=0
    )
    rng = np.random.default_rng(seed)
    data = rng.poisson(main).astype(float)
    data[:3] = 0.0
    free = fm.fit(data, fm.aux_nominal)
    assert free.success and free.message == "Newton converged"
    with pyhf_backend() as pyhf:
        model, _ = pyhf_model(workspace)
        full = np.concatenate([data, model.config.auxdata])
        best = pyhf.infer.mle.fit(full, model)
        plain = float(-model.logpdf(best, full)[0])
    fast = float(-fm.logpdf(free.pars, data))
    assert fast == pytest.approx(plain, rel=0, abs=1e-4)  # −ln L at both minima, same units
