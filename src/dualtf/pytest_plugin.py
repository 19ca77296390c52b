"""dualtf's pytest plugin: run a test once per execution mode.

Registered through the ``pytest11`` entry point, so installing dualtf is enough.
Loading it never imports TensorFlow: only a test that asks for ``dualtf_backend``
(or the ``xla`` mode, to learn whether XLA works here) does.

Fixtures:

- ``dualtf_mode``: the mode name; parametrized over :data:`dualtf.MODES`, so
  test ids read ``test_x[graph]``, ``test_x[eager]``, ...
- ``dualtf_backend``: an entered :class:`dualtf.Backend` for that mode, closed
  after the test, with TensorFlow's and Keras' global state put back.

Narrowing, from widest to narrowest: ``--dualtf-modes graph,eager`` or the
``dualtf_modes`` ini option for the whole run; ``@pytest.mark.dualtf(modes=[...])``
for one test; redefining ``dualtf_mode`` in a ``conftest.py``; ``-k eager``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, cast

import pytest

from ._errors import DualTFError, error_message
from ._modes import MODES, mode_unavailable_reason, parse_modes
from ._strategies import STRATEGIES, parse_strategies

__all__ = ["dualtf_backend", "dualtf_backend_options", "dualtf_mode", "dualtf_strategy"]

_MARKER = "dualtf"
_MARKER_KEYWORDS = ("modes", "strategies", "seed", "deterministic_random", "xfail", "skip", "runs_nothing")
_modes_key = pytest.StashKey[tuple[str, ...]]()
_strategies_key = pytest.StashKey[tuple[str, ...]]()
_timings_key = pytest.StashKey[list[tuple[str, str, float]]]()
_seeded_backend_key = pytest.StashKey[Any]()
_backend_key = pytest.StashKey[Any]()
_TIMING = "dualtf_timing"  # the user property a profiled test's (mode, seconds) travels in


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dualtf", "dualtf: run TensorFlow tests in every execution mode")
    group.addoption(
        "--dualtf-modes",
        action="store",
        default=None,
        metavar="MODES",
        help="comma-separated modes that dualtf tests run in, e.g. graph,eager "
        "(default: the dualtf_modes ini option, else all: " + ",".join(MODES) + ")",
    )
    group.addoption(
        "--dualtf-strategies",
        action="store",
        default=None,
        metavar="STRATEGIES",
        help="comma-separated strategies that tests asking for dualtf_strategy run under, e.g. default,mirrored "
        "(default: the dualtf_strategies ini option, else all: " + ",".join(STRATEGIES) + ")",
    )
    group.addoption(
        "--dualtf-profile",
        action="store_true",
        default=False,
        help="time every test that uses dualtf_backend and print a per-mode summary, slowest first (default: off)",
    )
    group.addoption(
        "--dualtf-profile-json",
        action="store",
        default=None,
        metavar="PATH",
        help="with --dualtf-profile, also save the timings as JSON to PATH (default: not saved)",
    )
    group.addoption(
        "--dualtf-virtual-cpus",
        action="store",
        type=int,
        default=None,
        metavar="N",
        help="split the CPU into N logical devices at session start, so the 'mirrored' strategy runs "
        "without GPUs (imports TensorFlow at start; default: leave devices alone)",
    )
    parser.addini("dualtf_modes", type="args", default=[], help="modes that dualtf tests run in (default: all)")
    parser.addini(
        "dualtf_require_run",
        type="bool",
        default=True,
        help="fail a test that asks for dualtf_backend and never uses it: no feed, variable, step, evaluate, "
        "dataset or Keras loop of it (default: true)",
    )
    parser.addini(
        "dualtf_strategies",
        type="args",
        default=[],
        help="strategies that dualtf_strategy tests run under (default: all)",
    )


def _configured(
    config: pytest.Config, name: str, parse: Callable[[object, str], tuple[str, ...]], every: tuple[str, ...]
) -> tuple[str, ...]:
    """``--dualtf-<name>`` if given, else the ``dualtf_<name>`` ini option, else ``every``."""
    option = config.getoption(f"--dualtf-{name}")
    if option is not None:
        return _usage(parse, option, f"--dualtf-{name}")
    ini = config.getini(f"dualtf_{name}")  # "graph eager" or "graph,eager": one list, parsed as the option's
    return _usage(parse, ",".join(ini), f"ini option dualtf_{name}") if ini else every


def _usage(parse: Callable[[object, str], tuple[str, ...]], value: object, where: str) -> tuple[str, ...]:
    """``parse(value, where)``, with its DualTFError turned into pytest's usage error."""
    try:
        return parse(value, where)
    except DualTFError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dualtf(modes=None, strategies=None, seed=None, deterministic_random=False, xfail=None, skip=None, "
        "runs_nothing=False): run "
        "this test only in the given dualtf modes and strategies; seed and deterministic_random are passed to "
        "dualtf.backend, and seed applied again just before the test body; xfail={mode: (ExceptionType, "
        "reason)} expects that exception in that mode (strict); skip={mode: reason} skips that mode; "
        "runs_nothing=True allows a test that runs nothing in its backend",
    )
    config.stash[_modes_key] = _configured(config, "modes", parse_modes, MODES)
    config.stash[_strategies_key] = _configured(config, "strategies", parse_strategies, STRATEGIES)
    config.stash[_timings_key] = []
    config.pluginmanager.register(_Timings(config.stash[_timings_key]), "dualtf-timings")
    cpus = config.getoption("--dualtf-virtual-cpus")
    if cpus is not None:
        from ._errors import DualTFError
        from ._strategies import configure_virtual_cpus

        try:
            configure_virtual_cpus(cpus)
        except DualTFError as exc:
            raise pytest.UsageError(f"--dualtf-virtual-cpus: {exc}") from None


def _marker_arguments(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    where = f"@pytest.mark.dualtf on {item.nodeid}"
    if marker.args:
        raise pytest.UsageError(
            error_message(f"{where}: arguments must be keywords ({', '.join(_MARKER_KEYWORDS)}).", repr(marker.args))
        )
    for key in marker.kwargs:
        if key not in _MARKER_KEYWORDS:
            raise pytest.UsageError(
                error_message(
                    f"{where}: every keyword must be one of {', '.join(_MARKER_KEYWORDS)}.", f"unknown keyword {key!r}"
                )
            )
    arguments = dict(marker.kwargs)
    if arguments.get("modes") is not None:
        arguments["modes"] = _usage(parse_modes, arguments["modes"], where)
    if arguments.get("strategies") is not None:
        arguments["strategies"] = _usage(parse_strategies, arguments["strategies"], where)
    for key in ("xfail", "skip"):
        if arguments.get(key) is not None:
            arguments[key] = _per_mode(arguments[key], key, where)
    return arguments


def _per_mode(value: object, key: str, where: str) -> dict[str, Any]:
    """The marker's ``xfail={mode: (ExceptionType, reason)}`` or ``skip={mode: reason}``, checked."""
    shape = "{mode: (ExceptionType, 'reason')}" if key == "xfail" else "{mode: 'reason'}"
    if not isinstance(value, dict):
        raise pytest.UsageError(error_message(f"{where}: {key}= must be a dict {shape}.", repr(value)))
    checked = {}
    for mode, spec in value.items():
        (mode,) = _usage(parse_modes, [mode], f"{where}: {key}=")
        if key == "skip":
            ok = isinstance(spec, str) and spec != ""
        else:
            raises = spec[0] if isinstance(spec, tuple) and len(spec) == 2 else None
            types = raises if isinstance(raises, tuple) else (raises,)
            ok = bool(types) and all(isinstance(t, type) and issubclass(t, BaseException) for t in types)
            ok = ok and isinstance(spec[1], str) and spec[1] != ""
        if not ok:
            raise pytest.UsageError(
                error_message(
                    f"{where}: every value of {key}= must be as in {shape}, with a reason.", f"{mode}={spec!r}"
                )
            )
        checked[mode] = spec
    return checked


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_modes = config.stash[_modes_key]
    run_strategies = config.stash[_strategies_key]
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        arguments = _marker_arguments(item)  # validated for every marked test, parametrized or not
        if item.get_closest_marker(_MARKER) is not None and "dualtf_mode" not in getattr(item, "fixturenames", ()):
            item.warn(
                pytest.PytestConfigWarning(
                    f"@pytest.mark.dualtf on {item.nodeid} does nothing: the test uses no dualtf fixture "
                    "(dualtf_mode, dualtf_backend)"
                )
            )
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        mode = params.get("dualtf_mode")
        if _wanted(mode, arguments.get("modes"), run_modes) and _wanted(
            params.get("dualtf_strategy"), arguments.get("strategies"), run_strategies
        ):
            keep.append(item)
            if mode in arguments.get("skip", {}):
                item.add_marker(pytest.mark.skip(reason=f"dualtf mode {mode!r}: {arguments['skip'][mode]}"))
            if mode in arguments.get("xfail", {}):
                raises, reason = arguments["xfail"][mode]
                item.add_marker(pytest.mark.xfail(raises=raises, reason=f"dualtf mode {mode!r}: {reason}", strict=True))
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _wanted(value: str | None, marker_values: Sequence[str] | None, run_values: Sequence[str]) -> bool:
    if value is None:
        return True
    return value in run_values and (marker_values is None or value in marker_values)


@pytest.fixture(params=MODES)
def dualtf_mode(request: pytest.FixtureRequest) -> str:
    """The execution mode of this run of the test: one of :data:`dualtf.MODES`.

    A mode this machine cannot run (``xla`` without XLA) skips with the reason. Only ``xla``
    imports TensorFlow here (to ask whether XLA compiles on this machine); the other modes are
    checked when a backend is made, so a test that asks only for the mode's name imports nothing.
    """
    mode: str = request.param
    reason = mode_unavailable_reason(mode) if mode == "xla" or "tensorflow" in sys.modules else None
    if reason is not None:
        pytest.skip(f"dualtf mode {mode!r} is unavailable here: {reason}")
    return mode


@pytest.fixture(params=STRATEGIES)
def dualtf_strategy(request: pytest.FixtureRequest) -> str:
    """The strategy of this run of the test: one of :data:`dualtf.STRATEGIES`.

    A test that asks for it runs once per mode x strategy (ids ``graph-cpu``,
    ``eager-mirrored``, ...), and ``dualtf_backend`` is made with it. A strategy
    this machine cannot run skips with the reason from device discovery.
    """
    from ._strategies import strategy_unavailable_reason

    name: str = request.param
    reason = strategy_unavailable_reason(name)
    if reason is not None:
        pytest.skip(f"dualtf strategy {name!r} is unavailable here: {reason}")
    return name


@pytest.fixture
def dualtf_backend_options(dualtf_mode: str) -> dict[str, Any]:
    """Keyword options for ``dualtf.backend`` in this test's mode: none by default.

    Redefine it in a ``conftest.py`` to give one mode its options, e.g. graph
    mode a ``config``::

        @pytest.fixture
        def dualtf_backend_options(dualtf_mode):
            if dualtf_mode == "graph":
                return {"config": tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)}
            return {}
    """
    return {}


@pytest.fixture
def dualtf_backend(
    dualtf_mode: str, dualtf_backend_options: dict[str, Any], request: pytest.FixtureRequest
) -> Iterator[Any]:
    """An entered ``dualtf.backend(dualtf_mode)``, closed after the test.

    With ``dualtf_strategy`` in the test's arguments the backend runs under that
    strategy; a combination TensorFlow cannot run skips with the reason.

    TensorFlow's ``run_functions_eagerly`` flag, the default graph, the global
    seed and Keras' global state (names, seed generator) are put back after the
    test, so no test sees what another left behind, in any order.
    """
    from ._api import backend
    from ._errors import UnsupportedCombinationError
    from ._global_state import GlobalState, clear_keras_session

    marker = request.node.get_closest_marker(_MARKER)
    seed = marker.kwargs.get("seed") if marker is not None else None
    deterministic = marker.kwargs.get("deterministic_random", False) if marker is not None else False
    state = GlobalState(seeds=False)  # the backend saves and restores the seeds it sets
    strategy = request.getfixturevalue("dualtf_strategy") if "dualtf_strategy" in request.fixturenames else None
    try:
        try:
            be = backend(
                dualtf_mode,
                seed=seed,
                strategy=strategy,
                deterministic_random=deterministic,
                **dualtf_backend_options,
            )
        except UnsupportedCombinationError as exc:
            pytest.skip(str(exc))
        with be:
            if seed is not None:
                request.node.stash[_seeded_backend_key] = be
            request.node.stash[_backend_key] = be
            be.ran = False  # what the test does with it counts, not the fixture's own making and entering
            yield be
    finally:
        leaked = state.default_graph_changed()
        state.restore()
        if not leaked:  # clear_session resets the default graph: only at top level
            clear_keras_session()
    if leaked:
        pytest.fail(
            f"dualtf: after {request.node.nodeid} a different default graph was left entered; "
            "leave every `with graph.as_default()` block the test opened",
            pytrace=False,
        )


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """Seed again just before the test body runs: after every plugin's reseeding.

    pytest-randomly (and plugins like it) reseed Python and NumPy in
    ``pytest_runtest_call``, after fixtures have run; this hook runs inside the
    test call itself, so the marker's seed is the one the test body sees.
    """
    be = pyfuncitem.stash.get(_seeded_backend_key, None)
    if be is not None and not be.closed:
        from ._global_state import seed_everything

        with be.scope():
            seed_everything(be.seed)
        be.ran = False  # the reseeding above used it, not the test
    result = yield
    _check_it_ran(pyfuncitem)
    return result


def _check_it_ran(item: pytest.Function) -> None:
    """A test that asked for a backend and ran nothing in it tested nothing in that mode (chex's rule)."""
    be = item.stash.get(_backend_key, None)
    if be is None or be.ran or not item.config.getini("dualtf_require_run"):
        return
    marker = item.get_closest_marker(_MARKER)
    if marker is not None and marker.kwargs.get("runs_nothing"):
        return
    pytest.fail(
        f"dualtf: {item.nodeid} asked for a backend of mode {be.mode!r} and never used it (no feed, variable, "
        "step, evaluate, dataset or Keras loop of it), so it tested nothing in that mode; use it, or mark the test "
        "@pytest.mark.dualtf(runs_nothing=True) (ini dualtf_require_run = false turns the rule off)",
        pytrace=False,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    if not item.config.getoption("--dualtf-profile"):
        return (yield)
    callspec = getattr(item, "callspec", None)
    mode = callspec.params.get("dualtf_mode") if callspec is not None else None
    if mode is None or "dualtf_backend" not in getattr(item, "fixturenames", ()):
        return (yield)
    start = time.perf_counter()
    try:
        return (yield)
    finally:  # on the report: pytest-xdist sends it from its worker to the controller, which gathers them
        item.user_properties.append((_TIMING, (mode, time.perf_counter() - start)))


class _Timings:
    """Gathers the timings of passed tests (not xfailed, xpassed, failed or skipped) from their reports:
    this process's, or, under pytest-xdist, every worker's (the controller receives their reports)."""

    def __init__(self, timings: list[tuple[str, str, float]]):
        self.timings = timings

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" or not report.passed or hasattr(report, "wasxfail"):
            return
        for name, value in report.user_properties:
            if name == _TIMING:
                mode, seconds = cast("tuple[str, float]", value)
                self.timings.append((report.nodeid, mode, seconds))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    timings = config.stash.get(_timings_key, [])
    if not config.getoption("--dualtf-profile") or not timings or hasattr(config, "workerinput"):
        return
    from .profiler.pytest_summary import write_summary

    write_summary(terminalreporter, timings, config.getoption("--dualtf-profile-json"))
