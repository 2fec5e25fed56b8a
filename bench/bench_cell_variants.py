#!/usr/bin/env python3
"""Two rewrites of Keras' ConvLSTM2D that were tried for CPU efficiency, against the Keras layer, same process.

usage: python bench/bench_cell_variants.py [--reps 3]

Keras 3's ConvLSTMCell runs 8 small convolutions per time step (4 gates x input/recurrent). Two ways
to give oneDNN fewer, larger convolutions, with the same weights and the same dropout masks:
- `fused`: one grouped convolution per step over [x * mask_g, h * rmask_g] for the 4 gates
  (kernel = concat(kernel, recurrent_kernel)); one plain convolution when there is no dropout;
- `precomputed`: the input convolutions of all time steps at once (batch B x T), so that only the
  recurrent convolution stays inside the time loop (the usual cuDNN LSTM trick).
Both are checked against Keras first (same predictions; same first training step without dropout).
Then each is timed on the Table 1 model (dropout 0.1) in window mode (batch 4, W 8) and sequence mode
(1 and 4 chunks of 32 days), taking the best of `--reps` interleaved rounds, as convolution GFLOP/s and
as a ratio to the Keras layer. Neither is used by convda: see bench/README.md for why.
"""
import argparse, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C
import numpy as np

def variants():
    "The two alternative ConvLSTM2D layers (built lazily: TensorFlow imports here)."
    import tensorflow as tf, keras
    from keras import layers, ops
    from keras.src import backend
    from keras.src.layers.rnn.conv_lstm import ConvLSTMCell

    def gates(cell, z, c):
        zi, zf, zc, zo = ops.split(z, 4, axis=-1)
        c = cell.recurrent_activation(zf) * c + cell.recurrent_activation(zi) * cell.activation(zc)
        h = cell.recurrent_activation(zo) * cell.activation(c)
        return h, [h, c]

    class FusedCell(ConvLSTMCell):
        "One (grouped, with dropout) convolution per step over inputs and state together."
        def call(self, inputs, states, training=False):
            h, c = states
            k = ops.concatenate([self.kernel, self.recurrent_kernel], axis=2)
            if training and (0.0 < self.dropout < 1.0 or 0.0 < self.recurrent_dropout < 1.0):
                dp = self.get_dropout_mask(inputs) if 0.0 < self.dropout < 1.0 else [1.0] * 4
                rp = self.get_recurrent_dropout_mask(h) if 0.0 < self.recurrent_dropout < 1.0 else [1.0] * 4
                z = ops.concatenate([t for g in range(4) for t in (inputs * dp[g], h * rp[g])], axis=-1)
            else: z = ops.concatenate([inputs, h], axis=-1)
            return gates(self, tf.nn.conv2d(z, k, 1, "SAME") + self.bias, c)

    class Fused(layers.ConvLSTM2D):
        def __init__(self, *a, **k):
            super().__init__(*a, **k); self.cell.__class__ = FusedCell

    class Precomputed(layers.ConvLSTM2D):
        "Input convolutions of all steps in one batched call; only the recurrent one inside the loop."
        def inner_loop(self, sequences, initial_state, mask, training=False):
            cell = self.cell; s = ops.shape(sequences)
            flat = lambda x: ops.reshape(x, (-1,) + tuple(sequences.shape[2:]))
            if training and 0.0 < cell.dropout < 1.0:
                dp, ks = cell.get_dropout_mask(sequences[:, 0]), ops.split(cell.kernel, 4, axis=3)
                z = ops.concatenate([tf.nn.conv2d(flat(sequences * dp[g][:, None]), ks[g], 1, "SAME") for g in range(4)], axis=-1)
            else: z = tf.nn.conv2d(flat(sequences), cell.kernel, 1, "SAME")
            z = ops.reshape(z + cell.bias, (s[0], s[1]) + tuple(z.shape[1:]))
            rdrop, rks = training and 0.0 < cell.recurrent_dropout < 1.0, ops.split(cell.recurrent_kernel, 4, axis=3)
            def step(zt, states):
                h, c = states
                if rdrop:
                    rm = cell.get_recurrent_dropout_mask(h)
                    r = ops.concatenate([tf.nn.conv2d(h * rm[g], rks[g], 1, "SAME") for g in range(4)], axis=-1)
                else: r = tf.nn.conv2d(h, cell.recurrent_kernel, 1, "SAME")
                return gates(cell, zt + r, c)
            return backend.rnn(step, z, initial_state, input_length=sequences.shape[1],
                               return_all_outputs=self.return_sequences)
    return {"keras": layers.ConvLSTM2D, "fused": Fused, "precomputed": Precomputed}

def build(cls, n, seq, dropout=0.1):
    "Table 1 model with ConvLSTM class `cls`: window (last step) or sequence (every step) output."
    import keras
    from keras import layers
    inp = keras.Input((n, 46, 43, 4)); h = inp
    for i, f in enumerate((32, 64)):
        h = layers.BatchNormalization()(cls(f, 3, padding="same", return_sequences=seq or i == 0,
                                            dropout=dropout, recurrent_dropout=dropout)(h))
    head = layers.Conv2D(1, 3, padding="same", activation="relu")
    m = keras.Model(inp, layers.TimeDistributed(head)(h) if seq else head(h))
    m.compile(keras.optimizers.Adam(1e-3), "mse"); return m

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    import keras
    print(C.load())
    V, rng = variants(), np.random.default_rng(0)
    x = rng.random((4, 8, 46, 43, 4), np.float32); y = rng.random((4, 46, 43, 1), np.float32)
    for name in ("fused", "precomputed"):
        for d in (0.0, 0.3):
            ref, m = build(V["keras"], 8, False, d), build(V[name], 8, False, d); m.set_weights(ref.get_weights())
            diff = float(np.abs(ref.predict(x, verbose=0) - m.predict(x, verbose=0)).max())
            print(f"check {name}, dropout {d}: max |prediction difference| {diff:.1e}")
            assert diff < 1e-5, (name, d, diff)
        keras.utils.set_random_seed(1); l0 = ref.train_on_batch(x, y); keras.utils.set_random_seed(1); l1 = m.train_on_batch(x, y)
        print(f"check {name}: first training step with dropout 0.3, loss {l0:.6f} (Keras) vs {l1:.6f}"
              " (the masks are drawn in another order, so only statistically equal)")
        ref, m = build(V["keras"], 8, False, 0.0), build(V[name], 8, False, 0.0); m.set_weights(ref.get_weights())
        ref.train_on_batch(x, y); m.train_on_batch(x, y)
        wd = max(float(np.abs(u - v).max()) for u, v in zip(ref.get_weights(), m.get_weights()))
        print(f"check {name}, no dropout: max |weight difference| after one update {wd:.1e}"); assert wd < 1e-4
    mm = []
    for label, B, n, seq in (("window mode (batch 4, W 8)", 4, 8, False), ("sequence mode (1 x 32-day chunk)", 1, 32, True),
                             ("sequence mode (4 x 32-day chunks)", 4, 32, True)):
        xs = rng.random((B, n, 46, 43, 4), np.float32); ys = rng.random((B, n, 46, 43, 1) if seq else (B, 46, 43, 1), np.float32)
        ms = {k: build(c, n, seq) for k, c in V.items()}
        for m in ms.values(): m.train_on_batch(xs, ys); m.train_on_batch(xs, ys)
        best = {k: np.inf for k in ms}
        for r in range(a.reps):
            for k, m in ms.items():
                t = time.perf_counter(); m.train_on_batch(xs, ys); m.train_on_batch(xs, ys)
                best[k] = min(best[k], (time.perf_counter() - t) / 2)
        mm.append(C.matmul_gflops())
        for k, dt in best.items():
            g = C.convlstm_flops_per_step() * 3 * B * n / dt / 1e9
            print(f"RESULT {label}, {k}: {dt:.3f} s/update, {g:.1f} GFLOP/s = {100 * g / mm[-1]:.0f}% of matmul "
                  f"({mm[-1]:.0f}), {best['keras'] / dt:.2f}x Keras", flush=True)
    print(C.load())

if __name__ == "__main__":
    main()
