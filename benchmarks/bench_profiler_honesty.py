"""Is the profiler honest? Its steady-state median against an independent timeit.

For each mode, one compiled step (the MLP training step and the 3-element add)
is timed by the profiler's own loop (``dualtf.profiler.measure.steady_state``,
then ``stats.summarize``) and independently by ``timeit.repeat(number=1)`` with
``statistics.median``, in alternating rounds in one process. The two medians
(each the median over rounds) must agree within ±5%; the script exits 1 if not.

Run: ``python benchmarks/bench_profiler_honesty.py [--rounds 7]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import timeit

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

import dualtf
from dualtf import examples
from dualtf.profiler.measure import calibrate, steady_state
from dualtf.profiler.stats import summarize

TOLERANCE = 0.05


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per figure (default: 7)")
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per round (default: 0.2)")
    args = parser.parse_args(argv)
    failures = 0
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores")
    print(f"{'program':<13} {'mode':<9} {'profiler':>10} {'timeit':>10} {'diff':>7}")
    for example in (examples.EXAMPLES[2], examples.EXAMPLES[3]):
        feeds = example.make_feeds()
        for mode in dualtf.available_modes():
            with dualtf.backend(mode) as be:
                call = functools.partial(example.program(be), **feeds)

                number = calibrate(call, args.min_time)
                profiler_medians, timeit_medians = [], []
                for _ in range(args.rounds):
                    profiler_medians.append(summarize(steady_state(call, number, warmup=1).per_call).median)
                    timeit_medians.append(statistics.median(timeit.repeat(call, number=1, repeat=number)))
            ours, theirs = statistics.median(profiler_medians), statistics.median(timeit_medians)
            diff = ours / theirs - 1
            failures += abs(diff) > TOLERANCE
            flag = "" if abs(diff) <= TOLERANCE else "  <-- outside ±5%"
            print(f"{example.name:<13} {mode:<9} {ours * 1e6:>8.1f}us {theirs * 1e6:>8.1f}us {diff:>+7.1%}{flag}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
