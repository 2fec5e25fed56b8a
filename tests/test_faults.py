"""Bad input never trains and saved work is never overwritten.

Every RunConfig field out of range or of the wrong type, and the data faults a new user meets (a day twice in
inmaps.nc, a validation year without precipitation, a corrupt model.keras, data changed under a finished folder),
end with exit status 2 and one line on stderr, before any training and with nothing written outside the run
folder. Storage URLs of `convda tune` are checked before they are used. A resumed fit continues from the state
of its last finished epoch (the guarantee the README states)."""
import dataclasses, hashlib, json, shutil
from pathlib import Path
import numpy as np
import pytest
import xarray as xr

from conftest import EXE, TINY, convda
from convda.core import RUN_RULES, ConfigError, RunConfig


def sums(folder) -> dict:
    "SHA-256 of every file under `folder`, by relative path."
    folder = Path(folder)
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(err: str, alone: bool = True) -> str:
    "The one error line a refusal prints, last on stderr; `alone`: nothing else was printed (no log line, no traceback)."
    lines = [l for l in err.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("convda ") and ": error: " in l]
    assert len(errors) == 1 and lines[-1] == errors[0] and "Traceback" not in err, err[-3000:]
    if alone: assert lines == errors, err[-3000:]
    return errors[0]


def close_cached_files():
    "Close the netCDF handles xarray still caches in this process (open_run reads lazily; earlier in-process runs leave them)."
    import gc
    from xarray.backends.file_manager import FILE_CACHE
    gc.collect()
    for key in list(FILE_CACHE.keys()):
        f = FILE_CACHE.pop(key, None)
        if f is not None: f.close()

def rewrite_nc(path, fn):
    """Load a netCDF file, change it with `fn`, write it back. HDF5 must not have the file open while it is
    overwritten (a later read of any file then fails with "NetCDF: HDF error"), so cached handles are closed first."""
    with xr.open_dataset(path) as d: d = fn(d.load())
    for v in d.variables.values(): v.encoding = {}
    close_cached_files()
    d.to_netcdf(path)


# --- every setting -------------------------------------------------------------------------------------------

def test_every_runconfig_field_has_a_rule():
    "Walks dataclasses.fields(RunConfig): each field has a rule, its default passes it, and the rule refuses bad values."
    for f in dataclasses.fields(RunConfig):
        assert f.name in RUN_RULES, f"RunConfig.{f.name} has no entry in convda.core.RUN_RULES"
        rule = RUN_RULES[f.name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rule.check(f.name, default)
        bad = rule.bad_values()
        assert bad, f"the rule of {f.name} names no value it refuses"
        for v in bad:
            with pytest.raises(ConfigError, match=f"variable: {f.name}"):
                RunConfig(**{f.name: v})


BAD = [(f.name, v) for f in dataclasses.fields(RunConfig) for v in RUN_RULES[f.name].bad_values()]


@pytest.fixture
def no_training(monkeypatch):
    "Make reading data or training an error: a bad setting must be refused before either."
    import convda.io, convda.simulate, convda.train
    def boom(*a, **k): raise AssertionError("reached data or training")
    for mod, name in ((convda.train, "train_run"), (convda.train, "fit"), (convda.simulate, "default_run"), (convda.io, "open_run")):
        monkeypatch.setattr(mod, name, boom)


@pytest.mark.parametrize("key, bad", BAD, ids=[f"{k}={v!r}" for k, v in BAD])
def test_bad_setting_exits_2_before_anything(key, bad, tmp_path, monkeypatch, no_training, capsys):
    "`convda run --set KEY=BAD` (in-process): exit 2, one line naming the key, no folder or file written anywhere."
    from convda.cli import main
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "--out", str(tmp_path / "r"), "--set", f"{key}={json.dumps(bad)}"])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and key in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args, what", [
    (["--set", "lr=abc"], "lr"), (["--set", "epochs=1e999"], "epochs"), (["--set", "window=NaN"], "window"),
    (["--set", "filters=8"], "filters"), (["--set", "data=[1]"], "data"), (["--set", "loss=denseweight:beta=1"], "beta"),
    (["--target", "uts9"], "target"), (["--set", "storm_dates=[\"2010-02-30\"]"], "storm_dates"),
])
def test_malformed_values_exit_2(args, what, tmp_path, monkeypatch, no_training, capsys):
    from convda.cli import main
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "--out", str(tmp_path / "r"), *args])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and what in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(EXE is None, reason="the convda entry point is not installed (pip install -e .)")
@pytest.mark.parametrize("setting", ["lr=-1", "dropout=2"])
def test_issue_settings_as_a_command(setting, tmp_path):
    "The two settings that used to train (lr=-1 trained, dropout=2 was clamped by Keras): the real command exits 2."
    rc, so, se = convda("run", "--out", tmp_path / "r", "--set", setting, cwd=tmp_path)
    line = one_line(se)
    assert rc == 2 and setting.split("=")[0] in line and "out of range" in line, line
    assert list(tmp_path.iterdir()) == []


# --- data faults -----------------------------------------------------------------------------------------------

@pytest.fixture
def data_copy(tiny_run, tmp_path):
    "A private copy of the tiny catchment (2000-2003) to damage."
    d = tmp_path / "data"; shutil.copytree(tiny_run, d)
    return d


def _run_refused(data, out, cwd, monkeypatch, capsys, *extra):
    "Run `convda run` in-process on `data` into `out` with fit() forbidden; return its one stderr line."
    import convda.train
    from convda.cli import main
    def boom(*a, **k): raise AssertionError("training started")
    monkeypatch.setattr(convda.train, "fit", boom)
    monkeypatch.chdir(cwd)
    before = sums(data)
    rc = main(["run", "--data", str(data), "--out", str(out), *TINY, *extra])
    line = one_line(capsys.readouterr().err, alone=False)    # after the INFO lines naming the data and the run folder
    assert rc == 2, line
    assert sums(data) == before                            # the data are read, never written
    return line


def test_duplicate_day_in_forcing(data_copy, tmp_path, monkeypatch, capsys):
    def dup(d):
        t = d.time.values.copy(); t[5] = t[4]
        return d.assign_coords(time=t)
    rewrite_nc(data_copy / "inmaps.nc", dup)
    line = _run_refused(data_copy, tmp_path / "r", tmp_path, monkeypatch, capsys)
    assert "inmaps.nc" in line and "variable: time" in line, line
    assert not (tmp_path / "r").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_validation_year_without_precipitation(data_copy, tmp_path, monkeypatch, capsys):
    "TINY: training 2000-2001, validation 2002, test 2003; 2002 without precipitation is refused, not trained on one day."
    rewrite_nc(data_copy / "inmaps.nc", lambda d: d.assign(precip=d.precip.where(d.time.dt.year != 2002)))
    line = _run_refused(data_copy, tmp_path / "r", tmp_path, monkeypatch, capsys)
    assert "the val split" in line and "variable: precip" in line, line
    assert not (tmp_path / "r").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.fixture(scope="module")
def finished(tiny_run, tmp_path_factory):
    "A finished run folder trained (in-process, TINY) on a private copy of the tiny catchment: (data, run folder)."
    from convda.cli import main
    base = tmp_path_factory.mktemp("finished")
    data, out = base / "data", base / "run"
    shutil.copytree(tiny_run, data)
    assert main(["run", "--data", str(data), "--out", str(out), *TINY]) == 0
    return data, out


def test_finished_folder_rerun_changes_nothing(finished, capsys):
    from convda.cli import main
    data, out = finished
    before = sums(out)
    assert main(["run", "--data", str(data), "--out", str(out), *TINY]) == 0
    assert "nothing retrained or rewritten" in capsys.readouterr().err
    assert sums(out) == before


def test_corrupt_model_in_finished_folder(finished, tmp_path, monkeypatch, capsys):
    data, out = finished
    bad = tmp_path / "run"; shutil.copytree(out, bad)
    (bad / "model.keras").write_bytes(b"\0" * 100)
    before = sums(bad)
    line = _run_refused(data, bad, tmp_path, monkeypatch, capsys)
    assert "model.keras" in line and "--retrain" in line, line
    assert sums(bad) == before


def test_data_changed_under_finished_folder(finished, monkeypatch, capsys):
    "Precipitation tripled at the same path: refused, every file's checksum unchanged, the message names --retrain."
    from convda.cli import main
    data, out = finished
    original = (data / "inmaps.nc").read_bytes()
    before = sums(out)
    try:
        rewrite_nc(data / "inmaps.nc", lambda d: d.assign(precip=d.precip * 3))
        line = _run_refused(data, out, out.parent, monkeypatch, capsys)
        assert "data differ" in line and "variable: precip" in line and "--retrain" in line, line
        assert sums(out) == before
        monkeypatch.undo()                                 # training allowed again: --retrain trains on the new data
        assert main(["run", "--data", str(data), "--out", str(out), *TINY, "--retrain"]) == 0
        after = sums(out)
        assert after["scalers.json"] != before["scalers.json"] and after["data_fingerprint.json"] != before["data_fingerprint.json"]
    finally:
        close_cached_files(); (data / "inmaps.nc").write_bytes(original)


# --- storage URLs --------------------------------------------------------------------------------------------

def test_postgresql_url_gets_the_installed_driver():
    import importlib.util
    from convda.tuning import storage_url
    drivers = [d for d in ("psycopg2", "psycopg") if importlib.util.find_spec(d)]
    if not drivers:
        with pytest.raises(ConfigError, match="psycopg2"): storage_url("postgresql://user:pw@host/db")
        return
    url = storage_url("postgresql://user:pw@host/db")
    assert url == f"postgresql+{drivers[0]}://user:pw@host/db"
    import sqlalchemy
    assert sqlalchemy.create_engine(url).dialect.driver == drivers[0]      # no ImportError for a driver not installed
    assert storage_url("postgres://u@h/db").startswith(f"postgresql+{drivers[0]}://")
    assert storage_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_postgresql_url_fails_on_the_connection_not_the_import():
    pytest.importorskip("psycopg2")
    from convda.core import ConvdaError
    from convda.tuning import make_storage
    with pytest.raises(ConvdaError) as err:
        make_storage("postgresql://user:s3cret@127.0.0.1:1/db", heartbeat=None)          # nothing listens on port 1
    assert "OperationalError" in str(err.value) and "ModuleNotFoundError" not in str(err.value) and "s3cret" not in str(err.value)


def test_sqlite_url_in_a_missing_folder_is_refused(tmp_path, monkeypatch, capsys):
    "`convda tune --storage sqlite:///missing/study.db`: exit 2 before the experiment folder is made; no folder created."
    from convda.cli import main
    from convda.tuning import make_storage, storage_url
    with pytest.raises(ConfigError, match="does not exist"): make_storage(f"sqlite:///{tmp_path / 'missing' / 'study.db'}")
    assert not (tmp_path / "missing").exists()
    assert storage_url(f"sqlite:///{tmp_path / 'study.db'}") == f"sqlite:///{tmp_path / 'study.db'}"
    monkeypatch.chdir(tmp_path)
    rc = main(["tune", "--storage", f"sqlite:///{tmp_path / 'nope' / 'study.db'}", "--out", str(tmp_path / "exp")])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and "does not exist" in line and "variable: storage" in line, line
    assert list(tmp_path.iterdir()) == []


# --- resuming ------------------------------------------------------------------------------------------------

def test_resume_continues_from_the_last_finished_epoch(tmp_path):
    "The README's guarantee: a resumed fit starts from exactly the weights of the last finished epoch, and its curve"
    "repeats the epochs before the interruption bit for bit; the epochs after it may differ (shuffling, dropout)."
    keras = pytest.importorskip("keras")
    from convda.preprocess import prepare, synthetic_run
    from convda.train import fit
    cfg = RunConfig(train_years=1, val_years=1, test_years=1, window=4, filters=(4, 4), epochs=3, patience=5,
                    max_train_samples=32, batch_size=8)
    prep = prepare(synthetic_run(start="1999-01-01", end="2001-12-31", nan_years=()), cfg)

    class Keep(keras.callbacks.Callback):
        def __init__(self, at_end=None, at_begin=None, stop=False):
            super().__init__(); self.at_end, self.at_begin, self.stop, self.weights = at_end, at_begin, stop, None
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == self.at_begin: self.weights = [np.array(w) for w in self.model.get_weights()]
        def on_epoch_end(self, epoch, logs=None):
            if epoch == self.at_end:
                self.weights = [np.array(w) for w in self.model.get_weights()]
                if self.stop: raise KeyboardInterrupt

    whole = Keep(at_end=0)
    _, h_whole = fit(prep, cfg, tmp_path / "whole", verbose=0, callbacks=[whole])
    with pytest.raises(KeyboardInterrupt):
        fit(prep, cfg, tmp_path / "resumed", verbose=0, callbacks=[Keep(at_end=0, stop=True)])
    resumed = Keep(at_begin=1)
    _, h_res = fit(prep, cfg, tmp_path / "resumed", verbose=0, callbacks=[resumed])
    assert h_res.attrs["resumed_at"] == 1 and list(h_res.epoch) == [0, 1, 2]
    for a, b in zip(whole.weights, resumed.weights): np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(h_res.loc[0, ["loss", "val_loss"]].values, h_whole.loc[0, ["loss", "val_loss"]].values)
    assert np.isfinite(h_res[["loss", "val_loss"]].values).all()
