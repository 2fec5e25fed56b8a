"""One training path: every trainer builds its model in `convda.train.compiled_model` and writes its run
folder with the shared writers, so a RunConfig field means the same in `convda run`, the loss
comparison, sensitivity and tuning."""
import json
import numpy as np
import pytest

keras = pytest.importorskip("keras")
import convda.train as train
from convda.core import RunConfig
from convda.model import train_target_mean
from convda.preprocess import prepare, synthetic_run

CFG = RunConfig(train_years=1, val_years=1, test_years=1, window=4, filters=(2, 2), epochs=1, patience=1,
                max_train_samples=16, batch_size=8)


@pytest.fixture(scope="module")
def tiny_ds():
    return synthetic_run(ny=8, nx=7, start="1999-01-01", end="2001-12-31", nan_years=())


@pytest.fixture(scope="module")
def tiny(tiny_ds):
    return prepare(tiny_ds, CFG)


@pytest.mark.parametrize("field, value, seen", [
    ("adam_beta1", 0.5, lambda m, p: float(m.optimizer.beta_1) == 0.5),
    ("adam_epsilon", 1e-8, lambda m, p: float(m.optimizer.epsilon) == 1e-8),
    ("lr", 2e-3, lambda m, p: np.isclose(float(m.optimizer.learning_rate), 2e-3)),
    ("lr_schedule", "cosine", lambda m, p: type(m.optimizer._learning_rate).__name__ == "CosineDecay"),
    ("head_init", "mean", lambda m, p: np.isclose(float(m.get_layer("conv2d").bias.numpy()[0]), train_target_mean(p), atol=1e-4)),
    ("head_activation", "softplus", lambda m, p: m.get_layer("conv2d").get_config()["activation"] == "softplus"),
    ("filters", (3, 2), lambda m, p: [l.filters for l in m.layers if "conv_lstm" in l.name] == [3, 2]),
    ("loss", "lds", lambda m, p: type(m.loss).__name__ == "WeightedMaskedMSE"),
])
def test_each_field_reaches_the_model(tiny, field, value, seen):
    model = train.compiled_model(tiny, CFG.replace(**{field: value}))
    assert seen(model, tiny), field


def test_loss_comparison_trains_through_fit(tiny_ds, monkeypatch):
    from convda.sensitivity import compare_losses
    calls = []
    real = train.fit
    def spy(prep, cfg, *a, **kw):
        calls.append(cfg.loss); return real(prep, cfg, *a, **kw)
    monkeypatch.setattr(train, "fit", spy)
    tab = compare_losses(tiny_ds, CFG.replace(adam_beta1=0.5), losses=("mse", "lds"))
    assert list(dict.fromkeys(calls)) == ["mse", "lds"] and list(tab.index) == ["mse", "lds"]
    assert np.isfinite(tab[["mse", "nse"]].to_numpy()).all()


def test_fit_without_run_folder_and_with_a_loss_object(tiny):
    loss = keras.losses.MeanAbsoluteError()
    model, hist = train.fit(tiny, CFG, verbose=0, loss=loss)
    assert model.loss is loss and len(hist) == 1


def test_sensitivity_run_folder_through_the_shared_writers(tiny_ds, tmp_path, monkeypatch):
    from convda.sensitivity import train_one
    used = []
    real = train.fit_model
    def spy(*a, **kw):
        used.append("fit_model"); return real(*a, **kw)
    monkeypatch.setattr(train, "fit_model", spy)
    cfg = CFG.replace(adam_beta1=0.5)
    m = train_one(tiny_ds, cfg, tmp_path / "run", eval_stride=5)
    assert used == ["fit_model"]
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == ["config.json", "history.csv", "log.txt", "metrics.json", "model.keras", "predictions.nc", "scalers.json"]
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == m
    assert RunConfig.from_json(tmp_path / "run" / "config.json") == cfg
    saved = keras.saving.load_model(tmp_path / "run" / "model.keras", compile=False)
    assert saved.count_params() > 0
    assert train_one(tiny_ds, cfg, tmp_path / "run", eval_stride=5) == m and used == ["fit_model"]   # finished: not retrained
