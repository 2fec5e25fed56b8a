"""convda.tuning: a grid search killed part-way (SIGKILL) resumes with every point finished exactly once.

Cheap objective (no TensorFlow): `quadratic_objective` with a sleep standing in for training.
The notebook nbs/20_tuning.ipynb holds the other tests.
"""
import json, os, signal, socket, subprocess, sys, time
from collections import Counter
import pytest
import optuna
from optuna.trial import TrialState

SPACE = {"batch_size": [1, 2, 4], "dropout": [0.1, 0.3, 0.5], "lr": [0.01, 0.001]}   # 18 points
SCRIPT = """
import functools, json, sys
from convda.tuning import run_search, quadratic_objective
if __name__ == "__main__":
    run_search(sys.argv[1], "kill", functools.partial(quadratic_objective, sleep=float(sys.argv[3])), "grid",
               json.loads(sys.argv[2]), n_jobs=int(sys.argv[4]), verbose=False)
"""


def _complete_per_point(study):
    "Counter of grid points over COMPLETE trials."
    return Counter(json.dumps(t.params, sort_keys=True) for t in study.get_trials() if t.state == TrialState.COMPLETE)


def _n_state(url, name, state="COMPLETE"):
    "Trials of study `name` in `state`, read-only (opening an Optuna storage would create tables while the worker does)."
    import sqlite3
    path = url[len("sqlite:///"):]
    if not os.path.exists(path): return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM trials t JOIN studies s ON t.study_id = s.study_id "
                           "WHERE s.study_name = ? AND t.state = ?", (name, state)).fetchone()[0]
    except sqlite3.OperationalError: return 0               # tables not created yet
    finally: con.close()


def test_new_database_opened_by_several_processes_at_once(tmp_path):
    "Processes that open the same new SQLite study database at the same moment all get a storage."
    url = f"sqlite:///{tmp_path / 'race.db'}"
    code = ("import sys, time; from convda.tuning import make_storage; t = float(sys.argv[2]); "
            "time.sleep(max(0.0, t - time.time())); make_storage(sys.argv[1]); print('ok')")
    start = str(time.time() + 3.0)
    procs = [subprocess.Popen([sys.executable, "-c", code, url, start], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.decode().strip() == "ok", err.decode()[-2000:]


def test_import_does_not_load_tensorflow():
    code = "import sys, convda.tuning; assert 'tensorflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("killed_jobs", [1, 2])
def test_killed_grid_resumes_exactly_once(tmp_path, killed_jobs):
    from convda.tuning import run_search, quadratic_objective, grid_points, load_grid
    import functools
    url = f"sqlite:///{tmp_path / 'study.db'}"
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, url, json.dumps(SPACE), "0.4", str(killed_jobs)],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    try:
        while _n_state(url, "kill") < 4 or _n_state(url, "kill", "RUNNING") < 1:   # killed in the middle of a trial
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.time() - t0 < 120, "the search did not start"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL); proc.wait()
    time.sleep(0.3)                                   # the killed workers are gone (reaped by init)
    s = optuna.load_study(study_name="kill", storage=url)
    states = Counter(t.state for t in s.get_trials())
    assert 4 <= states[TrialState.COMPLETE] < 18 and states[TrialState.RUNNING] >= 1, states
    # resume in this process with 2 worker processes
    s = run_search(url, "kill", functools.partial(quadratic_objective, sleep=0.02), "grid", SPACE, n_jobs=2, verbose=False)
    per_point = _complete_per_point(s)
    assert set(per_point) == {json.dumps(p, sort_keys=True) for p in grid_points(load_grid(SPACE))}
    assert set(per_point.values()) == {1}, per_point
    trials = s.get_trials()
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert failed and all("error" not in t.user_attrs for t in failed)          # killed, not errors
    retried = {t.user_attrs.get("retry_of") for t in trials} - {None}
    assert retried == {t.number for t in failed}                                 # each killed point queued again


@pytest.mark.parametrize("what", ["claim", "recover"])
def test_processes_racing_for_one_queue_take_each_trial_once(tmp_path, queue_race, what):
    "Four processes popping one SQLite grid queue (or failing the same dead trials) at one instant: each trial goes to one."
    for attempt in range(4):                                      # a loaded machine may let one process do all the work:
        s, got = queue_race(f"sqlite:///{tmp_path / f'study{attempt}.db'}", what)   # race again on a fresh study
        per_trial = Counter(i for g in got for i in g)
        assert len(per_trial) == 60 and set(per_trial.values()) == {1}, {k: v for k, v in per_trial.items() if v > 1}
        if sum(1 for g in got if g) >= 2: break                   # they did contend
    else: pytest.fail("in four races one process took every trial: the race showed nothing")
    if what == "recover":                                         # each point queued again exactly once
        waiting = s.get_trials(states=(TrialState.WAITING,))
        assert sorted(t.user_attrs["retry_of"] for t in waiting) == sorted(per_trial)
        assert len({t.system_attrs["fixed_params"]["lr"] for t in waiting}) == 60


def test_searches_started_together_run_each_point_once(tmp_path, start_together):
    "Four searches opening one new grid study at one instant may queue a point twice; each point still runs once."
    from convda.tuning import grid_points, load_grid, trials_frame
    s = start_together(f"sqlite:///{tmp_path / 'study.db'}", SPACE)
    trials = s.get_trials()
    per_point = _complete_per_point(s)
    assert set(per_point) == {json.dumps(p, sort_keys=True) for p in grid_points(load_grid(SPACE))}
    assert set(per_point.values()) == {1}, per_point
    copies = [t for t in trials if "duplicate_of" in t.user_attrs]
    assert len(trials) == 18 + len(copies) and all(t.state == TrialState.FAIL for t in copies)
    assert len(trials_frame(s)) == 18 and len({t.user_attrs["pid"] for t in trials if t.state == TrialState.COMPLETE}) >= 2


def test_tpe_searches_started_together_keep_n_trials(tmp_path, start_together):
    "Four TPE searches sharing one study and n_trials=6: exactly 6 trials count; any extra one was set aside unrun."
    from convda.tuning import trials_frame, _n_counted
    s = start_together(f"sqlite:///{tmp_path / 'study.db'}", {"batch_size": [1, 2, 4], "lr": [0.0001, 0.01]},
                       method="optuna", n_trials=6)
    extra = [t for t in s.get_trials() if "beyond_n_trials" in t.user_attrs]
    assert _n_counted(s) == 6 and len(s.get_trials()) == 6 + len(extra), [t.state for t in s.get_trials()]
    assert all(t.state == TrialState.FAIL and not t.intermediate_values for t in extra)
    assert len(trials_frame(s)) == 6


def test_worker_killed_between_claim_and_owner_resumes_exactly_once(tmp_path, monkeypatch):
    "A worker SIGKILLed after claiming a grid point but before writing its host and pid: the point still runs once."
    import functools, convda.tuning as tu
    url = f"sqlite:///{tmp_path / 'study.db'}"
    code = ("import sys, os, signal; from convda.tuning import open_search, load_grid, _pop_queued; "
            "s = open_search(sys.argv[1], 'claim', 'grid', load_grid({'lr': [0.01, 0.001], 'dropout': [0.1, 0.3]})); "
            "assert _pop_queued(s) is not None; os.kill(os.getpid(), signal.SIGKILL)")
    p = subprocess.run([sys.executable, "-c", code, url], capture_output=True)
    assert p.returncode == -signal.SIGKILL, p.stderr.decode()[-2000:]
    monkeypatch.setattr(tu, "CLAIM_S", 1.5)
    s = tu.run_search(url, "claim", functools.partial(tu.quadratic_objective, sleep=0.01), "grid",
                      {"lr": [0.01, 0.001], "dropout": [0.1, 0.3]}, verbose=False)
    per_point = _complete_per_point(s)
    assert len(per_point) == 4 and set(per_point.values()) == {1}, per_point
    failed = [t for t in s.get_trials() if t.state == TrialState.FAIL]
    assert len(failed) == 1 and "pid" not in failed[0].user_attrs
    assert not s.get_trials(states=(TrialState.RUNNING, TrialState.WAITING))


def test_heartbeat_fails_and_requeues_a_trial_from_another_machine(tmp_path):
    "A RUNNING trial of another host whose heartbeat stopped is failed after the grace period and re-queued."
    from convda.tuning import make_storage, open_search, _pop_queued, recover_stale_trials, load_grid
    url = f"sqlite:///{tmp_path / 'study.db'}"
    st = make_storage(url, heartbeat=1, grace=2)
    s = open_search(st, "hb", "grid", load_grid({"lr": [0.01, 0.001]}))
    tid = _pop_queued(s)
    t = optuna.Trial(s, tid); t.set_user_attr("host", "elsewhere"); t.set_user_attr("pid", 1)
    st.record_heartbeat(tid)
    assert recover_stale_trials(s) == []                # alive: heartbeat fresh
    time.sleep(3.5)
    assert recover_stale_trials(s) == [t.number]
    waiting = s.get_trials(states=(TrialState.WAITING,))
    assert [w.user_attrs.get("retry_of") for w in waiting] == [None, t.number]
    assert waiting[1].system_attrs["fixed_params"] == {"lr": 0.001}


def test_tpe_respects_n_trials_and_resumes(tmp_path):
    from convda.tuning import run_search, quadratic_objective, trials_frame
    url = f"sqlite:///{tmp_path / 'study.db'}"
    space = {"batch_size": [1, 2, 4], "epochs": [2, 4], "lr": [0.0001, 0.01]}
    s = run_search(url, "tpe", quadratic_objective, "optuna", space, n_trials=6, verbose=False)
    assert len(s.get_trials()) == 6
    s = run_search(url, "tpe", quadratic_objective, "optuna", space, n_trials=10, verbose=False)
    df = trials_frame(s)
    assert len(df) == 10 and df.lr.between(0.0001, 0.01).all()
    assert df.lr.nunique() == 10                        # a continuous log range, not the two listed values
