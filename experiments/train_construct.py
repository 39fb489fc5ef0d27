"""Train the shipped ``construct`` agent's weights: imitate a search's schedules on generated
problems (issue 13, item 4; :mod:`search.construct` says why imitation).

1. Draw ``problems`` training problems and ``validation`` validation problems from the config's
   distribution (:mod:`experiments.generated`; never a named scenario), from two streams of
   ``seed`` (so the validation set does not change with ``problems``, and training problem ``k``
   is the same for any ``problems``); and ``yaml_problems`` training problems whose mixes hold
   one or two random YAML-described models (:func:`experiments.generated.draw_yaml_problem`)
   from a third stream.
2. Run the expert (``expert`` agent, ``expert_evals`` evaluations, seed ``seed + k`` plus an
   offset per kind of problem, :data:`EXPERT_SEEDS`) on each:
   its best schedule is the demonstration. Results go to ``--experts FILE.jsonl`` (one record
   per problem, appended as they finish): a rerun of the same config reuses them, so a changed
   training recipe does not rerun the searches.
3. Behaviour cloning: ``epochs`` passes of Adam on the cross-entropy of the demonstrated actions
   (minibatches of ``batch`` steps of one problem, in an order drawn from ``seed``).
4. Report on the validation problems: the imitation loss and accuracy, and the objective of the
   greedy schedule and the best of 16 as a ratio to the expert's and to the best baseline's.

``python -m experiments.train_construct experiments/configs/training/train-construct.yaml
--out FILE.pt [--experts FILE.jsonl] [--log FILE.jsonl] [--plot FILE.png] [--resume]``. ``--out
search/construct_policy.pt`` replaces the shipped weights, so it is never a default.
Deterministic for a config (one torch thread). The training state is written to
``FILE.pt.partial`` after every epoch; ``--resume`` continues an interrupted training from it
and gives the uninterrupted weights bit for bit (the expert runs are cached anyway). Bad input:
one line, exit 2, nothing written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from costmodel.baselines import baseline_genomes
from costmodel.files import AtomicFile, write_text_atomic
from search import Budget, make_agent, run

from .generated import ProblemDistribution, draw_problem, draw_yaml_problem, load_config
from .learning import read_records
from .plots import _save, check_picture_path, plt


class TrainConstructConfig(ProblemDistribution):
    """The problem distribution, the expert and the imitation recipe (every key optional)."""

    validation: Annotated[int, Field(ge=1, le=10_000)] = 24
    yaml_problems: Annotated[int, Field(ge=0, le=100_000)] = 0
    expert: str = "sa"
    expert_evals: Annotated[int, Field(gt=0, le=1_000_000)] = 2000
    expert_seeded: bool = True
    epochs: Annotated[int, Field(gt=0, le=1000)] = 20
    lr: Annotated[float, Field(gt=0, le=1)] = 1e-3
    batch: Annotated[int, Field(gt=0, le=100_000)] = 256
    d: Annotated[int, Field(gt=0, le=1024)] = 64
    heads: Annotated[int, Field(gt=0, le=64)] = 4
    blocks: Annotated[int, Field(gt=0, le=16)] = 1

    def model_post_init(self, _: Any) -> None:
        super().model_post_init(_)
        if self.d % self.heads:
            raise ValueError(f"d: {self.d} is not a multiple of heads ({self.heads})")
        try:
            make_agent(self.expert, seed_baselines=self.expert_seeded)
        except ValueError as err:
            raise ValueError(f"expert: {err}") from None


def expert_digest(cfg: TrainConstructConfig) -> str:
    """What an expert record depends on besides its problem (which the record names and
    describes): the seed, the distribution and the expert; not the recipe nor the number of
    problems (training problem ``k`` is the same for any number)."""
    keep = {"seed", "expert", "expert_evals", "expert_seeded"}
    keep |= set(ProblemDistribution.model_fields) - {"problems"}
    text = json.dumps(cfg.model_dump(include=keep), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: the first expert seed of each kind of problem (``t``: training, ``v``: validation, ``y``:
#: training with random YAML models): problem ``k`` of a kind gets ``seed + first + k``
EXPERT_SEEDS = {"t": 0, "v": 1_000_000, "y": 2_000_000}


def read_experts(path: Path | None) -> list[dict[str, Any]]:
    """The records of an expert cache (none when there is no file); a last line torn by a kill
    mid-write is dropped (that problem is redone); ``ValueError`` naming the file and line for
    anything else that is not a record."""
    if path is None or not path.is_file():
        return []
    lines = path.read_text().splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        write_text_atomic(path, "".join(lines[:-1]))
    recs = read_records(path, "problem", "expert")
    for i, r in enumerate(recs, 1):
        if not all(k in r for k in ("desc", "digest", "genome")):
            raise ValueError(f"{path} line {i}: an expert record needs desc, digest and genome")
    return recs


def expert_schedules(
    cfg: TrainConstructConfig,
    problems: dict[str, tuple],
    path: Path | None,
    cached: list[dict[str, Any]],
    log=print,
) -> dict[str, np.ndarray]:
    """The expert's best genome on every problem (by id: ``t<k>`` training, ``v<k>``
    validation, ``y<k>`` YAML), reusing the ``cached`` records (:func:`read_experts`) made under
    the same :func:`expert_digest` for the same problem description, and appending new ones to
    ``path`` (one JSON line each, flushed)."""
    digest = expert_digest(cfg)
    done: dict[str, dict] = {}
    for r in cached:
        k = r["problem"]
        if r["digest"] == digest and k in problems and r["desc"] == problems[k][1]:
            done[k] = r
    out = path.open("a") if path is not None else None
    try:
        genomes = {}
        for n, (k, (p, desc)) in enumerate(problems.items()):
            if k not in done:
                first = EXPERT_SEEDS[k[0]]
                t = time.perf_counter()
                res = run(
                    p,
                    cfg.expert,
                    Budget(evals=cfg.expert_evals),
                    seed=cfg.seed + first + int(k[1:]),
                    seed_baselines=cfg.expert_seeded,
                )
                rec = {
                    "problem": k,
                    "desc": desc,
                    "digest": digest,
                    "objective": res.best_fitness,
                    "genome": res.best_genome.tolist(),
                }
                if out is not None:
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                done[k] = rec
                log(
                    f"expert {n + 1}/{len(problems)} ({k}): {desc}: {res.best_fitness:.4g} "
                    f"({time.perf_counter() - t:.1f} s)"
                )
            genomes[k] = np.asarray(done[k]["genome"], dtype=np.int64)
    finally:
        if out is not None:
            out.close()
    return genomes


def _ratios(cfg: TrainConstructConfig, net, problems, genomes) -> list[dict[str, Any]]:
    """Per validation problem: greedy and best-of-16 objectives over the expert's and over the
    best baseline's."""
    from search.construct import policy_env, rollout

    rows = []
    for k, ((p, desc), g) in enumerate(zip(problems, genomes)):
        built = rollout(policy_env(p), 16, np.random.default_rng(cfg.seed + k), net)
        f = p.objective_of(p.evaluate_batch(built))
        expert = float(p.objective_of(p.evaluate_batch(g[None]))[0])
        base = p.objective_of(p.evaluate_batch(np.stack(list(baseline_genomes(p).values()))))
        rows.append(
            {
                "desc": desc,
                "greedy_over_expert": float(f[0] / expert),
                "best16_over_expert": float(f.min() / expert),
                "greedy_over_baseline": float(f[0] / base.min()),
                "best16_over_baseline": float(f.min() / base.min()),
            }
        )
    return rows


def stay_accuracy(demos: list) -> float:
    """The share of the demonstrated actions that put a layer on its chain predecessor's
    chiplet: the accuracy of the trivial policy "stay", the floor a learnt one must clear."""
    from env.observation import CHIPLET_FEATURES

    col = CHIPLET_FEATURES.index("chain_producer")
    hits = total = 0
    for d in demos:
        stay = d.obs["chiplets"][:, :, col].argmax(1)
        has = d.obs["chiplets"][:, :, col].max(1) > 0
        hits += int(((d.actions == stay) & has).sum())
        total += len(d.actions)
    return hits / total


def train(
    cfg: TrainConstructConfig,
    out: Path,
    experts: Path | None,
    cached: list[dict[str, Any]] | None = None,
    log=print,
    resume: bool = False,
) -> list[dict]:
    """Train and write the weights to ``out``; ``experts``: the expert cache (``cached``: its
    records, read by :func:`read_experts` when not given). After every epoch the whole training
    state goes to :func:`partial_path` (atomically); ``resume`` continues from it and gives the
    uninterrupted training's weights bit for bit; it is deleted when the weights are written.
    Returns the log records (the trivial policy's accuracy, one per epoch, then one per
    validation problem)."""
    import torch

    from search.construct import demonstration, imitation_loss, new_policy, policy_env, save_policy

    torch.set_num_threads(1)
    draws, val_draws = np.random.default_rng(cfg.seed), np.random.default_rng([cfg.seed, 1])
    problems = {f"t{k}": draw_problem(cfg, draws) for k in range(cfg.problems)}
    problems.update({f"v{k}": draw_problem(cfg, val_draws) for k in range(cfg.validation)})
    yaml_draws = np.random.default_rng([cfg.seed, 3])
    problems.update({f"y{k}": draw_yaml_problem(cfg, yaml_draws) for k in range(cfg.yaml_problems)})
    cached = read_experts(experts) if cached is None else cached
    genomes = expert_schedules(cfg, problems, experts, cached, log)
    demos = {k: demonstration(policy_env(p), genomes[k]) for k, (p, _) in problems.items()}
    train_demos = [d for k, d in demos.items() if not k.startswith("v")]
    val_demos = [d for k, d in demos.items() if k.startswith("v")]
    val_ids = [k for k in problems if k.startswith("v")]
    net = new_policy(problems["v0"][0], cfg.d, cfg.heads, cfg.blocks, seed=cfg.seed)
    order = np.random.default_rng([cfg.seed, 2])
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    records: list[dict] = [{"stay_accuracy": stay_accuracy(val_demos)}]
    partial, start = partial_path(out), 0
    if resume:
        st = read_partial(cfg, partial)
        net.load_state_dict(st["net"])
        opt.load_state_dict(st["opt"])
        order.bit_generator.state = json.loads(st["order"])
        records, start = json.loads(st["records"]), int(st["epoch"])
        log(f"resumed after epoch {start}")
    for epoch in range(start, cfg.epochs):
        t = time.perf_counter()
        net.train()
        chunks = [
            (i, rows)
            for i, d in enumerate(train_demos)
            for rows in np.array_split(
                order.permutation(len(d.actions)), -(-len(d.actions) // cfg.batch)
            )
        ]
        total, steps = 0.0, 0
        for j in order.permutation(len(chunks)):
            i, rows = chunks[j]
            loss, _ = imitation_loss(net, train_demos[i], np.sort(rows))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
            steps += len(rows)
        net.eval()
        with torch.no_grad():
            val = [imitation_loss(net, d) for d in val_demos]
        n_val = sum(len(d.actions) for d in val_demos)
        rec = {
            "epoch": epoch + 1,
            "train_loss": total / steps,
            "val_loss": sum(float(v[0]) * len(d.actions) for v, d in zip(val, val_demos)) / n_val,
            "val_accuracy": sum(v[1] for v in val) / n_val,
            "seconds": round(time.perf_counter() - t, 3),
        }
        records.append(rec)
        state = {
            "config": training_digest(cfg),
            "epoch": epoch + 1,
            "net": net.state_dict(),
            "opt": opt.state_dict(),
            "order": json.dumps(order.bit_generator.state),
            "records": json.dumps(records),
        }
        with AtomicFile(partial, "wb") as f:
            torch.save(state, f)
        log(
            f"epoch {rec['epoch']}: train loss {rec['train_loss']:.4f}, validation loss "
            f"{rec['val_loss']:.4f}, accuracy {rec['val_accuracy']:.3f} ({rec['seconds']:.0f} s)"
        )
    net.eval()
    for r in _ratios(cfg, net, [problems[k] for k in val_ids], [genomes[k] for k in val_ids]):
        records.append({"validation": r.pop("desc"), **r})
    save_policy(out, net, cfg.d, cfg.heads, cfg.blocks)
    partial.unlink(missing_ok=True)
    return records


def partial_path(out: Path) -> Path:
    """Where an unfinished training of ``out`` keeps its state between epochs."""
    return out.with_name(out.name + ".partial")


def training_digest(cfg: TrainConstructConfig) -> str:
    """The whole resolved config: a training resumes only under the config it started with."""
    return hashlib.sha256(json.dumps(cfg.model_dump(), sort_keys=True).encode()).hexdigest()[:16]


def read_partial(cfg: TrainConstructConfig, partial: Path) -> dict[str, Any]:
    """The state an interrupted training left; ``ValueError`` naming the file when there is
    none, it is unreadable, or it is from another config."""
    import torch

    if not partial.is_file():
        raise ValueError(f"--resume: no interrupted training to resume ({partial} does not exist)")
    try:
        st = torch.load(partial, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (any unreadable file: one clear message)
        raise ValueError(f"--resume: {partial} is not a training state ({err})") from None
    if not isinstance(st, dict) or st.get("config") != training_digest(cfg):
        raise ValueError(f"--resume: {partial} was left by a training of another config")
    return st


def training_figure(records: list[dict], path: Path) -> Path:
    """Imitation loss (train, validation) and validation accuracy by epoch, beside the accuracy
    of the trivial "stay" policy."""
    ep = [r for r in records if "epoch" in r]
    x = [r["epoch"] for r in ep]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(x, [r["train_loss"] for r in ep], label="train", marker="o", ms=3)
    a.plot(x, [r["val_loss"] for r in ep], label="validation (unseen problems)", marker="o", ms=3)
    a.set(xlabel="epoch", ylabel="cross-entropy of the expert's action", title="Imitation loss")
    a.grid(alpha=0.3)
    a.legend()
    b.plot(x, [100 * r["val_accuracy"] for r in ep], marker="o", ms=3, color="C2", label="policy")
    stay = [r["stay_accuracy"] for r in records if "stay_accuracy" in r]
    if stay:
        b.axhline(
            100 * stay[0], color="0.4", ls="--", label="always stay on the producer's chiplet"
        )
    b.legend(fontsize=8)
    b.set(xlabel="epoch", ylabel="greedy action = expert's (%)", title="Validation accuracy")
    b.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.train_construct", description=__doc__)
    ap.add_argument("config")
    ap.add_argument("--out", required=True, help="weights to write (.pt)")
    ap.add_argument("--experts", default=None, help="expert schedules cache (.jsonl)")
    ap.add_argument("--log", default=None, help="training records (.jsonl)")
    ap.add_argument("--plot", default=None, help="training curve picture (.png/.svg/.pdf)")
    ap.add_argument(
        "--resume", action="store_true", help="continue the interrupted training of --out"
    )
    a = ap.parse_args(argv)
    try:
        cfg = load_config(a.config, TrainConstructConfig)
        out = Path(a.out)
        if out.suffix != ".pt":
            raise ValueError(f"--out: {out} must end in .pt")
        if a.plot is not None:
            check_picture_path(a.plot)
        for f in (a.out, a.experts, a.log, a.plot):
            if f is not None and not Path(f).parent.is_dir():
                raise ValueError(f"{f}: no such folder {Path(f).parent}")
        experts = Path(a.experts) if a.experts else None
        cached = read_experts(experts)  # a file that is not an expert cache: bad input
        if a.resume:
            read_partial(cfg, partial_path(out))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    records = train(cfg, out, experts, cached, resume=a.resume)
    if a.log:
        write_text_atomic(a.log, "".join(json.dumps(r) + "\n" for r in records))
    if a.plot:
        training_figure(records, Path(a.plot))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
