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
    p.add_argument(
        "--noc-latency",
        type=int,
        default=1,
        help="cycles each L2->PE transfer pays, also with --noc-bw none (default 1)",
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
    return mcm(
        a.pattern,
        a.rows,
        a.cols,
        pes=a.pes,
        dataflows=dfs,
        noc_bw=a.noc_bw,
        noc_latency=a.noc_latency,
    )


def cmd_cost(a: argparse.Namespace) -> int:
    report = cost_report(workload_from_args(a), mcm_from_args(a).classes)
    print(json.dumps(report, indent=1) if a.json else format_report(report))
    return 0


def problem_from_args(a: argparse.Namespace):
    from costmodel import Problem

    return Problem(
        workload_from_args(a), mcm_from_args(a), objective=a.objective, max_windows=a.max_windows
    )


def budget_from_args(a: argparse.Namespace):
    from search import Budget

    return Budget(evals=a.evals, seconds=a.seconds)


def add_search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--objective", default="edp", help="latency, energy, edp or throughput")
    p.add_argument("--max-windows", type=int, default=None, help="windows a schedule may use")
    p.add_argument("--evals", type=int, default=2000, help="evaluation budget (default 2000)")
    p.add_argument("--seconds", type=float, default=None, help="wall-clock budget")


def add_executor_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="serial", help="serial, process or dask")
    p.add_argument(
        "--scheduler",
        default=None,
        help="tcp://HOST:PORT of a Dask scheduler (default: a local cluster started on demand)",
    )
    p.add_argument("--workers", type=int, default=None, help="local workers (process/dask)")


def executor_from_args(a: argparse.Namespace):
    from search.executors import make_executor

    return make_executor(a.executor, a.scheduler, a.workers)


def cmd_search(a: argparse.Namespace) -> int:
    from search import run

    problem = problem_from_args(a)
    budget = budget_from_args(a)
    with executor_from_args(a) as ex:
        r = run(problem, a.algo, budget, seed=a.seed, log_dir=a.out, executor=ex)
    out = {
        "algorithm": a.algo,
        "seed": a.seed,
        "objective": a.objective,
        "best_objective": r.best_fitness,
        "evals": r.n_evals,
        "seconds": r.seconds,
        **r.metrics,
    }
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:>18}: {v}")
        if a.out:
            print(f"history and result written to {a.out}")
    return 0


def cmd_benchmark(a: argparse.Namespace) -> int:
    from experiments.benchmark import benchmark, summarize

    problem = problem_from_args(a)
    agents = [x.strip() for x in a.agents.split(",") if x.strip()]
    from search import agent_class

    for name in agents:
        agent_class(name)  # unknown names fail before anything runs
    budget = budget_from_args(a)
    with executor_from_args(a) as ex:
        rows = benchmark(problem, agents, list(range(a.seeds)), budget, a.out, executor=ex)
    for s in summarize(rows):
        print(
            f"{s['agent']:>10}: median {s['median']:.6g} (min {s['min']:.6g}, max "
            f"{s['max']:.6g}) over {s['seeds']} seeds, median gap to best known "
            f"{100 * s['median_gap']:.2f}%"
        )
    print(f"CSV and fitness curves in {a.out}")
    return 0


def cmd_evaluate(a: argparse.Namespace) -> int:
    from costmodel import Schedule

    problem = problem_from_args(a)
    r = problem.evaluate(Schedule.from_json(a.schedule))
    out = {
        "latency_s": r.latency_s,
        "energy_j": r.energy_j,
        "edp": r.edp,
        "throughput": r.throughput,
        "energy_breakdown_j": r.energy_breakdown_j,
        "window_latency_s": r.window_latency_s,
        "stages": [s.to_dict() for s in r.stages],
    }
    print(json.dumps(out, indent=None if a.json else 1))
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from experiments.config import load_config
    from experiments.runner import run_config

    cfg = load_config(a.config)  # fully validated before anything is written
    with executor_from_args(a) as ex:
        folder, md = run_config(cfg, a.out, a.force, ex)
    print(md)
    print(f"results in {folder}")
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    from pathlib import Path

    from experiments.benchmark import _load_history
    from experiments.plots import fitness_curves

    root = Path(a.folder)
    if not root.is_dir():
        raise ValueError(f"results folder not found: {root}")
    curves: dict[str, list] = {}
    for h in sorted(root.rglob("history.jsonl")):
        agent = h.parent.parent.name
        curves.setdefault(agent, []).append(_load_history(h))
    if not curves:
        raise ValueError(f"no history.jsonl under {root}")
    path = fitness_curves(curves, root / "fitness_curves.png", title=root.name)
    print(f"wrote {path}")
    return 0


def cmd_list(a: argparse.Namespace) -> int:
    print("models:    " + ", ".join(MODELS))
    print(
        "scenarios: "
        + ", ".join(f"{k} ({'+'.join(f'{m} b{b}' for m, b in v)})" for k, v in SCENARIOS.items())
    )
    print("patterns:  " + ", ".join(PATTERNS))
    print("dataflows: " + ", ".join(DATAFLOWS))
    from search import AGENTS

    print("agents:    " + ", ".join(AGENTS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="chiplet-sched", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    c = sub.add_parser("cost", help="per-layer cost report on each chiplet class of an MCM")
    add_problem_args(c)
    c.add_argument("--json", action="store_true", help="print JSON instead of a table")
    c.set_defaults(func=cmd_cost)
    s = sub.add_parser("search", help="search one problem with one agent")
    add_problem_args(s)
    add_search_args(s)
    s.add_argument("--algo", default="ga", help="agent name (see `chiplet-sched list`)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", default=None, help="folder for history.jsonl and result.json")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    add_executor_args(s)
    s.set_defaults(func=cmd_search)
    b = sub.add_parser("benchmark", help="several agents x seeds with equal budgets")
    add_problem_args(b)
    add_search_args(b)
    b.add_argument("--agents", default="random,sa,ga", help="comma-separated agent names")
    b.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    b.add_argument("--out", required=True, help="results folder (reruns skip finished runs)")
    add_executor_args(b)
    b.set_defaults(func=cmd_benchmark)
    e = sub.add_parser("evaluate", help="evaluate a schedule JSON against a problem")
    add_problem_args(e)
    e.add_argument("schedule", help="schedule JSON file (Schedule.to_json)")
    e.add_argument("--objective", default="edp")
    e.add_argument("--max-windows", type=int, default=None)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)
    r = sub.add_parser("run", help="run an experiment config (YAML)")
    r.add_argument("config", help="e.g. experiments/configs/quickstart.yaml")
    r.add_argument("--out", default=None, help="results folder (default results/<name>)")
    r.add_argument("--force", action="store_true", help="reuse a folder of another config")
    add_executor_args(r)
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plot", help="fitness curves from a results folder's histories")
    pl.add_argument("folder")
    pl.set_defaults(func=cmd_plot)
    lst = sub.add_parser("list", help="models, scenarios, patterns, dataflows and agents")
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
