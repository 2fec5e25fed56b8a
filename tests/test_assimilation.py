"Twin-experiment tests of convda.assimilation on a 12 x 12 grid and a 40-day test period."
import numpy as np
import pandas as pd
import pytest

from convda.assimilation import (ASSIM_TARGETS, check_state, make_observations, make_twin, mlda_update, run_assimilation,
                                 run_enkf, run_method, run_open_loop, run_oracle, tiny_config, truth_test)
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
    df = run_assimilation(cfg, out=out, n_ens=8, k=5, methods=("open_loop", "mlda", "enkf"))
    assert list(df.method) == ["open_loop", "mlda", "enkf"]
    assert np.isfinite(df[["nse_outlet", "kge_outlet", "rmse_sat", "rmse_uts0", "wall_s"]].values).all()
    files = {p.name for p in out.iterdir()}
    assert {"spec.json", "scores.csv", "series.nc", "networks.csv", "log.txt"} <= files
    assert (out / "models" / "sat" / "model.keras").exists() and (out / "figures" / "hydrograph_outlet.png").exists()
    assert len(pd.read_csv(out / "networks.csv")) == 1
    df2 = run_assimilation(cfg, out=out, n_ens=8, k=5, methods=("mlda",))
    assert (out / "log.txt").read_text().count("reloaded") == 1
    np.testing.assert_allclose(df2.rmse_sat[0], df.rmse_sat[1])
