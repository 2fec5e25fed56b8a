"Lazy large-grid path: same arrays and predictions as the in-memory path, masks respected, no NaN."
import numpy as np
import xarray as xr
from convda.core import RunConfig
from convda.preprocess import synthetic_run, prepare
from convda.largegrid import prepare_lazy, fit_tiles, full_grid_model, tile_chunk_arrays
from convda.sequence import predict_days, predict_sequence

def test_lazy_equals_memory(tmp_path):
    ds = synthetic_run(ny=7, nx=6, start="1995-01-01", end="1997-12-31", nan_years=())
    ds.to_netcdf(tmp_path / "run.nc")
    lazy = xr.open_dataset(tmp_path / "run.nc").chunk({"time": 40})
    cfg = RunConfig(window=3, train_years=1, val_years=1, test_years=1, filters=(2, 2))
    pm, pl = prepare(ds, cfg), prepare_lazy(lazy, cfg, sample_days=None)
    assert pl.scalers == pm.scalers
    np.testing.assert_allclose(pl.x[:], pm.x, atol=1e-6)
    np.testing.assert_allclose(pl.y[:], pm.y, atol=1e-6)
    assert not np.isnan(pl.x[:]).any() and not np.isnan(pl.y[:]).any()
    model = full_grid_model(fit_tiles(pl, tile=4, chunk_days=8, updates=2), pl)
    il, yl = predict_days(model, pl, "test", chunk=30); im, ym = predict_days(model, pm, "test")
    np.testing.assert_array_equal(il, im); np.testing.assert_allclose(yl, ym, atol=1e-5)
    pr = predict_sequence(model, pl, "test", chunk=30).predicted.values
    assert np.isfinite(pr[:, pl.mask]).all() and np.isnan(pr[:, ~pl.mask]).all()
    x, y = tile_chunk_arrays(pl, [5], 8, 4)
    assert (y[..., 0][y[..., 1] == 0] == 0).all()
