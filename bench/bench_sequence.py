#!/usr/bin/env python3
"""Time to accuracy: window-mode baseline (paper, batch 4) vs convda's sequence mode, same data, same process.

usage: python bench/bench_sequence.py [--window 8] [--baseline-updates 100] [--eval-every 5] [--quick]

1. Baseline: the Table 1 model in window mode, Adam, batch 4, `--baseline-updates` updates on shuffled
   training windows of the full 31-year default run (lazy windows: the same arithmetic as materialised
   ones); its test NSE (2019, physical units, basin cells) is the target.
2. convda: the sequence model (same 264,001 parameters) trained on 32-day chunks (25 scored days at W=8),
   test NSE evaluated every `--eval-every` updates with the clock stopped; stops when it reaches the
   baseline's NSE or after `--budget-factor` x the baseline's training time.
Batch normalisation: convda re-estimates the BatchNorm statistics from training batches before it
validates (`RunConfig.precise_bn`, 256 samples), so the sequence model is scored after that
re-estimation (11 chunks = 275 scored days, its time counted in the sequence clock). Without it, a
model that has seen ~100 updates predicts with moving averages that still hold most of their initial
values (momentum 0.99). The baseline is scored both ways (plain Keras, and with the same
re-estimation from 64 batches of 4, its time added to the baseline's); the target is the better of the
two NSEs, so the sequence model must beat the baseline at its best.
Prints both training times, both NSEs, the time-to-accuracy ratio, and the test-year prediction times
(W-day windows vs one streamed pass).
"""
import argparse, time, sys
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
import _common as C
import numpy as np

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--baseline-updates", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--chunk-days", type=int, default=32)
    ap.add_argument("--chunk-batch", type=int, default=1)
    ap.add_argument("--seq-lr", type=float, default=2e-3)
    ap.add_argument("--budget-factor", type=float, default=1.0)
    ap.add_argument("--quick", action="store_true", help="tiny synthetic run (smoke test)")
    a = ap.parse_args()
    import keras
    from convda.core import RunConfig, set_seed
    from convda.model import model_from_config
    from convda.preprocess import make_tf_dataset
    from convda.evaluate import predict
    from convda.metrics import nse
    from convda.sequence import fit_sequence, predict_sequence
    print(C.load())
    cfg = RunConfig(window=a.window, filters=(4, 8) if a.quick else (32, 64))
    t = time.perf_counter(); prep = C.prepared(cfg, a.data, a.quick); cfg = prep.cfg
    print(f"prepare: {time.perf_counter() - t:.0f} s, samples {({k: len(v) for k, v in prep.indices.items()})}, grid {prep.mask.shape}")
    ny, nx = prep.mask.shape
    score = lambda p: float(nse(p.observed.values[:, prep.mask], p.predicted.values[:, prep.mask]))

    # baseline: window mode, batch 4
    set_seed(cfg.seed, deterministic=False)
    base = model_from_config(cfg, ny, nx, prep.mask)
    train = make_tf_dataset(prep, "train", cfg.batch_size, shuffle=True, seed=cfg.seed).repeat()
    base.fit(train.take(1), epochs=1, verbose=0)                    # trace/compile outside the clock
    t = time.perf_counter(); base.fit(train, steps_per_epoch=a.baseline_updates, epochs=1, verbose=0)
    t_base = time.perf_counter() - t
    predict(base, prep, "test", batch_size=cfg.batch_size)           # trace once outside the clock
    t = time.perf_counter(); p_base = predict(base, prep, "test", batch_size=cfg.batch_size); t_pred_base = time.perf_counter() - t
    nse_plain = score(p_base)
    from convda.train import recalibrate_batchnorm
    t = time.perf_counter(); recalibrate_batchnorm(base, train.take(64)); t_bn = time.perf_counter() - t
    nse_pbn = score(predict(base, prep, "test", batch_size=cfg.batch_size))
    nse_base = max(nse_plain, nse_pbn); t_base += t_bn if nse_pbn > nse_plain else 0.0
    print(f"baseline (window, batch {cfg.batch_size}): {a.baseline_updates} updates in {t_base:.0f} s, test NSE {nse_plain:.4f} plain, "
          f"{nse_pbn:.4f} with BatchNorm statistics re-estimated ({t_bn:.1f} s); test-year prediction {t_pred_base:.1f} s")

    # convda: sequence mode
    clock = dict(train=0.0, last=None, reached=None, nse=[], stop=False)
    budget = a.budget_factor * t_base
    def on_update(step, model):
        now = time.perf_counter(); clock["train"] += now - clock["last"]
        stop = clock["train"] > budget
        if step % a.eval_every == 0 or stop:
            t = time.perf_counter()
            recalibrate_batchnorm(model, (chunk_arrays(prep, bn_starts[i:i + 1], n) for i in range(11)))
            clock["train"] += time.perf_counter() - t                # part of convda's training cost
            v = score(predict_sequence(model, prep, "test")); clock["nse"].append((step, clock["train"], v))
            print(f"  sequence: update {step}, {clock['train']:.0f} s training, test NSE {v:.4f}", flush=True)
            if v >= nse_base and clock["reached"] is None: clock["reached"] = (step, clock["train"], v); stop = True
        clock["last"] = time.perf_counter()
        return stop
    from convda.sequence import sequence_model_from_config, chunk_days_for, chunk_starts, chunk_arrays, valid_days
    set_seed(cfg.seed, deterministic=False)
    model = sequence_model_from_config(cfg, ny, nx, prep.mask, lr=a.seq_lr)
    n = chunk_days_for(cfg.window, a.chunk_days)
    bn_starts = np.random.default_rng(1).permutation(chunk_starts(valid_days(prep, "train"), n, cfg.window, cfg.lead))[:11]
    fit_sequence(prep, cfg, chunk_days=a.chunk_days, chunk_batch=a.chunk_batch, epochs=1, max_updates=1,
                 validate=False, model=model, verbose=0)               # trace/compile outside the clock (1 extra update)
    predict_sequence(model, prep, "test"); predict_sequence(model, prep, "test", chunk=30)
    clock["last"] = time.perf_counter()
    model, hist = fit_sequence(prep, cfg, chunk_days=a.chunk_days, chunk_batch=a.chunk_batch, epochs=1000,
                               on_update=on_update, validate=False, model=model, verbose=0)
    t = time.perf_counter(); p_seq = predict_sequence(model, prep, "test"); t_pred_seq = time.perf_counter() - t
    t = time.perf_counter(); p_str = predict_sequence(model, prep, "test", chunk=30); t_pred_str = time.perf_counter() - t
    diff = float(np.nanmax(np.abs(p_seq.predicted.values - p_str.predicted.values)))
    print(f"sequence mode: chunks of {n} days x {a.chunk_batch}, lr {a.seq_lr:g}")
    if clock["reached"]:
        s, tt, v = clock["reached"]
        print(f"RESULT time-to-accuracy: baseline {t_base:.0f} s (NSE {nse_base:.4f}) vs sequence {tt:.0f} s "
              f"(NSE {v:.4f}, {s} updates): {t_base / tt:.1f}x faster")
    else:
        s, tt, v = clock["nse"][-1]
        print(f"RESULT sequence mode did not reach the baseline NSE {nse_base:.4f} within {tt:.0f} s "
              f"(best {max(r[2] for r in clock['nse']):.4f})")
    print(f"RESULT test-year prediction: windows {t_pred_base:.1f} s vs one pass {t_pred_seq:.1f} s "
          f"({t_pred_base / t_pred_seq:.1f}x), streamed in 30-day chunks {t_pred_str:.1f} s; max |one pass - streamed| = {diff:.2e}")
    print(C.load())

if __name__ == "__main__":
    main()
