"""Tests of convda.evaluate on synthetic predictions (no model, no training)."""
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from convda.core import ConvdaError, RunConfig
from convda.evaluate import (evaluate_run, format_metrics_table, synthetic_preds, write_evaluation)
from convda.metrics import mase, mse, naive_mae, nse, skill_score

FIGURES = {"fig6_transects.png", "fig7_maps_winter.png", "fig11_maps_summer.png",
           "figA1_learning_curve.png", "figA2_target_distribution.png", "nse_cell_map.png"}
KEYS = {"nse", "rmse", "mse", "kge", "mase", "nse_basin_total", "nse_winter", "nse_summer",
        "n_days", "target", "units", "nse_cell_median", "nse_cell_p10", "nse_cell_p90",
        "skill_vs_best_baseline", "best_baseline", "baselines"}
BASELINE_VARS = ["baseline_cell_mean", "baseline_doy_mean", "baseline_linear"]


@pytest.fixture(scope="module")
def preds():
    return synthetic_preds(days=120, start="2018-12-01")


def test_write_evaluation_files(tmp_path, preds):
    m = write_evaluation(tmp_path, preds, history={"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.6]})
    assert (tmp_path / "predictions.nc").stat().st_size > 0
    assert {p.name for p in (tmp_path / "figures").glob("*.png")} == FIGURES
    for name in FIGURES:
        data = (tmp_path / "figures" / name).read_bytes()
        assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n", name
    assert not list(tmp_path.rglob("*.tmp*"))            # no temporary file of an atomic write is left
    mj = json.loads((tmp_path / "metrics.json").read_text())
    assert KEYS <= set(mj)
    assert mj == m
    assert (mj["target"], mj["units"], mj["n_days"]) == ("uts0", "mm", 120)
    assert mj["date_winter"] == "2019-01-27"
    assert mj["nse"] == pytest.approx(nse(preds.observed, preds.predicted, preds.mask.values))
    assert sorted(mj["baselines"]) == ["cell_mean", "doy_mean", "linear"]
    for b, v in mj["baselines"].items():
        assert {"nse", "rmse", "kge", "mase", "nse_basin_total", "nse_cell_median", "skill_vs_best_baseline"} <= set(v), b
        assert v["nse"] == pytest.approx(nse(preds.observed, preds[f"baseline_{b}"], preds.mask.values))
    best = min(mj["baselines"], key=lambda b: mj["baselines"][b]["mse"])
    assert mj["best_baseline"] == best
    assert mj["skill_vs_best_baseline"] == pytest.approx(1 - mj["mse"] / mj["baselines"][best]["mse"])


def test_predictions_roundtrip(tmp_path, preds):
    write_evaluation(tmp_path, preds)  # no history: no learning curve
    assert not (tmp_path / "figures" / "figA1_learning_curve.png").exists()
    back = xr.open_dataset(tmp_path / "predictions.nc").load()
    assert back.observed.dims == ("time", "y", "x")
    assert back.attrs["target"] == "uts0" and back.predicted.attrs["units"] == "mm"
    assert back.mask.dtype == bool
    np.testing.assert_allclose(back.predicted.values, preds.predicted.values)
    assert sorted(v for v in back.data_vars if v.startswith("baseline_")) == BASELINE_VARS
    for v in BASELINE_VARS:
        assert back[v].dims == ("time", "y", "x") and back[v].attrs["units"] == "mm"
    assert np.isnan(back.observed.values[:, ~back.mask.values]).all()


def test_perfect_prediction_metrics(tmp_path, preds):
    perfect = preds.copy(); perfect["predicted"] = perfect["observed"]
    m = write_evaluation(tmp_path, perfect)
    assert m["nse"] == pytest.approx(1.0) and m["kge"] == pytest.approx(1.0) and m["mse"] == 0.0
    tbl = format_metrics_table(m)
    assert tbl.splitlines()[1].split() == ["network", "cell_mean", "doy_mean", "linear"]
    assert any(l.strip().startswith("NSE per cell, median") for l in tbl.splitlines())


def test_evaluate_run_not_a_run_folder(tmp_path):
    with pytest.raises(ConvdaError, match="run folder not found"):
        evaluate_run(tmp_path / "missing")
    with pytest.raises(ConvdaError, match="missing config.json, model.keras"):
        evaluate_run(tmp_path)
    RunConfig().to_json(tmp_path / "config.json")
    with pytest.raises(ConvdaError, match="missing model.keras"):
        evaluate_run(tmp_path)


def test_mase_in_sample_scale_ignores_eval_stride():
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(0, 1, (730, 3, 3)), axis=0)
    train, test = walk[:365], walk[365:]
    pred = test + 0.3 * np.where(rng.random(test.shape) < 0.5, -1, 1)
    scale = naive_mae(train)
    assert mase(test[::7], pred[::7], scale=scale) == pytest.approx(mase(test, pred, scale=scale), rel=1e-12)


def test_transposed_dims_aligned_or_refused():
    obs = xr.DataArray(np.random.default_rng(1).random((6, 4, 4)), dims=("time", "y", "x"))
    assert nse(obs, obs.transpose("time", "x", "y")) == pytest.approx(1.0)
    with pytest.raises(ConvdaError, match="different dimensions"):
        nse(obs, obs.rename(x="col"))


def test_linear_baseline_recovers_linear_relation():
    from convda.baselines import ewma, linear_baseline
    rng = np.random.default_rng(2)
    x = rng.gamma(1.0, 1.0, (700, 3, 4, 2)).astype(np.float32)
    mask = np.ones((3, 4), bool)
    truth = 1.5 * ewma(x[..., 0], 15) + 0.5 * ewma(x[..., 1], 120) + rng.normal(0, 2, (3, 4))
    y = np.full_like(truth, np.nan); y[1:] = truth[:-1]          # lead 1
    pred = linear_baseline(x, y, mask, np.arange(1, 500), np.arange(500, 700), lead=1)
    assert nse(y[500:], pred, mask) > 0.999


def test_constant_predictor_no_skill_vs_cell_mean():
    from convda.baselines import cell_mean
    obs = synthetic_preds(ny=8, nx=7, days=60, baselines=False)
    o, m = obs.observed.values, obs.mask.values
    ref = np.broadcast_to(cell_mean(o, np.arange(len(o))), o.shape)
    for seed in range(5):
        const = np.broadcast_to(ref[0] + np.random.default_rng(seed).normal(0, 1, ref.shape[1:]), o.shape)
        assert skill_score(mse(o, const, m), mse(o, ref, m)) <= 0
