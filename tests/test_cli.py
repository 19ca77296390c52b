"""The dualtf command: once as a real subprocess (what a user's shell runs), otherwise ``main()`` in-process."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dualtf.cli import main

HERE = Path(__file__).parent
PROGRAMS = str(HERE / "programs.py")


@pytest.fixture
def dualtf(capsys):
    """``dualtf ARGS`` in this process: its exit status and what it printed."""

    def run(*args):
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --version, usage errors
            code = exc.code
        out = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out.out, stderr=out.err)

    return run


def test_the_installed_command_runs_quietly(tmp_path, feeds_file):
    """The real ``python -m dualtf`` (a subprocess: a fresh TensorFlow import): no TensorFlow start-up lines."""
    out = subprocess.run(
        [sys.executable, "-m", "dualtf", "compare", f"{PROGRAMS}:affine", "--feeds", str(feeds_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "agree" in out.stdout
    assert out.stderr == "", out.stderr  # TensorFlow 2.21's I0000/E0000 lines hidden


@pytest.fixture
def feeds_file(tmp_path):
    path = tmp_path / "feeds.npz"
    np.savez(path, x=np.array([[3.0, 4.0]], np.float32))
    return path


def test_profile_writes_every_output(dualtf, tmp_path, feeds_file):
    out = dualtf(
        "profile",
        f"{PROGRAMS}:affine",
        "--feeds",
        str(feeds_file),
        "--modes",
        "graph,eager",
        "--steps",
        "20",
        "--json",
        str(tmp_path / "r.json"),
        "--csv",
        str(tmp_path / "r.csv"),
        "--plot",
        str(tmp_path / "r.png"),
        "--trace-dir",
        str(tmp_path / "traces"),
    )
    assert out.returncode == 0, out.stderr
    assert "graph" in out.stdout and "eager" in out.stdout and "median" in out.stdout
    data = json.loads((tmp_path / "r.json").read_text())
    assert [r["mode"] for r in data["rows"]] == ["graph", "eager"] and all(r["calls"] == 20 for r in data["rows"])
    assert (tmp_path / "r.csv").read_text().count("\n") == 3
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "traces" / "graph" / "step.trace.json").is_file()


def test_compare_agrees_and_disagrees(dualtf, feeds_file):
    ok = dualtf("compare", f"{PROGRAMS}:affine", "--feeds", str(feeds_file), "--steps", "2")
    assert ok.returncode == 0, ok.stderr
    assert "agree" in ok.stdout
    where = feeds_file.parent / "where.json"
    bad = dualtf("compare", f"{PROGRAMS}:mode_dependent", "--modes", "eager,graph", "--json", str(where))
    assert bad.returncode == 1
    assert "output of call 1: modes 'eager' and 'graph' differ: max abs diff 1" in bad.stderr
    assert "eager and graph first differ on call 1" in bad.stderr  # the report says where
    assert json.loads(where.read_text())["call"] == 1


def test_compare_a_program_with_two_steps_and_per_mode_tolerances(dualtf, tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 1)).astype(np.float32)
    feeds = tmp_path / "steps.npz"
    np.savez(feeds, **{"train/x": x, "train/y": y, "eval/x": x})  # STEP/FEED keys
    ok = dualtf("compare", f"{PROGRAMS}:train_and_eval", "--feeds", str(feeds), "--steps", "3", "--rtol", "xla=1e-4")
    assert ok.returncode == 0, ok.stderr
    noisy = ["compare", f"{PROGRAMS}:xla_off_by_1e4", "--modes", "graph,xla"]
    np.savez(tmp_path / "x.npz", x=np.float32(2.0))
    assert dualtf(*noisy, "--feeds", str(tmp_path / "x.npz")).returncode == 1
    loose = dualtf(*noisy, "--feeds", str(tmp_path / "x.npz"), "--rtol", "1e-5", "--rtol", "xla=1e-3")
    assert loose.returncode == 0, loose.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profile", f"{PROGRAMS}:affine", "--modes", "eager,jit"], "unknown mode 'jit'"),
        (["profile", "no_such_module_xyz:prog"], "A program's module must be importable"),
        (["profile", f"{PROGRAMS}:missing"], "Received: 'missing': the module has no such name."),
        (["compare", f"{PROGRAMS}:affine", "--modes", "xla"], "must name at least two different modes"),
        (["compare", f"{PROGRAMS}:affine", "--modes", "graph,graph"], "must name at least two different modes"),
        (["compare", f"{PROGRAMS}:affine", "--rtol", "jit=1e-3"], "A tolerance must be a number, or MODE=number"),
        (["profile", f"{PROGRAMS}:affine", "--steps", "0"], "--steps must be an int >= 1"),
        (
            ["profile", f"{PROGRAMS}:affine", "--json", "/no/such/dir/r.json"],
            "--json must be a path in a writable directory",
        ),
        (["profile", f"{PROGRAMS}:affine", "--feeds", "/no/such.npz"], "--feeds must be a readable .npz file"),
        (["profile", f"{PROGRAMS}:affine", "--modes", "eager"], "no value for feed `x`"),
        (["profile", f"{PROGRAMS}:affine", "--modes", "eager"], "Give them with --feeds FILE.npz."),
        (["compare", f"{PROGRAMS}:train_and_eval", "--modes", "graph,eager"], "must map each step's name to its"),
        (
            ["profile", f"{PROGRAMS}:not_a_program", "--modes", "eager"],
            "A program must return the step made by be.function()",
        ),
    ],
)
def test_bad_input_exits_2_with_a_named_message(dualtf, args, message):
    out = dualtf(*args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr
    assert "median" not in out.stdout  # nothing was measured


def test_demo_prints_every_example(dualtf, tmp_path):
    out = dualtf(
        "demo", "--modes", "graph,eager,function,xla", "--min-time", "0.01", "--markdown", str(tmp_path / "demo.md")
    )
    assert out.returncode == 0, out.stderr
    for name in ("constants", "variables", "feeds", "mlp_training"):
        assert f"dualtf profile: {name}" in out.stdout
    assert (tmp_path / "demo.md").read_text().count("| xla |") == 4


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("fails", "fails failed in mode 'graph': RuntimeError: this worker fails on purpose (--traceback shows where)"),
        ("step_fails", "step_fails failed in mode 'graph': StepError: "),
    ],
)
def test_a_failing_program_exits_1_naming_the_mode_without_a_traceback(dualtf, tmp_path, program, message):
    np.savez(tmp_path / "x.npz", x=np.float32(-1.0))
    out = dualtf("profile", f"{PROGRAMS}:{program}", "--modes", "graph", "--feeds", str(tmp_path / "x.npz"))
    assert out.returncode == 1, out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    shown = dualtf("--traceback", "profile", f"{PROGRAMS}:fails", "--modes", "graph")
    assert shown.returncode == 1 and "Traceback (most recent call last)" in shown.stderr


def test_version(dualtf):
    out = dualtf("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"dualtf {dualtf_version()}"


def dualtf_version():
    from importlib.metadata import version

    return version("dualtf")


def test_an_extra_array_in_the_feeds_file_is_named_with_the_file(dualtf, tmp_path):
    path = tmp_path / "extra.npz"
    np.savez(path, x=np.array([[3.0, 4.0]], np.float32), zz=np.ones(2))
    out = dualtf("profile", f"{PROGRAMS}:affine", "--feeds", str(path), "--modes", "eager")
    assert out.returncode == 2
    assert "unexpected feed `zz`" in out.stderr and f"The feed values came from --feeds {path}." in out.stderr
