"""Every ```python block in the README and docs/ runs as a user would paste it, and prints what the page says.

Each block runs in a process of its own (``fresh_process``: forked from one that only imported
TensorFlow and Keras), from a file, as ``python example.py`` runs it.

A block followed directly by an ```output block must print that output (compared as
doctest compares, with ``...`` matching anything and whitespace normalized).
"""

import doctest
import importlib.util
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
import fresh_process

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
        command = ["-m", "pytest", "-q", "-p", "no:randomly", str(path)]
    else:  # from a file, as users run it: AutoGraph needs the source
        path = tmp_path / "example.py"
        path.write_text(code)
        command = [str(path)]
    result = fresh_process.run(command, cwd=tmp_path)  # a process of its own, as `python example.py`
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


def _griffe_docstrings():
    spec = importlib.util.spec_from_file_location("griffe_docstrings", ROOT / "docs" / "griffe_docstrings.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docstrings_become_markdown_for_the_api_reference():
    text = (
        "Adds.\n\n>>> 1 + 1\n2\n\nSee :meth:`~.base.Backend.function` and :class:`dualtf.Step`.\n\n"
        "```\n:not_a_role:`x`\n```"
    )
    assert _griffe_docstrings().markdown(text).splitlines() == [
        "Adds.",
        "",
        "```pycon",
        ">>> 1 + 1",
        "2",
        "```",
        "",
        "See `function` and `dualtf.Step`.",
        "",
        "```",
        ":not_a_role:`x`",
        "```",
    ]


def test_the_rendered_api_reference_shows_examples_as_code_and_no_literal_roles(tmp_path):
    """The site as CI builds it: every docstring example in a code block, no Sphinx role printed as text, no
    attribute's source shown as its value."""
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)], cwd=ROOT, check=True
    )
    html = (tmp_path / "api" / "index.html").read_text()
    outside_code = re.sub(r"<pre.*?</pre>", "", html, flags=re.S)
    assert "&gt;&gt;&gt;" not in outside_code and "<blockquote>" not in outside_code
    assert html.count('<span class="gp">&gt;&gt;&gt; </span>') >= 80  # the examples (90 prompts today), as sessions
    assert not re.search(r":(meth|func|class|data|attr|exc|mod):`", html)
    assert "next(_serials)" not in html
    migration = (tmp_path / "migration" / "index.html").read_text()
    assert "css/extra.css" in migration  # wide tables wrap instead of being cut off
    assert "white-space: normal" in (tmp_path / "css" / "extra.css").read_text()


def test_modes_md_lists_the_refusal_tables_as_the_code_has_them():
    from dualtf._backends.eager import UNRUNNABLE_EAGERLY
    from dualtf._backends.tf1.calls import TF1_OPS
    from dualtf._backends.tf1.random import RANDOM_OPS
    from dualtf._backends.xla import UNCOMPILABLE

    page = (ROOT / "docs" / "modes.md").read_text()
    block = page.split("<!-- refusal tables: begin -->\n", 1)[1].split("\n<!-- refusal tables: end -->", 1)[0]
    tables = (TF1_OPS, RANDOM_OPS, UNRUNNABLE_EAGERLY, UNCOMPILABLE)
    assert block == "\n\n".join(t.markdown() for t in tables), "regenerate the tables"


def test_strategies_md_lists_the_feature_table_as_the_code_has_it():
    from dualtf._strategies import feature_table_markdown

    page = (ROOT / "docs" / "strategies.md").read_text()
    block = page.split("<!-- feature table: begin -->\n", 1)[1].split("\n<!-- feature table: end -->", 1)[0]
    assert block == feature_table_markdown(), "regenerate with dualtf._strategies.feature_table_markdown()"
