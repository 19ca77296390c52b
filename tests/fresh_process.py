"""A fresh Python process for a test, started in a fraction of a second.

Tests that must run code as a user runs it — a docs block as ``python example.py``, a pytest
session whose plugin state, devices and warnings are its own — need a process of their own.
Starting one imports TensorFlow anew: about 5 s each on this machine. Here each is forked
instead from a server process (``multiprocessing``'s forkserver, one per test process) that
imported TensorFlow and Keras and did nothing else: no op run, no device,
graph, session or virtual CPU set up, no seed or flag set. Everything those imports leave is
what ``python`` with the same imports would have; everything the run then does is its own.

The child is :mod:`tests.fresh_child` run by :func:`runpy.run_path` (a stdlib function, so the
forkserver finds it by name whatever this test module's import mode).
"""

import multiprocessing
import os
import runpy
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

_CHILD = str(Path(__file__).with_name("fresh_child.py"))
#: The slow imports, and nothing whose import a run watches: pytest rewrites the asserts of plugins (dualtf's)
#: it imports itself, and warns of one imported before it.
_PRELOAD = ["tensorflow", "keras"]
_context = None


class Completed(NamedTuple):
    """What a fresh process did, as ``subprocess.run(..., capture_output=True, text=True)`` says it."""

    returncode: int
    stdout: str
    stderr: str


def _server():
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return _context


def run(argv, *, cwd, timeout=600):
    """Run ``argv`` — ``[path]`` (a script, as ``python path``) or ``["-m", "pytest", *args]`` — in a
    fresh process in ``cwd``, with this process's environment; its exit status and output."""
    with tempfile.TemporaryDirectory(prefix="dualtf-fresh-") as tmp:
        out, err = Path(tmp, "stdout"), Path(tmp, "stderr")
        job = {"argv": list(argv), "cwd": str(cwd), "env": dict(os.environ), "stdout": str(out), "stderr": str(err)}
        # run under a name no file has: pytest warns of a plugin's module already imported, and an editable
        # install's SOURCES.txt lists tests/fresh_child.py as the plugin distribution's
        process = _server().Process(target=runpy.run_path, args=(_CHILD, {"JOB": job}, "__fresh_child__"))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            raise TimeoutError(f"{argv} still running after {timeout} s: killed")
        return Completed(process.exitcode, out.read_text(errors="replace"), err.read_text(errors="replace"))


def runpytest(pytester, *args, timeout=600):
    """``pytester.runpytest_subprocess(*args)`` in a fresh process made here: the same arguments
    (a numbered ``--basetemp`` under the pytester's directory), the same :class:`pytest.RunResult`."""
    basetemp = Path(tempfile.mkdtemp(prefix="runpytest-", dir=pytester.path))
    start = time.monotonic()
    done = run(["-m", "pytest", f"--basetemp={basetemp}", *map(str, args)], cwd=pytester.path, timeout=timeout)
    sys.stdout.write(done.stdout)  # shown with the test's own output when it fails, as pytester shows it
    sys.stderr.write(done.stderr)
    return pytest.RunResult(
        done.returncode, done.stdout.splitlines(), done.stderr.splitlines(), time.monotonic() - start
    )
