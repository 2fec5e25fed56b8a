"""Sequence training on random tiles of the grid, for `bench_sequence.py --tile T`: an experiment, not part of convda.

convda's `fit_sequence` trains on whole frames (46 x 43 on the default). The network is fully convolutional, so it
can be trained on smaller tiles (`convda.largegrid.tile_chunk_arrays`, the large-grid path's sampler) and its weights
copied onto the full grid. An update on B tiles of T x T cells costs about B T^2 / (46 x 43) of a whole-frame
chunk, so for the same compute an update sees more stretches of days: more independent samples in time, fewer
(strongly correlated) cells of the same day. With `margin`, cells within `margin` of any tile side are not scored
(inside the grid they see zero padding where the full grid has neighbours; the sampler does not say which sides
are the grid's). bench/README.md records what it gave.
"""
import numpy as np

def _tile_batch(prep, starts, n, tile, rng, margin):
    "Tile chunks (x, y) with y's mask channel cleared within `margin` of inner tile sides."
    from convda.largegrid import tile_chunk_arrays
    x, y = tile_chunk_arrays(prep, starts, n, tile, rng)
    if margin > 0:                                            # tile_chunk_arrays does not say where the tile is: clear all four sides
        y = y.copy(); y[..., :margin, :, 1] = 0; y[..., -margin:, :, 1] = 0; y[..., :, :margin, 1] = 0; y[..., :, -margin:, 1] = 0
    return x, y

_TILES = {}                                                   # id(full model) -> (tile model, its update, its sampler)

def fit_tiles_seq(prep, cfg, chunk_days, chunk_batch, model, tile: int, margin: int = 0, epochs=1000, max_updates=None,
                  on_update=None, spinup_bn="batch", **_):
    "Train a tile copy of the (full-grid) sequence `model` on random tiles, forward-only spin-up; its weights are copied into `model` after every update."
    import keras
    import convda.sequence as S
    from convda.largegrid import TileMaskedMSE
    from convda.model import head_activation_of
    W = cfg.window; n = S.chunk_days_for(W, chunk_days or cfg.chunk_days); B = chunk_batch or cfg.chunk_batch
    if id(model) not in _TILES:                                # not an attribute of `model`: Keras would track the tile model's weights as its own
        lstm = [l for l in model.layers if isinstance(l, keras.layers.ConvLSTM2D)]
        tm = S.build_sequence_model(prep.x.shape[-1], tile, tile, tuple(l.filters for l in lstm), lstm[0].kernel_size[0],
                                    model.get_layer("conv2d").kernel_size[-1], lstm[0].dropout, lstm[0].recurrent_dropout,
                                    mask=None, spinup=W, head_activation=head_activation_of(model))
        S.copy_weights(model, tm)                             # the same start (head at the mean)
        opt = model.optimizer.__class__.from_config(model.optimizer.get_config())   # the same lr schedule, from update 0
        tm.compile(optimizer=opt, loss=TileMaskedMSE(1))     # the from-state model scores every step after the spin-up
        _TILES[id(model)] = (tm, S.truncated_update(tm, W, spinup_bn), np.random.default_rng(cfg.seed))
    tm, update, rng = _TILES[id(model)]
    valid = S.valid_days(prep, "train"); step = 0
    for _ in range(epochs):
        starts = S.chunk_starts(valid, n, W, cfg.lead, offset=int(rng.integers(0, n - W + 1)))
        rng.shuffle(starts)
        for b in range(0, len(starts) - B + 1, B):
            loss = update(*_tile_batch(prep, starts[b:b + B], n, tile, rng, margin)); step += 1
            if not np.isfinite(loss): raise RuntimeError(f"non-finite loss at update {step}")
            S.copy_weights(tm, model)
            if (on_update is not None and on_update(step, model)) or (max_updates and step >= max_updates): return model, None
    return model, None
