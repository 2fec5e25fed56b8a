#!/usr/bin/env python3
"""CPU efficiency: achieved convolution GFLOP/s of training, as a fraction of this machine's float32 matmul rate.

usage: python bench/bench_cpu.py [--updates 6]

FLOPs are counted analytically: forward ConvLSTM = 2 k^2 (Cin + F) 4F per pixel per step for each layer
(46 x 43 pixels, Table 1 filters 32/64, 3x3), backward about 2x forward, so one trained step = 3x forward
(the head, batch norm and gate arithmetic are left out: < 1%). The matmul rate is a tf.matmul of
2048 x 2048 float32 measured in the same process just before and after. Inputs are random arrays of
the default shape (the arithmetic does not depend on the values). Window mode: batch 4, W = 8;
sequence mode: one 32-day chunk per update.
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C
import numpy as np

def rate(model, x, y, batch, updates):
    "Convolution GFLOP/s of `updates` training updates (after one warm-up)."
    model.train_on_batch(x[:batch], y[:batch])
    t = time.perf_counter()
    for i in range(updates): model.train_on_batch(x[:batch], y[:batch])
    dt = time.perf_counter() - t
    steps = batch * x.shape[1] * updates
    return 3 * C.convlstm_flops_per_step() * steps / dt / 1e9, dt

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=6)
    a = ap.parse_args()
    from convda.model import build_model
    from convda.sequence import build_sequence_model
    print(C.load())
    mask = np.ones((46, 43), bool); rng = np.random.default_rng(0)
    m0 = C.matmul_gflops()
    xw = rng.random((4, 8, 46, 43, 4), np.float32); yw = rng.random((4, 46, 43, 1), np.float32)
    g_win, t_win = rate(build_model(mask=mask), xw, yw, 4, a.updates)
    xs = rng.random((1, 32, 46, 43, 4), np.float32); ys = rng.random((1, 32, 46, 43, 1), np.float32)
    g_seq, t_seq = rate(build_sequence_model(mask=mask), xs, ys, 1, a.updates)
    m1 = C.matmul_gflops(); mm = (m0 + m1) / 2
    print(f"matmul 2048^2 float32: {m0:.1f} GFLOP/s before, {m1:.1f} after")
    print(f"RESULT window mode (batch 4, W 8): {g_win:.1f} GFLOP/s = {100 * g_win / mm:.0f}% of matmul ({t_win:.0f} s)")
    print(f"RESULT sequence mode (32-day chunk): {g_seq:.1f} GFLOP/s = {100 * g_seq / mm:.0f}% of matmul ({t_seq:.0f} s)")
    print(C.load())

if __name__ == "__main__":
    main()
