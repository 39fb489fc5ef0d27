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


#: defaults of the problem options (``evaluate`` fills them in only after seeing which were given)
PROBLEM_DEFAULTS: dict = {
    "scenario": None,
    "model": None,
    "model_file": None,
    "batch": 1,
    "seq_len": 128,
    "pattern": "het-sides",
    "mcm_file": None,
    "rows": 2,
    "cols": 2,
    "pes": 4096,
    "dataflows": "ws,os",
    "noc_bw": 64,
    "noc_latency": 1,
}


def add_problem_args(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """Options that pick a workload and an MCM (shared by every subcommand that needs them).
    With ``defaults=False`` an option not given is left out of the namespace, so a command can
    tell given options from defaults (:func:`fill_problem_defaults` adds them afterwards)."""

    def d(key: str):
        return PROBLEM_DEFAULTS[key] if defaults else argparse.SUPPRESS

    w = p.add_mutually_exclusive_group()
    w.add_argument("--scenario", default=d("scenario"), help=f"one of {', '.join(SCENARIOS)}")
    w.add_argument("--model", default=d("model"), help=f"one of {', '.join(MODELS)}")
    w.add_argument(
        "--model-file", default=d("model_file"), help="a model YAML file (see costmodel/config.py)"
    )
    p.add_argument("--batch", type=int, default=d("batch"), help="batch of --model (default 1)")
    p.add_argument("--seq-len", type=int, default=d("seq_len"), help="transformer sequence length")
    h = p.add_mutually_exclusive_group()
    h.add_argument("--pattern", default=d("pattern"), help=f"one of {', '.join(PATTERNS[:-1])}")
    h.add_argument("--mcm-file", default=d("mcm_file"), help="an MCM YAML file (pattern or grid)")
    p.add_argument("--rows", type=int, default=d("rows"))
    p.add_argument("--cols", type=int, default=d("cols"))
    p.add_argument(
        "--pes", type=int, default=d("pes"), help="PEs per chiplet (4096 or 256, or any)"
    )
    p.add_argument(
        "--dataflows",
        default=d("dataflows"),
        help=f"the two dataflows of a het pattern, from {', '.join(DATAFLOWS)}",
    )
    p.add_argument(
        "--noc-bw",
        type=_noc_bw,
        default=d("noc_bw"),
        help="L2->PE elements per cycle, or 'none' for unconstrained (default 64)",
    )
    p.add_argument(
        "--noc-latency",
        type=int,
        default=d("noc_latency"),
        help="cycles each L2->PE transfer pays, also with --noc-bw none (default 1)",
    )


def fill_problem_defaults(a: argparse.Namespace) -> set[str]:
    """Add the defaults of the problem options not given; returns the names of those given."""
    given = {k for k in PROBLEM_DEFAULTS if hasattr(a, k)}
    for k, v in PROBLEM_DEFAULTS.items():
        if k not in given:
            setattr(a, k, v)
    return given


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
    p.add_argument(
        "--objective",
        default="edp",
        help="latency, energy, edp, throughput, or with a workload's latency targets "
        "energy@targets, edp@targets, targets-met (docs/evaluation.md)",
    )
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


def agent_options_from_args(pairs: list[str]) -> dict:
    """``--option KEY=VALUE`` pairs as a dict, each value read as YAML (``false``, ``0.1``,
    ``shipped``); a pair without ``=`` or a repeated key is a usage error."""
    import yaml

    out: dict = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option needs KEY=VALUE, got {pair!r}")
        if key.strip() in out:
            raise UsageError(f"--option {key.strip()!r} given twice")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UsageError(f"--option {key.strip()}: cannot read {value!r}") from None
    return out


def cmd_search(a: argparse.Namespace) -> int:
    from contextlib import nullcontext

    from experiments.lock import folder_lock
    from search import agent_class, run

    problem = problem_from_args(a)
    options = agent_options_from_args(a.option)
    # an unknown agent or option, or a weights file it cannot use, fails before the folder is made
    agent_class(a.algo)(**options).hash_inputs()
    budget = budget_from_args(a)
    with folder_lock(a.out) if a.out else nullcontext(), executor_from_args(a) as ex:
        r = run(problem, a.algo, budget, seed=a.seed, log_dir=a.out, executor=ex, **options)
    out = {
        "algorithm": a.algo,
        "problem": f"{problem.workload.name or 'workload'} on {problem.mcm.name}",
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
    from experiments.benchmark import TALLY, benchmark, summarize
    from experiments.lock import folder_lock

    problem = problem_from_args(a)
    agents = [x.strip() for x in a.agents.split(",") if x.strip()]
    from search import AGENTS, agent_class

    if not agents:
        raise UsageError(f"--agents needs at least one agent name; choices: {', '.join(AGENTS)}")
    for name in agents:
        agent_class(name)  # unknown names fail before anything runs
    from experiments.config import MAX_SEEDS

    if not 0 < a.seeds <= MAX_SEEDS:
        raise UsageError(f"--seeds must be 1..{MAX_SEEDS} (seeds 0..N-1), got {a.seeds}")
    budget = budget_from_args(a)
    TALLY.reset()
    from experiments.progress import RunProgress

    with folder_lock(a.out), executor_from_args(a) as ex:
        with RunProgress(len(agents) * a.seeds, "benchmark") as bar:
            rows = benchmark(
                problem, agents, list(range(a.seeds)), budget, a.out, progress=bar, executor=ex
            )
    for s in summarize(rows):
        print(
            f"{s['agent']:>10}: median {s['median']:.6g} (min {s['min']:.6g}, max "
            f"{s['max']:.6g}) over {s['seeds']} seeds, median gap to best known "
            f"{100 * s['median_gap']:.2f}%"
        )
    print(f"CSV and fitness curves in {a.out}")
    print(TALLY.line())
    return 0


def _read_schedule_file(path: str) -> dict:
    """The JSON object in a schedule file or a ``result.json``."""
    from pathlib import Path

    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p} is a folder; give its result.json or a schedule file")
    if not p.is_file():
        raise ValueError(f"schedule file not found: {p}")
    try:
        d = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{p}: must hold a JSON object (a schedule or a result.json)")
    return d


def _recorded_mcm(a: argparse.Namespace, given: set[str], spec: dict | None, where: str):
    """The recorded MCM spec with the MCM options given on the command line put in."""
    from costmodel.config import load_mcm

    if "mcm_file" in given:
        return mcm_from_args(a)
    if spec is None and "pattern" not in given:
        raise ValueError(f"{where}: its MCM cannot be rebuilt; give --pattern or --mcm-file")
    if spec is not None and not isinstance(spec, dict):
        raise ValueError(f"{where}: its MCM record must be a mapping")
    m = dict(spec or {})
    if "pattern" in given:
        m.pop("grid", None)
        m["pattern"] = a.pattern
    shape = {"rows", "cols", "dataflows"} & given
    if shape and "grid" in m:
        opt = "--" + sorted(shape)[0]
        raise ValueError(f"{opt} needs --pattern: the MCM recorded in {where} is a grid")
    for k in ("rows", "cols"):
        if k in given:
            m[k] = getattr(a, k)
    if "pes" in given:
        m.pop("pe_rows", None)
        m.pop("pe_cols", None)
        m["pes"] = a.pes
    if "dataflows" in given:
        m["dataflows"] = [x.strip() for x in a.dataflows.split(",")]
    chiplet = dict(m.get("chiplet", {}))
    for k in ("noc_bw", "noc_latency"):
        if k in given:
            chiplet[k] = getattr(a, k)
    if chiplet:
        m["chiplet"] = chiplet
    return load_mcm(m)


def _recorded_workload(a: argparse.Namespace, given: set[str], spec: dict | None, where: str):
    """The recorded workload, or the one the workload options given name."""
    from costmodel.config import load_workload

    if given & {"scenario", "model", "model_file"}:
        return workload_from_args(a)
    if "batch" in given:
        raise ValueError("--batch needs --model")
    if spec is None:
        raise ValueError(
            f"{where}: its workload cannot be rebuilt; give --scenario, --model or --model-file"
        )
    if "seq_len" in given:
        if "scenario" not in spec:
            raise ValueError(f"--seq-len needs --scenario or --model: {where} names no scenario")
        spec = {**spec, "seq_len": a.seq_len}
    return load_workload(spec, where)


def evaluate_problem(a: argparse.Namespace, recorded: dict | None, where: str):
    """The problem to evaluate against: the options given, the rest from ``recorded`` (the
    problem a result.json names); a schedule file without one needs a workload and an MCM."""
    from costmodel import Problem
    from costmodel.spec import check_same_problem

    given = fill_problem_defaults(a)
    if recorded is None:
        if not given & {"scenario", "model", "model_file"}:
            raise ValueError(
                f"{where} names no problem: give --scenario, --model or --model-file "
                "(or evaluate the result.json a search wrote)"
            )
        if "mcm_file" not in given and not {"pattern", "rows", "cols"} <= given:
            raise ValueError(
                f"{where} names no problem: give --pattern, --rows and --cols, or --mcm-file "
                "(or evaluate the result.json a search wrote)"
            )
    if not isinstance(recorded, (dict, type(None))):
        raise ValueError(f"{where}: problem must be a JSON object")
    rec = recorded or {}
    workload = _recorded_workload(a, given, rec.get("workload"), where)
    m = _recorded_mcm(a, given, rec.get("mcm"), where) if recorded else mcm_from_args(a)
    objective = getattr(a, "objective", None) or rec.get("objective") or "edp"
    max_windows = a.max_windows if hasattr(a, "max_windows") else rec.get("max_windows")
    problem = Problem(
        workload,
        m,
        objective=objective,
        max_windows=max_windows,
        dispatch=rec.get("dispatch", "fixed-order"),
    )
    if recorded is not None:
        check_same_problem(recorded, problem, where)
    return problem


def cmd_evaluate(a: argparse.Namespace) -> int:
    from costmodel import Schedule

    d = _read_schedule_file(a.schedule)
    schedule = Schedule.from_dict(d["schedule"] if "schedule" in d else d)
    problem = evaluate_problem(a, d.get("problem"), a.schedule)
    r = problem.evaluate(schedule)
    out = {
        "latency_s": r.latency_s,
        "energy_j": r.energy_j,
        "edp": r.edp,
        "throughput": r.throughput,
        "energy_breakdown_j": r.energy_breakdown_j,
        "window_latency_s": r.window_latency_s,
        "model_latency": r.model_targets,
        "objective": problem.objective,
        "fitness": float(
            problem.objective_of(
                problem.evaluate_batch(problem.encode(schedule)[None, :], backend="numpy")
            )[0]
        ),
        "stages": [s.to_dict() for s in r.stages],
    }
    print(json.dumps(out, indent=None if a.json else 1))
    return 0


def cmd_run(a: argparse.Namespace) -> int:
    from experiments.benchmark import TALLY
    from experiments.config import load_config
    from experiments.runner import check_out, run_config

    cfg = load_config(a.config)  # fully validated before anything is written
    if a.finished_only and (cfg["kind"] != "suite" or a.force):
        raise ValueError(
            f"{a.config}: --finished-only reports a suite's finished runs "
            f"(kind suite, without --force), not kind {cfg['kind']}"
        )
    check_out(cfg, a.out, a.force)  # another config's folder: refused before an executor starts
    with executor_from_args(a) as ex:
        folder, md = run_config(cfg, a.out, a.force, ex, a.finished_only)
    print(md)
    print(f"results in {folder}")
    print(TALLY.line())
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    """Fitness curves of every history.jsonl under a folder, one curve per agent (and per
    problem where the folder holds several), into a new picture: ``--out``, by default
    ``<folder>/fitness_curves-plot.png``. It never writes over a file a run made: an existing
    target is replaced only if its name ends in ``-plot.<format>``."""
    import re
    from pathlib import Path

    import yaml

    from experiments.benchmark import _load_history
    from experiments.plots import check_picture_path, fitness_curves

    root = Path(a.folder)
    if not root.is_dir():
        raise ValueError(f"plot: results folder not found: {root}")
    out = check_picture_path(a.out or root / "fitness_curves-plot.png", "plot --out")
    if out.exists() and not out.stem.endswith("-plot"):
        raise ValueError(
            f"plot --out {out}: the file exists and plot never writes over a run's files; "
            "give a new path (or one whose name ends in -plot.<format>)"
        )
    if not out.parent.is_dir():
        raise ValueError(f"plot --out {out}: folder {out.parent} not found")
    curves: dict[tuple[str, str], list] = {}
    objectives: set[str] = set()
    for h in sorted(root.rglob("history.jsonl")):
        try:
            hist = _load_history(h)
        except (OSError, ValueError) as exc:
            raise ValueError(f"{h}: not a JSON-lines history ({exc})") from None
        for i, rec in enumerate(hist, 1):
            for k in ("evals", "seconds", "best"):
                if not isinstance(rec, dict) or not isinstance(rec.get(k), (int, float)):
                    raise ValueError(f"{h} line {i}: field {k!r} missing or not a number")
        try:
            res = json.loads((h.parent / "result.json").read_text())
        except (OSError, ValueError):
            res = {}
        res = res if isinstance(res, dict) else {}
        seeded = re.fullmatch(r"seed\d+", h.parent.name) is not None
        run_dir = h.parent.parent if seeded else h.parent  # <problem>/<agent>/seed<k>
        agent = res.get("algorithm") or run_dir.resolve().name
        problem = run_dir.parent.relative_to(root).as_posix() if seeded else "."
        spec = res.get("problem")
        if isinstance(spec, dict) and isinstance(spec.get("objective"), str):
            objectives.add(spec["objective"])
        curves.setdefault((problem, str(agent)), []).append(hist)
    if not curves:
        raise ValueError(f"plot: no history.jsonl under {root}")
    if not objectives and (root / "config.yaml").is_file():
        try:
            obj = (yaml.safe_load((root / "config.yaml").read_text()) or {}).get("objective")
        except (yaml.YAMLError, AttributeError):
            obj = None
        if isinstance(obj, str):
            objectives.add(obj)
    problems = sorted({p for p, _ in curves})
    if len(curves) > 10:
        raise ValueError(
            f"plot: {len(curves)} curves ({len(problems)} problems, "
            f"{len({ag for _, ag in curves})} agents) under {root} are "
            f"too many for one picture; plot one of its subfolders, e.g. "
            + ", ".join(str(root / p) for p in problems[:3])
        )
    named = {(ag if len(problems) == 1 else f"{p}: {ag}"): runs for (p, ag), runs in curves.items()}
    ylabel = f"best {objectives.pop()}" if len(objectives) == 1 else "best objective"
    path = fitness_curves(named, out, title=root.resolve().name, ylabel=ylabel)
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
    from search.suite import list_lines

    print("\n".join(list_lines()))
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
    s.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an agent option, e.g. --option learn=false --option seed_baselines=false "
        "(VALUE read as YAML; repeatable)",
    )
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
    e = sub.add_parser(
        "evaluate",
        help="evaluate a result.json (its problem, unless options override parts of it) or a "
        "schedule JSON (with --scenario/--model/--model-file and --pattern/--mcm-file)",
    )
    add_problem_args(e, defaults=False)
    e.add_argument("schedule", help="a search's result.json, or a schedule file (Schedule.to_json)")
    e.add_argument("--objective", default=argparse.SUPPRESS, help="default: recorded, else edp")
    e.add_argument("--max-windows", type=int, default=argparse.SUPPRESS)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)
    r = sub.add_parser("run", help="run an experiment config (YAML)")
    r.add_argument("config", help="e.g. experiments/configs/quickstart.yaml")
    r.add_argument("--out", default=None, help="results folder (default results/<name>)")
    r.add_argument(
        "--force",
        action="store_true",
        help="use a folder of another config: its runs are recomputed unless their resolved "
        "problem, agent, options, budget and seed are the same",
    )
    r.add_argument(
        "--finished-only",
        action="store_true",
        help="kind suite: write the summary, tables and pictures of the runs already finished, "
        "start none (a long suite part done)",
    )
    add_executor_args(r)
    r.set_defaults(func=cmd_run)
    pl = sub.add_parser("plot", help="fitness curves from a results folder's histories")
    pl.add_argument("folder", help="a search's --out folder or a benchmark/run results folder")
    pl.add_argument(
        "--out",
        default=None,
        help="picture to write (.png, .svg or .pdf; default <folder>/fitness_curves-plot.png); "
        "never a file the run made",
    )
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
    except KeyboardInterrupt:
        print(
            "interrupted: finished runs are kept; rerun the same command to continue",
            file=sys.stderr,
        )
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
