"""A discrete-event simulation of one schedule: micro-batches through stages, chiplets exclusive.

Within a window each model first loads the weights its stages keep resident (one load after
another, each occupying its stage's chiplet), then micro-batch ``j`` of stage ``k`` starts once
stage ``k - 1`` has finished it and stage ``k`` has finished micro-batch ``j - 1``; a chiplet runs
one task at a time (greedy list scheduling: earliest start first, ties to the task with the
longest remaining pipeline behind it, a critical-path priority). DRAM and NoP links are
bandwidth-shared (fluid) resources: a window lasts at least its DRAM bytes / DRAM bandwidth and
its busiest link's bytes / link bandwidth. Windows are barriers.

Where no chiplet hosts two stages of a window, the simulation equals the closed form of
:mod:`costmodel.evaluate`; elsewhere the closed form is a lower bound (tested).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """One task on the timeline (seconds from the start of the schedule)."""

    window: int
    model: str
    stage: int  # index of the stage among the model's stages in this window
    chiplet: int
    micro_batch: int  # -1 for a weight load
    start: float
    end: float

    @property
    def kind(self) -> str:
        return "weights" if self.micro_batch < 0 else "compute"


@dataclass
class Timeline:
    events: list[Event]
    window_end_s: list[float]

    @property
    def makespan_s(self) -> float:
        return self.window_end_s[-1] if self.window_end_s else 0.0


def tail(stages, k: int, j: int) -> float:
    """Remaining pipeline time from micro-batch ``j`` of stage ``k`` on (fill + steady state)."""
    rest = [st.time_per_micro_batch_s for st in stages[k:]]
    return sum(rest) + (stages[k].n_micro_batches - 1 - j) * max(rest)


def simulate(problem, schedule) -> Timeline:
    """The timeline of ``schedule`` (stage times from the reference evaluator)."""
    res = problem.evaluate(schedule)
    W = problem.max_windows
    events: list[Event] = []
    ends: list[float] = []
    t0 = 0.0
    by_window: dict[int, dict[str, list]] = {}
    for st in res.stages:
        by_window.setdefault(st.window, {}).setdefault(st.model, []).append(st)
    for w in range(W):
        models = by_window.get(w, {})
        free: dict[int, float] = {}
        # tasks: (model, k, j) with duration; preds: previous stage same j, same stage j - 1
        finish: dict[tuple, float] = {}
        heap: list[tuple] = []
        seq = 0
        for name, stages in models.items():
            # weight preamble: one load after another, each on its stage's chiplet
            t = t0
            for k, st in enumerate(stages):
                if st.weight_load_once_s > 0:
                    start = max(t, free.get(st.chiplet, t0))
                    end = start + st.weight_load_once_s
                    free[st.chiplet] = end
                    events.append(Event(w, name, k, st.chiplet, -1, start, end))
                    t = end
            finish[(name, -1, 0)] = t
            heapq.heappush(heap, (t, -tail(stages, 0, 0), seq, name, 0, 0))
            seq += 1
        while heap:
            est, prio, _, name, k, j = heapq.heappop(heap)
            st = models[name][k]
            start = max(est, free.get(st.chiplet, t0))
            if start > est:  # the chiplet became busy since: requeue at its new earliest start
                heapq.heappush(heap, (start, prio, seq, name, k, j))
                seq += 1
                continue
            end = start + st.time_per_micro_batch_s
            free[st.chiplet] = end
            finish[(name, k, j)] = end
            events.append(Event(w, name, k, st.chiplet, j, start, end))
            stages = models[name]
            # successors: (k + 1, j) and (k, j + 1), each once all its predecessors are done
            for k2, j2 in ((k + 1, j), (k, j + 1)):
                if k2 >= len(stages) or j2 >= stages[k2].n_micro_batches:
                    continue
                preds = [
                    finish.get((name, k2 - 1, j2)) if k2 > 0 else finish[(name, -1, 0)],
                    finish.get((name, k2, j2 - 1)) if j2 > 0 else finish[(name, -1, 0)],
                ]
                if all(p is not None for p in preds):
                    heapq.heappush(heap, (max(preds), -tail(stages, k2, j2), seq, name, k2, j2))
                    seq += 1
        end_w = max([e.end for e in events if e.window == w], default=t0)
        # fluid DRAM and link bounds of the window, from the reference evaluator's figures
        end_w = max(end_w, t0 + res.extra["window_dram_s"][w], t0 + res.extra["window_link_s"][w])
        ends.append(end_w)
        t0 = end_w
    return Timeline(events, ends)
