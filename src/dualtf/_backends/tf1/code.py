"""How every mode runs a step's ``fn``: one list of wrappers, the same in graph, eager, function and xla.

:meth:`StepCode.wrap` gives the modes ``fn`` as they build and run it:

1. eager runs of TF1 code get the backend's TF1 graph and variable store as the defaults
   (the hook the backend gives, :attr:`StepCode.eager_context`) and a gradient tape where
   ``fn`` uses a tensor loss (:mod:`.gradients`);
2. the registry's replacements are held (:func:`.registry.hold`) and this thread's frame
   says which step runs (:mod:`.context`);
3. with ``deterministic_random`` each run draws its random keys in order (:mod:`.random`);
4. TF1's "built once" (:class:`~.build_once.BuildOnce`): a later run gets the first's variables.

No mode reads any of it: a mode builds, traces or calls the wrapped ``fn`` as it would ``fn``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from . import registry
from .build_once import BuildOnce
from .context import Frame, entered
from .random import DeterministicRandom, ReplicaBatch, ReplicaSchedule

__all__ = ["ReplicaRandom", "StepCode", "switch_held"]

_TF1 = ("tf1_calls", "tf1_layers", "tf1_gradients")


class StepCode:
    """One step's ``fn`` as every mode runs it."""

    def __init__(
        self,
        name: str,
        mode: str,
        *,
        variables: Callable[[], list[tf.Variable]],
        random: DeterministicRandom | None = None,
        reuse: StepCode | None = None,
        eager_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    ):
        self.name, self.mode = name, mode
        #: The backend's variables (a TF1 ``minimize(loss)`` without a var_list optimizes its trainable ones).
        self.variables = variables
        self.random = random
        #: What an eager run of TF1 code runs in: the backend's TF1 graph and variable store as the defaults.
        self.eager_context = eager_context
        self.store: BuildOnce = BuildOnce(name, mode, None if reuse is None else reuse.store)
        #: Whether a run that was not eager (a graph build, a trace) saw ``fn`` use a tensor loss.
        self.tensor_loss = False
        #: Whether ``fn`` ran other than eagerly (built or traced): eager runs know then what it is.
        self.traced = False
        self._features = (*_TF1, "deterministic_random") if random is not None else _TF1
        self._random_only = ("deterministic_random",) if random is not None else ()

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as the modes build and run it."""

        def step_code(*args: Any) -> Any:  # AutoGraph converts it, and fn through it: named as written
            return self.run(fn, *args)

        return step_code

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One run of ``fn``."""
        store = self.store
        eager = tf.executing_eagerly()
        # TF1 code (or code never seen traced) gets TF1's graph, store and replacements; an eager
        # call of TF2 code runs without them, as ops run slower with a graph as the default (about
        # 5 µs an op), and with no switch it has nothing to hold: it is a plain call (the hot path)
        tf1 = not eager or store.touched or self.tensor_loss or not self.traced
        if not tf1 and self.random is None:
            return store.call(fn, *args)
        with contextlib.ExitStack() as stack:
            if not eager:
                self.traced = True
            elif tf1:
                stack.enter_context(self.eager_context())
            stack.enter_context(registry.hold(self._features if tf1 else self._random_only))
            frame = stack.enter_context(
                entered(Frame(self.name, self.mode, random=self.random, store=store, code=self))
            )
            if self.random is not None:
                stack.enter_context(self.random.run(first=store.runs == 0))
            if eager and tf1 and (self.tensor_loss or not self.traced):
                frame.tape = stack.enter_context(tf.GradientTape(persistent=True))
            try:
                return store.call(fn, *args)
            except BaseException:
                if not eager and store.runs == 0:  # a failed first build or trace: fn is yet unseen
                    self.traced = self.tensor_loss = False
                raise


def switch_held(random: DeterministicRandom, name: str, mode: str) -> contextlib.ExitStack:
    """Only ``deterministic_random``'s replacements held in this thread, its frame saying that ``name``
    (a replica's run of a step, dualtf's own building) draws from ``random``: code that is not a step's
    TF1 code (:meth:`StepCode.run` holds those with the rest)."""
    stack = contextlib.ExitStack()
    stack.enter_context(registry.hold(["deterministic_random"]))
    stack.enter_context(entered(Frame(name, mode, random=random)))
    return stack


class ReplicaRandom:
    """A distributed step's ``fn`` as each replica runs it with ``deterministic_random``: the switch's
    replacements held in the replica's thread, and each random draw told where the replica's rows are
    in the global batch (:meth:`.random.DeterministicRandom._per_replica`), so that every example draws
    what it draws on one device. Only the switch: under a strategy a step's TF1 code runs as it is."""

    def __init__(self, random: DeterministicRandom, name: str, mode: str, replicas: int, split: list[bool]):
        self.random, self.name, self.mode = random, name, mode
        self.replicas, self.split = replicas, split
        self.schedule = ReplicaSchedule(name, mode)

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` as one replica runs it."""

        def replica_code(*args: Any) -> Any:
            batched = [a for a, split in zip(args, self.split, strict=True) if split]
            size = tf.shape(batched[0])[0] if batched else tf.constant(0)
            index = tf.distribute.get_replica_context().replica_id_in_sync_group
            batch = ReplicaBatch.even(self.replicas, index, size, self.schedule)
            with (
                switch_held(self.random, self.name, self.mode),
                self.random.run(first=self.schedule.runs == 0, batch=batch),
            ):
                return fn(*args)

        return replica_code

    def ran(self) -> None:
        """One run of the step (every replica's) ended."""
        self.schedule.runs += 1
