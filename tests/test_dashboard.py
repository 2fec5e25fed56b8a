"""The dashboard driven through its parameters and rendered to Bokeh models (no browser)."""
import json
import numpy as np
import xarray as xr
import pandas as pd
import panel as pn
import pytest
from convda.dashboard import (OUTSIDE_COLOR, Dashboard, app, clear_cache, make_demo_experiments, make_demo_run, open_folder)
from convda.metrics import mse, nse, nse_map


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    clear_cache()
    root = tmp_path_factory.mktemp("dash")
    make_demo_run(root / "runs" / "scaled", days=45, figures=False)
    make_demo_run(root / "runs" / "raw", days=45, scale_target=False)
    part = root / "runs" / "partial"
    make_demo_run(part, days=20, figures=False)
    (part / "predictions.nc").unlink(); (part / "history.csv").unlink()
    (part / "config.json").write_text("[broken")
    make_demo_experiments(root / "exp", days=30, seeds=2)
    return root


def render(view):
    return pn.panel(view).get_root()


def test_views_render_and_follow_params(folders):
    d = app([folders / "runs", folders / "exp"])
    assert d.param.run.objects == ["partial", "raw", "scaled"] and d.run == "raw"
    for v in (d.overview(), d.transects(), d.delta_maps(), d.cell_series(), d.uncertainty(), d.tuning_view(), d.compare()):
        render(v)
    render(d)
    d.param.update(run="scaled", other="raw", rows=[3, 40], date="2019-02-10")
    lay = d.transects()[1].object
    assert len(lay) == 2
    cmp = d.compare(); render(cmp)
    assert "scale_target" in cmp[1][1].object.index
    d.param.update(sensitivity="sensitivity_window", tuning="tuning")
    assert d.setting in d.param.setting.objects
    render(d.uncertainty()); render(d.tuning_view())


def test_date_changes_map_data_without_reloading(folders):
    d = Dashboard([folders / "runs" / "raw"])
    render(d.delta_maps())
    dm = d._maps[("maps", "raw", "difference")]
    a = d.map_data()["difference"].copy()
    d.date = d.param.date.objects[3]
    b = d.map_data()["difference"]
    assert not np.allclose(a, b, equal_nan=True)
    np.testing.assert_allclose(np.nan_to_num(dm.last.dimension_values(2, flat=False)[::-1]), np.nan_to_num(b), atol=1e-6)
    for date in d.param.date.objects[:5]:
        d.date = date
    d.rows = [1, 2]
    render(d.transects())
    assert open_folder(folders / "runs" / "raw").loads["predictions"] == 1


def test_missing_pieces_show_alerts(folders):
    d = Dashboard([folders / "runs" / "partial"])
    assert d.run == "partial"
    for view in (d.transects, d.delta_maps, d.cell_series):
        v = view(); render(v)
        assert isinstance(v, pn.pane.Alert) and "predictions.nc not found" in v.object
    ov = d.overview(); render(ov)
    texts = [o.object for o in ov.select(pn.pane.Alert)]
    assert any("not valid JSON" in t for t in texts) and any("history.csv not found" in t for t in texts)
    render(d.compare())
    none = Dashboard([folders / "missing_folder"])
    assert "No run folder found" in none.transects().object and "Not found" in none.transects().object
    assert "No tuning experiment" in none.tuning_view().object
    render(none)


@pytest.fixture(scope="module")
def baseline_run(folders):
    "A run folder whose predictions.nc holds the three baselines and whose metrics.json scores them (the evaluation's contract)."
    run = make_demo_run(folders / "evaluated" / "with_baselines", days=60, figures=False)
    with xr.open_dataset(run / "predictions.nc") as ds: ds = ds.load()
    o, mask = ds.observed, ds["mask"].astype(bool)
    base = {"baseline_cell_mean": o.mean("time").broadcast_like(o),                  # the per-cell mean
            "baseline_doy_mean": o.rolling(time=15, center=True, min_periods=1).mean(),  # a smooth seasonal cycle
            "baseline_linear": o.shift(time=1).fillna(o.isel(time=0))}                 # yesterday's value: a linear model
    ds = ds.assign({k: v.transpose("time", "y", "x").astype("float32").assign_attrs(units="mm") for k, v in base.items()})
    ds.to_netcdf(run / "predictions.tmp.nc"); (run / "predictions.tmp.nc").replace(run / "predictions.nc")
    m = json.loads((run / "metrics.json").read_text())
    m["baselines"] = {k[len("baseline_"):]: {"nse": nse(o, v, mask), "mse": mse(o, v, mask)} for k, v in base.items()}
    m["nse_cell_median"] = float(np.nanmedian(nse_map(o, ds.predicted, mask)))
    m["skill_vs_best_baseline"] = 1 - m["mse"] / min(b["mse"] for b in m["baselines"].values())
    (run / "metrics.json").write_text(json.dumps(m))
    return run


def images(view):
    "The HoloViews elements of the panes of a rendered view."
    return [pane.object for pane in view.select(pn.pane.HoloViews)]


def test_skill_maps_against_baselines(baseline_run):
    d = Dashboard([baseline_run])
    p = d.predictions()
    assert sorted(p.baselines) == ["cell_mean", "doy_mean", "linear"]
    sk = p.skill_maps()
    np.testing.assert_allclose(sk["nse"], nse_map(p.observed, p.predicted, p.mask), equal_nan=True)
    # skill against the cell mean over the same days is the NSE itself
    np.testing.assert_allclose(sk["cell_mean"], sk["nse"], atol=1e-4, equal_nan=True)
    o, n, b = p.observed[:, 22, 21], p.predicted[:, 22, 21], p.baselines["linear"][:, 22, 21]
    np.testing.assert_allclose(sk["linear"][22, 21], 1 - mse(o, n) / mse(o, b), rtol=1e-5)
    assert np.isnan(sk["linear"][~p.mask]).all()
    v = d.skill(); render(v)
    ims = images(v)
    assert [im.opts.get().kwargs["title"] for im in ims[1:]] == [f"1 − MSE_net / MSE_{k}" for k in ("cell_mean", "doy_mean", "linear")]
    assert all(im.opts.get().kwargs["clim"] == (-1.0, 1.0) and im.opts.get().kwargs["clipping_colors"]["NaN"] == OUTSIDE_COLOR for im in ims)
    np.testing.assert_allclose(ims[3].dimension_values(2, flat=False)[::-1], sk["linear"], equal_nan=True)  # the map shows the numbers
    table = v.select(pn.pane.DataFrame)[0].object
    assert list(table.index) == ["network", "baseline cell_mean", "baseline doy_mean", "baseline linear"]
    d.season = "DJF"
    djf = p.skill_maps("DJF")
    assert not np.allclose(np.nan_to_num(djf["linear"]), np.nan_to_num(sk["linear"]))
    assert "DJF, 59 days" in d.skill()[1].object
    d.season = "JJA"  # the run has no summer day
    assert "No day of JJA" in d.skill()[1].object


def test_skill_without_baselines(folders):
    d = Dashboard([folders / "runs" / "raw"])
    v = d.skill(); render(v)
    assert len(images(v)) == 1  # the network's NSE map only
    assert any("no `baseline_*` variables" in a.object for a in v.select(pn.pane.Alert))


def test_seasonal_maps(folders):
    d = Dashboard([folders / "runs" / "raw"])
    p = d.predictions()
    v = d.seasonal_maps(); render(v)
    ims = images(v)
    assert [im.opts.get().kwargs["title"] for im in ims] == ["mean wflow_sbm (simulated)", "mean ConvLSTM (predicted)",
                                                             "mean predicted − simulated", "mean |predicted − simulated|"]
    with np.errstate(invalid="ignore"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("ignore")
        np.testing.assert_allclose(ims[2].dimension_values(2, flat=False)[::-1], np.nanmean(p.predicted - p.observed, axis=0), rtol=1e-5, equal_nan=True)
    d.period = (pd.Timestamp("2019-01-10").to_pydatetime(), pd.Timestamp("2019-01-19").to_pydatetime())
    assert "whole period, 10 days (2019-01-10 to 2019-01-19)" in d.seasonal_maps()[1].object


def test_names_and_saturated_cells(folders):
    d = Dashboard([folders / "runs" / "raw"])
    render(d.delta_maps())
    im = d._maps[("maps", "raw", "simulated")].last
    kw = im.opts.get().kwargs
    assert kw["title"].startswith("wflow_sbm (simulated)") and kw["clipping_colors"]["NaN"] == OUTSIDE_COLOR
    assert kw["xlabel"] == "x (km)" and [str(v) for v in im.vdims][1:] == ["row", "col"]
    assert d._maps[("maps", "raw", "difference")].last.opts.get().kwargs["title"].startswith("predicted − simulated")
    assert kw["cmap"][0] != OUTSIDE_COLOR and kw["clim"][0] == 0.0  # a saturated cell (0 mm) gets the bottom colour, not grey


def test_folders_found_recursively_and_empty(folders, tmp_path):
    d = Dashboard([folders])  # holds runs/, exp/ and evaluated/ at different depths
    assert {"raw", "scaled", "partial"} <= set(d.param.run.objects)
    assert d.param.sensitivity.objects == ["sensitivity_train_years", "sensitivity_window"] and d.param.tuning.objects == ["tuning"]
    empty = Dashboard([tmp_path])
    assert empty.run is None and empty.period is None
    for view in (empty.overview, empty.transects, empty.delta_maps, empty.seasonal_maps, empty.skill, empty.compare):
        v = view(); render(v)
        assert "No run folder found" in v.object and "convda run" in v.object
    render(empty)
    for t in range(len(empty.VIEWS)): empty.tabs.active = t  # every tab of the app, with no period slider to crash


def test_compare_two_grids_shares_colour_scales(folders, tmp_path):
    big = make_demo_run(tmp_path / "big", days=40, figures=False)
    small = make_demo_run(tmp_path / "small", ny=20, nx=30, days=90, start="2018-12-01", seed=3, figures=False)
    d = Dashboard([big, small])
    v = d.compare(); render(v)
    ps = [d.predictions(n) for n in ("big", "small")]
    lims = {n: d._maps[("compare", n, "simulated")].last.opts.get().kwargs["clim"] for n in ("big", "small")}
    assert lims["big"] == lims["small"] == (min(p.clim[0] for p in ps), max(p.clim[1] for p in ps))
    assert all(not pane.linked_axes for pane in v.select(pn.pane.HoloViews))  # each run keeps its own grid and period
    assert "big − small" not in v[1][0].object.columns and "small − big" in v[1][0].object.columns
    assert "Compare needs two run folders" in Dashboard([big]).compare().object
