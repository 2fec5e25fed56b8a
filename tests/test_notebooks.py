"""Notebook hygiene that nbdev relies on: cells the docs build executes must run on their own."""
import ast, json
from pathlib import Path
import pytest

NBS = sorted((Path(__file__).resolve().parents[1] / "nbs").glob("[0-9]*.ipynb"))
EXPORT = ("#| export", "#|export", "#| exports", "#| exporti")

def _code_cells(nb_path):
    for i, c in enumerate(json.loads(nb_path.read_text())["cells"]):
        if c["cell_type"] == "code": yield i, "".join(c["source"])

def _mixes_imports(src: str) -> bool:
    "True if the cell imports something and also does other work (nbdev's docs build executes such cells)."
    lines = [l for l in src.splitlines() if not l.lstrip().startswith(("#|", "%", "!"))]
    try: tree = ast.parse("\n".join(lines))
    except SyntaxError: return False
    nodes = list(ast.walk(tree))
    has_import = any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in nodes)
    return has_import and any(isinstance(n, (ast.Expr, ast.Assign)) for n in nodes)

@pytest.mark.parametrize("nb", NBS, ids=[p.name for p in NBS])
def test_imports_in_their_own_cells(nb):
    """nbdev's docs build (`exec_show_docs`) runs every cell that imports; one that also does other work
    (tests, plots) runs out of order there and can break `nbdev_docs`. Keep imports in cells of their own."""
    bad = [i for i, src in _code_cells(nb) if not src.lstrip().startswith(EXPORT) and _mixes_imports(src)]
    assert not bad, f"{nb.name}: cells {bad} mix imports with other code"

@pytest.mark.parametrize("nb", NBS, ids=[p.name for p in NBS])
def test_notebook_has_title_and_summary(nb):
    first = json.loads(nb.read_text())["cells"][0]
    src = "".join(first["source"])
    assert first["cell_type"] == "markdown" and src.startswith("# ") and "\n> " in src, nb.name
