"""Boosted trees on moving averages plus the static maps: the strongest hand-made baseline, per target and lead.

For each target, fits scikit-learn's HistGradientBoostingRegressor on the linear baseline's features (EWMAs of
every dynamic input at 8 time scales, at the cell and of the basin mean) plus the static channels of the `convda`
profile (the maps and the basin mask, as the network sees them), on a sample of training cell-days. It scores the
validation and test years beside the linear model and the per-cell mean, on the same days and cells, at lead 0
(the state of day t from inputs up to day t) and lead 1 (the paper's: inputs up to day t-1).

    CONVDA_DATA=/path/to/cache python bench/bench_trees.py --target all [--lead 0 1] [--train-first 2014] [--out trees.json]

`--train-first YEAR` fits on the training years from YEAR on (the issue's 2014-2016 check); by default the trees
see the same training years as the network and the linear model.
"""
import argparse, json, os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from _common import default_data, peak_rss_gb, load
import numpy as np
import pandas as pd

TARGETS = ("uts0", "uts1", "uts2", "uts3", "sat", "vwc")

def cell_features(prep, t_idx, c_idx, lead, valid):
    "(n, p) float32 features of target day t_idx[i] at basin cell c_idx[i]: EWMAs of the inputs up to day - lead, static maps."
    from convda.baselines import _features, SCALES
    dyn, mask = getattr(prep.x, "dynamic", prep.x), prep.mask
    t_idx, c_idx = np.asarray(t_idx) - lead, np.asarray(c_idx)
    cols = [f[t_idx, c_idx] for f in _features(dyn, mask, valid, SCALES)]
    static = getattr(prep.x, "static", None)
    if static is not None:
        for s in range(static.shape[-1]): cols.append(static[..., s][mask][c_idx])
    return np.stack(cols, axis=1).astype(np.float32)

def fit_days(prep, lead, train_first=None):
    "Training target days with every input average defined (as the linear model requires)."
    from convda.baselines import training_days, SCALES, MIN_WEIGHT, _filter, input_valid_days
    valid = input_valid_days(getattr(prep.x, "dynamic", prep.x), prep.mask)
    ok = np.ones(len(valid), bool)
    for s in SCALES: ok &= _filter(np.asarray(valid, np.float64), 1.0 / max(float(s), 1.0)) >= MIN_WEIGHT
    tr = training_days(prep); tr = tr[tr >= lead]; tr = tr[ok[tr - lead]]
    if train_first is not None: tr = tr[pd.DatetimeIndex(prep.times[tr]).year >= train_first]
    return tr, valid

def boosted_trees(prep, lead, eval_days, n_fit=200_000, seed=0, train_first=None, **hgb):
    "Fit the trees on training cell-days and predict `eval_days`: ((n, ny, nx) float32, seconds to fit)."
    from sklearn.ensemble import HistGradientBoostingRegressor
    tr, valid = fit_days(prep, lead, train_first)
    yc = prep.y_phys[tr][:, prep.mask]                                 # (days, cells)
    t_r, c_r = np.nonzero(np.isfinite(yc))
    if t_r.size > n_fit:
        pick = np.sort(np.random.default_rng(seed).choice(t_r.size, n_fit, replace=False)); t_r, c_r = t_r[pick], c_r[pick]
    y = yc[t_r, c_r]
    X = cell_features(prep, tr[t_r], c_r, lead, valid)
    t0 = time.perf_counter()
    model = HistGradientBoostingRegressor(max_iter=hgb.get("max_iter", 400), learning_rate=hgb.get("learning_rate", 0.08),
                                          max_leaf_nodes=hgb.get("max_leaf_nodes", 63), min_samples_leaf=40,
                                          l2_regularization=1.0, random_state=seed).fit(X, y)
    fit_s = time.perf_counter() - t0
    del X
    out = np.full((len(eval_days),) + prep.mask.shape, np.nan, np.float32)
    nc = int(prep.mask.sum()); ev = np.asarray(eval_days)
    Xe = cell_features(prep, np.repeat(ev, nc), np.tile(np.arange(nc), len(ev)), lead, valid)
    out[:, prep.mask] = model.predict(Xe).reshape(len(ev), nc)
    return out, fit_s

def score(obs, pred, mask) -> dict:
    "Pooled NSE and per-cell median NSE on basin cells."
    from convda.metrics import nse, nse_map
    return dict(nse=round(float(nse(obs, pred, mask)), 4), nse_cell_median=round(float(np.nanmedian(nse_map(obs, pred, mask))), 4))

def run_target(data, target, lead, seed=0, train_first=None, n_fit=200_000) -> dict:
    "Trees, linear model and per-cell mean on validation and test for one target and lead."
    from convda.profiles import profile_config
    from convda.io import open_run
    from convda.preprocess import prepare
    from convda.baselines import linear_baseline, cell_mean
    cfg = profile_config("convda", target=target, lead=lead, seed=seed)
    prep = prepare(open_run(data), cfg)
    days = np.concatenate([prep.indices["val"], prep.indices["test"]])
    trees, fit_s = boosted_trees(prep, lead, days, n_fit=n_fit, seed=seed, train_first=train_first)
    tr, _ = fit_days(prep, lead, train_first)
    lin = linear_baseline(getattr(prep.x, "dynamic", prep.x), prep.y_phys, prep.mask, tr, days, lead=lead, seed=seed)
    mean = np.broadcast_to(cell_mean(prep.y_phys, tr), lin.shape)
    res = dict(target=target, lead=lead, train_first=train_first, train_days=int(len(tr)), fit_s=round(fit_s, 1))
    n_val = len(prep.indices["val"])
    for split, sl in (("val", slice(0, n_val)), ("test", slice(n_val, None))):
        obs = prep.y_phys[days[sl]]
        res[split] = {name: score(obs, p[sl], prep.mask) for name, p in (("trees", trees), ("linear", lin), ("cell_mean", mean))}
    return res

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--target", default="all", help="a target or 'all'")
    ap.add_argument("--lead", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--data"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-first", type=int, help="first training year the trees and linear model see (default: all)")
    ap.add_argument("--n-fit", type=int, default=200_000, help="training cell-days sampled for the fit")
    ap.add_argument("--out", help="write the results as JSON here")
    a = ap.parse_args(argv)
    data = default_data(a.data)
    targets = TARGETS if a.target == "all" else (a.target,)
    rows, t0 = [], time.perf_counter()
    for t in targets:
        for lead in a.lead:
            r = run_target(data, t, lead, a.seed, a.train_first, a.n_fit); rows.append(r)
            print(f"{t:5s} lead {lead}  fit {r['fit_s']:6.1f} s  " + "  ".join(
                f"{s} " + " ".join(f"{m} {r[s][m]['nse']:.3f}/{r[s][m]['nse_cell_median']:.3f}" for m in ("trees", "linear", "cell_mean"))
                for s in ("val", "test")), flush=True)
            if a.out:
                with open(a.out, "w") as fh: json.dump(dict(rows=rows), fh, indent=1)   # after each row: a partial table survives
    info = dict(total_s=round(time.perf_counter() - t0, 1), peak_rss_gb=round(peak_rss_gb(), 2), load=load(), data=str(data))
    print(json.dumps(info))
    if a.out:
        with open(a.out, "w") as fh: json.dump(dict(rows=rows, **info), fh, indent=1)
    return rows

if __name__ == "__main__":
    main()
