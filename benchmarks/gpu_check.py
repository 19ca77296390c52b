"""The GPU check: the strategy matrix and the benchmarks on an accelerator, as tables, in under ten minutes.

Run on a machine with a GPU (the device tool lends one to some tasks)::

    python benchmarks/gpu_check.py --out DIR [--update-docs]

Phases, each written to ``DIR`` as it ends (so a run cut short keeps what it finished):

1. ``strategies.md``: ``tests/test_strategies.py`` run through dualtf's pytest plugin, every
   mode x strategy cell the machine has (``gpu`` and ``mirrored`` over its GPUs included), as a
   table of passed / skipped (with the reason) / failed per cell, from pytest's JUnit XML
   (``junit.xml`` beside it);
2. ``performance.md``: ``bench_overhead`` (dualtf against raw TensorFlow, per mode),
   ``bench_fused`` (one step per call, K fused steps, an epoch, against TensorFlow's in-graph
   loop) and the profiler's per-mode table of the MLP step under each strategy, with device
   memory (now and peak) and clocks stopped after the device synchronizes.

``--update-docs`` writes the two tables into docs/strategies.md and docs/performance.md between
their ``gpu_check`` markers. ``--reduced`` runs every phase at a size a 2-core CPU finishes in
seconds (one strategy test, K = 4, two timing blocks): the project's test suite runs it so the
script cannot rot before a GPU runs it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent

import bench_fused  # noqa: E402 - benchmarks/ is the script's directory
import bench_overhead  # noqa: E402
from _docs import PERFORMANCE, provenance, update_docs  # noqa: E402

STRATEGIES_MD = ROOT / "docs" / "strategies.md"

#: Runs pytest with these arguments and returns its exit status (pytest.main; the suite passes pytester's).
RunPytest = Callable[[list[str]], Any]


def strategy_tests(out: Path, reduced: bool, run_pytest: RunPytest) -> str:
    """Phase 1: the strategy tests, every cell, as a mode x strategy table."""
    junit = out / "junit.xml"
    args = [str(ROOT / "tests" / "test_strategies.py"), "-q", "-p", "no:randomly", f"--junitxml={junit}"]
    if reduced:
        args += ["-k", "linear_step_matches_one_device"]
    run_pytest(args)
    return matrix_table(junit)


def matrix_table(junit: Path) -> str:
    """The tests of ``junit`` (pytest's JUnit XML) by mode x strategy cell, from their ids
    (``test_x[eager-mirrored]``): passed, skipped (with the reason) and failed counts."""
    import dualtf

    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    reasons: dict[tuple[str, str], str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = case.get("name", "")
        if "[" not in name:
            continue
        parts = name.split("[", 1)[1].rstrip("]").split("-")
        if len(parts) < 2 or parts[0] not in dualtf.MODES or parts[1] not in dualtf.STRATEGIES:
            continue
        cell = (parts[0], parts[1])
        skipped = case.find("skipped")
        if skipped is not None:
            cells[cell]["skipped"] += 1
            message = (skipped.get("message") or "").splitlines()[0]
            reasons.setdefault(cell, message if len(message) <= 90 else message[:89] + "…")
        elif case.find("failure") is not None or case.find("error") is not None:
            cells[cell]["failed"] += 1
        else:
            cells[cell]["passed"] += 1
    strategies = [s for s in dualtf.STRATEGIES if any(cell[1] == s for cell in cells)]
    lines = [
        provenance("tests/test_strategies.py per mode x strategy: passed ✓ · skipped (reason) · failed ✗"),
        "",
        "| mode \\ strategy | " + " | ".join(strategies) + " |",
        "|---|" + "---|" * len(strategies),
    ]
    for mode in dualtf.MODES:
        row = []
        for strategy in strategies:
            counts = cells.get((mode, strategy))
            if not counts:
                row.append("—")
                continue
            text = " ".join(f"{counts[k]} {mark}" for k, mark in (("passed", "✓"), ("failed", "✗")) if counts.get(k))
            if counts.get("skipped"):
                text += f" {counts['skipped']} skipped ({reasons[(mode, strategy)]})"
            row.append(text.strip())
        lines.append(f"| {mode} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def benchmarks(reduced: bool) -> str:
    """Phase 2: dualtf against raw TensorFlow, fused steps, and the MLP profiled under each strategy."""
    import dualtf
    from dualtf import examples
    from dualtf.profiler import profile

    modes = list(dualtf.available_modes())
    blocks, min_block, steps = (2, 0.01, 4) if reduced else (7, 0.05, 100)
    overhead = bench_overhead.measure(modes if not reduced else modes[:1], blocks, min_block)
    fused = bench_fused.measure("mlp", steps, blocks, min_block, modes if not reduced else modes[:1])
    strategies = [s for s in ("default", "gpu", "mirrored") if s in dualtf.available_strategies()]
    x, y = examples.digits()
    per_replica = 32
    batch = {"x": x[: per_replica * 2], "y": y[: per_replica * 2]}  # divides over 2 replicas
    report = profile(
        examples.mlp_training,
        batch,
        modes=modes if not reduced else modes[:1],
        strategies=strategies if not reduced else strategies[:1],
        steps=20 if reduced else None,
        min_time=0.05 if reduced else 0.5,
        name="mlp_training",
    )
    skipped = "".join(f"\n- {m} × {s}: {why}" for m, s, why in report.skipped)
    return "\n\n".join(
        [
            "**dualtf against raw TensorFlow** (`bench_overhead`)",
            bench_overhead.table(overhead, blocks),
            f"**Fused steps** (`bench_fused`, mlp, K = {steps})",
            bench_fused.table(fused, steps),
            "**The MLP step per mode × strategy** (the profiler; device memory now / peak; clocks stop after "
            "`sync_devices`)",
            report.to_markdown() + (f"\n\nRefused cells:{skipped}" if skipped else ""),
        ]
    )


def main(argv: list[str] | None = None, run_pytest: RunPytest | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")), help="output folder")
    parser.add_argument("--reduced", action="store_true", help="every phase at a CPU's size (for the test suite)")
    parser.add_argument("--update-docs", action="store_true", help="write the tables into docs/")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if run_pytest is None:
        import pytest

        run_pytest = pytest.main
    start = time.perf_counter()
    matrix = strategy_tests(args.out, args.reduced, run_pytest)
    (args.out / "strategies.md").write_text(matrix + "\n")
    print(matrix, flush=True)
    figures = benchmarks(args.reduced)
    (args.out / "performance.md").write_text(figures + "\n")
    print(figures, flush=True)
    print(f"gpu_check: {time.perf_counter() - start:.0f} s", flush=True)
    if args.update_docs:
        update_docs("gpu_check", matrix, STRATEGIES_MD)
        update_docs("gpu_check", figures, PERFORMANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
