"""The dashboard driven through its parameters and rendered to Bokeh models (no browser)."""
import json
import numpy as np
import pandas as pd
import panel as pn
import pytest
from convda.dashboard import (Dashboard, app, clear_cache, make_demo_experiments, make_demo_run, open_folder)


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
    lay = d.transects().object
    assert len(lay) == 2
    cmp = d.compare(); render(cmp)
    assert "scale_target" in cmp[0][1].object.index
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
    assert "run folder not found" in none.transects().object
    assert "No tuning experiment" in none.tuning_view().object
    render(none)
