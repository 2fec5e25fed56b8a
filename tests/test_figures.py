"""Figures kept as saved outputs, so the rendered documentation shows them.

`nbdev_docs` renders notebooks without running them (apart from `exec_show_docs`), so a figure
appears on a page only if the notebook keeps it as an output. The notebooks in `FIGURE_NBS` keep the
outputs of their figure cells (PNG) and nothing else. Regenerate them after changing such a notebook:

    python tests/test_figures.py --write            # every notebook in FIGURE_NBS
    python tests/test_figures.py --write 03_sbm     # one

The writer executes the notebook top to bottom with execnb (as `nbdev_test` does), keeps image outputs,
drops every other output, then runs `nbdev_clean` on it. The test checks that each listed notebook
holds at least one saved PNG and that the nbconvert HTML page of it shows the image.
"""
import base64, json, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
FIGURE_NBS = ("01_terrain", "02_weather", "03_sbm")


def _png_cells(nb: dict) -> list[int]:
    "Indices of code cells that hold a saved PNG output."
    return [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code"
            and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]


def write_figures(name: str) -> int:
    "Execute `nbs/NAME.ipynb`, keep only its image outputs, clean it; return the number of figure cells."
    import os
    from execnb.nbio import read_nb, write_nb
    from execnb.shell import CaptureShell
    os.environ.setdefault("MPLBACKEND", "Agg")
    path = NBS / f"{name}.ipynb"
    nb = read_nb(path)
    cwd = Path.cwd(); os.chdir(NBS)
    try: CaptureShell(mpl_format="png").run_all(nb, exc_stop=True)
    finally: os.chdir(cwd)
    for c in nb.cells:
        if c.cell_type != "code": continue
        c.outputs = [o for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
        for o in c.outputs:
            o["data"] = {k: v for k, v in o["data"].items() if k in ("image/png", "text/plain")}
            o.pop("execution_count", None); o["output_type"] = "display_data"; o["metadata"] = {}
    write_nb(nb, path)
    subprocess.run(["nbdev_clean", "--fname", str(path)], check=True, cwd=ROOT)
    return len(_png_cells(json.loads(path.read_text())))


@pytest.mark.parametrize("name", FIGURE_NBS)
def test_notebook_keeps_its_figures(name):
    nb = json.loads((NBS / f"{name}.ipynb").read_text())
    cells = _png_cells(nb)
    assert cells, f"{name}.ipynb keeps no figure: run `python tests/test_figures.py --write {name}`"
    png = next(o for o in nb["cells"][cells[0]]["outputs"] if "image/png" in o.get("data", {}))["data"]["image/png"]
    raw = base64.b64decode("".join(png) if isinstance(png, list) else png)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) > 5000     # a real picture, not an empty canvas


@pytest.mark.parametrize("name", FIGURE_NBS)
def test_rendered_page_shows_the_figures(name):
    "The HTML page nbconvert renders from the notebook (no execution) carries the saved images."
    from nbconvert import HTMLExporter
    import nbformat
    nb = nbformat.read(NBS / f"{name}.ipynb", as_version=4)
    html, _ = HTMLExporter().from_notebook_node(nb)
    assert html.count("data:image/png;base64,") >= len(_png_cells(json.loads((NBS / f"{name}.ipynb").read_text())))


if __name__ == "__main__":
    if "--write" not in sys.argv: sys.exit(__doc__)
    names = [a for a in sys.argv[1:] if a != "--write"] or list(FIGURE_NBS)
    for n in names: print(f"{n}: {write_figures(n)} figure cell(s) saved")
