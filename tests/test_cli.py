"""The `convda` command end to end: simulate, run, evaluate, and clear errors for bad input (exit 2, one line)."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest

from conftest import EXE, TINY, convda

pytestmark = pytest.mark.skipif(EXE is None, reason="the convda entry point is not installed (pip install -e .)")

def test_help_lists_subcommands():
    rc, so, _ = convda("--help")
    assert rc == 0
    for sub in ("simulate", "run", "evaluate", "tune", "sensitivity", "assimilate", "dashboard"): assert sub in so

def test_simulate_writes_wflow_layout(tiny_run):
    for f in ("wflow_sbm.toml", "staticmaps.nc", "inmaps.nc", "run_default/output.nc", "run_default/outstate/outstates.nc"):
        assert (tiny_run / f).exists(), f

def test_simulate_refuses_to_overwrite(tiny_run):
    rc, _, se = convda("simulate", tiny_run, "--ny", 12, "--nx", 12, "--start", "2000-01-01", "--end", "2000-12-31")
    assert rc == 2 and "not empty" in se and "Traceback" not in se

def test_run_and_evaluate(tiny_run_folder):
    out, so = tiny_run_folder
    for f in ("config.json", "scalers.json", "model.keras", "history.csv", "metrics.json", "predictions.nc", "log.txt"):
        assert (out / f).exists(), f
    assert list((out / "figures").glob("*.png"))
    m = json.loads((out / "metrics.json").read_text())
    assert {"nse", "rmse", "mse", "kge", "mase"} <= set(m)
    assert "nse" in so and str(out) in so
    rc, so2, se = convda("evaluate", out)
    assert rc == 0, se[-3000:]
    m2 = json.loads((out / "metrics.json").read_text())
    assert m2["nse"] == pytest.approx(m["nse"], rel=1e-5, abs=1e-6)

@pytest.mark.parametrize("args, message", [
    (["--target", "uts9"], "unknown target"),
    (["--set", "windw=3"], "unknown configuration key"),
    (["--set", "val_years=3", "--set", "test_years=1"], "train"),
    (["--set", "window=5000"], "window"),
])
def test_run_bad_input(tiny_run, tmp_path, args, message, capsys):
    "In-process (one TensorFlow import for all cases): exit status 2 and one clear line on stderr."
    from convda.cli import main
    rc = main(["run", "--data", str(tiny_run), "--out", str(tmp_path / "r"), *TINY, *args])
    err = capsys.readouterr().err
    assert rc == 2, err[-2000:]
    assert message in err and "Traceback" not in err

def test_run_missing_data(tmp_path):
    rc, _, se = convda("run", "--data", tmp_path / "nowhere", "--out", tmp_path / "r")
    assert rc == 2 and "nowhere" in se and "Traceback" not in se

def test_evaluate_not_a_run_folder(tmp_path):
    rc, _, se = convda("evaluate", tmp_path)
    assert rc == 2 and "config.json" in se and "Traceback" not in se

def test_sensitivity_bad_n_jobs(tiny_run, tmp_path, capsys):
    "`convda sensitivity --n-jobs 0`: exit status 2 and a line naming n_jobs, before any training."
    from convda.cli import main
    rc = main(["sensitivity", "--kind", "window", "--data", str(tiny_run), "--out", str(tmp_path / "s"), "--n-jobs", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "n_jobs" in err and "Traceback" not in err, err[-2000:]
    assert not (tmp_path / "s" / "runs.csv").exists()
