#!/usr/bin/env python3
"""CPU efficiency: achieved convolution GFLOP/s of training, as a fraction of this machine's float32 matmul rate.

usage: python bench/bench_cpu.py [--updates 6] [--chunk-batch 1 4] [--chunk-days 32] [--skip-window]

FLOPs are counted analytically: forward ConvLSTM = 2 k^2 (Cin + F) 4F per pixel per step for each layer
(46 x 43 pixels, Table 1 filters 32/64, 3x3), backward about 2x forward, so one trained step = 3x forward
(the head, batch norm and gate arithmetic are left out: < 1%). The matmul rate is a tf.matmul of
2048 x 2048 float32 measured in the same process just before and after. Inputs are random arrays of
the default shape (the arithmetic does not depend on the values). Window mode: batch 4, W = 8;
sequence mode: `--chunk-days` chunks (32), `--chunk-batch` chunks per update (default 1 and 4), with backprop through
the whole chunk (`spinup_grad=True`) and with the forward-only spin-up (`truncated_update`, W = 8: 7 days
forward only = 1x forward, 25 days trained = 3x forward each).
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C
import numpy as np

def rate(update, forward_steps, updates):
    "Convolution GFLOP/s of `updates` calls of `update()` (after one warm-up); `forward_steps` = forward-step equivalents per update."
    update()
    t = time.perf_counter()
    for i in range(updates): update()
    dt = time.perf_counter() - t
    return C.convlstm_flops_per_step() * forward_steps * updates / dt / 1e9, dt

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--chunk-batch", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--chunk-days", type=int, default=32, help="sequence chunk length (the RunConfig default at W 8 is 23)")
    ap.add_argument("--skip-window", action="store_true")
    a = ap.parse_args()
    from convda.model import build_model
    from convda.sequence import build_sequence_model, truncated_update
    print(C.load())
    mask = np.ones((46, 43), bool); rng = np.random.default_rng(0); W, n = 8, a.chunk_days
    m0 = C.matmul_gflops(); res = []
    if not a.skip_window:
        xw = rng.random((4, W, 46, 43, 4), np.float32); yw = rng.random((4, 46, 43, 1), np.float32)
        m = build_model(mask=mask)
        res.append(("window mode (batch 4, W 8)",) + rate(lambda: m.train_on_batch(xw, yw), 3 * 4 * W, a.updates))
    for b in a.chunk_batch:
        xs = rng.random((b, n, 46, 43, 4), np.float32); ys = rng.random((b, n, 46, 43, 1), np.float32)
        m = build_sequence_model(mask=mask, spinup=W)
        res.append((f"sequence mode, full backprop ({b} x {n}-day chunk)",) + rate(lambda: m.train_on_batch(xs, ys), 3 * b * n, a.updates))
        m = build_sequence_model(mask=mask, spinup=W); up = truncated_update(m, W)
        res.append((f"sequence mode, forward-only spin-up ({b} x {n}-day chunk, W 8)",) + rate(lambda: up(xs, ys), b * ((W - 1) + 3 * (n - W + 1)), a.updates))
    m1 = C.matmul_gflops(); mm = (m0 + m1) / 2
    print(f"matmul 2048^2 float32: {m0:.1f} GFLOP/s before, {m1:.1f} after")
    for name, g, t in res:
        print(f"RESULT {name}: {g:.1f} GFLOP/s = {100 * g / mm:.0f}% of matmul ({t:.0f} s)")
    print(C.load())

if __name__ == "__main__":
    main()
