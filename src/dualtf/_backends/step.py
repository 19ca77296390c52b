"""``Step``: what :meth:`dualtf.Backend.function` returns, the same in every mode."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, StepError, error_message, format_error, tf_cause
from .._feeds import Feed, bind_arguments
from .._modes import Mode

__all__ = ["Compiled", "Step"]

Values = list[np.ndarray]


#: Ops that call back into Python (tf.py_function, tf.numpy_function, tf.compat.v1.py_func).
_PYTHON_OPS = frozenset({"EagerPyFunc", "PyFunc", "PyFuncStateless"})


class Compiled(NamedTuple):
    """What a mode's ``_compile`` hook returns: how to run a step, and what it knows about it."""

    #: Runs one step on checked values, one per feed; returns NumPy in fn's structure.
    run: Callable[[Values], Any]
    #: Ops in the graph built for the step (graph) or its traced function (function, xla).
    op_count: int | None = None
    #: How many times fn was traced so far (function, xla).
    trace_count: Callable[[], int] | None = None
    #: Runs one step with full tracing and returns its Chrome trace (graph).
    chrome_trace: Callable[[Values], str] | None = None
    #: ``(type, name)`` of the step's ops (eager: its trace's; none for an eager-only fn, never traced);
    #: function, xla and eager: those of the functions it calls too (graph: see :attr:`nested_ops`).
    ops: tuple[tuple[str, str], ...] = ()
    #: The ops of the functions a graph step calls (loop bodies, cond branches), listed only when asked
    #: (listing them serializes the whole graph).
    nested_ops: Callable[[], tuple[tuple[str, str], ...]] | None = None
    #: The user's line that made an op, by the op's name, where the mode can tell.
    op_line: Callable[[str], str | None] | None = None
    #: How a call reaches TensorFlow: "session callable", "python", "inference function", "concrete function".
    call_path: str = "python"
    #: The variables the step reads or writes, where the mode can tell (function, xla, eager: the trace's).
    variables: tuple[Any, ...] = ()
    #: The dtypes of the traced function's results (function, xla, eager: the trace's).
    result_dtypes: tuple[Any, ...] = ()
    #: What one step returns: fn's structure with a ``tf.TensorSpec`` (or None) per leaf.
    result_spec: Any = None

    def all_ops(self) -> tuple[tuple[str, str], ...]:
        """:attr:`ops` and :attr:`nested_ops`."""
        return self.ops if self.nested_ops is None else self.ops + self.nested_ops()


class Step:
    """A compiled step: call it with one value per feed, get NumPy back.

    Values go positionally in feed order or by feed name; each is checked
    against its feed before TensorFlow runs anything. The result keeps the
    nested structure (tensor, tuple, list, dict) that ``fn`` returned.

    >>> import dualtf, tensorflow as tf
    >>> with dualtf.backend("function") as be:
    ...     x = be.feed("x", tf.float32, shape=[None])
    ...     double = be.function(lambda x: {"y": 2 * x}, [x])
    ...     double(x=[1, 2])["y"].tolist()
    [2.0, 4.0]
    """

    __slots__ = (
        "__weakref__",
        "_check_open",
        "_checks",
        "_compiled",
        "_run",
        "feeds",
        "mode",
        "name",
        "steps_per_call",
    )

    def __init__(
        self,
        mode: Mode,
        feeds: Sequence[Feed],
        compiled: Compiled,
        *,
        check_open: Callable[[], None],
        checks: Sequence[Callable[[Values], None]] = (),
        name: str = "step",
        steps_per_call: int = 1,
    ):
        #: The step's feeds, in the order it takes values.
        self.feeds: tuple[Feed, ...] = tuple(feeds)
        #: The mode of the backend that compiled it.
        self.mode: Mode = mode
        #: The name of ``fn`` (``<lambda>`` for a lambda), as errors name the step.
        self.name = name
        #: Steps of ``fn`` one call runs (``be.function(..., steps_per_call=K)``); feeds are stacked K deep.
        self.steps_per_call = steps_per_call
        self._compiled = compiled
        self._run = compiled.run
        self._check_open = check_open
        self._checks = tuple(checks)

    @property
    def op_count(self) -> int | None:
        """Ops in the graph built for this step (graph) or in its traced function (function, xla); None in eager."""
        return self._compiled.op_count

    @property
    def call_path(self) -> str:
        """How a call reaches TensorFlow: graph ``"session callable"`` (C++ MakeCallable),
        eager ``"python"``, function and xla ``"inference function"`` (the call
        ``ConcreteFunction.__call__`` ends in), or ``"concrete function"`` if
        TensorFlow lacks that lower call."""
        return self._compiled.call_path

    @property
    def trace_count(self) -> int | None:
        """How many times ``fn`` was traced (function, xla); ``None`` in other modes."""
        count = self._compiled.trace_count
        return None if count is None else count()

    def bind(self, *args: Any, **kwargs: Any) -> Values:
        """The values a call with these arguments would run on, checked against the feeds.

        >>> import dualtf, tensorflow as tf
        >>> with dualtf.backend("eager") as be:
        ...     n = be.feed("n", tf.int32, shape=[None])
        ...     (values,) = be.function(tf.abs, [n]).bind(n=[1.0, -2.0])
        >>> values.dtype, values.tolist()
        (dtype('int32'), [1, -2])
        """
        self._check_open()
        values = bind_arguments(self.feeds, args, kwargs)
        for check in self._checks:
            check(values)
        return values

    def chrome_trace(self, *args: Any, **kwargs: Any) -> str:
        """Run one step with full tracing; return its Chrome trace (JSON text). Graph mode only.

        The step really runs, side effects included. For the other modes use
        TensorBoard's profiler (``dualtf.profiler.profile(..., trace_dir=...)``).
        """
        trace = self._compiled.chrome_trace
        if trace is None:
            raise DualTFError(
                format_error("Step.chrome_trace()", "called on a step of mode 'graph'", f"a step of mode {self.mode!r}")
            )
        return trace(self.bind(*args, **kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self.bind(*args, **kwargs)
        try:
            return self._run(values)
        except RuntimeError:  # a Session closed by another thread between the check and the run
            self._check_open()
            raise
        except tf.errors.OpError as exc:
            self._check_open()  # closed by another thread while this call ran: say that
            raise self._failed(f"{type(exc).__name__}: {tf_cause(exc.message)}") from exc
        except Exception as exc:
            if isinstance(exc, DualTFError) or not any(op in _PYTHON_OPS for op, _ in self._compiled.ops):
                raise
            # a step holding tf.py_function / numpy_function: run eagerly, their Python raises its own error
            # where a Session or a traced function gives an OpError; the same StepError for both
            raise self._failed(f"{type(exc).__name__} (in the step's Python function?): {exc}") from exc

    def _failed(self, received: str) -> StepError:
        return StepError(
            error_message(
                f"Step `{self.name}` of mode {self.mode!r} failed while TensorFlow ran it; variables it "
                "updated before the failing op may keep their new values (docs/modes.md, 'Failing steps').",
                received,
            )
        )

    def __repr__(self) -> str:
        return f"Step({self.name!r}, mode={self.mode!r}, feeds={[f.name for f in self.feeds]})"
