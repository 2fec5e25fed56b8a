"""Experiment, not part of convda: can a second head channel learn which uts0 cell-days are saturated?

usage: python bench/experiments/saturation_head.py [WEIGHT [POS_WEIGHT]] [--control]

The Table 1 model gets a second 3 x 3 Conv2D on the last BatchNorm output (577 parameters more: 264,578): a logit
of "this layer is saturated" (uts0 exactly 0), trained with a basin-masked logistic loss times WEIGHT (default 0.2)
next to the basin-masked MSE of the Eq. 6 target. A cell is then predicted saturated (0) where the probability
reaches a threshold chosen for the best CSI on the validation year, instead of where the regression reaches
0.98 x capacity. Quick profile (4 training years subsampled to 360 days, 4 epochs, batch 4, the best of the 4
epochs on validation; BatchNorm statistics re-estimated from 64 training batches after each epoch), test year 2019.
--control trains the same loop without the second channel, so the two can be compared. bench/README.md records
what it gave.
"""
import os, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf, keras
from keras import layers, ops
from convda.core import RunConfig, set_seed
from convda.io import open_run
from convda.simulate import default_run
from convda.preprocess import prepare, window_offsets, undo_eq6
from convda.model import model_from_config
from convda.metrics import nse, saturation_metrics
from convda.model import recalibrate_batchnorm

CONTROL = "--control" in sys.argv; args = [a for a in sys.argv[1:] if not a.startswith("--")]
LAM = float(args[0]) if args else 0.2
POSW = float(args[1]) if len(args) > 1 else 1.0
cfg = RunConfig(train_years=4, val_years=1, test_years=1, epochs=4, patience=3, window=8, max_train_samples=360, seed=0)
prep = prepare(open_run(default_run()), cfg)
ny, nx = prep.mask.shape
sat = ((prep.y_phys == 0) & prep.mask).astype(np.float32)
y2 = np.stack([np.nan_to_num(prep.y), sat], -1).astype(np.float32)
print("saturated share of basin cell-days, train/val/test:",
      [round(float(sat[prep.indices[s]][:, prep.mask].mean()), 4) for s in ("train", "val", "test")])

def ds(split, shuffle=False):
    idx = np.asarray(prep.indices[split]); off = window_offsets(cfg.window, cfg.lead)
    xs, ys, offs = tf.constant(prep.x), tf.constant(y2), tf.constant(off)
    d = tf.data.Dataset.from_tensor_slices(idx)
    if shuffle: d = d.shuffle(len(idx), seed=cfg.seed, reshuffle_each_iteration=True)
    return d.batch(cfg.batch_size).map(lambda t: (tf.gather(xs, t[:, None] + offs[None, :]), tf.gather(ys, t))).prefetch(2)

w = ops.convert_to_tensor((prep.mask / prep.mask.sum()).astype("float32"))
class SatLoss(keras.losses.Loss):
    def call(self, yt, yp):
        if CONTROL: return ops.sum(ops.square(yp[..., 0] - yt[..., 0]) * w, axis=(1, 2))
        mse = ops.sum(ops.square(yp[..., 0] - yt[..., 0]) * w, axis=(1, 2))
        z, lab = yp[..., 1], yt[..., 1]
        bce = POSW * lab * ops.softplus(-z) + (1 - lab) * ops.softplus(z)     # logistic loss on the logit
        return mse + LAM * ops.sum(bce * w, axis=(1, 2))

set_seed(cfg.seed, deterministic=False)
base = model_from_config(cfg, ny, nx, prep.mask)
h = base.get_layer("batch_normalization_1").output
logit = layers.Conv2D(1, 3, padding="same", name="sat_logit")(h)
model = keras.Model(base.inputs, base.outputs[0] if CONTROL else layers.Concatenate(name="out")([base.get_layer("conv2d").output, logit]))
print("parameters:", model.count_params())
model.compile(optimizer=keras.optimizers.Adam(cfg.lr), loss=SatLoss())
best, best_w = np.inf, None
t0 = time.time()
for ep in range(cfg.epochs):
    hst = model.fit(ds("train", True), epochs=1, verbose=0)
    ww = model.get_weights(); recalibrate_batchnorm(model, ds("train", True).take(64))
    vl = model.evaluate(ds("val"), verbose=0)
    print(f"epoch {ep + 1}: loss {hst.history['loss'][0]:.5f} val {vl:.5f} ({time.time() - t0:.0f} s)", flush=True)
    if vl < best: best, best_w = vl, model.get_weights()
model.set_weights(best_w)

def physical(pred, thr):
    reg = prep.scalers.inverse(cfg.target, pred[..., 0]) if cfg.scale_target else pred[..., 0]
    if CONTROL:                                               # no logit: Eq. 6 undone as convda does
        out = undo_eq6(reg, prep.capacity, cfg.eq6_tolerance); out[..., ~prep.mask] = np.nan; return out, reg
    p = 1 / (1 + np.exp(-pred[..., 1]))
    out = np.where(p >= thr, 0.0, reg).astype(np.float32); out[..., ~prep.mask] = np.nan
    return out, reg

res = {}
for split in ("val", "test"):
    pr = np.asarray(model.predict(ds(split), verbose=0))
    obs = prep.y_phys[prep.indices[split]]
    res[split] = (pr, obs)
# threshold: best CSI on validation
pr, obs = res["val"]
cands = [0.5] if CONTROL else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
csis = {t: saturation_metrics(obs, physical(pr, t)[0], prep.mask)["sat_csi"] for t in cands}
thr = max(csis, key=lambda t: csis[t]); print("validation CSI by threshold:", {k: round(v, 3) for k, v in csis.items()}, "->", thr)
pr, obs = res["test"]
for t in sorted({0.5, thr}, reverse=True):          # the control has one threshold: print it once
    ph, reg = physical(pr, t)
    sm = saturation_metrics(obs, ph, prep.mask, sim_eq6=reg, capacity=prep.capacity)   # nse_eq6: the regression channel in Eq. 6 space
    reg_eq6 = undo_eq6(reg, prep.capacity, cfg.eq6_tolerance); reg_eq6[..., ~prep.mask] = np.nan   # the regression channel alone, Eq. 6 undone
    print(f"RESULT {'control (no saturation channel, Eq. 6 undone)' if CONTROL else f'saturation channel, weight {LAM}'}: test, threshold {t}: NSE {nse(obs, ph, prep.mask):.4f}; regression channel with Eq. 6 undone {nse(obs, reg_eq6, prep.mask):.4f}; "
          + ", ".join(f"{k} {v:.4f}" for k, v in sm.items()))
print("time", round(time.time() - t0))
