"""The dashboard served on 127.0.0.1 and driven in headless Chromium (Playwright).

Needs `pip install playwright` and a Chromium (Debian: `apt-get install chromium`; no `playwright install`).
Skipped only when those are missing. Regenerate the documentation screenshots with
`python -c "from convda.dashboard import save_screenshots; save_screenshots('nbs/images')"`
or `CONVDA_SCREENSHOT_DIR=nbs/images pytest tests/test_browser.py::test_screenshots`.
"""
import os, re, subprocess, time, urllib.request
from pathlib import Path
import pytest

pw_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
from convda.dashboard import chromium_path, demo_folders, free_port, launch_browser, save_screenshots, serve, wait_rendered

if chromium_path() is None:
    pytest.skip("no Chromium found (apt-get install chromium, or set CONVDA_CHROMIUM)", allow_module_level=True)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return demo_folders(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def server(folders):
    port = free_port()
    srv = serve(folders, port=port, threaded=True)
    time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/"
    srv.stop()


def test_date_player_changes_maps(server, tmp_path):
    with pw_api.sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport=dict(width=1280, height=820))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server)
        wait_rendered(page)
        page.get_by_text("Delta maps", exact=True).first.click()
        wait_rendered(page, settle=1.5)
        page.get_by_text("uts0 on 2019-01-27").wait_for()
        before = page.screenshot(path=str(tmp_path / "maps_before.png"))
        page.locator("button.next").first.click()  # the player's "next" button: one day on
        page.get_by_text("uts0 on 2019-01-28").wait_for(timeout=15000)
        page.get_by_text("Date: 2019-01-28").wait_for(timeout=15000)
        wait_rendered(page, settle=1.5)
        after = page.screenshot(path=str(tmp_path / "maps_after.png"))
        assert before != after
        assert (tmp_path / "maps_after.png").stat().st_size > 10_000
        browser.close()
    assert not errors, errors


def test_screenshots(folders, tmp_path):
    out = Path(os.environ.get("CONVDA_SCREENSHOT_DIR") or tmp_path)
    written = save_screenshots(out, folders=folders, tabs={"maps": "Delta maps", "tuning": "Tuning"}
                               if not os.environ.get("CONVDA_SCREENSHOT_DIR") else None)
    assert written and all(p.exists() and 5_000 < p.stat().st_size < 300_000 for p in written)


def test_convda_dashboard_command_on_a_run_folder(tiny_run_folder, tmp_path):
    "`convda dashboard RUN_DIR` on the folder of a `convda run` serves a page whose date player moves the maps."
    from conftest import EXE
    run_dir, _ = tiny_run_folder
    port = free_port()
    proc = subprocess.Popen([EXE, "dashboard", str(run_dir), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(120):                                   # the server needs TensorFlow-free imports only
            try: urllib.request.urlopen(url, timeout=2); break
            except Exception: time.sleep(0.5)
        else: pytest.fail("convda dashboard did not answer on " + url)
        with pw_api.sync_playwright() as pw:
            browser = launch_browser(pw)
            page = browser.new_page(viewport=dict(width=1280, height=820))
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url); wait_rendered(page)
            page.get_by_text("Delta maps", exact=True).first.click(); wait_rendered(page, settle=1.5)
            label = page.get_by_text(re.compile(r"uts0 on \d{4}-\d{2}-\d{2}")).first
            label.wait_for(timeout=15000)
            d0 = re.search(r"\d{4}-\d{2}-\d{2}", label.inner_text()).group(0)
            before = page.screenshot(path=str(tmp_path / "before.png"))
            page.locator("button.next").first.click()
            d1 = str((__import__("pandas").Timestamp(d0) + __import__("pandas").Timedelta(days=1)).date())
            page.get_by_text(f"uts0 on {d1}").first.wait_for(timeout=15000)
            wait_rendered(page, settle=1.5)
            after = page.screenshot(path=str(tmp_path / "after.png"))
            browser.close()
        assert before != after and not errors, errors
    finally:
        proc.terminate()
        try: proc.wait(timeout=20)
        except subprocess.TimeoutExpired: proc.kill()
