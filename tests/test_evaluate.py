"""Tests of convda.evaluate on synthetic predictions (no model, no training)."""
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from convda.core import ConvdaError, RunConfig
from convda.evaluate import (evaluate_run, print_metrics_table, synthetic_preds, write_evaluation)
from convda.metrics import nse

FIGURES = {"fig6_transects.png", "fig7_maps_winter.png", "fig11_maps_summer.png",
           "figA1_learning_curve.png", "figA2_target_distribution.png"}
KEYS = {"nse", "rmse", "mse", "kge", "mase", "nse_basin_total", "nse_winter", "nse_summer",
        "n_days", "target", "units"}


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
    assert not list(tmp_path.rglob("*.tmp"))
    mj = json.loads((tmp_path / "metrics.json").read_text())
    assert KEYS <= set(mj)
    assert mj == m
    assert (mj["target"], mj["units"], mj["n_days"]) == ("uts0", "mm", 120)
    assert mj["date_winter"] == "2019-01-27"
    assert mj["nse"] == pytest.approx(nse(preds.observed, preds.predicted, preds.mask.values))


def test_predictions_roundtrip(tmp_path, preds):
    write_evaluation(tmp_path, preds)  # no history: no learning curve
    assert not (tmp_path / "figures" / "figA1_learning_curve.png").exists()
    back = xr.open_dataset(tmp_path / "predictions.nc").load()
    assert back.observed.dims == ("time", "y", "x")
    assert back.attrs["target"] == "uts0" and back.predicted.attrs["units"] == "mm"
    assert back.mask.dtype == bool
    np.testing.assert_allclose(back.predicted.values, preds.predicted.values)
    assert np.isnan(back.observed.values[:, ~back.mask.values]).all()


def test_perfect_prediction_metrics(tmp_path, preds):
    perfect = preds.copy(); perfect["predicted"] = perfect["observed"]
    m = write_evaluation(tmp_path, perfect)
    assert m["nse"] == pytest.approx(1.0) and m["kge"] == pytest.approx(1.0) and m["mse"] == 0.0
    assert "nse" in print_metrics_table(m)


def test_evaluate_run_not_a_run_folder(tmp_path):
    with pytest.raises(ConvdaError, match="run folder not found"):
        evaluate_run(tmp_path / "missing")
    with pytest.raises(ConvdaError, match="missing config.json, model.keras"):
        evaluate_run(tmp_path)
    RunConfig().to_json(tmp_path / "config.json")
    with pytest.raises(ConvdaError, match="missing model.keras"):
        evaluate_run(tmp_path)
