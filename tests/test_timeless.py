"""Module prose is timeless: no markdown cell of a notebook other than the results page carries a
2025/2026 date. Measurements, with their date, commit, machine and command, live only on the results
page (`nbs/90_results.ipynb`); a module notebook states the method and the finding and points there."""
import json, re
from pathlib import Path
import pytest

NBS = Path(__file__).resolve().parents[1] / "nbs"
RESULTS = "90_results.ipynb"
DATE = re.compile(r"\b202[56]-[01]\d-[0-3]\d\b")


def dated_cells(path: Path):
    "(cell index, matched date, the line it is on) for every dated markdown line of the notebook at `path`."
    nb = json.loads(path.read_text(encoding="utf-8"))
    hits = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown": continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in src.splitlines():
            hits += [(i, m.group(), line.strip()) for m in DATE.finditer(line)]
    return hits


NOTEBOOKS = sorted(p for p in NBS.glob("*.ipynb") if p.name != RESULTS)


def test_notebooks_found():
    assert len(NOTEBOOKS) > 5 and (NBS / RESULTS).exists()


def test_date_pattern():
    assert DATE.search("measured 2026-12-01 on a 2-core CPU") and DATE.search("(2025-01-31)")
    for s in ("the 2010-08-26 storm", "test from 2018-06-01", "1989-2019", "version 2026-12-015"):
        assert not DATE.search(s), s


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_dated_markdown(path):
    hits = dated_cells(path)
    assert not hits, f"{path.name}: dated markdown (move the measurement to {RESULTS}):\n" + "\n".join(
        f"  cell {i}: {d}: {line}" for i, d, line in hits)
