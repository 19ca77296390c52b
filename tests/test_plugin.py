"""The pytest plugin, tested with real pytest runs (pytester)."""

import json
import re

import pytest

import fresh_process as fresh
from dualtf import MODES

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

BASIC = """
import tensorflow as tf

def test_matmul(dualtf_backend):
    be = dualtf_backend
    w = be.variable([[1.0], [2.0]])
    assert be.evaluate(tf.matmul(w, be.constant([[3.0, 4.0]]))).tolist() == [[3, 4], [6, 8]]

def test_mode(dualtf_mode):
    assert isinstance(dualtf_mode, str)
"""


def _pytest(pytester, *args, fresh_process=False):
    """A real pytest run: in this process (pytester's in-process run; TensorFlow stays imported), or in a
    fresh one where the run must start TensorFlow itself (its devices, its random order, its warnings): a
    process of its own, forked from one that only imported TensorFlow (``fresh_process``).
    The programs below test other plugin features with tests that use the backend for nothing but its
    mode: the rule that a test must use its backend is off for them (it is tested on its own)."""
    if fresh_process == "without tensorflow":  # a process that never imported it: a real subprocess
        return pytester.runpytest_subprocess("-o", "dualtf_require_run=false", *args)
    if fresh_process:
        return fresh.runpytest(pytester, "-o", "dualtf_require_run=false", *args)
    return pytester.runpytest_inprocess("-o", "dualtf_require_run=false", *args)


def _run(pytester, *args, fresh_process=False):
    """:func:`_pytest` in a fixed order, verbose."""
    return _pytest(pytester, "-p", "no:randomly", "-v", *args, fresh_process=fresh_process)


def _ids(result):
    return sorted(line.split("::")[-1].split()[0] for line in result.outlines if " PASSED" in line and "::" in line)


def test_every_mode_with_plain_ids(pytester):
    pytester.makepyfile(test_basic=BASIC)
    result = _run(pytester)
    result.assert_outcomes(passed=8)
    assert _ids(result) == sorted([f"test_matmul[{m}]" for m in MODES] + [f"test_mode[{m}]" for m in MODES])


def test_marker_narrows_one_test(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dualtf(modes=["graph", "function"])
        def test_only_two(dualtf_backend):
            assert dualtf_backend.mode in ("graph", "function")

        def test_all(dualtf_mode):
            pass
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=6)
    assert [i for i in _ids(result) if i.startswith("test_only")] == ["test_only_two[function]", "test_only_two[graph]"]


def test_command_line_and_ini_narrow_the_run(pytester):
    pytester.makepyfile(test_basic=BASIC)
    result = _run(pytester, "--dualtf-modes", "eager,xla")
    result.assert_outcomes(passed=4)
    pytester.makeini("[pytest]\ndualtf_modes = graph\n")
    result = _run(pytester)
    result.assert_outcomes(passed=2)
    assert _ids(result) == ["test_matmul[graph]", "test_mode[graph]"]
    for listed in ("graph,eager", "graph eager", "graph, eager"):  # the command line's form works in the ini too
        pytester.makeini(f"[pytest]\ndualtf_modes = {listed}\n")
        result = _run(pytester)
        result.assert_outcomes(passed=4)


def test_conftest_fixture_and_k_narrow(pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture(params=["eager"])
        def dualtf_mode(request):
            return request.param
        """
    )
    pytester.makepyfile(test_basic=BASIC)
    result = _run(pytester)
    result.assert_outcomes(passed=2)
    assert _ids(result) == ["test_matmul[eager]", "test_mode[eager]"]


def test_k_selects_a_mode(pytester):
    pytester.makepyfile(test_basic=BASIC)
    result = _run(pytester, "-k", "function")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize(
    ("args", "ini", "marker", "message"),
    [
        (
            ["--dualtf-modes", "eager,session"],
            None,
            None,
            "--dualtf-modes: Every mode must be one of graph, eager, function, xla. Received: unknown mode 'session'.",
        ),
        (
            [],
            "dualtf_modes = graph tpu",
            None,
            "ini option dualtf_modes: Every mode must be one of graph, eager, function, xla. "
            "Received: unknown mode 'tpu'.",
        ),
        ([], None, 'modes=["jit"]', "Received: unknown mode 'jit'."),
        (
            [],
            None,
            'mode="eager"',
            "every keyword must be one of modes, strategies, seed, deterministic_random, xfail, skip, runs_nothing. "
            "Received: unknown keyword 'mode'.",
        ),
    ],
)
def test_usage_errors_name_the_mode(pytester, args, ini, marker, message):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    body = f"@pytest.mark.dualtf({marker})\n" if marker else ""
    pytester.makepyfile(f"import pytest\n\n{body}def test_x(dualtf_mode):\n    pass\n")
    result = _pytest(pytester, "-p", "no:randomly", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_loading_the_plugin_does_not_import_tensorflow(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_no_tf():
            assert "dualtf.pytest_plugin" in sys.modules
            assert "tensorflow" not in sys.modules
        """
    )
    result = _pytest(pytester, "-p", "no:randomly", "-p", "no:cacheprovider", fresh_process="without tensorflow")
    result.assert_outcomes(passed=1)


def test_unavailable_mode_is_skipped_with_reason(pytester):
    pytester.makeconftest(
        """
        import dualtf._modes as modes

        modes.mode_unavailable_reason.cache_clear()
        _real = modes.mode_unavailable_reason.__wrapped__

        def fake(mode):
            return "no XLA in this test" if mode == "xla" else _real(mode)

        import dualtf.pytest_plugin as plugin
        plugin.mode_unavailable_reason = fake
        """
    )
    pytester.makepyfile(test_basic=BASIC)
    result = _pytest(pytester, "-p", "no:randomly", "-rs", fresh_process=True)  # its conftest patches the plugin
    result.assert_outcomes(passed=6, skipped=2)
    result.stdout.fnmatch_lines(["*dualtf mode 'xla' is unavailable here: no XLA in this test*"])


ISOLATION = """
import keras
import pytest
import tensorflow as tf

def test_leaves_state_behind(dualtf_backend):
    tf.config.run_functions_eagerly(True)
    keras.layers.Dense(2, name="dense_taken")
    dualtf_backend.variable(1.0, name="leftover")

def test_sees_clean_state(dualtf_backend):
    assert not tf.config.functions_run_eagerly()
    assert tf.executing_eagerly() == (dualtf_backend.mode != "graph")
    assert keras.layers.Dense(2).name == "dense"  # Keras name counters reset
    if dualtf_backend.mode == "graph":
        assert dualtf_backend.graph is tf.compat.v1.get_default_graph()
        assert len(tf.compat.v1.global_variables()) == 0
"""


@pytest.mark.parametrize("seed", ["1", "2", "3"])
def test_isolation_in_random_order(pytester, seed):
    pytester.makepyfile(test_iso=ISOLATION)
    result = _pytest(pytester, "-p", "randomly", f"--randomly-seed={seed}", fresh_process=True)
    result.assert_outcomes(passed=8)


def test_isolation_under_xdist(pytester):
    pytester.makepyfile(test_iso=ISOLATION)
    result = _pytest(pytester, "-n", "2", "-p", "no:randomly")
    result.assert_outcomes(passed=8)


def test_leaked_default_graph_fails_the_test(pytester):
    pytester.makepyfile(
        """
        import tensorflow as tf

        KEEP = []  # a context manager that is garbage collected would leave by itself

        def test_leaks(dualtf_mode, dualtf_backend):
            if dualtf_mode == "eager":
                KEEP.append(tf.Graph().as_default())
                KEEP[-1].__enter__()
        """
    )
    result = _pytest(pytester, "-p", "no:randomly", "--dualtf-modes", "eager", fresh_process=True)  # it leaks a graph
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*a different default graph was left entered*"])


XFAILS_IN_EAGER = """
import pytest

@pytest.mark.dualtf(xfail={"eager": (ZeroDivisionError, "on purpose")})
def test_xfails_in_eager(dualtf_backend, dualtf_mode):
    if dualtf_mode == "eager":
        1 / 0
"""


def test_profile_option_gathers_every_workers_passed_tests(pytester, tmp_path):
    """Under pytest-xdist (two workers) the controller prints every passed test's time; an xfailed one is
    not mixed in."""
    pytester.makepyfile(test_basic=BASIC, test_xfail=XFAILS_IN_EAGER)
    out = tmp_path / "timings.json"
    result = _pytest(pytester, "-p", "no:randomly", "-n", "2", "--dualtf-profile", f"--dualtf-profile-json={out}")
    result.assert_outcomes(passed=11, xfailed=1)
    result.stdout.fnmatch_lines(["*dualtf profile*", "*test_matmul*"])
    data = json.loads(out.read_text())
    assert {row["mode"] for row in data["tests"]} == set(MODES)
    assert len(data["tests"]) == 7 and all(row["seconds"] > 0 for row in data["tests"])  # the backend's 4 + 3
    assert not any("test_xfails_in_eager[eager]" in row["test"] for row in data["tests"])


def test_a_marker_on_a_test_without_a_dualtf_fixture_warns(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dualtf(modes=["graph"])
        def test_plain():
            pass
        """
    )
    result = _run(pytester, fresh_process=True)  # exactly one warning: none of this process's own
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.dualtf on test_*.py::test_plain does nothing*"])


def test_asking_only_for_the_mode_imports_no_tensorflow(pytester):
    pytester.makepyfile(
        """
        import sys

        def test_name(dualtf_mode):
            assert "tensorflow" not in sys.modules
        """
    )
    modes = "graph,eager,function"
    result = _pytest(pytester, "-p", "no:randomly", "--dualtf-modes", modes, fresh_process="without tensorflow")
    result.assert_outcomes(passed=3)


def test_strategy_axis_joins_ids_and_skips_with_reasons(pytester):
    pytester.makepyfile(
        """
        def test_step(dualtf_backend, dualtf_strategy):
            assert dualtf_backend.strategy_name == dualtf_strategy
        """
    )
    result = _run(
        pytester, "--dualtf-virtual-cpus", "2", "--dualtf-modes", "graph,eager,xla", "-rs", fresh_process=True
    )
    passed = _ids(result)
    assert "test_step[graph-cpu]" in passed and "test_step[eager-mirrored]" in passed
    assert "test_step[xla-mirrored]" not in passed
    result.stdout.fnmatch_lines(
        ["*The combination of mode 'xla' and strategy 'mirrored' must be supported by TensorFlow*"]
    )
    result.stdout.fnmatch_lines(["*dualtf strategy 'tpu' is unavailable here*"])


def test_unknown_strategy_in_marker_is_a_usage_error(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.dualtf(strategies=["mirored"])
        def test_x(dualtf_strategy):
            pass
        """
    )
    result = _pytest(pytester, "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*Every strategy must be one of default, cpu, gpu, mirrored, tpu, multiworker. "
            "Received: unknown strategy 'mirored'.*"
        ]
    )


SEEDED = """
import random

import numpy as np
import pytest


@pytest.mark.dualtf(seed=5, modes=["graph", "eager"])
def test_marker_seed_is_what_the_body_sees(dualtf_backend):
    got = (random.random(), float(np.random.rand()))
    random.seed(5)
    np.random.seed(5)
    assert got == (random.random(), float(np.random.rand()))
"""


@pytest.mark.parametrize("randomly_seed", ["1", "2"])
def test_marker_seed_survives_pytest_randomly(pytester, randomly_seed):
    pytester.makepyfile(test_seeded=SEEDED)
    result = _pytest(pytester, "-p", "randomly", f"--randomly-seed={randomly_seed}", fresh_process=True)
    result.assert_outcomes(passed=2)


PER_MODE = """
import pytest
import dualtf


@pytest.mark.dualtf(
    modes=["graph", "eager", "xla"],
    xfail={"xla": (ZeroDivisionError, "fails under xla on purpose")},
    skip={"graph": "not for graph"},
)
def test_per_mode(dualtf_mode):
    if dualtf_mode == "xla":
        1 / 0


@pytest.mark.dualtf(modes=["eager"], xfail={"eager": (KeyError, "expects a KeyError")})
def test_strict_xfail_that_passes(dualtf_mode):
    pass


@pytest.mark.dualtf(modes=["eager"], xfail={"eager": (KeyError, "expects a KeyError")})
def test_xfail_with_another_error(dualtf_mode):
    raise ValueError("not the expected error")
"""


def test_marker_takes_per_mode_expected_failures_and_skips(pytester, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # reasons unwrapped
    pytester.makepyfile(test_per_mode=PER_MODE)
    result = _run(pytester, "-rxs", fresh_process=True)
    # xla: xfailed; graph: skipped with the reason; eager: passed; the strict xfail that
    # passes fails; an xfail that raises another exception fails
    result.assert_outcomes(passed=1, skipped=1, xfailed=1, failed=2)
    result.stdout.fnmatch_lines(
        ["*dualtf mode 'graph': not for graph*", "*dualtf mode 'xla': fails under xla on purpose*"]
    )
    result.stdout.fnmatch_lines(["*[[]XPASS(strict)[]] dualtf mode 'eager': expects a KeyError*"])


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("xfail=['xla']", "xfail= must be a dict {mode: (ExceptionType, 'reason')}. Received: ['xla']."),
        (
            "xfail={'xla': 'why'}",
            "every value of xfail= must be as in {mode: (ExceptionType, 'reason')}, with a reason.",
        ),
        ("xfail={'xla': (int, 'why')}", "Received: xla=(<class 'int'>, 'why')."),
        ("skip={'jit': 'why'}", "Every mode must be one of graph, eager, function, xla. Received: unknown mode 'jit'."),
        ("skip={'xla': ''}", "every value of skip= must be as in {mode: 'reason'}, with a reason."),
    ],
)
def test_bad_per_mode_marker_is_a_usage_error(pytester, marker, message):
    pytester.makepyfile(f"import pytest\n\n@pytest.mark.dualtf({marker})\ndef test_x(dualtf_mode):\n    pass\n")
    result = _pytest(pytester, "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    literal = re.sub(r"([][])", r"[\1]", message)  # brackets are character classes in fnmatch
    result.stderr.fnmatch_lines([f"*{literal}*"])


STRATEGY_IDS = """
def test_s(dualtf_strategy):
    pass
"""


@pytest.mark.parametrize(
    ("args", "ini"), [(["--dualtf-strategies", "default,cpu"], None), ([], "dualtf_strategies = default cpu")]
)
def test_strategies_option_and_ini_narrow_the_axis(pytester, args, ini):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_s=STRATEGY_IDS)
    result = _run(pytester, *args)
    assert _ids(result) == ["test_s[cpu]", "test_s[default]"]


def test_bad_strategies_option_is_a_usage_error(pytester):
    pytester.makepyfile(test_s=STRATEGY_IDS)
    result = _pytest(pytester, "-p", "no:randomly", "--dualtf-strategies", "default,mirored")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--dualtf-strategies: Every strategy must be one of *Received: unknown strategy 'mirored'.*"]
    )


def test_marker_help_lists_every_keyword(pytester):
    result = _pytest(pytester, "--markers")
    result.stdout.fnmatch_lines(
        [
            "*dualtf(modes=None, strategies=None, seed=None, deterministic_random=False, xfail=None, skip=None, "
            "runs_nothing=False)*"
        ]
    )


def test_backend_options_per_mode_through_a_conftest_fixture(pytester):
    pytester.makeconftest(
        """
        import pytest
        import tensorflow as tf

        @pytest.fixture
        def dualtf_backend_options(dualtf_mode):
            if dualtf_mode == "graph":
                return {"config": tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)}
            return {}
        """
    )
    pytester.makepyfile(
        """
        def test_options(dualtf_backend):
            if dualtf_backend.mode == "graph":
                assert dualtf_backend.session._config.inter_op_parallelism_threads == 1
        """
    )
    result = _run(pytester, "--dualtf-modes", "graph,eager")
    result.assert_outcomes(passed=2)


def test_bad_backend_option_fails_the_test_by_name(pytester):
    pytester.makeconftest(
        """
        import pytest

        @pytest.fixture
        def dualtf_backend_options():
            return {"jit": True}
        """
    )
    pytester.makepyfile("def test_x(dualtf_backend):\n    pass\n")
    result = _run(pytester, "--dualtf-modes", "eager")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*option of mode 'eager' must be one of: none. Received: jit=True*"])


RUNS_NOTHING = """
import pytest

def test_builds_nothing(dualtf_backend):
    assert dualtf_backend.mode

@pytest.mark.dualtf(runs_nothing=True)
def test_says_so(dualtf_backend):
    assert dualtf_backend.mode

def test_runs_a_step(dualtf_backend):
    import tensorflow as tf
    assert dualtf_backend.function(lambda: tf.constant(1), [])() == 1
"""


def test_a_test_that_runs_nothing_in_its_backend_fails_by_name(pytester):
    pytester.makepyfile(test_nothing=RUNS_NOTHING)
    result = fresh.runpytest(pytester, "-p", "no:randomly", "-v", "--dualtf-modes", "eager")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_builds_nothing[[]eager[]] asked for a backend of mode 'eager' and never used it*"]
    )
    pytester.makeini("[pytest]\ndualtf_require_run = false\n")
    fresh.runpytest(pytester, "-p", "no:randomly", "--dualtf-modes", "eager").assert_outcomes(passed=3)
