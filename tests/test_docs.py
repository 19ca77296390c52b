"""Every ```python block in the README and docs/ runs as a user would paste it, and prints what the page says.

A block followed directly by an ```output block must print that output (compared as
doctest compares, with ``...`` matching anything and whitespace normalized).
"""

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dualtf
import dualtf.examples
import dualtf.multiworker
import dualtf.profiler
import dualtf.program
import dualtf.testing

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"```python\n(.*?)```(?:\n+```output\n(.*?)```)?", flags=re.S)
BLOCKS = [
    pytest.param(page, i, code, output, id=f"{page.name}-{i}")
    for page in PAGES
    for i, (code, output) in enumerate(FENCE.findall(page.read_text()))
]
CHECKER = doctest.OutputChecker()
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize(("page", "index", "code", "output"), BLOCKS)
def test_python_block_runs_and_prints_what_the_page_says(page, index, code, output, tmp_path):
    if "test_" in code and "def test_" in code:
        path = tmp_path / "test_from_docs.py"
        path.write_text(code)
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", str(path)]
    else:  # from a file, as users run it: AutoGraph needs the source
        path = tmp_path / "example.py"
        path.write_text(code)
        command = [sys.executable, str(path)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, f"{page.name} block {index}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    if output:
        assert CHECKER.check_output(output, result.stdout, OPTIONS), (
            f"{page.name} block {index} printed:\n{result.stdout}\nbut the page says:\n{output}"
        )


def test_every_page_is_linked_from_the_index_and_the_site():
    index = (ROOT / "docs" / "index.md").read_text()
    site = (ROOT / "mkdocs.yml").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"({page.name})" in index, page.name
        assert f" {page.name}" in site, page.name


@pytest.mark.parametrize(
    "module", [dualtf, dualtf.program, dualtf.testing, dualtf.profiler, dualtf.multiworker, dualtf.examples]
)
def test_every_public_name_is_in_the_api_reference(module):
    api = (ROOT / "docs" / "api.md").read_text()
    missing = [name for name in module.__all__ if name not in api]
    assert missing == [], f"{module.__name__}: {missing} not in docs/api.md"
