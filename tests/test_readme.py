"""README.md is nbs/index.ipynb rendered as Markdown (nbdev's readme_nb): keep them in sync.

`nbdev_readme` needs Quarto, which these machines cannot install, so the README is rendered from the
notebook's cells here: `python tests/test_readme.py --write` regenerates it.
"""
import json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def render_readme(nb_path=ROOT / "nbs" / "index.ipynb") -> str:
    "The README text of the index notebook: markdown cells as they are, code cells fenced."
    nb = json.loads(Path(nb_path).read_text())
    parts = []
    for c in nb["cells"]:
        src = "".join(c["source"]).strip()
        if not src or src.startswith("#| hide"): continue
        if c["cell_type"] == "markdown": src = src.replace("](images/", "](nbs/images/")  # links relative to the repo root
        parts.append(src if c["cell_type"] == "markdown" else f"```python\n{src}\n```")
    return "<!-- generated from nbs/index.ipynb: python tests/test_readme.py --write -->\n\n" + "\n\n".join(parts) + "\n"

def test_readme_matches_index_notebook():
    assert (ROOT / "README.md").read_text() == render_readme(), "README.md is stale: run python tests/test_readme.py --write"

def _fenced_commands(text):
    "Shell lines inside ```sh blocks."
    return [l.split("#")[0].strip() for b in re.findall(r"```sh\n(.*?)```", text, re.S) for l in b.splitlines() if l.strip()]

def test_readme_images_exist():
    for link in re.findall(r"\]\((nbs/images/[^)]+)\)", render_readme()): assert (ROOT / link).exists(), link

def test_readme_commands_exist():
    "The README's commands name things that exist: the CLI entry point, .ci/test, the extras."
    cmds = _fenced_commands(render_readme())
    assert any("convda run" in c for c in cmds) and any("bash .ci/test" in c for c in cmds)
    assert (ROOT / ".ci" / "test").exists()
    assert "convda=convda.cli:main" in (ROOT / "settings.ini").read_text()
    assert "dev_requirements" in (ROOT / "settings.ini").read_text()

def test_cli_help_lists_subcommands():
    exe = shutil.which("convda")
    assert exe, "the convda entry point is not installed (pip install -e .)"
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    for sub in ("simulate", "run", "evaluate"): assert sub in out.stdout

if __name__ == "__main__" and "--write" in sys.argv:
    (ROOT / "README.md").write_text(render_readme()); print("wrote README.md")
