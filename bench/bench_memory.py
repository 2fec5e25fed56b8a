#!/usr/bin/env python3
"""Peak memory of a one-epoch fit on the full 31-year default run at W = 8, 21, 90: baseline vs convda.

usage: python bench/bench_memory.py [--windows 8 21 90] [--steps 3] [--max-gb 4] [--modes ...] [--spinup-grad] [--defaults [--chunk-days N]] [--quick]

Each measurement runs in a fresh child process (peak RSS = ru_maxrss of that child), on the full
31-year data pipeline (`prepare` of the whole record); only the number of updates of the epoch is
subsampled (`--steps`, via steps_per_epoch), which does not change what is held in memory.
- baseline: the paper done plainly, every training window materialised as one (samples, W, 46, 43, 4)
  float32 array, `model.fit(x, y, batch_size=4)`. Run only where the array is below `--max-gb` and fits
  comfortably in free memory; otherwise the size it would need is printed.
- convda window: the same model on lazy windows (`convda.preprocess.make_tf_dataset`), batch 4.
- convda sequence: sequence mode (`convda.sequence.fit_sequence`), one 32-day chunk per update
  (grown to W + 15 days for long windows); the W - 1 spin-up days of each chunk run forward only
  (truncated backprop, the default), or with `--spinup-grad` backprop through the whole chunk;
  `--defaults`: the RunConfig chunking instead (4 chunks of max(16, W + 15) days per update).
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C

FRAME = 46 * 43 * 4 * 4          # bytes of one day's input frame (float32)

def child(mode, W, steps, data, quick, spinup_grad=False, defaults=False, chunk_days=None):
    "One measurement; prints a JSON line."
    import numpy as np
    from convda.core import RunConfig, set_seed
    cfg = RunConfig(window=W, filters=(4, 8) if quick else (32, 64))
    t0 = time.perf_counter(); prep = C.prepared(cfg, data, quick); cfg = prep.cfg
    rss_prep = C.peak_rss_gb(); ny, nx = prep.mask.shape
    set_seed(0, deterministic=False)
    if mode == "sequence":
        from convda.sequence import fit_sequence
        # 1 x 32-day chunk per update, as recorded in bench/README.md (the defaults since, 4 x max(16, W + 15) days,
        # keep 64 scored days of activations instead of 25: more memory, still independent of W)
        fit_sequence(prep, cfg, chunk_days=chunk_days if defaults else 32, chunk_batch=None if defaults else 1, epochs=1,
                     max_updates=steps, validate=False, verbose=0, spinup_grad=spinup_grad)
    else:
        from convda.model import model_from_config
        model = model_from_config(cfg, ny, nx, prep.mask)
        if mode == "baseline":
            from convda.preprocess import window_offsets
            idx = prep.indices["train"]; off = window_offsets(W, cfg.lead)
            x = np.empty((len(idx), W, ny, nx, prep.x.shape[-1]), np.float32)
            for i, t in enumerate(idx): x[i] = prep.x[t + off]
            y = prep.y[idx][..., None]
            model.fit(x, y, batch_size=4, epochs=1, steps_per_epoch=steps, shuffle=True, verbose=0)
        else:
            from convda.preprocess import make_tf_dataset
            model.fit(make_tf_dataset(prep, "train", 4, shuffle=True), epochs=1, steps_per_epoch=steps, verbose=0)
    print("RESULT " + json.dumps(dict(mode=mode, W=W, peak_gb=C.peak_rss_gb(), prepare_gb=rss_prep,
                                      samples=len(prep.indices["train"]), seconds=time.perf_counter() - t0)))

def mem_available_gb():
    "MemAvailable from /proc/meminfo (GB)."
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable"): return int(line.split()[1]) / 1e6
    return float("nan")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, nargs="+", default=[8, 21, 90])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--max-gb", type=float, default=4.0)
    ap.add_argument("--modes", nargs="+", default=["baseline", "window", "sequence"])
    ap.add_argument("--data", default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--spinup-grad", action="store_true", help="sequence mode: backprop through the spin-up days too")
    ap.add_argument("--defaults", action="store_true", help="sequence mode with the RunConfig chunk defaults (4 x max(16, W + 15) days)")
    ap.add_argument("--chunk-days", type=int, default=None, help="with --defaults: chunks of max(this, W + 15) days instead of RunConfig.chunk_days")
    ap.add_argument("--child", nargs=2, metavar=("MODE", "W"))
    a = ap.parse_args()
    if a.child: return child(a.child[0], int(a.child[1]), a.steps, a.data, a.quick, a.spinup_grad, a.defaults, a.chunk_days)
    print(C.load(), f"; MemAvailable {mem_available_gb():.1f} GB")
    n_train = 7299 if not a.quick else 1000          # what prepare gives at W=8 (21 years, 1997 dropped)
    res = {}
    for mode in a.modes:
        for W in a.windows:
            need = n_train * W * FRAME / 1e9
            if mode == "baseline" and not a.quick and (need > a.max_gb or 2 * need + 2 > 0.7 * mem_available_gb()):
                print(f"baseline W={W}: not run, the windows array alone needs {need:.1f} GB "
                      f"({n_train} x {W} x 46 x 43 x 4 float32; MemAvailable {mem_available_gb():.1f} GB, --max-gb {a.max_gb})", flush=True)
                res[(mode, W)] = None; continue
            cmd = [sys.executable, __file__, "--child", mode, str(W), "--steps", str(a.steps)] + (["--data", a.data] if a.data else []) + (["--quick"] if a.quick else []) + (["--spinup-grad"] if a.spinup_grad else []) + (["--defaults"] if a.defaults else []) + (["--chunk-days", str(a.chunk_days)] if a.chunk_days else [])
            out = subprocess.run(cmd, capture_output=True, text=True)
            line = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
            if not line:
                print(f"{mode} W={W}: failed (rc {out.returncode}): {out.stderr.strip().splitlines()[-1:]}", flush=True)
                res[(mode, W)] = None; continue
            r = json.loads(line[0][7:]); res[(mode, W)] = r
            print(f"{mode:8s} W={W:3d}: peak RSS {r['peak_gb']:.2f} GB (after prepare {r['prepare_gb']:.2f} GB; "
                  f"{r['samples']} training samples; {r['seconds']:.0f} s)", flush=True)
    lo, hi = min(a.windows), max(a.windows)
    for mode in a.modes:
        r0, r1 = res.get((mode, lo)), res.get((mode, hi))
        if r0 and r1: print(f"RESULT {mode}: peak RSS grows {r1['peak_gb'] / r0['peak_gb']:.2f}x from W={lo} to W={hi}")
        elif r0: print(f"RESULT {mode}: W={hi} needs at least {r0['peak_gb'] - r0['prepare_gb'] * 0 + n_train * (hi - lo) * FRAME / 1e9:.1f} GB "
                       f"(W={lo} peak + the larger windows array), i.e. >= {(r0['peak_gb'] + n_train * (hi - lo) * FRAME / 1e9) / r0['peak_gb']:.1f}x")
    print(C.load())

if __name__ == "__main__":
    main()
