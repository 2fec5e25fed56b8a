"""Score saved run folders on another split (validation by default) beside the three baselines, without
changing the folders: the evidence a choice between configurations is made on (the test year stays unseen).

    CONVDA_DATA=... python bench/score_split.py RUN_DIR [RUN_DIR ...] [--split val]

Prints one row per run: pooled and per-cell median NSE of the network and of each baseline, the skill
against the best baseline, and the share of saturated cell-days the network finds (Eq. 6 targets). On the
validation split it also reads each pass's validation loss from history.csv (model space; without Eq. 6 the
target scaling is linear, so 1 - loss / variance is the pooled NSE) and reports the training wall time until
a pass first beat the linear baseline (`seconds_to_beat_linear`, NaN if none did).
"""
import argparse, json, sys
from pathlib import Path
import pandas as pd

def score(run_dir, split: str = "val") -> dict:
    "Metrics of `run_dir`'s model on `split`, with the baselines on the same days and cells (nothing written)."
    import keras
    from convda.core import RunConfig
    from convda.io import open_run
    from convda.preprocess import prepare
    from convda.evaluate import predict_split, add_baselines, evaluation_metrics
    run_dir = Path(run_dir)
    cfg = RunConfig.from_json(run_dir / "config.json")
    prep = prepare(open_run(cfg.data), cfg)
    model = keras.saving.load_model(run_dir / "model.keras", compile=False)
    preds = predict_split(model, prep, split)
    m = evaluation_metrics(add_baselines(preds, prep))
    row = dict(run=run_dir.name, split=split, nse=m["nse"], nse_cell_median=m["nse_cell_median"],
               skill_vs_best_baseline=m.get("skill_vs_best_baseline"), sat_frac_obs=m.get("sat_frac_obs"), sat_frac_pred=m.get("sat_frac_pred"))
    for k, b in m["baselines"].items(): row.update({f"{k}_nse": b["nse"], f"{k}_nse_cell_median": b["nse_cell_median"]})
    hist = run_dir / "history.csv"
    if split == "val" and hist.exists() and not cfg.eq6 and "linear_nse" in row:
        import numpy as np
        h = pd.read_csv(hist)
        yv = prep.y[np.asarray(prep.indices["val"])][:, prep.mask]
        nse = 1 - h["val_loss"].to_numpy() / float(yv.var())
        beat = np.nonzero(nse > row["linear_nse"])[0]
        row.update(passes=len(h), updates=int(h["updates"].iloc[-1]), val_nse_by_pass=" ".join(f"{v:.3f}" for v in nse),
                   seconds_to_beat_linear=float(h["seconds"].cumsum().iloc[beat[0]]) if len(beat) else float("nan"))
    return row

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dirs", nargs="+"); ap.add_argument("--split", default="val", choices=("train", "val", "test"))
    a = ap.parse_args()
    df = pd.DataFrame([score(r, a.split) for r in a.run_dirs])
    pd.set_option("display.width", 200)
    print(df.set_index("run").T.to_string(float_format=lambda v: f"{v:.4f}", max_colwidth=120))
    print(df.select_dtypes("number").median().round(4).to_string())
