"""The dashboard served by `convda dashboard` and driven in headless Chromium (Playwright), every tab, for the
folders a user may give it: a real run folder, an empty folder, a path that does not exist, a project folder
holding `runs/` and `experiments/`, and two runs on different grids.

Each tab must show its content (a title or a message saying what is missing), with no traceback in the
server's output and no error in the browser's console.

Needs `pip install playwright` and a Chromium (Debian: `apt-get install chromium`; no `playwright install`).
Skipped only when those are missing. Regenerate the documentation screenshots with
`python -c "from convda.dashboard import save_screenshots; save_screenshots('nbs/images')"`
or `CONVDA_SCREENSHOT_DIR=nbs/images pytest tests/test_browser.py::test_screenshots`.
"""
import contextlib, os, re, subprocess, time, urllib.request
from pathlib import Path
import pandas as pd
import pytest

pw_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from convda.dashboard import (Dashboard, chromium_path, demo_folders, free_port, launch_browser, make_demo_run, open_tab,
                              save_screenshots)

if chromium_path() is None:
    pytest.skip("no Chromium found (apt-get install chromium, or set CONVDA_CHROMIUM)", allow_module_level=True)

NO_RUN = "No run folder found"
NO_EXPERIMENTS = {"Uncertainty": "No sensitivity experiment found", "Tuning": "No tuning experiment found"}


@contextlib.contextmanager
def cli_server(*paths, log):
    "`convda dashboard PATHS --port N` in a child process, its output in `log`; yields the URL once it answers."
    from conftest import EXE
    if EXE is None: pytest.skip("the convda entry point is not installed (pip install -e .)")
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([EXE, "dashboard", *map(str, paths), "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(240):
            if proc.poll() is not None: pytest.fail(f"convda dashboard exited: {Path(log).read_text()[-3000:]}")
            try: urllib.request.urlopen(url, timeout=5); break
            except Exception: time.sleep(0.5)
        else: pytest.fail("convda dashboard did not answer on " + url)
        yield url
    finally:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill()


def every_tab(url, expected: dict, log, shots=None, after=None):
    "Open each tab; wait for its expected text; fail on a browser error, a server traceback or a blank tab."
    with pw_api.sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport=dict(width=1280, height=820))
        errors = []
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.goto(url)
        page.locator(".bk-tab").first.wait_for(timeout=120_000)
        for tab in Dashboard.VIEWS:
            open_tab(page, tab)
            page.get_by_text(expected[tab]).first.wait_for(state="visible", timeout=120_000)  # not blank: its content is shown
            page.wait_for_function("() => !document.querySelector('.pn-loading')", timeout=60_000)
            if shots: page.screenshot(path=str(Path(shots) / f"{tab.replace(' ', '_')}.png"))
        if after: after(page)
        page.wait_for_timeout(1000)
        server_output = Path(log).read_text()   # read before the browser goes: closing it is no server error
        browser.close()
    assert not errors, errors
    assert "Traceback" not in server_output and "ERROR" not in server_output, server_output[-5000:]


def titles(run, **more):
    "The expected text of each tab for a dashboard whose selected run is `run`."
    out = {t: f"{t}: {run}" for t in Dashboard.VIEWS if t not in ("Uncertainty", "Tuning", "Compare")}
    return {**out, **NO_EXPERIMENTS, "Compare": "Compare needs two run folders", **more}


def next_day_moves_maps(tmp_path):
    "Check for the real run: the player's next button moves the delta maps one day on."
    def check(page):
        open_tab(page, "Delta maps")
        label = page.get_by_text(re.compile(r"uts0 on \d{4}-\d{2}-\d{2}")).first
        label.wait_for(timeout=60_000)
        d0 = re.search(r"\d{4}-\d{2}-\d{2}", label.inner_text()).group(0)
        page.wait_for_timeout(1500)
        before = page.screenshot(path=str(tmp_path / "before.png"))
        page.locator("button.next").first.click()
        d1 = str((pd.Timestamp(d0) + pd.Timedelta(days=1)).date())
        page.get_by_text(f"uts0 on {d1}").first.wait_for(timeout=60_000)
        page.get_by_text(f"Date: {d1}").first.wait_for(timeout=60_000)     # the one labelled slider follows
        page.wait_for_timeout(1500)
        assert page.screenshot(path=str(tmp_path / "after.png")) != before
    return check


def test_real_run_folder(tiny_run_folder, tmp_path):
    "The folder `convda run` writes: every tab, and the date player moves the maps."
    run_dir, _ = tiny_run_folder
    with cli_server(run_dir, log=tmp_path / "server.log") as url:
        every_tab(url, titles(run_dir.name), tmp_path / "server.log", after=next_day_moves_maps(tmp_path))
    assert "found 1 run folder" in (tmp_path / "server.log").read_text()


def test_empty_folder(tmp_path):
    "An empty folder: the app starts, says where it looked and how to make a run; no tab is blank or broken."
    empty = tmp_path / "empty"; empty.mkdir()
    expected = {t: NO_RUN for t in Dashboard.VIEWS} | NO_EXPERIMENTS
    with cli_server(empty, log=tmp_path / "server.log") as url:
        every_tab(url, expected, tmp_path / "server.log")
    assert "found no run or experiment folder" in (tmp_path / "server.log").read_text()


def test_missing_path_is_refused(tmp_path):
    "A path that does not exist: `convda dashboard` refuses it at start with one line and exit code 2."
    from conftest import EXE, convda
    if EXE is None: pytest.skip("the convda entry point is not installed (pip install -e .)")
    rc, so, se = convda("dashboard", tmp_path / "no_such_runs", "--port", free_port())
    assert rc == 2 and "path not found" in se and "no_such_runs" in se and len(se.strip().splitlines()) == 1, (rc, se)


def test_project_folder_with_runs_and_experiments(tmp_path):
    "A folder holding runs/ and experiments/: both are found below it, every view fills."
    demo_folders(tmp_path / "project")
    expected = titles("uts0_raw", Uncertainty="Uncertainty: Training data time size", Tuning="Tuning: Grid search",
                      Compare="Compare: uts0_raw and uts0_scaled", Skill="against the baselines: cell_mean, doy_mean, linear")
    with cli_server(tmp_path / "project", log=tmp_path / "server.log") as url:
        every_tab(url, expected, tmp_path / "server.log")
    assert "found 2 run folders, 2 sensitivity folders, 1 tuning folder" in (tmp_path / "server.log").read_text()


def test_compare_two_grids(tmp_path):
    "Two runs on different grids and periods: Compare shows both, each on its own grid."
    make_demo_run(tmp_path / "runs" / "big", ny=46, nx=43, days=120, figures=False)
    make_demo_run(tmp_path / "runs" / "small", ny=20, nx=30, days=200, start="2018-09-01", figures=False)
    expected = titles("big", Compare="Compare: big and small")
    def both(page):
        open_tab(page, "Compare")
        page.get_by_text("20 x 30 cells, 2018-09-01 to 2019-03-19").first.wait_for(timeout=60_000)
        page.get_by_text("46 x 43 cells, 2019-01-01 to 2019-04-30").first.wait_for(timeout=60_000)
        assert page.locator("canvas").count() >= 4
    with cli_server(tmp_path / "runs", log=tmp_path / "server.log") as url:
        every_tab(url, expected, tmp_path / "server.log", shots=tmp_path, after=both)


def test_screenshots(tmp_path):
    "Screenshots of the demo folders; the documentation's (CONVDA_SCREENSHOT_DIR) are palette PNGs under 200 KB."
    out = Path(os.environ.get("CONVDA_SCREENSHOT_DIR") or tmp_path)
    tabs = None if os.environ.get("CONVDA_SCREENSHOT_DIR") else {"seasonal": "Seasonal maps", "skill": "Skill"}
    written = save_screenshots(out, tabs=tabs)
    assert written and all(p.exists() and 5_000 < p.stat().st_size < 200_000 for p in written), [(p, p.stat().st_size) for p in written]
