"convda's own configuration: static channels in order with the mask, lead 0 alignment, flat memory of a long spin-up, a reloadable run folder."
import json, os, subprocess, sys, textwrap
import numpy as np
import pytest
from convda.core import RunConfig
from convda.preprocess import synthetic_run, prepare, CHANNELS, Scalers, static_channels
from convda.sequence import fit_sequence, predict_days, chunk_arrays, chunk_starts, valid_days, stream_start

STATIC = ("soil_thickness", "capacity", "soil_theta_s")

def _cfg(**kw):
    return RunConfig(**{**dict(mode="sequence", window=3, train_years=1, val_years=1, test_years=1, filters=(2, 3), epochs=1,
                               chunk_days=12, storm_dates=()), **kw})

@pytest.fixture(scope="module")
def ds():
    return synthetic_run(ny=6, nx=6, start="1995-01-01", end="1998-12-31", nan_years=())

def test_static_channels_reach_the_model_in_order(ds):
    cfg = _cfg(static_inputs=STATIC, mask_channel=True)
    prep = prepare(ds, cfg)
    names = CHANNELS + ("soil_thickness", "capacity0", "capacity1", "capacity2", "capacity3", "soil_theta_s", "mask")
    assert prep.channels == names and prep.x.shape[-1] == len(names)
    ref = static_channels(ds, cfg, prep.mask, Scalers())                     # the maps, scaled on basin cells
    starts = chunk_starts(valid_days(prep, "train"), 12, 3, cfg.lead)[:2]
    x, _ = chunk_arrays(prep, starts, 12)                                     # what an update feeds the model
    np.testing.assert_array_equal(x[..., :4], np.stack([prep.x.dynamic[s:s + 12] for s in starts]))
    for c in range(len(names) - 4): np.testing.assert_array_equal(x[..., 4 + c], np.broadcast_to(ref[..., c], x.shape[:-1]))
    np.testing.assert_array_equal(x[0, 0, ..., -1], prep.mask.astype(np.float32))
    model, _ = fit_sequence(prep, cfg, max_updates=1, verbose=0)
    assert model.inputs[0].shape[-1] == len(names)
    assert model.get_layer("conv_lstm2d").get_weights()[0].shape[2] == len(names)   # kernel (k, k, C, 4F)

def _identity_nse(ds, lead, updates=120):
    "Train a tiny lead-`lead` model whose target is the same day's precipitation channel; NSE against day t and day t-1."
    cfg = _cfg(lead=lead, window=2, filters=(6,), kernel=1, head_kernel=1, lr=2e-2, dropout=0.0, recurrent_dropout=0.0,
               precise_bn=64, chunk_days=20)
    prep = prepare(ds, cfg)
    prep.y = np.where(prep.mask, prep.x[..., 0], 0).astype(np.float32)      # target of day t = input channel 0 of day t
    model, _ = fit_sequence(prep, cfg, epochs=30, max_updates=updates, verbose=0, validate=False)
    idx, p = predict_days(model, prep, "test")
    m = prep.mask
    nse = lambda o: 1 - ((p[:, m] - o[:, m]) ** 2).sum() / ((o[:, m] - o[:, m].mean()) ** 2).sum()
    return nse(prep.x[idx - lead][..., 0]), nse(prep.x[idx][..., 0]), nse(prep.x[idx - 1][..., 0])

def test_lead0_learns_the_same_day_identity(ds):
    inp, same, before = _identity_nse(ds, lead=0)
    assert same > 0.97, same                   # the state of day t from inputs up to day t: learned, aligned
    assert before < 0.3, before                # not the day before (precipitation has little day-to-day memory)

def test_long_spinup_keeps_peak_memory_flat():
    "A 1500-day forward-only spin-up adds < 60 MB of peak memory over a 30-day one (its activations would be ~280 MB)."
    code = textwrap.dedent("""
        import resource, numpy as np
        from convda.sequence import build_sequence_model, truncated_update, SPIN_PIECE
        m = np.ones((24, 24), bool)
        model = build_sequence_model(1, 24, 24, (8, 8), dropout=0.0, recurrent_dropout=0.0, mask=m, spinup=3, head_activation="softplus")
        rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rng = np.random.default_rng(0)
        def run(k):
            up = truncated_update(model, k + 3, piece=SPIN_PIECE)
            x = rng.random((2, k + 12, 24, 24, 1), dtype=np.float32); up(x, x[..., :1]); up(x, x[..., :1])
        run(30); run(90); a = rss()
        run(1500); b = rss()
        print(a, b)
    """)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    a, b = map(float, out.stdout.split()[-2:])
    assert b - a < 60, (a, b)

def test_stream_starts_a_spinup_before_training(ds):
    prep = prepare(ds, _cfg(spinup_days=100, stream_predict=True, lead=0))
    assert stream_start(prep) == int(prep.indices["train"][0]) - 2 - 100
    model, _ = fit_sequence(prep, prep.cfg, max_updates=1, verbose=0)
    idx, p = predict_days(model, prep, "test")                               # one stream from stream_start
    idx2, p2 = predict_days(model, prep, "test", chunk=7)                     # the same stream in other pieces
    np.testing.assert_array_equal(idx, idx2); np.testing.assert_allclose(p, p2, atol=1e-5)

def test_run_folder_with_static_inputs_reloads(ds, tmp_path):
    "A run folder with static maps and moving-average channels re-evaluates to its saved metrics."
    from convda.train import train_run
    from convda.evaluate import evaluate_run
    import keras
    cfg = _cfg(static_inputs=STATIC, mask_channel=True, memory_inputs=(3, 20), lead=0, spinup_days=30, stream_predict=True,
               precise_bn=0)
    run = train_run(ds, cfg, tmp_path / "run", verbose=0)
    saved = json.loads((run / "metrics.json").read_text())
    again = evaluate_run(run, data=ds)
    for k in ("nse", "rmse", "kge"):
        assert np.isclose(again[k], saved[k], rtol=1e-5, atol=1e-6), (k, again[k], saved[k])
    saved_cfg = json.loads((run / "config.json").read_text())
    assert saved_cfg["static_inputs"] == list(STATIC) and saved_cfg["memory_inputs"] == [3, 20]
    assert keras.saving.load_model(run / "model.keras", compile=False).inputs[0].shape[-1] == 4 + 8 + 6 + 1   # dynamic, averages, maps, mask
