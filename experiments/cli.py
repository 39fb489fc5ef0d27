"""The ``chiplet-sched`` command line. Bad input: one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from costmodel import MODELS, PATTERNS, SCENARIOS, Workload, build_model, mcm, scenario
from costmodel.config import load_mcm, load_model
from costmodel.hardware import DATAFLOWS
from costmodel.report import cost_report, format_report


class UsageError(ValueError):
    """A command-line error: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message}")


def _noc_bw(text: str) -> float | None:
    if text.lower() in ("none", "inf", "unconstrained"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--noc-bw must be a number or 'none', got {text!r}"
        ) from None
    return v


def add_problem_args(p: argparse.ArgumentParser) -> None:
    """Options that pick a workload and an MCM (shared by every subcommand that needs them)."""
    w = p.add_mutually_exclusive_group()
    w.add_argument("--scenario", help=f"one of {', '.join(SCENARIOS)}")
    w.add_argument("--model", help=f"one of {', '.join(MODELS)}")
    w.add_argument("--model-file", help="a model YAML file (see costmodel/config.py)")
    p.add_argument("--batch", type=int, default=1, help="batch of --model (default 1)")
    p.add_argument("--seq-len", type=int, default=128, help="transformer sequence length")
    h = p.add_mutually_exclusive_group()
    h.add_argument("--pattern", default="het-sides", help=f"one of {', '.join(PATTERNS[:-1])}")
    h.add_argument("--mcm-file", help="an MCM YAML file (pattern or grid)")
    p.add_argument("--rows", type=int, default=2)
    p.add_argument("--cols", type=int, default=2)
    p.add_argument("--pes", type=int, default=4096, help="PEs per chiplet (4096 or 256, or any)")
    p.add_argument(
        "--dataflows",
        default="ws,os",
        help=f"the two dataflows of a het pattern, from {', '.join(DATAFLOWS)}",
    )
    p.add_argument(
        "--noc-bw",
        type=_noc_bw,
        default=64,
        help="L2->PE elements per cycle, or 'none' for unconstrained (default 64)",
    )


def workload_from_args(a: argparse.Namespace) -> Workload:
    if a.model_file:
        return Workload([load_model(a.model_file)])
    if a.model:
        params = {"seq_len": a.seq_len} if a.model.startswith(("gpt2", "bert")) else {}
        return Workload([build_model(a.model, batch=a.batch, **params)])
    return scenario(a.scenario or "sc1", seq_len=a.seq_len)


def mcm_from_args(a: argparse.Namespace):
    if a.mcm_file:
        return load_mcm(a.mcm_file)
    dfs = tuple(x.strip() for x in a.dataflows.split(","))
    return mcm(a.pattern, a.rows, a.cols, pes=a.pes, dataflows=dfs, noc_bw=a.noc_bw)


def cmd_cost(a: argparse.Namespace) -> int:
    report = cost_report(workload_from_args(a), mcm_from_args(a).classes)
    print(json.dumps(report, indent=1) if a.json else format_report(report))
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    print("models:    " + ", ".join(MODELS))
    print(
        "scenarios: "
        + ", ".join(f"{k} ({'+'.join(f'{m} b{b}' for m, b in v)})" for k, v in SCENARIOS.items())
    )
    print("patterns:  " + ", ".join(PATTERNS))
    print("dataflows: " + ", ".join(DATAFLOWS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="chiplet-sched", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    c = sub.add_parser("cost", help="per-layer cost report on each chiplet class of an MCM")
    add_problem_args(c)
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.set_defaults(func=cmd_cost)
    lst = sub.add_parser("list", help="models, scenarios, patterns and dataflows")
    lst.set_defaults(func=cmd_list)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except ValueError as exc:  # includes UsageError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
