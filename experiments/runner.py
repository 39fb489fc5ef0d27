"""Run an experiment config: dispatch on its ``kind`` to :mod:`experiments.kinds` (which
computes) and :mod:`experiments.report` (which writes). Every results folder gets the resolved
config, the runs' JSON-lines histories, CSV summaries, its plots and a ``summary.md``, each file
written whole (:mod:`costmodel.files`), under the folder's lock (:mod:`experiments.lock`); a rerun
with the same folder continues (finished runs of the same resolved config are kept, torn or other
runs recomputed), and a folder made by another config is refused unless ``force``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from costmodel.files import write_text_atomic

from .benchmark import TALLY
from .kinds import benchmark, hetero, scaling, scar, search, seed, targets
from .lock import folder_lock
from .report import REPORTS

#: per kind: ``(config, results folder, executor) -> the kind's data``
KINDS: dict[str, Callable[[dict, Path, Any], Any]] = {
    "search": search.compute,
    "seed": seed.compute,
    "scar": scar.compute,
    "hetero": hetero.compute,
    "benchmark": benchmark.compute,
    "scaling": scaling.compute,
    "targets": targets.compute,
}


def _suite(cfg: dict, out: Path, ex: Any) -> str:
    from .suite import run_suite

    return run_suite(cfg, out, ex)


#: kinds whose runner computes and writes its report in one (``-> summary markdown``)
WHOLE_RUNNERS: dict[str, Callable[[dict, Path, Any], str]] = {"suite": _suite}


def results_folder(cfg: dict, out: str | Path | None) -> Path:
    """``out``, else the config's ``out``, else ``results/<name>``."""
    return Path(out or cfg.get("out") or Path("results") / cfg["name"])


def _same_config(saved: Path, cfg: dict) -> bool:
    """Whether the folder's ``config.yaml`` resolves to ``cfg`` (compared after validation, so
    a default added since the folder was made does not count as another config)."""
    from .config import validate_config

    try:
        return validate_config(yaml.safe_load(saved.read_text()), str(saved)) == cfg
    except (ValueError, yaml.YAMLError):
        return False


def check_out(cfg: dict, out: str | Path | None, force: bool) -> Path:
    """The results folder; ``ValueError`` if it is a file, or holds another config's results
    and not ``force`` (writes nothing)."""
    out = results_folder(cfg, out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"cannot use {out} as a results folder: it is a file")
    saved = out / "config.yaml"
    if saved.exists() and not force and not _same_config(saved, cfg):
        raise ValueError(
            f"results folder {out} holds another config's results; use another --out, or "
            "--force to recompute every run there"
        )
    return out


def _forget_runs(folder: Path) -> int:
    """Delete every run's ``result.json`` under ``folder`` so that each run is recomputed
    (``--force``); histories are rewritten by the new runs. Returns how many were removed."""
    results = list(folder.rglob("result.json"))
    for f in results:
        f.unlink()
    return len(results)


def prepare_out(cfg: dict, out: str | Path | None, force: bool) -> Path:
    """The results folder, with the resolved config in it; refuses another config's folder.
    With ``force`` every run in it is recomputed (never relabeled: a run is reused only
    under its own ``run_hash``, :func:`experiments.benchmark.run_one`, and ``force`` reuses
    none); a rerun without ``force`` then continues from the runs the forced one finished."""
    out = check_out(cfg, out, force)
    text = yaml.safe_dump(cfg, sort_keys=True)
    saved = out / "config.yaml"
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _forget_runs(out)
    if not saved.exists() or saved.read_text() != text:
        write_text_atomic(saved, text)
    return out


def run_config(
    cfg: dict,
    out: str | Path | None = None,
    force: bool = False,
    executor=None,
    finished_only: bool = False,
) -> tuple[Path, str]:
    """Run a validated config into its results folder, holding the folder's lock
    (:func:`experiments.lock.folder_lock`); :data:`experiments.benchmark.TALLY` counts the runs
    it reused and recomputed. ``finished_only`` (kind ``suite``): report the finished runs,
    start none."""
    if finished_only and (cfg["kind"] != "suite" or force):
        raise ValueError("--finished-only reports a suite's finished runs: kind suite, no --force")
    check_out(cfg, out, force)  # refuse another config's folder before writing anything
    with folder_lock(results_folder(cfg, out)):
        folder = prepare_out(cfg, out, force)
        TALLY.reset()
        if finished_only:
            from .suite import run_suite

            return folder, run_suite(cfg, folder, executor, finished_only=True)
        if cfg["kind"] in WHOLE_RUNNERS:  # computes and writes its own report
            return folder, WHOLE_RUNNERS[cfg["kind"]](cfg, folder, executor)
        data = KINDS[cfg["kind"]](cfg, folder, executor)
        return folder, REPORTS[cfg["kind"]](cfg, data, folder)
