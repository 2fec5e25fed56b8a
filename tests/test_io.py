"""convda.io on the real Wflow.jl runs in ../shared/fixtures (skipped when absent) and on bad input."""
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from convda.core import DataError, FORCING, LAYER_THICKNESS
from convda.io import example_run_data, find_toml, open_run, open_states, read_params, write_run

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
VERSIONS = ("v0", "v1")
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "wflow_piave_v1").is_dir(), reason="../shared/fixtures not present")


def fixture(v):
    return FIXTURES / f"wflow_piave_{v}"


@pytest.fixture(scope="module", params=VERSIONS)
def real(request):
    if not fixture(request.param).is_dir(): pytest.skip("../shared/fixtures not present")
    ds = open_run(fixture(request.param))
    yield request.param, ds
    ds.close()


@needs_fixtures
def test_fixture_toml_choice():
    for v in VERSIONS:
        assert find_toml(fixture(v)).name == "wflow_sbm_results.toml"
        with pytest.raises(DataError, match="gridded output file not found"):   # names run_default/, absent
            open_run(fixture(v) / "wflow_sbm.toml")


@needs_fixtures
def test_fixture_opens(real):
    v, ds = real
    assert (ds.sizes["time"], ds.sizes["y"], ds.sizes["x"], ds.sizes["layer"]) == (8, 53, 58, 4)
    assert list(ds["layer"].values) == [0, 1, 2, 3]
    assert (np.diff(ds["y"].values) < 0).all() and (np.diff(ds["x"].values) > 0).all()
    assert pd.DatetimeIndex(ds["time"].values)[[0, -1]].strftime("%Y-%m-%d").tolist() == ["2010-02-03", "2010-02-10"]
    static = {"land_elevation", "local_drain_direction", "subcatchment", "river_mask", "soil_theta_s", "soil_theta_r",
              "soil_thickness", "soil_ksat_vertical", "soil_f", "soil_brooks_corey_c", "vegetation_root_depth", "mask"}
    assert set(FORCING) | {"q_river", "q_gauge"} | static <= set(ds.data_vars)
    assert ds["soil_brooks_corey_c"].dims == ("layer", "y", "x")
    assert ds["q_gauge"].dims == ("time", "gauge") and list(ds["gauge"].values) == [1]
    assert ds["mask"].dtype == bool and int(ds["mask"].sum()) == 1653
    assert ds["local_drain_direction"].dtype == np.uint8 and int((ds["local_drain_direction"] == 5).sum()) == 1
    assert all("units" in ds[k].attrs for k in ds.data_vars)
    for k in ("ustorelayerdepth", "satwaterdepth", "zi", "vwc", "vwc_profile"):
        assert k not in ds                                              # not outputs of these runs
    # q_river is finite exactly on river cells, every day
    assert bool((ds["q_river"].notnull() == (ds["river_mask"] == 1)).all())
    # hydromt clips the forcing to the basin: finite exactly inside the mask
    for k in FORCING: assert bool((ds[k].notnull() == ds["mask"]).all())
    assert float(ds["precip"].min()) >= 0
    assert ds["pet"].attrs == {"units": "mm d-1"}                         # not hydromt's "Geopotential" leftovers
    if v == "v0": assert int((ds["gauges"] > 0).sum()) == 1


@needs_fixtures
def test_fixture_outer_join_keeps_the_start_day():
    ds = open_run(fixture("v1"), join="outer")
    assert ds.sizes["time"] == 9
    assert bool(ds["q_river"].isel(time=0).isnull().all())
    assert bool((ds["precip"].isel(time=0).notnull() == ds["mask"]).all())
    ds.close()


@needs_fixtures
@pytest.mark.parametrize("v", VERSIONS)
def test_fixture_states_align_with_static(v):
    ds = open_run(fixture(v)); st = open_states(fixture(v))["outstate"]
    mask = ds["mask"]
    u, s = st["ustorelayerdepth"].isel(time=0), st["satwaterdepth"].isel(time=0)
    assert st.sizes["time"] == 1 and list(u["layer"].values) == [0, 1, 2, 3]
    # NaN exactly outside the basin, in every layer
    assert bool((u.notnull() == mask).all()) and bool((s.notnull() == mask).all())
    # water-table depth from the saturated store: zi = thickness - satwaterdepth / (theta_s - theta_r)
    zi = ds["soil_thickness"] - s / (ds["soil_theta_s"] - ds["soil_theta_r"])
    tops = xr.DataArray(np.cumsum((0.0,) + LAYER_THICKNESS), dims="layer", coords={"layer": [0, 1, 2, 3]})
    saturated = (zi <= tops + 1e-3) & mask                             # the whole layer lies below the water table
    zero = (u == 0) & mask
    assert bool((zero | ~saturated).all())                               # a saturated layer holds no unsaturated water
    assert all(int(saturated.sel(layer=k).sum()) > 0 for k in range(4))  # saturated layers exist in every layer
    # what these runs actually show (cold start in February): more zeros than saturated layers
    # (a layer can be empty without being saturated), and layer 3 empty in every basin cell
    assert [int(zero.sel(layer=k).sum()) for k in range(4)] == [938, 981, 1589, 1653]
    assert all(int(zero.sel(layer=k).sum()) > int(saturated.sel(layer=k).sum()) for k in range(4))
    ds.close()


@needs_fixtures
def test_fixture_v1_instates_use_the_toml_names():
    st = open_states(fixture("v1"))
    assert sorted(st) == ["instate", "outstate"]
    ins = st["instate"]
    assert "ustorelayerdepth" in ins and "satwaterdepth" in ins          # from soil_unsaturated_depth / soil_saturated_depth
    assert pd.Timestamp(ins["time"].values[0]) == pd.Timestamp("2010-02-02")
    assert bool((ins["ustorelayerdepth"].isel(time=0).notnull() == ins["mask"]).all())
    assert sorted(open_states(fixture("v0"))) == ["outstate"]            # v0 has no instate/


@pytest.fixture
def fixture_copy(tmp_path):
    if not fixture("v1").is_dir(): pytest.skip("../shared/fixtures not present")
    dst = tmp_path / "piave"
    shutil.copytree(fixture("v1"), dst)
    return dst


def _rewrite(path, fn):
    with xr.open_dataset(path) as d: d = fn(d.load())
    for var in d.variables.values(): var.encoding = {}
    d.to_netcdf(path)


def test_fixture_like_truncated_output(fixture_copy):
    f = fixture_copy / "run_results" / "output.nc"
    with open(f, "r+b") as h: h.truncate(f.stat().st_size // 3)
    with pytest.raises(DataError, match=r"cannot be read.*output\.nc"):
        open_run(fixture_copy)


def test_fixture_like_missing_files(fixture_copy):
    (fixture_copy / "inmaps.nc").unlink()
    with pytest.raises(DataError, match="forcing file not found.*inmaps.nc"):
        open_run(fixture_copy)
    for t in fixture_copy.glob("*.toml"): t.unlink()
    with pytest.raises(DataError, match="no TOML"):
        open_run(fixture_copy)
    with pytest.raises(DataError, match="run folder not found"):
        open_run(fixture_copy / "missing")


def test_fixture_like_misaligned_grid(fixture_copy):
    _rewrite(fixture_copy / "inmaps.nc", lambda d: d.assign_coords(longitude=d.longitude + 0.01))
    with pytest.raises(DataError, match="x coordinates differ.*inmaps.nc"):
        open_run(fixture_copy)


def test_fixture_like_output_grid_shape(fixture_copy):
    _rewrite(fixture_copy / "run_results" / "output.nc", lambda d: d.isel(lat=slice(1, None)))
    with pytest.raises(DataError, match="does not align.*output.nc"):
        open_run(fixture_copy)


def test_fixture_like_missing_variable_and_time(fixture_copy):
    _rewrite(fixture_copy / "inmaps.nc", lambda d: d.drop_vars("temp"))
    with pytest.raises(DataError, match="variable: temp"):
        open_run(fixture_copy)
    assert "temp" not in open_run(fixture_copy, require=("precip", "pet"))
    _rewrite(fixture_copy / "inmaps.nc", lambda d: d.assign_coords(time=d.time - np.timedelta64(365, "D")))
    with pytest.raises(DataError, match="do not overlap"):
        open_run(fixture_copy, require=("precip",))


def test_fixture_like_negative_precip_and_wrong_dims(fixture_copy):
    _rewrite(fixture_copy / "inmaps.nc", lambda d: d.assign(precip=d.precip.where(d.precip.time != d.time[3], -1.0)))
    with pytest.raises(DataError, match="negative precipitation"):
        open_run(fixture_copy)
    _rewrite(fixture_copy / "inmaps.nc", lambda d: d.assign(precip=d.pet, pet=d.pet.isel(time=0)))
    with pytest.raises(DataError, match="wrong dimensions.*variable: pet"):
        open_run(fixture_copy)


def test_round_trip_synthetic(tmp_path):
    st, fo, out, final = example_run_data(ny=5, nx=4, nt=6)
    fo["precip"][2] = np.nan
    p = write_run(tmp_path / "run", st.sortby("y"), fo, out.sortby("y"), final_state=final, params={"cfmax": 2.5})
    ds = open_run(p)
    assert (np.diff(ds["y"].values) < 0).all()
    for k in ("precip", "pet", "temp"): xr.testing.assert_equal(ds[k], fo[k])
    for k in ("ustorelayerdepth", "satwaterdepth", "zi", "vwc_profile", "q_river"): xr.testing.assert_equal(ds[k], out[k])
    assert (ds["mask"].values == st["mask"].values).all()
    assert read_params(p) == {"cfmax": 2.5}
    assert open_states(p)["outstate"].sizes["time"] == 1
    ds.close()
