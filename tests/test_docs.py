"""The documentation site, as far as it can be built without Quarto.

1. nbdev processes every notebook for Quarto (`nbdev.serve.proc_nbs`, the step `nbdev_preview` /
   `nbdev_docs` run before Quarto) into a temporary copy of the project.
2. Every processed page is rendered to HTML with nbconvert (no execution) and opened in headless
   Chromium: no JavaScript errors. Skipped only when playwright/Chromium are missing.
3. Markdown image links of the notebooks point to files that exist (the dashboard screenshots).

For speed the processing of all pages skips `exec_show_docs` (which imports every module and runs
the import cells of every notebook: minutes on a shared CI machine); the dashboard notebook is
processed with it. `CONVDA_DOCS_EXEC=1` runs every processor on every notebook.
"""
import os, re, shutil
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
FULL = os.environ.get("CONVDA_DOCS_EXEC") == "1"


def _copy_project(dst: Path, skip_procs: str = "", only=None) -> Path:
    "settings.ini and nbs/ (or only the notebooks named in `only`) copied to `dst`; _proc/ is written there."
    ini = (ROOT / "settings.ini").read_text()
    ini = re.sub(r"(?m)^skip_procs\s*=.*$", f"skip_procs = {skip_procs}", ini)
    (dst / "settings.ini").write_text(ini)
    ignore = ["_proc", ".ipynb_checkpoints"]
    if only: ignore += [p.name for p in NBS.glob("*.ipynb") if p.name not in only]
    shutil.copytree(NBS, dst / "nbs", ignore=shutil.ignore_patterns(*ignore))
    return dst


def _proc(dst: Path, monkeypatch) -> Path:
    from nbdev.config import get_config
    from nbdev.serve import proc_nbs
    monkeypatch.chdir(dst)
    if hasattr(get_config, "cache_clear"): get_config.cache_clear()  # the config of this copy, not of the last one
    return Path(proc_nbs(n_workers=2))


@pytest.fixture(scope="module")
def processed(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        dst = _copy_project(tmp_path_factory.mktemp("site"), "" if FULL else "exec_show_docs")
        yield _proc(dst, mp)
    finally:
        mp.undo()


def test_proc_nbs_yields_every_page(processed):
    pages = sorted(p.name for p in processed.glob("*.ipynb"))
    expected = sorted(p.name for p in NBS.glob("*.ipynb") if not p.name.startswith(("_", ".")))
    assert pages == expected
    assert (processed / "_quarto.yml").exists()
    import nbformat
    for p in processed.glob("*.ipynb"):
        nb = nbformat.read(p, as_version=4)
        assert nb.cells and nb.cells[0].cell_type == "raw" and nb.cells[0].source.startswith("---"), p.name  # Quarto front matter


def test_dashboard_page_with_show_docs(tmp_path, monkeypatch):
    dst = _copy_project(tmp_path, only=["40_dashboard.ipynb"])
    cache = _proc(dst, monkeypatch)
    assert sorted(p.name for p in cache.glob("*.ipynb")) == ["40_dashboard.ipynb"]
    import nbformat
    nb = nbformat.read(cache / "40_dashboard.ipynb", as_version=4)
    text = "\n".join(c.source for c in nb.cells) + "\n".join(str(c.get("outputs", "")) for c in nb.cells)
    assert "Dashboard" in text and "make_demo_run" in text


def test_image_links_exist():
    for nbp in NBS.glob("*.ipynb"):
        for link in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", nbp.read_text()):
            if not re.match(r"[a-z]+://", link):
                assert (NBS / link).exists(), f"{nbp.name}: image {link} not found"


def test_pages_open_without_js_errors(processed, tmp_path):
    pw_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    from convda.dashboard import chromium_path, launch_browser
    if chromium_path() is None: pytest.skip("no Chromium found (apt-get install chromium, or set CONVDA_CHROMIUM)")
    import nbformat
    from nbconvert import HTMLExporter
    exporter = HTMLExporter()
    html = []
    for p in sorted(processed.glob("*.ipynb")):
        body, _ = exporter.from_notebook_node(nbformat.read(p, as_version=4))
        out = tmp_path / (p.stem + ".html"); out.write_text(body); html.append(out)
    assert html
    with pw_api.sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())  # offline
        for out in html:
            page.goto(out.as_uri(), wait_until="load")
            assert page.title() or page.locator("body").inner_text()
        browser.close()
    assert not errors, errors
