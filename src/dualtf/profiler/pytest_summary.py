"""The ``--dualtf-profile`` summary: each test's call time per mode, slowest first."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .._modes import MODES

__all__ = ["write_summary"]


def write_summary(terminalreporter: Any, timings: list[tuple[str, str, float]], json_path: str | None) -> None:
    """Print the per-test, per-mode call times and optionally save them as JSON."""
    by_test: dict[str, dict[str, float]] = defaultdict(dict)
    for nodeid, mode, seconds in timings:
        base = nodeid.rsplit("[", 1)[0] if nodeid.endswith("]") else nodeid
        params = nodeid[len(base) + 1 : -1] if nodeid.endswith("]") else ""
        others = "-".join(p for p in params.split("-") if p != mode)
        by_test[base + (f"[{others}]" if others else "")][mode] = seconds
    modes = [m for m in MODES if any(m in row for row in by_test.values())]
    rows = sorted(by_test.items(), key=lambda kv: -max(kv[1].values()))
    width = max(len(name) for name in by_test)
    terminalreporter.write_sep("=", "dualtf profile: test call time per mode (ms), slowest first")
    terminalreporter.write_line(f"{'test':<{width}}  " + "  ".join(f"{m:>9}" for m in modes))
    for name, row in rows:
        cells = "  ".join(f"{row[m] * 1e3:9.2f}" if m in row else f"{'-':>9}" for m in modes)
        terminalreporter.write_line(f"{name:<{width}}  {cells}")
    if json_path:
        data = {"tests": [{"test": n, "mode": m, "seconds": s} for n, m, s in timings]}
        Path(json_path).write_text(json.dumps(data, indent=2))
        terminalreporter.write_line(f"dualtf profile saved to {json_path}")
