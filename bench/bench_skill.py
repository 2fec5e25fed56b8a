"""Skill of convda's own configuration (the `convda` profile) on the embedded default, beside the per-cell mean.

Trains the profile for one target (sequence mode, static maps + mask, lead 0, one-year forward-only spin-up),
predicts validation and test in one stream, and prints pooled NSE and per-cell median NSE of the network and of
each cell's training-years mean on the same days and cells, with the wall time and peak memory.
Settings are chosen on the validation years; the test year scores the final choice.

    PYTHONPATH=$PWD CONVDA_DATA=/work/convda_data python bench/bench_skill.py --target uts0 [--set key=JSON ...] [--out runs/bench_skill_uts0]
"""
import argparse, json, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from _common import default_data, peak_rss_gb, load
import numpy as np

def nse_pooled(obs, pred) -> float:
    "NSE over all finite (day, cell) pairs."
    ok = np.isfinite(obs) & np.isfinite(pred)
    o, p = obs[ok], pred[ok]
    return float(1 - ((p - o) ** 2).sum() / ((o - o.mean()) ** 2).sum())

def nse_per_cell(obs, pred) -> np.ndarray:
    "NSE of each cell's time series (T, ny, nx) -> (ny, nx); NaN where a cell has no variance."
    o = np.where(np.isfinite(pred), obs, np.nan); p = np.where(np.isfinite(obs), pred, np.nan)
    den = np.nansum((o - np.nanmean(o, 0)) ** 2, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, 1 - np.nansum((p - o) ** 2, 0) / den, np.nan)

def scores(obs, pred) -> dict:
    "Pooled NSE and per-cell median NSE."
    return dict(nse=round(nse_pooled(obs, pred), 4), nse_cell_median=round(float(np.nanmedian(nse_per_cell(obs, pred))), 4))

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="uts0"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--profile", default="convda"); ap.add_argument("--data")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    ap.add_argument("--out", help="also write a run folder's model and the scores here")
    ap.add_argument("--init", help="a model.keras (from --out) to train on from, optimizer state included")
    a = ap.parse_args(argv)
    from convda.profiles import profile_config
    from convda.io import open_run
    from convda.preprocess import prepare
    from convda.sequence import fit_sequence, predict_sequence
    over = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in a.set)}
    t0 = time.perf_counter()
    cfg = profile_config(a.profile, target=a.target, seed=a.seed, **over)
    prep = prepare(open_run(default_data(a.data)), cfg)
    t_prep = time.perf_counter() - t0
    model = None
    if a.init:
        import keras, convda.sequence  # noqa: F401  (registers the sequence loss)
        model = keras.saving.load_model(a.init)
    model, hist = fit_sequence(prep, cfg, model=model)
    t_fit = time.perf_counter() - t0 - t_prep
    train_days = prep.indices["train"]
    cell_mean = np.nanmean(prep.y_phys[train_days], 0)             # the per-cell mean baseline, training years only
    res = dict(init=a.init, target=a.target, profile=a.profile, seed=a.seed, overrides=over, channels=len(prep.channels),
               params=int(model.count_params()), updates=int(hist["updates"].iloc[-1]), epochs=len(hist),
               best_val_loss=float(hist["val_loss"].min()) if "val_loss" in hist else None)
    from convda.sequence import stream_model, stream_start, _stream_range, STREAM_CHUNK
    from convda.preprocess import to_physical
    a0, lead = stream_start(prep), cfg.lead                         # one stream through validation and test
    ys = _stream_range(stream_model(model), prep.x, a0, int(prep.indices["test"][-1]) - lead + 1, STREAM_CHUNK)
    for split in ("val", "test"):
        idx = prep.indices[split]
        obs, pred = prep.y_phys[idx], to_physical(prep, ys[idx - lead - a0])
        res[split] = dict(network=scores(obs, pred), cell_mean=scores(obs, np.broadcast_to(cell_mean, obs.shape)))
    res.update(prepare_s=round(t_prep, 1), fit_s=round(t_fit, 1), total_s=round(time.perf_counter() - t0, 1),
               peak_rss_gb=round(peak_rss_gb(), 2), load=load())
    print(hist.to_string(index=False))
    print(f"{'':8s} {'network pooled':>15s} {'network cell-med':>17s} {'cell-mean pooled':>17s} {'cell-mean cell-med':>19s}")
    for split in ("val", "test"):
        n, m = res[split]["network"], res[split]["cell_mean"]
        print(f"{split:8s} {n['nse']:15.3f} {n['nse_cell_median']:17.3f} {m['nse']:17.3f} {m['nse_cell_median']:19.3f}")
    print(json.dumps(res))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        model.save(os.path.join(a.out, "model.keras")); hist.to_csv(os.path.join(a.out, "history.csv"), index=False)
        with open(os.path.join(a.out, "scores.json"), "w") as fh: json.dump(res, fh, indent=1)
    return res

if __name__ == "__main__":
    main()
