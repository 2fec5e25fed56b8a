"""Tests of convda.losses: weight normalisation, rare values weighted up, MSE when weights are 1, mask honoured."""
import numpy as np
import pytest
import keras

from convda.losses import WeightedMaskedMSE, WeightTable, denseweight, lds, upper_decile_rmse
from convda.model import MaskedMSE

RNG = np.random.default_rng(1)
Y = np.concatenate([RNG.normal(0.2, 0.03, 9000), RNG.uniform(0.5, 1.0, 300)])   # crowded low values, rare high ones
MASK = np.array([[1, 1, 1], [0, 1, 0], [0, 0, 0]], bool)


@pytest.mark.parametrize("make", [denseweight, lambda y: denseweight(y, alpha=0.7), lds, lambda y: lds(y, reweight="inverse")])
def test_weights_mean_one_and_rare_up(make):
    t = make(Y)
    assert t(Y).mean() == pytest.approx(1.0, abs=1e-4)
    assert t(0.9) > 3 * t(0.2)            # a rare value outweighs a common one
    assert np.isfinite(t.weights).all() and (t.weights > 0).all()


def test_loss_equals_mse_when_weights_one():
    yt = RNG.random((4, 3, 3, 1)).astype("float32"); yp = RNG.random((4, 3, 3, 1)).astype("float32")
    loss = WeightedMaskedMSE(MASK, 0.0, 1.0, np.ones(50))
    assert float(loss(yt, yp)) == pytest.approx(float(MaskedMSE(MASK)(yt, yp)), rel=1e-6)
    manual = np.mean([((yp[i] - yt[i]) ** 2)[MASK].mean() for i in range(4)])
    assert float(loss(yt, yp)) == pytest.approx(manual, rel=1e-5)


def test_mask_honoured():
    yt = RNG.random((2, 3, 3, 1)).astype("float32"); yp = RNG.random((2, 3, 3, 1)).astype("float32")
    t = lds(Y)
    loss = WeightedMaskedMSE(MASK, t.lo, t.hi, t.weights)
    bad = yp.copy(); bad[:, ~MASK] = 1e6; bad_t = yt.copy(); bad_t[:, ~MASK] = -1e6
    assert float(loss(yt, bad)) == pytest.approx(float(loss(yt, yp)), rel=1e-6)
    assert float(loss(bad_t, yp)) == pytest.approx(float(loss(yt, yp)), rel=1e-6)


def test_weighted_value_and_serialisation():
    yt = np.array([[[[0.1], [0.9]], [[0.9], [0.1]]]], "float32"); yp = np.zeros_like(yt)
    loss = WeightedMaskedMSE(np.ones((2, 2), bool), 0.0, 1.0, [1.0, 4.0])   # weight 4 above 0.5
    assert float(loss(yt, yp)) == pytest.approx((2 * 0.01 + 2 * 4 * 0.81) / 4, rel=1e-5)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert float(again(yt, yp)) == pytest.approx(float(loss(yt, yp)), rel=1e-6)


def test_upper_decile_rmse():
    o = np.arange(1000.0); s = o + np.where(o > 900, 3.0, 0.0)
    r, b, thr = upper_decile_rmse(o, s)
    assert thr == pytest.approx(899.1) and r == pytest.approx(np.sqrt((99 * 9) / 100)) and b == pytest.approx(0.99 * 3)
