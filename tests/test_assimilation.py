"Twin-experiment tests of convda.assimilation on a 12 x 12 grid and a 40-day test period."
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from convda.assimilation import (ASSIM_TARGETS, analysis_variance, check_state, make_observations, make_twin, mlda_update,
                                 model_error_var, oi_gain, oi_gains, pseudo_obs_analysis, run_assimilation, run_enkf, run_method,
                                 run_open_loop, run_oracle, tiny_config, truth_test, update_days)
from convda.metrics import nse, rmse


@pytest.fixture(scope="module")
def biased_twin():
    "Open-loop rain 20 % too low, exact observations."
    return make_twin(tiny_config(obs_rel_noise=0.0, k=3), keep_train=False)


def _state_rmse(twin, traj):
    tt = truth_test(twin)
    return np.array([rmse(tt["U"][:, l], traj["U"][:, l], twin.mask) for l in range(4)] + [rmse(tt["S"], traj["S"], twin.mask)])


def test_open_loop_without_forcing_error_is_the_truth():
    twin = make_twin(tiny_config(precip_sigma=0.0, precip_bias=1.0, init_scale=1.0), keep_train=False)
    ol = run_open_loop(twin)
    cycled = run_method(twin, twin.forcing["precip"], analyse=lambda t, s: s, k=4)   # chunked, no-op updates
    for k, v in truth_test(twin).items():
        np.testing.assert_array_equal(ol[k], v)
        np.testing.assert_array_equal(cycled[k], v)


def test_oracle_brings_discharge_back_after_routing_lag():
    twin = make_twin(tiny_config(precip_sigma=0.0, precip_bias=1.0, init_scale=0.6), keep_train=False)
    q = truth_test(twin)["q_gauge"]
    ol, orc = run_open_loop(twin)["q_gauge"], run_oracle(twin, k=10)["q_gauge"]
    assert np.abs(ol / q - 1).min() > 0.3
    np.testing.assert_allclose(orc[:10], ol[:10])                     # nothing changes before the insertion
    np.testing.assert_allclose(orc[12:], q[12:], rtol=1e-4, atol=1e-6)


def test_enkf_large_ensemble_exact_obs_reduces_state_rmse(biased_twin):
    obs = make_observations(biased_twin)
    assert obs.rel_noise == 0.0
    ol, en = run_open_loop(biased_twin), run_enkf(biased_twin, obs, n_ens=48)
    r_ol, r_en = _state_rmse(biased_twin, ol), _state_rmse(biased_twin, en)
    assert (r_en < r_ol).all(), (r_ol, r_en)
    assert r_en[-1] < 0.5 * r_ol[-1]
    tt = truth_test(biased_twin)["q_gauge"][:, 0]
    assert nse(tt, en["q_gauge"][:, 0]) > nse(tt, ol["q_gauge"][:, 0])
    assert en["q_members"].shape == (48, 40, 4)


@pytest.mark.parametrize("loc", ["none", "gc"])
def test_enkf_other_localisations_run_and_help(biased_twin, loc):
    obs = make_observations(biased_twin)
    en = run_enkf(biased_twin, obs, n_ens=24, loc=loc)
    assert _state_rmse(biased_twin, en)[-1] < _state_rmse(biased_twin, run_open_loop(biased_twin))[-1]


def test_mlda_update_is_physically_consistent(biased_twin):
    rng = np.random.default_rng(1)
    st = biased_twin.branch
    for scale in (1.0, 50.0, 1e4):
        pred = {t: rng.normal(0, scale, st.satwaterdepth.shape) for t in ASSIM_TARGETS}
        pred["sat"][0, :] = np.nan
        new = mlda_update(biased_twin.model, st, pred)
        assert check_state(biased_twin.static, new) == []
        m = biased_twin.mask
        assert np.isnan(new.satwaterdepth[~m]).all() and np.isfinite(new.satwaterdepth[m]).all()
        st = new


def test_run_assimilation_with_trained_networks_and_cache(tmp_path):
    pytest.importorskip("keras")
    cfg = tiny_config(targets=("sat",)).to_dict()   # one tiny network keeps this test near a minute
    out = tmp_path / "exp"
    methods = ["open_loop", "mlda", "mlda_oi", "enkf", "hybrid"]
    df = run_assimilation(cfg, out=out, n_ens=8, k=5, methods=methods, n_seeds=2, hybrid_net="grid")
    assert list(df.method) == methods * 2 and list(df.seed) == [0] * 5 + [1] * 5
    assert np.isfinite(df[["nse_outlet", "kge_outlet", "rmse_sat", "rmse_uts0", "wall_s", "s_per_update"]].values).all()
    np.testing.assert_allclose(df.s_per_update, df.wall_s / 8)            # 40 test days, k = 5
    files = {p.name for p in out.iterdir()}
    assert {"spec.json", "scores.csv", "scores_median.csv", "series.nc", "networks.csv", "log.txt"} <= files
    med = pd.read_csv(out / "scores_median.csv")
    assert list(med.method) == methods and (med.n_seeds == 2).all()
    np.testing.assert_allclose(med.nse_outlet, df.groupby("method", sort=False).nse_outlet.median().values)
    assert (out / "models" / "sat" / "model.keras").exists() and (out / "models" / "sat" / "error_var.nc").exists()
    assert (out / "figures" / "hydrograph_outlet.png").exists() and (out / "figures" / "state_rmse.png").exists()
    assert "rmse_hybrid" in xr.open_dataset(out / "series.nc")
    nets = pd.read_csv(out / "networks.csv")
    assert len(nets) == 1 and nets.val_rmse[0] > 0
    df2 = run_assimilation(cfg, out=out, n_ens=8, k=5, methods=("mlda",))
    assert (out / "log.txt").read_text().count("reloaded") == 1
    np.testing.assert_allclose(df2.rmse_sat[0], df.rmse_sat[1])


def test_run_assimilation_with_convda_sequence_networks(tmp_path):
    "convda's own networks (sequence mode, moving averages, static maps, mask) train as run folders and drive ML-DA."
    pytest.importorskip("keras")
    net = dict(mode="sequence", carry_states=True, stream_predict=True, chunk_days=5, chunk_batch=2, eq6=False, epochs=2, max_train_samples=None,
               memory_inputs=(5, 30), static_inputs=("soil_thickness", "soil_ksat_vertical", "land_slope"), mask_channel=True)
    cfg = tiny_config(targets=("uts1",), net=net).to_dict()
    out = tmp_path / "exp"
    df = run_assimilation(cfg, out=out, n_ens=8, k=5, methods=["open_loop", "mlda", "mlda_oi"], n_seeds=1)
    assert np.isfinite(df[["nse_outlet", "rmse_uts1", "s_per_update"]].values).all()
    d = out / "models" / "uts1"
    for f in ("config.json", "scalers.json", "model.keras", "metrics.json", "predictions.nc", "history.csv", "network.json", "error_var.nc"):
        assert (d / f).exists(), f                                  # an ordinary run folder of the one fit path
    import json
    rc = json.loads((d / "config.json").read_text())
    assert rc["mode"] == "sequence" and rc["static_inputs"] == ["soil_thickness", "soil_ksat_vertical", "land_slope"]
    assert "static:soil_ksat_vertical" in json.loads((d / "scalers.json").read_text())["scalers"]
    info = json.loads((d / "network.json").read_text())
    assert np.isfinite(info["val_nse"]) and info["epochs"] >= 1
    oi = df[df.method == "mlda_oi"].iloc[0]; ol = df[df.method == "open_loop"].iloc[0]
    assert oi.rmse_uts1 != ol.rmse_uts1                             # the network's states reached the model (OI has no skill gate)


def test_oi_gain_limits_reproduce_direct_insertion_and_background(biased_twin):
    tw = biased_twin; m = tw.mask; shape = tw.mask.shape
    pred = {t: (tw.truth["S"][7] if t == "sat" else tw.truth["U"][7, int(t[3])]) for t in ASSIM_TARGETS}
    B = {t: np.full(shape, 3.0) for t in ASSIM_TARGETS}
    direct = mlda_update(tw.model, tw.branch, pred)
    k1 = mlda_update(tw.model, tw.branch, pred, alpha=oi_gains(B, {t: np.zeros(shape) for t in B}))     # R = 0: K = 1
    k0 = mlda_update(tw.model, tw.branch, pred, alpha=oi_gains(B, {t: np.full(shape, np.inf) for t in B}))  # R = inf: K = 0
    np.testing.assert_allclose(k1.satwaterdepth[m], direct.satwaterdepth[m], rtol=1e-12)
    np.testing.assert_allclose(k1.ustorelayerdepth[:, m], direct.ustorelayerdepth[:, m], rtol=1e-12)
    np.testing.assert_allclose(k0.satwaterdepth[m], tw.branch.satwaterdepth[m], rtol=1e-12)
    np.testing.assert_allclose(k0.ustorelayerdepth[:, m], tw.branch.ustorelayerdepth[:, m], rtol=1e-12)
    assert oi_gain(3.0, 1e-9) == pytest.approx(1.0) and oi_gain(3.0, 1e9) == pytest.approx(0.0, abs=1e-8)


def test_analysis_variance_formula():
    rng = np.random.default_rng(0)
    assert analysis_variance(2.0, 6.0) == pytest.approx(1.5) and oi_gain(2.0, 6.0) == pytest.approx(0.25)
    assert analysis_variance(2.0, 0.0) == 0.0 and analysis_variance(2.0, np.inf) == 2.0
    x = rng.normal(0, 5, 400_000)
    xb, xn = x + rng.normal(0, np.sqrt(2.0), x.size), x + rng.normal(0, np.sqrt(6.0), x.size)
    xa = xb + oi_gain(2.0, 6.0) * (xn - xb)
    assert np.var(xa - x) == pytest.approx(1.5, rel=0.01)


def test_model_error_var_is_zero_for_the_true_rain_and_positive_for_the_open_loop(biased_twin):
    B0 = model_error_var(biased_twin, biased_twin.forcing["precip"])
    B1 = model_error_var(biased_twin, biased_twin.forcing["precip"] * 0.8)
    m = biased_twin.mask
    for t in ASSIM_TARGETS:
        assert B0[t].shape == m.shape and np.abs(B0[t][m]).max() == 0.0
    assert B1["sat"][m].mean() > 0


def test_pseudo_obs_analysis_is_the_kalman_filter_per_cell():
    rng = np.random.default_rng(1)
    X = rng.normal(0, 2, (20000, 1, 2))
    Xa = pseudo_obs_analysis(X, [[1.0, np.nan]], [[1.0, 1.0]], rng)
    assert Xa[:, 0, 0].mean() == pytest.approx(0.8, abs=0.03) and Xa[:, 0, 0].var() == pytest.approx(0.8, abs=0.03)
    np.testing.assert_array_equal(Xa[:, 0, 1], X[:, 0, 1])


def test_hybrid_with_skilful_pseudo_obs_beats_gauge_enkf():
    tw = make_twin(tiny_config(n_ens=24, k=3), keep_train=False)          # gauges with 10 % noise
    obs, days = make_observations(tw), update_days(tw)
    true = {t: (tw.truth["S"][days] if t == "sat" else tw.truth["U"][days, int(t[3])]).astype(np.float64) for t in ASSIM_TARGETS}
    sd = {t: 0.1 * np.nan_to_num(true[t]).mean(0) + 1.0 for t in ASSIM_TARGETS}
    noisy = {t: true[t] + np.random.default_rng(5).standard_normal(true[t].shape) * sd[t] for t in ASSIM_TARGETS}
    en = run_enkf(tw, obs)
    same = run_enkf(tw, obs, pseudo=dict(days=days, preds=noisy, r={t: np.full(sd[t].shape, np.inf) for t in ASSIM_TARGETS}))
    np.testing.assert_array_equal(same["q_gauge"], en["q_gauge"])
    hy = run_enkf(tw, obs, pseudo=dict(days=days, preds=noisy, r={t: sd[t] ** 2 for t in ASSIM_TARGETS}))
    assert (_state_rmse(tw, hy) < _state_rmse(tw, en)).all()
    q = truth_test(tw)["q_gauge"][:, 0]
    assert nse(q, hy["q_gauge"][:, 0]) >= nse(q, en["q_gauge"][:, 0])


def test_cli_assimilate_options():
    from convda.cli import _parser
    a = _parser().parse_args(["assimilate", "--n-seeds", "3", "--methods", "enkf", "hybrid", "--r-scale", "2", "--hybrid-net", "grid"])
    assert (a.n_seeds, a.methods, a.r_scale, a.hybrid_net) == (3, ["enkf", "hybrid"], 2.0, "grid")
