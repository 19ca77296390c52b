"""Every ```python block in the README and docs/ runs, as a user would paste it."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [
    pytest.param(page, i, code, id=f"{page.name}-{i}")
    for page in PAGES
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S))
]


@pytest.mark.parametrize(("page", "index", "code"), BLOCKS)
def test_python_block_runs(page, index, code, tmp_path):
    if "test_" in code and "def test_" in code:
        path = tmp_path / "test_from_docs.py"
        path.write_text(code)
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", str(path)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
        )
    else:  # from a file, as users run it: AutoGraph needs the source
        path = tmp_path / "example.py"
        path.write_text(code)
        result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, f"{page.name} block {index}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


def test_every_page_is_linked_from_the_index():
    index = (ROOT / "docs" / "index.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name
