#!/usr/bin/env python3
"""Parallel trials: K short training trials in 1 worker (all cores) vs N workers (cores // N threads each).

usage: python bench/bench_parallel.py [--trials 4] [--workers 2] [--updates 4]
       python bench/bench_parallel.py --sensitivity [--workers 2]

Each trial builds the Table 1 model and runs `--updates` updates at batch 4, W = 8 on random inputs of
the default grid, as a tuning trial would (convda.parallel.run_parallel, spawned processes). The
speed-up appears where one trial cannot use all cores; on 2 cores expect about 1.

`--sensitivity` times a small window-sensitivity experiment on the embedded default instead
(`run_sensitivity`, W = 3 and 8, seeds 0 and 1, the quick profile cut to 1 epoch and 24 samples):
4 child-process runs one at a time against `--workers` at a time, each in its own experiment folder.
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C

def trial(seed: int, updates: int) -> float:
    "One short training trial; returns its seconds."
    import numpy as np
    from convda.model import build_model
    rng = np.random.default_rng(seed)
    x = rng.random((4, 8, 46, 43, 4), np.float32); y = rng.random((4, 46, 43, 1), np.float32)
    t = time.perf_counter(); m = build_model(mask=np.ones((46, 43), bool))
    for _ in range(updates): m.train_on_batch(x, y)
    return time.perf_counter() - t

def sensitivity(workers: int) -> None:
    "Time the same 4-run window experiment with n_jobs 1 and `workers`; print the ratio."
    import tempfile
    from convda.parallel import n_cores
    from convda.sensitivity import run_sensitivity
    from convda.simulate import default_run
    data = default_run()
    spec = dict(settings=[3, 8], seeds=[0, 1], run={"epochs": 1, "patience": 1, "val_years": 1, "test_years": 1,
                "filters": [8, 16], "batch_size": 4, "train_years": 3, "max_train_samples": 24}, eval_stride=7, profile="bench")
    res = {}
    with tempfile.TemporaryDirectory() as d:
        for n in (1, workers):
            t = time.perf_counter()
            runs = run_sensitivity("window", spec, data=data, out=Path(d) / f"jobs{n}", n_jobs=n)
            res[n] = time.perf_counter() - t
            assert (runs.error == "").all(), runs.error.tolist()
            print(f"4 runs, n_jobs={n}: {res[n]:.0f} s; test NSE {', '.join(f'{v:.3f}' for v in runs.nse)}", flush=True)
    print(f"RESULT sensitivity on {n_cores()} cores: n_jobs={workers} {res[1] / res[workers]:.2f}x the throughput of 1")

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--updates", type=int, default=4)
    ap.add_argument("--sensitivity", action="store_true", help="time run_sensitivity(n_jobs=1) against n_jobs=--workers")
    a = ap.parse_args()
    if a.sensitivity:
        print(C.load()); sensitivity(a.workers); print(C.load()); return
    from convda.parallel import run_parallel, n_cores, thread_counts
    print(C.load())
    kw = [dict(seed=i, updates=a.updates) for i in range(a.trials)]
    res = {}
    for n in (1, a.workers):
        t = time.perf_counter(); run_parallel(trial, kw, n_workers=n); res[n] = time.perf_counter() - t
        print(f"{a.trials} trials, {n} worker(s) x {thread_counts(n)[0]} intra-op threads: {res[n]:.0f} s", flush=True)
    print(f"RESULT parallel trials on {n_cores()} cores: {a.workers} workers {res[1] / res[a.workers]:.2f}x the throughput of 1")
    print(C.load())

if __name__ == "__main__":
    main()
