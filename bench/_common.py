"""Shared helpers for the benchmarks: data, peak memory, the machine's matmul rate, ConvLSTM FLOP counts."""
import os, resource, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
from pathlib import Path
import numpy as np

def default_data(path=None) -> Path:
    "The embedded default run folder (46 x 43, 1989-2019): `path` if given, else convda's cache (`$CONVDA_DATA`)."
    if path: return Path(path)
    from convda.simulate import default_run
    return default_run()

def prepared(cfg, data=None, quick=False):
    "Prepared arrays of the default run (or of a tiny synthetic run with `quick`)."
    from convda.preprocess import prepare, synthetic_run
    if quick: return prepare(synthetic_run(ny=10, nx=9, start="1995-01-01", end="1999-12-31", nan_years=()),
                             cfg.replace(train_years=3, val_years=1, test_years=1))
    from convda.io import open_run
    return prepare(open_run(default_data(data)), cfg)

def peak_rss_gb() -> float:
    "Peak resident memory of this process so far (GB)."
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1e6 if sys.platform != "darwin" else r / 1e9

def matmul_gflops(n=2048, reps=8) -> float:
    "This machine's float32 matmul rate through TensorFlow (GFLOP/s), best of three."
    import tensorflow as tf
    a = tf.random.normal((n, n)); b = tf.random.normal((n, n)); (a @ b).numpy()
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps): c = a @ b
        c.numpy(); best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e9)
    return best

def convlstm_flops_per_step(ny=46, nx=43, channels=4, filters=(32, 64), kernel=3) -> float:
    "Forward convolution FLOPs of one ConvLSTM time step over the grid: sum 2 k^2 (Cin+F) 4F per pixel."
    f, cin = 0, channels
    for F in filters:
        f += 2 * kernel * kernel * (cin + F) * 4 * F; cin = F
    return float(f * ny * nx)

def load() -> str:
    "1/5/15-minute load averages and the core count."
    return "load average %.1f %.1f %.1f on %d cores" % (*os.getloadavg(), os.cpu_count())
