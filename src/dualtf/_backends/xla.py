"""xla: the function mode, compiled by XLA (``jit_compile=True``)."""

from __future__ import annotations

from .function import FunctionBackend

__all__ = ["XlaBackend"]


class XlaBackend(FunctionBackend):
    """``tf.function(jit_compile=True)``: XLA compiles the traced graph on the first call."""

    mode = "xla"
    jit_compile = True
