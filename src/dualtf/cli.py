"""The ``dualtf`` command: ``profile``, ``compare``, ``migrate-check`` and ``demo``.

Exit status: 0 when all went well; 1 when the program failed in a mode (built or ran: the
mode and the error on one line, the traceback with ``--traceback``) or, for ``compare``,
when modes disagree, for ``migrate-check``, when the rewrite differs from the reference;
2 for bad input (an unknown mode, a program that cannot be imported
or returns no step, feeds that do not match, an unwritable output path), one line on stderr
before anything is measured. TensorFlow's start-up log lines are kept off stderr
(``--tf-logs`` shows them).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._errors import (
    DualTFError,
    FeedError,
    MigrationError,
    ModeError,
    NotInstalledError,
    ProgramLoadError,
    StrategyError,
    error_message,
)
from ._modes import MODES, parse_modes
from ._paths import writable_file
from .program import Program, load_program

__all__ = ["main"]

USAGE_ERROR = 2
PROGRAM_FAILED = 1
#: What the user gave wrong (or has not installed), wherever raised: exit 2. Any other DualTFError raised
#: before a program ran is bad input too; anything a program raises while it runs in a mode: exit 1.
_BAD_INPUT = (ProgramLoadError, ModeError, StrategyError, FeedError, NotInstalledError, MigrationError)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dualtf")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without installing
        return "unknown"


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow (and find its devices) with stderr closed: TensorFlow 2.21 writes its start-up
    lines before it reads TF_CPP_MIN_LOG_LEVEL. An import error is raised as usual, stderr restored."""
    if "tensorflow" in sys.modules:
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (captured in tests): nothing to hide
        return
    sys.stderr.flush()
    saved, devnull = os.dup(fd), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        import tensorflow as tf

        tf.config.list_physical_devices()
    except ImportError:  # no TensorFlow: the command says what to install when it needs it
        pass
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


def _load_feeds(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            flat = {name: data[name] for name in data.files}
    except (OSError, ValueError) as exc:
        raise DualTFError(error_message("--feeds must be a readable .npz file.", f"{path!r} ({exc})")) from None
    if not any("/" in name for name in flat):
        return flat
    nested: dict[str, Any] = {}  # "STEP/FEED" keys: the feeds of a program with several steps
    for name, value in flat.items():
        step, sep, feed = name.partition("/")
        if not sep or not feed:
            raise DualTFError(
                error_message(
                    "--feeds keys must all be FEED, or all STEP/FEED for a program with several steps.", repr(name)
                )
            )
        nested.setdefault(step, {})[feed] = value
    return nested


def _tolerance_argument(text: str) -> tuple[str | None, float]:
    """argparse ``type=`` for ``--rtol`` / ``--atol``: ``VALUE`` or ``MODE=VALUE``."""
    mode, sep, number = text.rpartition("=")
    try:
        modes = parse_modes(mode) if sep else (None,)
        return modes[0], float(number)
    except (DualTFError, ValueError) as exc:
        raise argparse.ArgumentTypeError(
            error_message("A tolerance must be a number, or MODE=number such as xla=1e-4.", f"{text!r} ({exc})")
        ) from None


def _tolerance(given: list[tuple[str | None, float]] | None, default: float) -> float | dict[str, float]:
    """One number for every mode, or a dict per mode (modes left out get ``default``)."""
    if not given:
        return default
    overall = [value for mode, value in given if mode is None]
    per_mode = {mode: value for mode, value in given if mode is not None}
    if not per_mode:
        return overall[-1]
    base = overall[-1] if overall else default
    return {mode: per_mode.get(mode, base) for mode in MODES}


def _modes_argument(text: str) -> tuple[str, ...]:
    """argparse ``type=`` for ``--modes``: the library's one mode-list parser."""
    try:
        return parse_modes(text)
    except DualTFError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _check_outputs(*paths_and_flags: tuple[str | None, str]) -> None:
    for path, flag in paths_and_flags:
        if path is not None:
            writable_file(path, flag)


class _Progress:
    """A transient progress line on a terminal, for runs longer than a second."""

    def __init__(self, total_label: str) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True
        )
        self._label = total_label
        self._task: Any = None

    def __enter__(self) -> _Progress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(None, None, None)

    def on_mode(self, mode: str, index: int, total: int) -> None:
        description = f"{self._label}: mode {mode} ({index + 1}/{total})"
        if self._task is None:
            self._task = self._progress.add_task(description, total=total)
        self._progress.update(self._task, description=description, completed=index)


def _profile_one(program: Program, feeds: dict[str, Any], args: argparse.Namespace, name: str) -> Any:
    from .profiler import profile

    with _Progress(f"profiling {name}") as progress:
        return profile(
            program,
            feeds,
            modes=args.modes,
            steps=args.steps,
            min_time=args.min_time,
            trace_dir=args.trace_dir,
            name=name,
            on_mode=progress.on_mode,
        )


def _cmd_profile(args: argparse.Namespace) -> int:
    _check_outputs((args.json, "--json"), (args.csv, "--csv"), (args.plot, "--plot"))
    program = load_program(args.program)
    report = _profile_one(program, _load_feeds(args.feeds), args, args.program)
    print(report.table())
    if args.json:
        report.to_json(args.json)
    if args.csv:
        report.to_csv(args.csv)
    if args.plot:
        report.plot(args.plot)
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .testing import assert_modes_agree

    modes = args.modes
    if modes is not None and len(set(modes)) < 2:
        raise ModeError(error_message("--modes of compare must name at least two different modes.", ",".join(modes)))
    program = load_program(args.program)
    feeds = _load_feeds(args.feeds)
    try:
        rtol, atol = _tolerance(args.rtol, 1e-5), _tolerance(args.atol, 1e-6)
        assert_modes_agree(program, feeds, steps=args.steps, modes=modes, rtol=rtol, atol=atol)
    except AssertionError as exc:
        print(f"dualtf compare: {args.program}: {exc}", file=sys.stderr)
        divergence = getattr(exc, "divergence", None)
        if args.json and divergence is not None:
            Path(args.json).write_text(divergence.to_json())
        return 1
    print(
        f"dualtf compare: {args.program}: outputs and variables agree in modes {', '.join(modes or _available())} "
        f"after {args.steps} step(s) (rtol={rtol}, atol={atol})"
    )
    return 0


def _cmd_migrate_check(args: argparse.Namespace) -> int:
    from .testing import migration_report

    _check_outputs((args.json, "--json"))
    reference, candidate = load_program(args.reference), load_program(args.candidate)
    mapping = dict(args.map or [])
    report = migration_report(
        reference,
        candidate,
        _load_feeds(args.feeds),
        steps=args.steps,
        modes=args.modes,
        reference_mode=args.reference_mode,
        variable_map=mapping,
        copy_initial=args.copy_initial,
        rtol=args.rtol,
        atol=args.atol,
    )
    print(report.table())
    if args.json:
        Path(args.json).write_text(report.to_json())
    return 0 if report.ok else 1


def _map_argument(text: str) -> tuple[str, str]:
    old, sep, new = text.partition("=")
    if not sep or not old or not new:
        raise argparse.ArgumentTypeError(f"expected REFERENCE_NAME=CANDIDATE_NAME. Received: {text!r}")
    return old, new


def _available() -> Sequence[str]:
    from ._modes import available_modes

    return available_modes()


def _cmd_demo(args: argparse.Namespace) -> int:
    from .examples import EXAMPLES

    _check_outputs((args.markdown, "--markdown"), (args.plot, "--plot"))
    reports = []
    for example in EXAMPLES:
        args.trace_dir = None
        report = _profile_one(example.program, example.make_feeds(), args, example.name)
        reports.append(report)
        print(report.table())
    if args.markdown:
        Path(args.markdown).write_text("\n".join(r.to_markdown() for r in reports))
    if args.plot:
        reports[-1].plot(args.plot)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dualtf", description="Run, compare and profile one TensorFlow program in every mode."
    )
    parser.add_argument("--version", action="version", version=f"dualtf {_version()}")
    parser.add_argument(
        "--traceback", action="store_true", help="print the traceback when a program fails (default: one line)"
    )
    parser.add_argument("--tf-logs", action="store_true", help="show TensorFlow's start-up log lines (default: hidden)")
    sub = parser.add_subparsers(dest="command", required=True)

    def measured(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--modes", type=_modes_argument, help=f"comma-separated modes (default: all available of {','.join(MODES)})"
        )
        p.add_argument(
            "--steps", type=int, default=None, help="timed calls per mode (default: calibrated to --min-time)"
        )
        p.add_argument(
            "--min-time",
            type=float,
            default=0.5,
            help="seconds the calibrated timed loop lasts at least (default: 0.5)",
        )

    prof = sub.add_parser("profile", help="profile PROGRAM in every mode side by side")
    prof.add_argument(
        "program", metavar="MODULE:PROGRAM", help="a function taking a backend and returning be.function(...)"
    )
    prof.add_argument("--feeds", metavar="FILE.npz", help="one call's feed values, by feed name (default: no feeds)")
    measured(prof)
    prof.add_argument("--json", metavar="FILE", help="also write the report as JSON (default: not written)")
    prof.add_argument("--csv", metavar="FILE", help="also write the report as CSV (default: not written)")
    prof.add_argument(
        "--plot", metavar="FILE.png", help="also plot step times per mode (needs matplotlib; default: no plot)"
    )
    prof.add_argument("--trace-dir", metavar="DIR", help="write a TensorBoard profile per mode (default: none)")
    prof.set_defaults(run=_cmd_profile)

    comp = sub.add_parser("compare", help="check that PROGRAM gives the same outputs and variables in every mode")
    comp.add_argument("program", metavar="MODULE:PROGRAM")
    comp.add_argument("--feeds", metavar="FILE.npz", help="one call's feed values, by feed name (default: no feeds)")
    comp.add_argument("--modes", type=_modes_argument, help="comma-separated modes (default: all available)")
    comp.add_argument("--steps", type=int, default=1, help="calls per mode (default: 1)")
    comp.add_argument(
        "--rtol",
        type=_tolerance_argument,
        action="append",
        metavar="[MODE=]VALUE",
        help="relative tolerance, for every mode or one mode (repeat: --rtol 1e-5 --rtol xla=1e-4; default: 1e-5)",
    )
    comp.add_argument(
        "--atol",
        type=_tolerance_argument,
        action="append",
        metavar="[MODE=]VALUE",
        help="absolute tolerance, for every mode or one mode (repeatable; default: 1e-6)",
    )
    comp.add_argument(
        "--json",
        metavar="FILE",
        help="on a difference, write where the modes first part as JSON (default: not written)",
    )
    comp.set_defaults(run=_cmd_compare)

    mig = sub.add_parser(
        "migrate-check",
        help="check a rewrite (CANDIDATE) against the TF1 program it rewrites (REFERENCE), as TF's guide asks",
    )
    mig.add_argument("reference", metavar="MODULE:REFERENCE", help="the program as it was (TF1, in dualtf form)")
    mig.add_argument("candidate", metavar="MODULE:CANDIDATE", help="its rewrite")
    mig.add_argument("--feeds", metavar="FILE.npz", help="one call's feed values, by feed name (default: no feeds)")
    mig.add_argument("--modes", type=_modes_argument, help="the candidate's modes (default: all available)")
    mig.add_argument("--reference-mode", default="graph", help="the reference's mode (default: graph)")
    mig.add_argument("--steps", type=int, default=3, help="calls of each program (default: 3)")
    mig.add_argument(
        "--map",
        type=_map_argument,
        action="append",
        metavar="OLD=NEW",
        help="pair the reference's variable OLD with the candidate's NEW (repeatable; default: by name, then order)",
    )
    mig.add_argument(
        "--copy-initial", action="store_true", help="start the candidate from the reference's initial values"
    )
    mig.add_argument("--rtol", type=float, default=None, help="relative tolerance (default: 1e-5; float16 1e-2)")
    mig.add_argument("--atol", type=float, default=None, help="absolute tolerance (default: 1e-6; float16 1e-2)")
    mig.add_argument("--json", metavar="FILE", help="also write the report as JSON (default: not written)")
    mig.set_defaults(run=_cmd_migrate_check)

    demo = sub.add_parser("demo", help="profile the example programs (dualtf.examples) in every mode")
    measured(demo)
    demo.set_defaults(min_time=0.2)
    demo.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown (default: not written)")
    demo.add_argument("--plot", metavar="FILE.png", help="also plot the MLP step per mode (default: no plot)")
    demo.set_defaults(run=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dualtf`` command; returns the exit status.

    >>> main(["profile", "no_colon"])
    2
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    if getattr(args, "steps", None) is not None and args.steps < 1:
        print(f"dualtf {args.command}: --steps must be an int >= 1. Received: {args.steps}.", file=sys.stderr)
        return USAGE_ERROR
    if not args.tf_logs:
        _import_tensorflow_quietly()
    try:
        return int(args.run(args))
    except Exception as exc:
        mode = getattr(exc, "dualtf_mode", None)
        if isinstance(exc, _BAD_INPUT) or (isinstance(exc, DualTFError) and mode is None):
            hint = ""
            if isinstance(exc, FeedError):
                feeds = getattr(args, "feeds", None)
                hint = f" The feed values came from --feeds {feeds}." if feeds else " Give them with --feeds FILE.npz."
            print(f"dualtf {args.command}: {exc}{hint}", file=sys.stderr)
            return USAGE_ERROR
        if args.traceback:  # the program failed: name the mode; the traceback only when asked
            import traceback

            traceback.print_exc()
        where = f"{getattr(args, 'program', 'the program')} failed" + (f" in mode {mode!r}" if mode else "")
        hint = "" if args.traceback or isinstance(exc, DualTFError) else " (--traceback shows where)"
        print(f"dualtf {args.command}: {where}: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return PROGRAM_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
