"""Experiment, not part of convda: decide where uts0 is saturated from a predicted water table instead of Eq. 6's threshold.

usage: python bench/experiments/saturation_watertable.py UTS0_RUN SAT_RUN

UTS0_RUN and SAT_RUN are run folders written by `convda run --target uts0` and `convda run --target sat` on the same
data (window mode). In wflow_sbm a layer's unsaturated store is empty when the water table is at or above the layer's
top; for uts0 (top 0) that is a saturated store S = sy * D (sy = theta_s - theta_r, D the soil thickness). Eq. 6 asks
the uts0 network itself to say "saturated" by predicting 0.98 x capacity or more, which it almost never does
(bench/README.md). Here the sat network decides instead:

- `eq6`: uts0 as convda predicts it (Eq. 6 undone at 0.98 x capacity);
- `wt f`: uts0 = 0 where the predicted S >= (1 - f) sy D, else the Eq. 6 prediction;
- `clip`: uts0 limited to the unsaturated capacity of layer 0 under the predicted water table,
  cap0 = clip(D - S/sy, 0, thick0) * sy, as `convda.assimilation.mlda_update` makes a state consistent;
- `veto f`: Eq. 6's zeros kept only where S >= (1 - f) sy D; elsewhere the prediction before the threshold,
  limited to cap0 (a false alarm of the uts0 network is overruled by the water table);
- `wt-only f`: the water table alone decides: 0 where S >= (1 - f) sy D, elsewhere the prediction before the
  threshold limited to cap0.
For each family f is chosen for the best NSE on the validation year (and, for `wt`, also for the best CSI).

Prints NSE and the saturation scores (`convda.metrics.saturation_metrics`) on the validation and test years. Both
networks are reloaded and predict both years again (3-4 minutes on 2 cores). bench/README.md records what it gave.
"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path
import numpy as np, keras
import convda.model  # noqa: F401  (custom objects)
from convda.core import RunConfig
from convda.io import open_run
from convda.preprocess import prepare
from convda.evaluate import predict, check_run_dir
from convda.metrics import nse, saturation_metrics
from convda.assimilation import soil_geometry

FRACTIONS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)


def load(run_dir, data):
    "Config, model and prepared data of a window-mode run folder."
    run_dir = check_run_dir(run_dir); cfg = RunConfig.from_json(run_dir / "config.json")
    if cfg.mode != "window": sys.exit(f"{run_dir}: mode {cfg.mode!r}, this experiment reads window-mode runs")
    return cfg, keras.saving.load_model(run_dir / "model.keras", compile=False), prepare(data, cfg)


def scores(obs, pred, mask):
    "NSE and the saturation scores of one uts0 prediction."
    return {"nse": nse(obs, pred, mask), **saturation_metrics(obs, pred, mask)}


def main(uts_dir, sat_dir):
    cu = RunConfig.from_json(Path(uts_dir) / "config.json"); cs = RunConfig.from_json(Path(sat_dir) / "config.json")
    if cu.target != "uts0" or cs.target != "sat": sys.exit(f"expected a uts0 run and a sat run, got {cu.target} and {cs.target}")
    if cu.data != cs.data: sys.exit(f"the runs were trained on different data: {cu.data} and {cs.data}")
    data = open_run(cu.data)
    g = soil_geometry(data); full = g["sy"] * g["d"]; thick0 = g["thick"][0]
    (_, mu, pu), (_, ms, ps) = load(uts_dir, data), load(sat_dir, data)
    mask = pu.mask
    res = {}
    for split in ("val", "test"):
        u, s = predict(mu, pu, split), predict(ms, ps, split)
        if not np.array_equal(u.time.values, s.time.values): sys.exit(f"{split}: the two runs predict different days (window or lead differ)")
        obs, eq6, S = u.observed.values, u.predicted.values, s.predicted.values
        obs_sat = (obs == 0) & mask
        print(f"{split}: {obs_sat[:, mask].mean():.4f} of basin cell-days saturated; observed S >= sy D on "
              f"{((s.observed.values >= full - 1e-3) & mask)[:, mask].mean():.4f}; "
              f"agreement of the two {((obs == 0) == (s.observed.values >= full - 1e-3))[:, mask].mean():.4f}; "
              f"sat network NSE {nse(s.observed.values, S, mask):.3f}", flush=True)
        raw = u.predicted_eq6.values                                 # uts0 in Eq. 6 space: before the threshold
        cap0 = np.clip(g["d"] - S / g["sy"], 0.0, thick0) * g["sy"]  # layer 0's unsaturated capacity under the predicted table
        consistent = np.minimum(raw, cap0)
        cands = {"eq6": eq6, "clip": np.minimum(eq6, cap0)}
        for f in FRACTIONS:
            wet = S >= (1 - f) * full
            cands[f"wt {f}"] = np.where(wet, 0.0, eq6)
            cands[f"veto {f}"] = np.where((eq6 == 0) & ~wet, consistent, eq6)
            cands[f"wt-only {f}"] = np.where(wet, 0.0, consistent)
        res[split] = {k: scores(obs, np.asarray(v, np.float32), mask) for k, v in cands.items()}
    chosen = {}
    for fam in ("wt", "veto", "wt-only"):
        ks = [k for k in res["val"] if k.split(" ")[0] == fam]
        chosen[max(ks, key=lambda k: res["val"][k]["nse"])] = "best val NSE"
        if fam == "wt": chosen.setdefault(max(ks, key=lambda k: res["val"][k]["sat_csi"]), "best val CSI")
    print("chosen on validation:", chosen)
    keys = ("nse", "sat_frac_pred", "sat_hit_rate", "sat_false_alarm_ratio", "sat_csi", "nse_unsaturated")
    print("| rule | split | " + " | ".join(keys) + " |")
    for split in ("val", "test"):
        for k, v in res[split].items():
            tag = f" ({chosen[k]})" if k in chosen else ""
            print(f"| {k}{tag} | {split} | " + " | ".join(f"{v[m]:.4f}" for m in keys) + " |")
    for k in ["eq6", "clip", *chosen]:
        v = res["test"][k]
        print(f"RESULT {k}: test NSE {v['nse']:.4f}, CSI {v['sat_csi']:.4f}, hit rate {v['sat_hit_rate']:.4f}, "
              f"false-alarm ratio {v['sat_false_alarm_ratio']:.4f}, NSE on unsaturated cell-days {v['nse_unsaturated']:.4f}")


if __name__ == "__main__":
    if len(sys.argv) != 3: sys.exit(__doc__)
    main(*sys.argv[1:])
