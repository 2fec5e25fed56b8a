"""convda.tuning on a real PostgreSQL server: worker processes share one grid study, no trial lost or run twice.

The test starts its own server (initdb into a temporary folder, pg_ctl on 127.0.0.1 and a free port),
as the unprivileged user `nobody` when run as root (initdb refuses root), and stops it afterwards.
Skipped only where the PostgreSQL server binaries are not installed (Debian/Ubuntu: apt-get install postgresql).
"""
import glob, json, os, shutil, socket, subprocess, tempfile, time
from collections import Counter
from pathlib import Path
import pytest

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), None) or \
    (str(Path(shutil.which("pg_ctl")).parent) if shutil.which("pg_ctl") and shutil.which("initdb") else None)
pytestmark = pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL server binaries (initdb, pg_ctl) not found: "
                                "install the `postgresql` package to run this test")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _as_pg_user(cmd: list) -> list:
    "Run `cmd` as `nobody` when we are root (initdb and postgres refuse to run as root)."
    if os.geteuid() != 0: return cmd
    runuser = shutil.which("runuser")
    return [runuser, "-u", "nobody", "--", *cmd] if runuser else ["su", "nobody", "-s", "/bin/sh", "-c", " ".join(cmd)]


@pytest.fixture(scope="module")
def pg_url():
    pytest.importorskip("psycopg2", reason="psycopg2 (the dev extra's psycopg2-binary) is needed to talk to PostgreSQL")
    d = Path(tempfile.mkdtemp(prefix="convda-pg-"))      # not under pytest's tmp_path: `nobody` cannot enter it
    if os.geteuid() == 0: shutil.chown(d, "nobody")
    os.chmod(d, 0o700)
    port, data = _free_port(), d / "data"
    run = lambda cmd, **kw: subprocess.run(_as_pg_user(cmd), check=True, capture_output=True, text=True, timeout=120, **kw)
    try:
        run([f"{PG_BIN}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        run([f"{PG_BIN}/pg_ctl", "-D", str(data), "-l", str(d / "server.log"), "-w", "-t", "60",
             "-o", f"-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=50", "start"])
    except subprocess.CalledProcessError as err:
        shutil.rmtree(d, ignore_errors=True)
        pytest.fail(f"could not start PostgreSQL: {err.stderr or err.stdout}")
    try:
        subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "convda_test"],
                       check=True, capture_output=True, timeout=60)
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/convda_test"
    finally:
        subprocess.run(_as_pg_user([f"{PG_BIN}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
                       capture_output=True, timeout=120)
        shutil.rmtree(d, ignore_errors=True)


def _new_db(pg_url: str, name: str) -> str:
    "Create database `name` on the test server; return its URL."
    port = pg_url.split(":")[-1].split("/")[0]
    subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", name],
                   check=True, capture_output=True, timeout=60)
    return pg_url.rsplit("/", 1)[0] + "/" + name


def test_two_workers_share_a_grid_study(pg_url):
    import functools, optuna
    from optuna.trial import TrialState
    from convda.tuning import run_search, quadratic_objective, grid_points, load_grid, trials_frame
    space = {"batch_size": [1, 2, 4], "dropout": [0.1, 0.3, 0.5], "lr": [0.01, 0.001]}   # 18 points
    s = run_search(pg_url, "pg-grid", functools.partial(quadratic_objective, sleep=0.3), "grid", space, n_jobs=2, verbose=False)
    trials = s.get_trials()
    per_point = Counter(json.dumps(t.params, sort_keys=True) for t in trials if t.state == TrialState.COMPLETE)
    assert set(per_point) == {json.dumps(p, sort_keys=True) for p in grid_points(load_grid(space))}
    assert set(per_point.values()) == {1}, per_point                      # none lost, none twice
    assert Counter(t.state for t in trials) == {TrialState.COMPLETE: 18}
    assert {t.user_attrs["worker"] for t in trials} <= {1, 2}
    assert s.best_params == {"batch_size": 4, "dropout": 0.1, "lr": 0.001}
    # a second machine joining a finished study finds nothing to do
    s = run_search(pg_url, "pg-grid", quadratic_objective, "grid", space, n_jobs=1, verbose=False)
    assert len(s.get_trials()) == 18 and len(trials_frame(s)) == 18


@pytest.mark.parametrize("what", ["claim", "recover"])
def test_processes_racing_for_one_queue_take_each_trial_once(pg_url, queue_race, what):
    "The SQLite race test on PostgreSQL (row locks, SELECT ... FOR UPDATE): each trial goes to exactly one process."
    from optuna.trial import TrialState
    s, got = queue_race(_new_db(pg_url, f"convda_race_{what}"), what)
    per_trial = Counter(i for g in got for i in g)
    assert len(per_trial) == 60 and set(per_trial.values()) == {1}, {k: v for k, v in per_trial.items() if v > 1}
    if what == "recover":
        assert len(s.get_trials(states=(TrialState.WAITING,))) == 60


def test_searches_started_together_run_each_point_once(pg_url, start_together):
    "Four machines of a job array start one new grid study at the same instant: each point runs once."
    from convda.tuning import grid_points, load_grid
    from optuna.trial import TrialState
    space = {"batch_size": [1, 2, 4], "dropout": [0.1, 0.3, 0.5], "lr": [0.01, 0.001]}
    s = start_together(_new_db(pg_url, "convda_together"), space)
    per_point = Counter(json.dumps(t.params, sort_keys=True) for t in s.get_trials() if t.state == TrialState.COMPLETE)
    assert set(per_point) == {json.dumps(p, sort_keys=True) for p in grid_points(load_grid(space))}
    assert set(per_point.values()) == {1}, per_point
