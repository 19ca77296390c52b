"""Multi-worker runs on one machine: N worker processes on 127.0.0.1, one TF_CONFIG each.

>>> from dualtf.multiworker import free_ports
>>> len(set(free_ports(2)))
2
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import DualTFError, check_int, error_message, format_error

__all__ = ["WorkerResult", "free_ports", "run_workers"]


@dataclass(frozen=True)
class WorkerResult:
    """What one worker's step returned on each call, and its variables at the end."""

    index: int
    outputs: list[Any]
    variables: list[tuple[str, Any]]


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_workers(
    program: str,
    feeds: Mapping[str, Any] | None = None,
    *,
    workers: int = 2,
    mode: str = "function",
    steps: int = 1,
    seed: int | None = 0,
    deterministic_random: bool = False,
    timeout: float = 300.0,
) -> list[WorkerResult]:
    """Run ``program`` under ``strategy="multiworker"`` in ``workers`` local processes.

    ``program`` is ``"module:function"`` or ``"path/to/file.py:function"`` (each
    worker imports it); ``seed`` and ``deterministic_random`` go to :func:`dualtf.backend`.
    Every worker gets the same global ``feeds``; its step
    runs on its replicas' slices, so the result is that of one process fed the
    whole batch. Each worker gets 127.0.0.1 ports and a TF_CONFIG; all are killed
    on failure or after ``timeout`` seconds, and the temporary files removed.

    >>> results = run_workers("dualtf.examples:feeds_sum", {"a": [0, 2], "b": [1, 3]}, mode="eager")  # doctest: +SKIP
    >>> [r.outputs[0].tolist() for r in results]  # doctest: +SKIP
    [[1, 5], [1, 5]]
    """
    from ._modes import check_mode

    check_mode(mode)
    check_int("steps", steps, 1)
    check_int("workers", workers, 1)
    if not isinstance(program, str) or ":" not in program:
        raise DualTFError(
            format_error("The program", "a 'module:function' string that each worker can import", repr(program))
        )
    ports = free_ports(workers)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    with tempfile.TemporaryDirectory(prefix="dualtf-workers-") as tmp:
        job = Path(tmp)
        (job / "job.pkl").write_bytes(
            pickle.dumps(
                {
                    "program": program,
                    "feeds": dict(feeds or {}),
                    "mode": mode,
                    "steps": steps,
                    "seed": seed,
                    "deterministic_random": deterministic_random,
                }
            )
        )
        procs = []
        try:
            for index in range(workers):
                env = dict(
                    os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
                )
                env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
                log = open(job / f"worker{index}.log", "wb")  # noqa: SIM115 - closed with the process below
                procs.append(
                    (
                        subprocess.Popen(
                            [sys.executable, "-m", "dualtf.multiworker", str(job), str(index)],
                            env=env,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        ),
                        log,
                    )
                )
            deadline = time.monotonic() + timeout
            for index, (proc, _) in enumerate(procs):
                remaining = deadline - time.monotonic()
                try:
                    code = proc.wait(timeout=max(remaining, 0.01))
                except subprocess.TimeoutExpired:
                    raise DualTFError(
                        format_error(
                            f"Worker {index}",
                            f"done within timeout={timeout}s",
                            "a worker still running; all were killed",
                        )
                    ) from None
                if code != 0:
                    tail = (job / f"worker{index}.log").read_text(errors="replace")[-2000:]
                    raise DualTFError(
                        error_message(
                            f"Worker {index} must exit with status 0. Its output ends:\n{tail}\n", f"status {code}"
                        )
                    )
            return [WorkerResult(i, *pickle.loads((job / f"result{i}.pkl").read_bytes())) for i in range(workers)]
        finally:
            for proc, log in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                log.close()


def _worker_main(job_dir: str, index: int) -> None:
    from ._strategies import make_strategy
    from .program import load_program, run_program

    # First: collective ops must be configured before TensorFlow's context starts.
    strategy = make_strategy("multiworker")
    job = pickle.loads((Path(job_dir) / "job.pkl").read_bytes())
    program = load_program(job["program"])
    run = run_program(
        program,
        job["feeds"],
        job["mode"],
        steps=job["steps"],
        seed=job["seed"],
        strategy=strategy,
        deterministic_random=job["deterministic_random"],
    )
    # plain values: this module runs as __main__ here, so its classes would not unpickle
    (Path(job_dir) / f"result{index}.pkl").write_bytes(pickle.dumps((run.outputs, run.variables)))


if __name__ == "__main__":
    _worker_main(sys.argv[1], int(sys.argv[2]))
