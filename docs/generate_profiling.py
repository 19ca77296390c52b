"""Regenerate the figures in docs/profiling.md with the project's own command.

Runs ``dualtf demo --markdown ... --plot ...`` and writes its tables between the
generated markers of docs/profiling.md, and the plot to docs/generated/. Run from
the repository root: ``python docs/generate_profiling.py``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
START, END = "<!-- generated:start -->", "<!-- generated:end -->"


def main() -> int:
    plot = DOCS / "generated" / "mlp_training.png"
    plot.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tables = Path(tmp) / "demo.md"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dualtf",
                "demo",
                "--min-time",
                "0.5",
                "--markdown",
                str(tables),
                "--plot",
                str(plot),
            ],
            check=True,
        )
        generated = tables.read_text()
    page = DOCS / "profiling.md"
    text = page.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    body = (
        f"{START}\n<!-- written by docs/generate_profiling.py: do not edit by hand -->\n\n{generated}\n"
        f"![MLP training step per mode](generated/mlp_training.png)\n{END}"
    )
    page.write_text(head + body + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
