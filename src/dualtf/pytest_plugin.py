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
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from ._modes import MODES, mode_unavailable_reason
from ._strategies import STRATEGIES

__all__ = ["dualtf_backend", "dualtf_mode", "dualtf_strategy"]

_MARKER = "dualtf"
_MARKER_KEYWORDS = ("modes", "strategies", "seed")
_modes_key = pytest.StashKey[tuple[str, ...]]()
_timings_key = pytest.StashKey[list[tuple[str, str, float]]]()


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


def _check_modes(modes: Sequence[Any], where: str) -> tuple[str, ...]:
    for mode in modes:
        if mode not in MODES:
            raise pytest.UsageError(
                f"{where}: every mode must be one of {', '.join(MODES)}. Received: unknown mode {mode!r}."
            )
    return tuple(modes)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "dualtf(modes=None, seed=None): run this test only in the given dualtf modes; "
        "seed is passed to dualtf.backend",
    )
    option = config.getoption("--dualtf-modes")
    if option is not None:
        modes = _check_modes([m.strip() for m in option.split(",") if m.strip()], "--dualtf-modes")
    else:
        modes = _check_modes(config.getini("dualtf_modes"), "ini option dualtf_modes") or MODES
    config.stash[_modes_key] = modes
    config.stash[_timings_key] = []
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
        raise pytest.UsageError(f"{where}: arguments must be keywords ({', '.join(_MARKER_KEYWORDS)}). Received: {marker.args!r}.")
    for key in marker.kwargs:
        if key not in _MARKER_KEYWORDS:
            raise pytest.UsageError(
                f"{where}: every keyword must be one of {', '.join(_MARKER_KEYWORDS)}. Received: unknown keyword {key!r}."
            )
    modes = marker.kwargs.get("modes")
    if modes is not None:
        _check_modes([modes] if isinstance(modes, str) else list(modes), where)
    strategies = marker.kwargs.get("strategies")
    for name in [strategies] if isinstance(strategies, str) else list(strategies or []):
        if name not in STRATEGIES:
            raise pytest.UsageError(
                f"{where}: every strategy must be one of {', '.join(STRATEGIES)}. Received: unknown strategy {name!r}."
            )
    return dict(marker.kwargs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_modes = config.stash[_modes_key]
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        arguments = _marker_arguments(item)  # validated for every marked test, parametrized or not
        params = getattr(item, "callspec", None)
        params = params.params if params is not None else {}
        if _wanted(params.get("dualtf_mode"), arguments.get("modes"), run_modes) and _wanted(
            params.get("dualtf_strategy"), arguments.get("strategies"), STRATEGIES
        ):
            keep.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def _wanted(value: str | None, marker_values: Any, run_values: Sequence[str]) -> bool:
    if value is None:
        return True
    if isinstance(marker_values, str):
        marker_values = [marker_values]
    return value in run_values and (marker_values is None or value in marker_values)


@pytest.fixture(params=MODES)
def dualtf_mode(request: pytest.FixtureRequest) -> str:
    """The execution mode of this run of the test: one of :data:`dualtf.MODES`.

    A mode this machine cannot run (``xla`` without XLA) skips with the reason.
    """
    mode: str = request.param
    reason = mode_unavailable_reason(mode)
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
def dualtf_backend(dualtf_mode: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """An entered ``dualtf.backend(dualtf_mode)``, closed after the test.

    With ``dualtf_strategy`` in the test's arguments the backend runs under that
    strategy; a combination TensorFlow cannot run skips with the reason.

    TensorFlow's ``run_functions_eagerly`` flag, the default graph, the global
    seed and Keras' global state (names, seed generator) are put back after the
    test, so no test sees what another left behind, in any order.
    """
    import tensorflow as tf

    import dualtf

    marker = request.node.get_closest_marker(_MARKER)
    seed = marker.kwargs.get("seed") if marker is not None else None
    functions_eagerly = tf.config.functions_run_eagerly()
    default_graph = tf.compat.v1.get_default_graph()
    strategy = request.getfixturevalue("dualtf_strategy") if "dualtf_strategy" in request.fixturenames else None
    try:
        try:
            be = dualtf.backend(dualtf_mode, seed=seed, strategy=strategy)
        except dualtf.UnsupportedCombinationError as exc:
            pytest.skip(str(exc))
        with be:
            yield be
    finally:
        leaked = tf.compat.v1.get_default_graph() is not default_graph
        tf.config.run_functions_eagerly(functions_eagerly)
        if seed is not None:
            tf.random.set_seed(None)
        keras = sys.modules.get("keras")
        if keras is not None and not leaked:  # clear_session resets the default graph: only at top level
            keras.backend.clear_session(free_memory=False)
    if leaked:
        pytest.fail(
            f"dualtf: after {request.node.nodeid} a different default graph was left entered; "
            "leave every `with graph.as_default()` block the test opened",
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
    finally:
        item.config.stash[_timings_key].append((item.nodeid, mode, time.perf_counter() - start))


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    timings = config.stash.get(_timings_key, [])
    if not config.getoption("--dualtf-profile") or not timings:
        return
    from .profiler.pytest_summary import write_summary

    write_summary(terminalreporter, timings, config.getoption("--dualtf-profile-json"))
