"""``be.keras(model)``: Keras ``fit``, ``evaluate`` and ``predict`` that follow the backend's mode.

Every mode runs Keras' own loop: eager, function and xla with ``run_eagerly`` /
``jit_compile`` set for the mode (and the model's own settings put back after); graph mode
the same loop with its steps run by the Session (``graph_keras.py``, a subclass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .tf1.random import ReplicaSchedule

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["KerasLoop", "ModelRunner"]

_FUNCTIONS = ("train_function", "test_function", "predict_function")
_STEPS = ("train_step", "test_step", "predict_step")


class ModelRunner:
    """What ``be.keras(model)`` returns: ``fit``, ``evaluate`` and ``predict`` in the backend's mode."""

    #: The Keras model it runs.
    model: Any

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """``model.fit(x, y, **kwargs)`` in this mode; returns Keras' ``History``."""
        raise NotImplementedError

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        """``model.evaluate(x, y, **kwargs)`` in this mode."""
        raise NotImplementedError

    def predict(self, x: Any, **kwargs: Any) -> Any:
        """``model.predict(x, **kwargs)`` in this mode."""
        raise NotImplementedError


class KerasLoop(ModelRunner):
    """Keras' own loop, with the model compiled as the mode says.

    Only the model's steps are dualtf's: with ``deterministic_random`` they draw from the backend's
    generator (the registry held while ``train_step``, ``test_step`` or ``predict_step`` runs or is
    traced); the loop around them — data adapters, shuffling, callbacks — is Keras' and TensorFlow's own.
    """

    #: Whether the model's steps are wrapped here (graph mode runs them as steps of its own instead).
    _hold_in_steps = True

    def __init__(self, backend: Backend, model: Any, *, run_eagerly: bool, jit_compile: bool):
        self.backend = backend
        self.model = model
        self._settings = {"run_eagerly": run_eagerly, "jit_compile": jit_compile}
        self._functions: dict[str, Any] = {}
        self._compiled_as: tuple[Any, ...] | None = None

    def _check(self) -> None:
        """Refused before Keras runs anything: a closed backend, a model with another backend's variables."""
        be, model = self.backend, self.model
        be._check_open()
        for var in model.variables:
            be._check_variable(var, f"Variable `{getattr(var, 'path', var.name)}` of model `{model.name}`")

    def _held_step(self, step: Callable[[Any], Any], name: str) -> Callable[[Any], Any]:
        be = self.backend
        schedule = ReplicaSchedule(f"{self.model.name}.{name}", be.mode)

        def held(data: Any) -> Any:
            with be._dualtf_building("keras step"):
                data, draws = be._keras_replica_draws(data, schedule)
                with draws:
                    return step(data)

        return held

    def _compiled(self) -> tuple[Any, ...]:
        """What ``model.compile`` makes anew each time: a change means Keras' functions must be made again."""
        return (self.model.optimizer, *self.model.metrics, self.model.steps_per_execution)

    def _recompiled(self) -> None:
        """The model was compiled again since the last call: forget what was built for the old compile."""
        self._functions = {}

    @contextmanager
    def _mode(self) -> Iterator[None]:
        self._check()
        model = self.model
        compiled, before = self._compiled(), self._compiled_as
        if (
            before is None
            or len(compiled) != len(before)
            or any(a is not b and not (isinstance(a, int) and a == b) for a, b in zip(compiled, before, strict=True))
        ):
            self._recompiled()
        self._compiled_as = compiled
        saved = {name: getattr(model, name) for name in (*self._settings, *_FUNCTIONS)}
        wrapped = self._hold_in_steps and self.backend._random is not None
        try:
            for name, value in self._settings.items():
                setattr(model, name, value)
            for name in _FUNCTIONS:  # this mode's functions, traced (and compiled) once, kept between calls
                setattr(model, name, self._functions.get(name))
            if wrapped:  # Keras makes its functions from these attributes: the instance's shadow the class's
                for name in _STEPS:
                    setattr(model, name, self._held_step(getattr(model, name), name))
            yield
        finally:
            if wrapped:
                for name in _STEPS:
                    vars(model).pop(name, None)
            self._functions = {name: getattr(model, name) for name in _FUNCTIONS}
            for name, value in saved.items():  # the model's own settings and functions, as they were
                setattr(model, name, value)

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.fit(x, y, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.evaluate(x, y, **kwargs)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        with self._mode():
            return self.model.predict(x, **kwargs)
