"""Tests of convda.sensitivity: resume after a kill, bands on a hand-made ensemble, the NSE threshold.

Training is replaced by a fake `train_one` that writes a small predictions.nc, so these tests need no
TensorFlow and run in seconds."""
import json, os, signal, subprocess, sys, textwrap, time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import convda.sensitivity as sens

FAKE = textwrap.dedent('''
    import json, time, numpy as np, pandas as pd
    from pathlib import Path
    from convda.evaluate import preds_dataset, evaluation_metrics

    def fake_train_one(ds, cfg, run_dir, eval_stride=1, figures=False, sleep=0.0, **kw):
        "Write predictions of a fake model whose error grows with the setting (and a bit with the seed)."
        time.sleep(sleep)
        run_dir = Path(run_dir); run_dir.mkdir(parents=True, exist_ok=True)
        t = pd.date_range("2019-01-01", periods=40)
        rng = np.random.default_rng(0)
        obs = 10 + 5 * np.sin(np.arange(40) / 6)[:, None, None] + rng.normal(0, 1, (40, 4, 3))
        err = 0.2 * cfg.window + 0.1 * cfg.seed
        pred = obs + err * rng.normal(0, 1, obs.shape)
        p = preds_dataset(obs, pred, t, np.arange(4.)[::-1], np.arange(3.), np.ones((4, 3), bool), target="uts0", units="mm")
        p.to_netcdf(run_dir / "predictions.nc")
        m = evaluation_metrics(p); (run_dir / "metrics.json").write_text(json.dumps(m))
        return m
''')
exec(FAKE)

SPEC = dict(run={"epochs": 1, "filters": [2, 2]}, seeds=[0, 1], settings=[3, 5], isolate=False, profile="test")


def tiny_data():
    from convda.preprocess import synthetic_run
    return synthetic_run(ny=4, nx=3, start="1999-01-01", end="2000-12-31", nan_years=())


def test_resume_after_kill(tmp_path):
    out = tmp_path / "exp"
    data = tmp_path / "data.nc"; tiny_data().to_netcdf(data)
    script = FAKE + textwrap.dedent(f'''
        import functools, convda.sensitivity as sens
        sens.train_one = functools.partial(fake_train_one, sleep=0.5)
        sens.run_sensitivity("window", {SPEC!r}, data={str(data)!r}, out={str(out)!r})
    ''')
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            if (out / "runs.csv").exists() and len(sens.read_runs(out)) >= 1: break
            if proc.poll() is not None: break
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    before = sens.read_runs(out)
    assert 1 <= len(before) < 4, "the kill should land after the first and before the last run"
    assert not (out / "runs.csv.tmp").exists() or len(before) >= 1
    calls = []
    def counting(ds, cfg, run_dir, eval_stride=1, figures=False, **kw):
        calls.append((cfg.window, cfg.seed)); return fake_train_one(ds, cfg, run_dir)
    orig = sens.train_one
    sens.train_one = counting
    try:
        runs = sens.run_sensitivity("window", SPEC, data=data, out=out)
    finally:
        sens.train_one = orig
    done = {(int(s), int(d)) for s, d in zip(before.setting, before.seed)}
    assert len(calls) == 4 - len(before)
    assert not done & set(calls), "a finished run was trained again"
    assert sorted(zip(runs.setting, runs.seed)) == [(3, 0), (3, 1), (5, 0), (5, 1)]
    assert list(runs.columns[:7]) == ["setting", "seed", "nse", "rmse", "run_dir", "peak_rss_mb", "seconds"]
    assert (out / "bands.nc").exists() and (out / "figures" / "dotty.png").exists()


def test_bands_hand_made():
    t = pd.date_range("2019-06-01", periods=5)
    cols = pd.MultiIndex.from_tuples([(8, 0), (8, 1), (16, 0), (16, 1)], names=["setting", "seed"])
    vals = np.array([[1., 3., 10., 20.]] * 5) + np.arange(5)[:, None]
    pred = pd.DataFrame(vals, index=t, columns=cols)
    sim = pd.Series(np.arange(5.) + 2, t)
    b = sens.ensemble_bands(pred, sim, pd.Series([.9, .8, .7, .6], index=cols), band="minmax", units="mm")
    np.testing.assert_allclose(b.lower.sel(setting=8), np.arange(5) + 1)
    np.testing.assert_allclose(b.upper.sel(setting=8), np.arange(5) + 3)
    np.testing.assert_allclose(b["median"].sel(setting=16), np.arange(5) + 15)
    np.testing.assert_allclose(b.lower_all, np.arange(5) + 1); np.testing.assert_allclose(b.upper_all, np.arange(5) + 20)
    np.testing.assert_allclose(b.median_all, np.arange(5) + 6.5)
    np.testing.assert_allclose(b.simulated, sim.values)
    q = sens.ensemble_bands(pred, sim, None, band="quantile", quantiles=(0.05, 0.95))
    np.testing.assert_allclose(q.upper_all, np.quantile(vals, 0.95, axis=1))
    # models of different windows that predicted different days: only the common days count
    pred2 = pred.copy(); pred2.iloc[:2, 3] = np.nan
    assert list(sens.ensemble_bands(pred2, sim).time.values) == list(t[2:].values)


def test_nse_threshold_excludes_models(tmp_path):
    out = tmp_path / "exp"
    orig = sens.train_one; sens.train_one = fake_train_one
    try:
        runs = sens.run_sensitivity("window", {**SPEC, "settings": [1, 20]}, data=tiny_data(), out=out)
    finally:
        sens.train_one = orig
    nse = runs.set_index(["setting", "seed"]).nse
    assert nse[(1, 0)] > 0.5 > nse[(20, 0)]                 # window 20 is the poor fake model
    thr = float(nse[(20, 0)]) + 0.01                           # leaves out (20, 0) but keeps (1, *)
    b_all = sens.summarize(out)
    b_thr = sens.summarize(out, nse_threshold=thr)
    assert b_all.n_models.values.tolist() == [2, 2]
    assert b_thr.n_models.sel(setting=1).item() == 2 and b_thr.n_models.sel(setting=20).item() < 2
    assert b_thr.attrs["n_models_all"] < b_all.attrs["n_models_all"]
    assert (b_thr.upper_all - b_thr.lower_all).mean() < (b_all.upper_all - b_all.lower_all).mean()
    with xr.open_dataset(out / "bands.nc") as f:
        assert f.attrs["nse_threshold"] == pytest.approx(thr)


TINY_ISOLATED = dict(run={"epochs": 1, "patience": 1, "filters": [2, 2], "train_years": 2, "val_years": 1, "test_years": 1,
                          "max_train_samples": 16, "batch_size": 8}, seeds=[0], settings=[3, 5], eval_stride=5,
                     isolate=True, profile="tiny")


def _tiny_nc(tmp_path):
    from convda.preprocess import synthetic_run
    f = tmp_path / "data.nc"
    synthetic_run(ny=4, nx=3, start="1996-01-01", end="1999-12-31", nan_years=()).to_netcdf(f)
    return f


def _children_of(out) -> list:
    "Process ids of running sensitivity children whose job lies under `out` (from /proc)."
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit(): continue
        try: cmd = (d / "cmdline").read_bytes().decode(errors="replace")
        except OSError: continue
        if "_child(" in cmd and str(out) in cmd: pids.append(int(d.name))
    return pids


def test_runs_side_by_side_in_child_processes(tmp_path):
    "n_jobs=2: two real trainings overlap in time, each with half the cores' threads; the parent records both."
    from convda.parallel import thread_counts
    out = tmp_path / "exp"
    runs = sens.run_sensitivity("window", TINY_ISOLATED, data=_tiny_nc(tmp_path), out=out, n_jobs=2)
    assert sorted(zip(runs.setting, runs.seed)) == [(3, 0), (5, 0)] and runs.error.tolist() == ["", ""]
    assert np.isfinite(runs.nse.astype(float)).all()
    res = [json.loads((out / d / "result.json").read_text()) for d in runs.run_dir]
    assert [r["threads"] for r in res] == [thread_counts(2)[0]] * 2
    a, b = res
    assert a["started"] < b["ended"] and b["started"] < a["ended"], "the two runs did not overlap"
    assert (out / "bands.nc").exists()
    with pytest.raises(sens.ConfigError, match="child process"):
        sens.run_sensitivity("window", {**TINY_ISOLATED, "isolate": False}, data=_tiny_nc(tmp_path), out=tmp_path / "x", n_jobs=2)


def test_killed_parent_takes_its_children_and_resumes(tmp_path):
    "SIGKILL of a parent running two children: the children end within seconds; the next call runs both runs."
    out, data = tmp_path / "exp", _tiny_nc(tmp_path)
    script = (f"import convda.sensitivity as s; s.run_sensitivity('window', {TINY_ISOLATED!r}, data={str(data)!r}, "
              f"out={str(out)!r}, n_jobs=2)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while len(_children_of(out)) < 2:
            assert proc.poll() is None and time.time() < deadline, "the two children did not start"
            time.sleep(0.1)
        kids = _children_of(out)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    deadline = time.time() + 15
    from convda.tuning import _pid_alive                          # a zombie counts as dead
    while any(_pid_alive(k) for k in kids):
        assert time.time() < deadline, "children outlived their killed parent"
        time.sleep(0.2)
    assert not (out / "runs.csv").exists() and not list(out.glob("runs/*/result.json"))
    runs = sens.run_sensitivity("window", TINY_ISOLATED, data=data, out=out, n_jobs=2)
    assert sorted(zip(runs.setting, runs.seed)) == [(3, 0), (5, 0)] and runs.error.tolist() == ["", ""]
