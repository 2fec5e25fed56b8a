#!/usr/bin/env python3
"""GPU path: samples/s and TFLOP/s of convda's GPU settings (mixed precision, XLA, batch 32/GPU, scaled lr)
vs plain Keras (float32, batch 4) on the same GPU, Table 1 model, W = 8, default 46 x 43 grid.

usage: python bench/bench_gpu.py [--updates 50]
Exits with a message (status 0) when TensorFlow sees no GPU: on a CPU convda keeps all of this off.
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C
import numpy as np

def run(settings, updates, window=8):
    "Samples/s and TFLOP/s of window-mode training under `settings` (convda.parallel.gpu_settings)."
    import keras
    from convda.model import build_model
    from convda.parallel import apply_settings, strategy
    apply_settings(settings)
    with strategy().scope():
        m = build_model(mask=np.ones((46, 43), bool), lr=settings["lr"])
        if settings["jit_compile"]: m.compile(optimizer=keras.optimizers.Adam(settings["lr"]), loss=m.loss, jit_compile=True)
    b = settings["batch_size"]; rng = np.random.default_rng(0)
    x = rng.random((b, window, 46, 43, 4), np.float32); y = rng.random((b, 46, 43, 1), np.float32)
    for _ in range(3): m.train_on_batch(x, y)
    t = time.perf_counter()
    for _ in range(updates): m.train_on_batch(x, y)
    dt = time.perf_counter() - t
    sps = b * updates / dt
    return sps, 3 * C.convlstm_flops_per_step() * window * sps / 1e12

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=50)
    a = ap.parse_args()
    from convda.parallel import gpus, gpu_settings
    from convda.core import RunConfig
    if not gpus():
        print("no GPU found: TensorFlow lists no GPU device, nothing to benchmark "
              "(on a CPU convda uses float32, no XLA and the paper's batch 4; see bench_cpu.py)")
        return 0
    cfg = RunConfig()
    plain = dict(gpu_settings(cfg, n_gpus=0), device="gpu")
    fast = gpu_settings(cfg)
    s0, f0 = run(plain, a.updates)
    s1, f1 = run(fast, a.updates)
    print(f"plain Keras (float32, batch 4): {s0:.0f} samples/s, {f0:.2f} TFLOP/s")
    print(f"convda GPU path ({fast}): {s1:.0f} samples/s, {f1:.2f} TFLOP/s")
    print(f"RESULT GPU path {s1 / s0:.1f}x the samples/s of plain Keras")

if __name__ == "__main__":
    sys.exit(main())
