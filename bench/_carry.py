"""Stateful truncated backprop for the sequence model, for `bench_sequence.py --carry K`: an experiment, not part of convda.

convda's `fit_sequence` starts every chunk from zero states and a forward-only W-1-day spin-up. Here the ConvLSTM
states at the end of a chunk are carried into the next chunk of the same stretch of days (K chunks in a row, one
spin-up for all K), so training sees states as old as the streamed test-year prediction does, and the spin-up is
paid once per K chunks. With `groups` G > 1, G such stretches are in flight and the updates take them in turn, so
consecutive updates come from different parts of the record. bench/README.md records what it gave.
"""
import numpy as np

def carry_update(model, spinup: int):
    "(update, spin_forward): a training step (x, y, states) -> (loss, end states) sharing `model`'s weights, and the forward-only spin-up."
    import tensorflow as tf, keras
    from keras import layers
    import convda.sequence as S
    k = int(spinup) - 1
    inp = keras.Input(shape=model.inputs[0].shape[1:], name="inputs")
    _, ny, nx, _ = inp.shape[1:]
    h, s_in, s_out = inp, [], []
    for layer in model.layers:                               # the same cells (so weights), wrapped to return their states
        if isinstance(layer, layers.InputLayer): continue
        if isinstance(layer, layers.ConvLSTM2D):
            i = len(s_in) // 2
            s = [keras.Input(shape=(ny, nx, layer.filters), name=f"h{i}"), keras.Input(shape=(ny, nx, layer.filters), name=f"c{i}")]
            conf = layer.get_config(); conf.update(return_state=True, name=f"carry{i}")
            rnn = layers.ConvLSTM2D.from_config(conf); rnn.cell = layer.cell
            h, hs, cs = rnn(h, initial_state=s); s_in += s; s_out += [hs, cs]
        else:
            h = layer(h)
    train = keras.Model([inp] + s_in, [h] + s_out)
    tv = model.trainable_variables
    if len(train.trainable_variables) != len(tv) or any(a is not b for a, b in zip(train.trainable_variables, tv)):
        raise RuntimeError("the carrying model does not share the sequence model's weights")
    loss_fn, opt = S.SequenceMaskedMSE(model.loss.mask, spinup=1), model.optimizer

    @tf.function(reduce_retracing=True)
    def step(x, y, states):
        with tf.GradientTape() as tape:
            out = train([x] + list(states), training=True)
            loss = tf.reduce_mean(loss_fn.call(y, out[0]))
        opt.apply_gradients(zip(tape.gradient(loss, tv), tv))
        return loss, out[1:]
    spin = S.stream_model(model)
    fwd = tf.function(lambda inp: spin(inp, training=True), reduce_retracing=True)   # its own batch statistics, as fit_sequence

    def spin_forward(x):
        b, _, ny, nx = x.shape[:4]
        st = [np.zeros((b, ny, nx, int(s.shape[-1])), np.float32) for s in spin.inputs[1:]]
        if k == 0: return st
        S.copy_weights(model, spin)
        return [np.asarray(s) for s in fwd([tf.convert_to_tensor(a) for a in [x[:, :k]] + st])[1:]]

    def update(x, y, states):
        loss, st = step(tf.convert_to_tensor(x), tf.convert_to_tensor(y), [tf.convert_to_tensor(s) for s in states])
        return float(loss), list(st)
    return update, spin_forward

def fit_carry(prep, cfg, chunk_days, chunk_batch, model, K: int, groups: int = 1, epochs=1000, max_updates=None, on_update=None, **_):
    "Train `model` on stretches of K consecutive chunks with the states carried over (`groups` stretches taken in turn)."
    import convda.sequence as S
    W, lead = cfg.window, cfg.lead
    n = S.chunk_days_for(W, chunk_days or cfg.chunk_days); B = chunk_batch or cfg.chunk_batch
    sd = n - W + 1                                           # scored days per chunk, as in fit_sequence
    n_ep = W - 1 + K * sd
    if not hasattr(model, "_carry"): model._carry = carry_update(model, W)
    update, spin_forward = model._carry
    valid = S.valid_days(prep, "train"); rng = np.random.default_rng(cfg.seed)

    def stretches():
        for _ in range(epochs):
            starts = S.chunk_starts(valid, n_ep, W, lead, offset=int(rng.integers(0, n_ep - W + 1)))
            rng.shuffle(starts)
            for b in range(0, len(starts) - B + 1, B): yield starts[b:b + B]
    src, inflight, step = stretches(), [None] * groups, 0   # per group: [first days, next chunk, states]
    while True:
        g = step % groups
        if inflight[g] is None or inflight[g][1] >= K:
            st0 = next(src, None)
            if st0 is None: break
            inflight[g] = [st0, 0, spin_forward(S.chunk_arrays(prep, st0, W - 1)[0])]
        st0, j, states = inflight[g]
        x, y = S.chunk_arrays(prep, st0 + W - 1 + j * sd, sd)
        loss, states = update(x, y, states); step += 1
        inflight[g] = [st0, j + 1, states]
        if not np.isfinite(loss): raise RuntimeError(f"non-finite loss at update {step}")
        if (on_update is not None and on_update(step, model)) or (max_updates and step >= max_updates): break
    return model, None
