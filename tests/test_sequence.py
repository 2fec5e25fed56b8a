"Sequence mode and hardware settings: equivalence with window mode, streaming = one pass, CPU fallback."
import numpy as np
import pytest
from convda.core import RunConfig
from convda.model import build_model
from convda.preprocess import synthetic_run, prepare, make_tf_dataset
from convda.sequence import (build_sequence_model, copy_weights, fit_sequence, predict_days, chunk_starts,
                             SequenceMaskedMSE)
from convda.parallel import gpu_settings, strategy, gpus, thread_counts

@pytest.fixture(scope="module")
def trained():
    cfg = RunConfig(window=3, train_years=1, val_years=1, test_years=1, filters=(2, 3), epochs=1)
    prep = prepare(synthetic_run(ny=6, nx=6, start="1996-01-01", end="1998-12-31", nan_years=()), cfg)
    model, hist = fit_sequence(prep, cfg, chunk_days=12, epochs=1, max_updates=4, verbose=0)
    return prep, model

def test_table1_parameters():
    assert build_sequence_model().count_params() == 264_001

def test_streaming_equals_one_pass(trained):
    prep, model = trained
    i1, p1 = predict_days(model, prep, "test")
    for chunk in (1, 5, 64):
        i2, p2 = predict_days(model, prep, "test", chunk=chunk)
        np.testing.assert_array_equal(i1, i2); np.testing.assert_allclose(p1, p2, atol=1e-5)

def test_spinup_W_equals_window_model(trained):
    prep, model = trained
    win = copy_weights(model, build_model(ny=6, nx=6, filters=(2, 3)))
    pw = np.asarray(win.predict(make_tf_dataset(prep, "test", 8), verbose=0))[..., 0]
    x, W, lead = prep.x, prep.cfg.window, prep.cfg.lead
    for k in (0, 50, 200):                       # each target day with a spin-up of exactly W days
        t = prep.indices["test"][k]
        ps = np.asarray(model.predict_on_batch(x[None, t - lead - W + 1:t - lead + 1]))[0, -1, ..., 0]
        np.testing.assert_allclose(ps, pw[k], atol=1e-5)

def test_loss_ignores_spinup_and_outside():
    m = np.ones((4, 4), bool); m[0] = False
    yt = np.zeros((1, 6, 4, 4, 1), "f4"); yp = yt.copy(); yp[:, :2] = 3; yp[:, :, 0] = 3
    assert float(SequenceMaskedMSE(m, spinup=3)(yt, yp)) == 0.0

def test_chunks_never_cross_missing_days():
    v = np.ones(100, bool); v[40:45] = False
    for s in chunk_starts(v, 10, 4, 1): assert v[s + 4:s + 11].all()

def test_cpu_fallback():
    if gpus(): pytest.skip("a GPU is present")
    s = gpu_settings(RunConfig())
    assert (s["device"], s["mixed_precision"], s["jit_compile"], s["batch_size"]) == ("cpu", False, False, 4)
    import tensorflow as tf
    assert not isinstance(strategy(), tf.distribute.MirroredStrategy)
    assert thread_counts(2, 2) == (1, 1)
