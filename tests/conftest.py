"""Shared fixtures: a tiny catchment written by `convda simulate` and a run folder written by `convda run`."""
import shutil, subprocess
import pytest

EXE = shutil.which("convda")
TINY = ["--set", "train_years=2", "--set", "val_years=1", "--set", "epochs=1", "--set", "filters=[4,4]",
        "--set", "window=4", "--set", "max_train_samples=40", "--set", "batch_size=8"]

def convda(*args, cwd=None, env=None):
    "Run the `convda` command; return (exit code, stdout, stderr)."
    p = subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
    return p.returncode, p.stdout, p.stderr

@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    "A 12 x 12 synthetic catchment over four years, written by `convda simulate`."
    if EXE is None: pytest.skip("the convda entry point is not installed (pip install -e .)")
    out = tmp_path_factory.mktemp("sim") / "run"
    rc, so, se = convda("simulate", out, "--ny", 12, "--nx", 12, "--start", "2000-01-01", "--end", "2003-12-31")
    assert rc == 0, se
    return out

@pytest.fixture(scope="session")
def tiny_run_folder(tiny_run, tmp_path_factory):
    "A run folder written by `convda run` on the tiny catchment (tiny network, one epoch)."
    out = tmp_path_factory.mktemp("runs") / "uts0_tiny"
    rc, so, se = convda("run", "--data", tiny_run, "--out", out, *TINY)
    assert rc == 0, se[-3000:]
    return out, so
