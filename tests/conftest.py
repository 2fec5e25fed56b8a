"""Shared fixtures: a tiny catchment written by `convda simulate`, a run folder written by `convda run`, and
processes racing for one tuning study (used by the SQLite and the PostgreSQL suites)."""
import shutil, subprocess
import pytest

EXE = shutil.which("convda")
TINY = ["--profile", "quick", "--set", "train_years=2", "--set", "val_years=1", "--set", "epochs=1", "--set", "filters=[4,4]",
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

BARRIER = """
def barrier(folder, n, timeout=240):
    "Wait until `n` processes have reached this line (each leaves a file in `folder`), so loading time cannot serialise them."
    import os, pathlib, time
    d = pathlib.Path(folder); (d / f"ready_{os.getpid()}").touch(); t0 = time.time()
    while len(list(d.glob("ready_*"))) < n:
        if time.time() - t0 > timeout: raise SystemExit(f"only {len(list(d.glob('ready_*')))} of {n} processes started")
        time.sleep(0.005)
"""

RACE = BARRIER + """
import json, sys, time
from convda.tuning import load_search, _pop_queued, recover_stale_trials
s = load_search(sys.argv[1], "race")
barrier(sys.argv[3], int(sys.argv[4]))
got = []
if sys.argv[2] == "claim":
    while (tid := _pop_queued(s)) is not None: got.append(tid)
else: got = recover_stale_trials(s)
print('RESULT', json.dumps(got))
"""

def _queue_race(url, what, n=60, n_procs=4):
    "Let `n_procs` processes at one instant pop a grid queue of `n` points ('claim') or fail its dead trials ('recover')."
    import json, socket, sys, tempfile
    import optuna
    from optuna.trial import TrialState
    from convda.tuning import open_search, _pop_queued
    s = open_search(url, "race", "grid", {"lr": [round(1e-4 * (i + 1), 6) for i in range(n)]})
    if what == "recover":                       # every point claimed by a process that is gone
        dead = subprocess.Popen(["true"]); dead.wait()
        while (tid := _pop_queued(s)) is not None:
            t = optuna.Trial(s, tid); t.set_user_attr("host", socket.gethostname()); t.set_user_attr("pid", dead.pid)
    with tempfile.TemporaryDirectory() as ready:
        procs = [subprocess.Popen([sys.executable, "-c", RACE, url, what, ready, str(n_procs)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE) for _ in range(n_procs)]
        outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs): assert p.returncode == 0, err.decode()[-3000:]
    return s, [json.loads(out.decode().split('RESULT ')[-1]) for out, _ in outs]   # after requeue_trial's lines

@pytest.fixture
def queue_race():
    "The function `_queue_race`: several processes contending for one study's trials."
    return _queue_race

START = BARRIER + """
import functools, json, sys, time
from convda.tuning import run_search, quadratic_objective
barrier(sys.argv[3], int(sys.argv[6]))
n = int(sys.argv[5]) if sys.argv[5] != "None" else None
run_search(sys.argv[1], "together", functools.partial(quadratic_objective, sleep=0.05), sys.argv[4], json.loads(sys.argv[2]),
           n_trials=n, verbose=False)
"""

def _start_together(url, space, n_procs=4, method="grid", n_trials=None):
    "Start `n_procs` searches of one new study at one instant (machines of a job array); return the study."
    import json, sys, tempfile
    from convda.tuning import load_search
    with tempfile.TemporaryDirectory() as ready:
        procs = [subprocess.Popen([sys.executable, "-c", START, url, json.dumps(space), ready, method, str(n_trials), str(n_procs)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(n_procs)]
        outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs): assert p.returncode == 0, err.decode()[-3000:]
    return load_search(url, "together")

@pytest.fixture
def start_together():
    "The function `_start_together`: several searches opening one new study at once."
    return _start_together
