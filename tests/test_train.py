"End-to-end test of convda.train: a tiny train_run writes a complete, reusable run folder."
import json
import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")
from convda.core import ConfigError, RunConfig
from convda.preprocess import synthetic_run
from convda.train import train_run

CFG = RunConfig(train_years=1, val_years=1, test_years=1, window=4, filters=(4, 4), epochs=1, patience=2,
                max_train_samples=16, batch_size=8)
RUN_FILES = {"config.json", "scalers.json", "model.keras", "history.csv", "log.txt", "predictions.nc", "metrics.json"}


@pytest.fixture(scope="module")
def tiny_ds():
    return synthetic_run(ny=8, nx=7, start="1999-01-01", end="2001-12-31", nan_years=())


@pytest.fixture(scope="module")
def run_dir(tiny_ds, tmp_path_factory):
    return train_run(tiny_ds, CFG, tmp_path_factory.mktemp("runs") / "uts0_tiny", verbose=0)


def test_run_folder_is_complete(run_dir):
    assert RUN_FILES <= {p.name for p in run_dir.iterdir() if p.is_file()}
    assert any((run_dir / "figures").glob("*.png"))
    assert (run_dir / "figures" / "fig5_scaled_inputs.png").stat().st_size > 10_000   # Figure 5: the scaled inputs
    assert not (run_dir / "backup").exists()
    assert RunConfig.from_json(run_dir / "config.json") == CFG
    hist = pd.read_csv(run_dir / "history.csv")
    assert list(hist.epoch) == [0] and np.isfinite(hist[["loss", "val_loss"]].values).all()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"nse", "rmse", "mse", "kge", "mase"} <= set(metrics) and np.isfinite(metrics["rmse"])
    assert "epoch 1/1" in (run_dir / "log.txt").read_text()


def test_saved_model_reloads_with_masked_loss(run_dir):
    import convda.model  # noqa: F401  registers MaskedMSE
    model = keras.saving.load_model(run_dir / "model.keras")
    assert type(model.loss).__name__ == "MaskedMSE"
    x = np.random.default_rng(0).random((2, CFG.window, 8, 7, 4)).astype("float32")
    p = model.predict(x, verbose=0)
    assert p.shape == (2, 8, 7, 1) and (p >= 0).all()


def test_finished_run_is_not_retrained_or_overwritten(tiny_ds, run_dir):
    mtime = (run_dir / "model.keras").stat().st_mtime_ns
    train_run(tiny_ds, CFG, run_dir, verbose=0)
    assert (run_dir / "model.keras").stat().st_mtime_ns == mtime
    with pytest.raises(ConfigError, match="lr: 0.001 -> 0.01"):
        train_run(tiny_ds, CFG.replace(lr=0.01), run_dir, verbose=0)
    assert (run_dir / "model.keras").stat().st_mtime_ns == mtime


def test_sequence_mode_run_folder_and_reevaluation(tiny_ds, tmp_path):
    "mode='sequence' (issue 7) goes through the same run folder and re-evaluates to the same metrics."
    from convda.evaluate import evaluate_run
    cfg = CFG.replace(mode="sequence", chunk_days=16, max_train_samples=None)  # chunks need consecutive days
    run = train_run(tiny_ds, cfg, tmp_path / "seq", verbose=0)
    assert RUN_FILES <= {p.name for p in run.iterdir() if p.is_file()}
    m = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(m["rmse"]) and m["n_days"] > 300
    assert not (run / "backup").exists()                                     # the checkpoint goes once model.keras is saved
    m2 = evaluate_run(run, data=tiny_ds)
    assert m2["rmse"] == pytest.approx(m["rmse"], rel=1e-5)
    # killed after the model was saved and before the evaluation: a new process (no convda.sequence imported
    # yet, so its loss class is unknown) evaluates the saved model instead of failing to load it
    import subprocess, sys
    (run / "metrics.json").unlink(); (run / "predictions.nc").unlink()
    code = ("import json, sys; from convda.core import RunConfig; from convda.preprocess import synthetic_run; "
            "from convda.train import train_run; "
            "ds = synthetic_run(ny=8, nx=7, start='1999-01-01', end='2001-12-31', nan_years=()); "
            f"train_run(ds, RunConfig.from_json({str(run / 'config.json')!r}), {str(run)!r}, verbose=0)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads((run / "metrics.json").read_text())["rmse"] == pytest.approx(m["rmse"], rel=1e-5)


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown mode"):
        CFG.replace(mode="streaming")


def test_weighted_loss_through_train_run(tiny_ds, tmp_path):
    "cfg.loss='denseweight' reaches fit (23_losses) and the run folder reloads with its weighted loss."
    import convda.losses  # noqa: F401  registers the weighted loss
    run = train_run(tiny_ds, CFG.replace(loss="denseweight"), tmp_path / "dw", verbose=0)
    m = keras.saving.load_model(run / "model.keras")
    assert "Weighted" in type(m.loss).__name__
    assert np.isfinite(json.loads((run / "metrics.json").read_text())["rmse"])
