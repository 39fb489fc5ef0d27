"""Train the shipped ``policy`` agent's weights: ``reinforce-moves`` on a stream of generated
problems (issue 13, item 4).

Each problem is drawn from the config's distribution (random mixes of zoo models and batches,
mesh sizes, patterns, objectives); ``reinforce-moves`` runs ``evals_per_problem`` evaluations on
it starting from the previous problem's checkpoint (policy and optimizer) and writes the
checkpoint back. A mix equal to a named scenario (sc1-sc10, seed, sc5x2, sc5x4) is redrawn, so
the SCAR scenarios stay unseen. The result is an ``.npz`` checkpoint that ``search --algo policy``
loads (default: the package's ``search/moves_policy.npz``).

``python -m experiments.train_policy experiments/configs/training/train-policy.yaml --out FILE
[--log FILE.jsonl] [--resume] [--plot FILE.png] [--seed N]`` (``--out search/moves_policy.npz`` replaces the
shipped weights, so it is never a default). Prints one line per problem.
Deterministic for a config (the problems come from one generator seeded with ``seed``; the run
on problem ``k`` uses seed ``seed + k``). The log (one record per problem: the log improvement,
the policy's entropy, the config's digest and the checkpoint's SHA-256) and then the checkpoint
are rewritten (atomically) after every problem; ``--resume`` continues an interrupted training
from them and gives the uninterrupted training's weights bit for bit. ``--plot`` draws the
training curve (:func:`training_figure`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from costmodel.files import AtomicFile, write_text_atomic
from search import Budget, run

from .generated import ProblemDistribution, draw, draw_problem
from .generated import load_config as load_model_config
from .learning import read_records
from .plots import _save, check_picture_path, plt

__all__ = ["TrainPolicyConfig", "draw_problem", "load_config", "train"]


class TrainPolicyConfig(ProblemDistribution):
    """The problem distribution and the training budget (every key optional)."""

    evals_per_problem: Annotated[int, Field(gt=0, le=1_000_000)] = 500
    seeded_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    agent_options: dict[str, Any] = Field(default_factory=dict)

    def model_post_init(self, _: Any) -> None:
        super().model_post_init(_)
        reserved = {"seed_baselines", "checkpoint", "resume"} & set(self.agent_options)
        if reserved:
            raise ValueError(f"agent_options: {sorted(reserved)} are set by the training itself")
        from search import make_agent

        make_agent("reinforce-moves", **self.agent_options)  # unknown or bad options: ValueError


def load_config(path: str | Path) -> TrainPolicyConfig:
    """The validated config; ``ValueError`` naming the file and the field."""
    return load_model_config(path, TrainPolicyConfig)


def config_digest(cfg: TrainPolicyConfig) -> str:
    """What a training record is from: the resolved config (a resume refuses another one)."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def resume_point(cfg: TrainPolicyConfig, out: Path, log_path: Path) -> list[dict[str, Any]]:
    """The records of the problems a previous training of ``cfg`` finished, checked against the
    checkpoint at ``out``: each record carries the checkpoint's SHA-256 after its problem, the log
    is written before the checkpoint, so the checkpoint matches the last record or (a crash
    between the two writes) the one before it, whose problem is then redone. ``ValueError``
    naming the file for another config, a foreign checkpoint or a missing file."""
    if not log_path.is_file() or not out.is_file():
        missing = log_path if not log_path.is_file() else out
        raise ValueError(f"{missing}: no such file to resume from")
    recs = read_records(log_path, "problem", "training")
    if not recs:
        raise ValueError(
            f"{log_path}: the log is empty (nothing to resume: train without --resume)"
        )
    digest = config_digest(cfg)
    for r in recs:
        if "config" not in r:
            raise ValueError(
                f"{log_path}: problem {r['problem']} has no config digest (a log written "
                "before trainings could resume); train into another --out/--log"
            )
        if r.get("config") != digest:
            raise ValueError(
                f"{log_path}: problem {r['problem']} was trained under another config "
                f"({r.get('config')} != {digest}); train into another --out/--log"
            )
    if [r["problem"] for r in recs] != list(range(len(recs))):
        raise ValueError(f"{log_path}: problems are not numbered 0..{len(recs) - 1}")
    have = _sha256(out)
    for n in (len(recs), len(recs) - 1):
        if n >= 1 and recs[n - 1].get("checkpoint_sha256") == have:
            return recs[:n]
    raise ValueError(f"{out}: the checkpoint matches no record of {log_path} (not this training)")


def train(
    cfg: TrainPolicyConfig,
    out: Path,
    log_path: Path | None = None,
    resume: bool = False,
    log=print,
) -> list[dict[str, Any]]:
    """Train through ``cfg.problems`` problems, the checkpoint carried from one to the next.
    After each problem the records so far go to ``log_path`` and then the checkpoint to ``out``
    (each atomically). ``resume``: continue the training that wrote ``out`` and ``log_path``
    (:func:`resume_point`), replaying the random draws of the problems it did, so the result is
    the uninterrupted training's bit for bit. Returns one record per problem."""
    rng = np.random.default_rng(cfg.seed)
    records: list[dict[str, Any]] = []
    digest = config_digest(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        ck = Path(tmp) / "policy.npz"
        if resume:
            if log_path is None:
                raise ValueError("resuming a training needs its --log")
            records = resume_point(cfg, out, log_path)
            for _ in records:  # the problems done: their draws, not their runs
                draw(cfg, rng)
                rng.random()
            ck.write_bytes(out.read_bytes())
            log(f"resuming after problem {len(records)} of {cfg.problems}")
        for k in range(len(records), cfg.problems):
            p, desc = draw_problem(cfg, rng)
            seeded = bool(rng.random() < cfg.seeded_share)
            t = time.perf_counter()
            r = run(
                p,
                "reinforce-moves",
                Budget(evals=cfg.evals_per_problem),
                seed=cfg.seed + k,
                seed_baselines=seeded,
                checkpoint=str(ck),
                resume=str(ck) if k else None,
                **cfg.agent_options,
            )
            first = r.history[0]["best"] if r.history else float("nan")
            rec = {
                "problem": k,
                "description": desc,
                "seeded": seeded,
                "first_best": first,
                "best": r.best_fitness,
                "log_improvement": float(np.log(first / r.best_fitness)),
                "entropy": r.extra.get("entropy_last"),
                "seconds": round(time.perf_counter() - t, 2),
                "config": digest,
                "checkpoint_sha256": _sha256(ck),
            }
            records.append(rec)
            log(
                f"[{k + 1}/{cfg.problems}] {desc} ({'seeded' if seeded else 'unseeded'}): "
                f"log improvement {rec['log_improvement']:.3f} in {rec['seconds']} s"
            )
            out.parent.mkdir(parents=True, exist_ok=True)
            if log_path is not None:  # the log first: a crash before the checkpoint redoes k
                write_text_atomic(log_path, "".join(json.dumps(x) + "\n" for x in records))
            with AtomicFile(out, "wb") as f:
                f.write(ck.read_bytes())
    return records


def training_figure(records: list[dict[str, Any]], window: int = 50):
    """The training's learning curve: per problem the log improvement the policy made in its
    budget (dots, seeded and unseeded starts apart) with its running mean over ``window``
    problems, and the policy's entropy after each problem (nats; near 0 = collapsed)."""
    fig, (ax, ax_h) = plt.subplots(1, 2, figsize=(11, 4.2))
    k = np.array([r["problem"] for r in records])
    li = np.array([r["log_improvement"] for r in records], dtype=float)
    seeded = np.array([bool(r["seeded"]) for r in records])
    for flag, label in ((False, "random start"), (True, "baseline start")):
        m = seeded == flag
        (dots,) = ax.plot(k[m], li[m], ".", ms=3, alpha=0.4, label=f"{label}: per problem")
        if m.sum() >= window:
            avg = np.convolve(li[m], np.ones(window) / window, mode="valid")
            ax.plot(
                k[m][window - 1 :],
                avg,
                color=dots.get_color(),
                lw=2,
                label=f"{label}: mean of the last {window}",
            )
    ax.set_xlabel("training problem")
    ax.set_ylabel("log(first best / final best)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    h = np.array([np.nan if r.get("entropy") is None else r["entropy"] for r in records])
    ax_h.plot(k, h, ".", ms=3)
    ax_h.set_ylim(bottom=0)
    ax_h.set_xlabel("training problem")
    ax_h.set_ylabel("policy entropy after the problem (nats)")
    ax_h.grid(True, alpha=0.3)
    fig.suptitle(f"Training the shipped policy: {len(records)} generated problems")
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.train_policy", description=__doc__)
    ap.add_argument("config")
    ap.add_argument(
        "--out",
        required=True,
        help="the checkpoint to write (search/moves_policy.npz replaces the shipped policy)",
    )
    ap.add_argument("--log", default=None, help="the per-problem records (JSONL), kept current")
    ap.add_argument(
        "--resume", action="store_true", help="continue the training that wrote --out and --log"
    )
    ap.add_argument("--plot", default=None, help="the learning curve picture (.png) from the log")
    ap.add_argument(
        "--seed", type=int, default=None, help="the config's seed replaced (another training)"
    )
    a = ap.parse_args(argv)
    try:  # bad input: one line, exit 2, nothing written (errors while training are not input)
        cfg = load_config(a.config)
        if a.seed is not None:
            if a.seed < 0:
                raise ValueError(f"--seed must be >= 0, got {a.seed}")
            cfg = cfg.model_copy(update={"seed": a.seed})
        if a.plot:
            check_picture_path(a.plot)
            if not Path(a.plot).resolve().parent.is_dir():
                raise ValueError(f"{a.plot}: its folder does not exist")
        if a.resume:
            if not a.log:
                raise ValueError("--resume needs the --log of the training it continues")
            resume_point(cfg, Path(a.out), Path(a.log))
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    recs = train(cfg, Path(a.out), Path(a.log) if a.log else None, a.resume)
    if a.plot:
        _save(training_figure(recs), a.plot)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
