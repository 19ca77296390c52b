"""Rendering a profile: text table, JSON, CSV, Markdown and a PNG plot."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from .._errors import DualTFError
from .._tables import text_table

__all__ = ["ModeProfile", "ProfileReport"]


@dataclass(frozen=True)
class ModeProfile:
    """What one mode (and strategy) measured for one program. Times in seconds."""

    mode: str
    strategy: str
    build_s: float
    first_call_s: float
    median_s: float
    p10_s: float
    p90_s: float
    calls: int
    examples_per_s: float | None
    traces: int | None
    op_count: int | None
    #: The process's resident memory after the mode's block ran, and its change over the block.
    host_rss_bytes: int
    host_rss_change_bytes: int
    #: The first GPU's peak memory over the block, and its memory in use after it (None without a GPU).
    device_peak_bytes: int | None
    #: Steps one call runs (a fused step, ``steps_per_call=K``); the timings are per call.
    steps_per_call: int = 1
    device_current_bytes: int | None = None

    @property
    def median_step_s(self) -> float:
        """The median time of one step: per call over the steps each call runs."""
        return self.median_s / self.steps_per_call


def _time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def _opt(value: Any, fmt: str = "{}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _device(current: int | None, peak: int | None) -> str:
    """``now / peak MiB`` of the GPU, ``n/a`` without one."""
    if peak is None:
        return "n/a"
    now = "?" if current is None else f"{current / 2**20:.1f}"
    return f"{now} / {peak / 2**20:.1f} MiB"


@dataclass(frozen=True)
class ProfileReport:
    """The modes of one program side by side, with what the figures stand on.

    >>> from dualtf.profiler import profile
    >>> from dualtf.examples import feeds_sum
    >>> report = profile(feeds_sum, {"a": [1, 2], "b": [3, 4]}, modes=["eager", "graph"], steps=20)
    >>> [row.mode for row in report.rows], all(row.calls == 20 for row in report.rows)
    (['eager', 'graph'], True)
    >>> "median" in report.table()
    True
    """

    program: str
    rows: tuple[ModeProfile, ...]
    tensorflow: str
    device: str
    python: str
    #: ``(mode, strategy, reason)`` for each cell TensorFlow cannot run.
    skipped: tuple[tuple[str, str, str], ...] = ()

    @property
    def fastest(self) -> ModeProfile:
        """The row with the smallest steady-state median."""
        return min(self.rows, key=lambda r: r.median_s)

    def ratio(self, row: ModeProfile) -> float:
        """``row``'s median over the fastest row's median (1.0 for the fastest)."""
        return row.median_s / self.fastest.median_s

    def _cells(self) -> tuple[list[str], list[list[str]]]:
        header = [
            "mode",
            "build",
            "first call",
            "median",
            "p10–p90",
            "× fastest",
            "calls",
            "examples/s",
            "traces",
            "ops",
            "host RSS (Δ)",
            "device now / peak",
        ]
        with_strategy = any(r.strategy != "default" for r in self.rows)
        if with_strategy:
            header.insert(1, "strategy")
        fused = any(r.steps_per_call > 1 for r in self.rows)
        if fused:
            header[header.index("median")] = "median / call"
            header.insert(header.index("p10–p90"), "steps/call")
            header.insert(header.index("p10–p90"), "median / step")
        body = []
        for r in self.rows:
            cells = [
                r.mode,
                _time(r.build_s),
                _time(r.first_call_s),
                _time(r.median_s),
                f"{_time(r.p10_s)} – {_time(r.p90_s)}",
                f"{self.ratio(r):.2f}×",
                str(r.calls),
                _opt(r.examples_per_s, "{:,.0f}"),
                _opt(r.traces),
                _opt(r.op_count),
                f"{r.host_rss_bytes / 2**20:.0f} MiB ({r.host_rss_change_bytes / 2**20:+.1f})",
                _device(r.device_current_bytes, r.device_peak_bytes),
            ]
            if with_strategy:
                cells.insert(1, r.strategy)
            if fused:
                at = header.index("steps/call")
                cells[at:at] = [str(r.steps_per_call), _time(r.median_step_s)]
            body.append(cells)
        return header, body

    def footer(self) -> str:
        """The line that says what every figure stands on."""
        text = (
            f"TensorFlow {self.tensorflow} · device {self.device} · Python {self.python} · "
            "median and p10–p90 over the 'calls' column of timed calls after warm-up"
        )
        for mode, strategy, _ in self.skipped:
            text += f"\nnot run: {mode} × {strategy} (TensorFlow cannot run it; see docs/strategies.md)"
        return text

    def table(self, width: int = 160) -> str:
        """A text table of the modes side by side, with ratios against the fastest."""
        header, body = self._cells()
        title = f"dualtf profile: {self.program}"
        return text_table(title, header, body, caption=self.footer(), left=["strategy"], width=width, no_wrap=True)

    def to_markdown(self) -> str:
        """A Markdown table (for docs and pull requests)."""
        header, body = self._cells()
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(cells) + " |" for cells in body]
        return f"**{self.program}**\n\n" + "\n".join(lines) + f"\n\n{self.footer()}\n"

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain Python values."""
        return {
            "program": self.program,
            "tensorflow": self.tensorflow,
            "device": self.device,
            "python": self.python,
            "rows": [{**asdict(r), "ratio_to_fastest": self.ratio(r)} for r in self.rows],
            "skipped": [{"mode": m, "strategy": s, "reason": why} for m, s, why in self.skipped],
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text)
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text, one row per mode with the TensorFlow version and device; also written to ``path``."""
        out = io.StringIO()
        names = ["program", "tensorflow", "device"] + [f.name for f in fields(ModeProfile)] + ["ratio_to_fastest"]
        writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        for row in self.to_dict()["rows"]:
            writer.writerow({"program": self.program, "tensorflow": self.tensorflow, "device": self.device, **row})
        if path is not None:
            Path(path).write_text(out.getvalue())
        return out.getvalue()

    def plot(self, path: str | Path) -> Path:
        """A PNG bar chart of the median step time per mode, with p10–p90 whiskers.

        Needs matplotlib (``pip install 'dualtf[plot]'``).
        """
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise DualTFError(
                "ProfileReport.plot() needs matplotlib, which is not installed. "
                "Install it with: pip install 'dualtf[plot]'."
            ) from None
        labels = [r.mode if r.strategy == "default" else f"{r.mode}\n{r.strategy}" for r in self.rows]
        medians = [r.median_s * 1e3 for r in self.rows]
        lower = [(r.median_s - r.p10_s) * 1e3 for r in self.rows]
        upper = [(r.p90_s - r.median_s) * 1e3 for r in self.rows]
        fig, ax = plt.subplots(figsize=(1.6 * len(self.rows) + 2.5, 4))
        bars = ax.bar(labels, medians, yerr=[lower, upper], capsize=6, color="#4c72b0")
        for bar, r in zip(bars, self.rows, strict=True):
            ax.annotate(
                f"{self.ratio(r):.2f}×",
                (bar.get_x() + bar.get_width() / 2, r.p90_s * 1e3),
                xytext=(0, 4),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        if max(medians) > 20 * min(medians):  # modes often differ by orders of magnitude
            ax.set_yscale("log")
        ax.set_ylabel("step time, ms (median, p10–p90)")
        ax.set_title(f"dualtf profile: {self.program}")
        fig.text(
            0.01,
            0.01,
            f"TensorFlow {self.tensorflow} · {self.device} · calls: {', '.join(str(r.calls) for r in self.rows)}",
            fontsize=7,
        )
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        out = Path(path)
        fig.savefig(out, dpi=110)
        plt.close(fig)
        return out
