"""A discrete-event simulation of one schedule: tasks on chiplets, driven by completion events.

It runs the stages the reference evaluator prices (:class:`~costmodel.results.StageFigures`)
as tasks (docs/evaluation.md): in each window, a ``load`` task per stage whose weights stay
resident and a ``run`` task per stage and micro-batch. Each chiplet has a dispatch queue in the
fixed order of the policy (its loads, then its runs by micro-batch index and global stage
order) and runs the head of its queue, without preemption, once the task's predecessor (the same
micro-batch on the stage before, in the same model and window) has finished. Time advances from
one completion event to the next (a heap); windows are barriers. DRAM and NoP links enter as the
bound of docs/evaluation.md, from the bytes the simulated tasks carry. Energy and the
steady-state throughput are summed from the tasks too.

It is a second, independent computation of what the evaluators compute by the flow-shop
recursion: ``tests/test_exactness.py`` holds them equal. It also gives the Gantt chart's
timeline. A schedule whose tasks cannot all run (impossible for a valid schedule under this
policy) raises ``ValueError`` rather than hang or return a partial timeline.
"""

from __future__ import annotations

import heapq
from collections import defaultdict, deque
from dataclasses import dataclass, field


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
    """The simulated schedule: every task, each window's end, and the figures summed from the
    tasks (latency = the last window's end)."""

    events: list[Event]
    window_end_s: list[float]
    energy_j: float = 0.0
    throughput: float = 0.0
    dram_bytes: float = 0.0
    #: each model's latency: the end of its last task, its window's timeline stretched to the
    #: window's end (docs/evaluation.md, Per-model latency)
    model_latency_s: dict[str, float] = field(default_factory=dict)

    @property
    def makespan_s(self) -> float:
        return self.window_end_s[-1] if self.window_end_s else 0.0

    @property
    def latency_s(self) -> float:
        return self.makespan_s


@dataclass
class _Task:
    stage: int  # index into the window's stage list
    j: int  # micro-batch, -1 for a load
    duration: float
    pred: tuple[int, int] | None  # (stage, j) that must finish first


def _window_tasks(stages) -> dict[int, deque[_Task]]:
    """Each chiplet's dispatch queue: loads in stage order, then runs by (j, stage order)."""
    queues: dict[int, deque[_Task]] = defaultdict(deque)
    for k, st in enumerate(stages):
        if st.weight_load_once_s > 0:
            queues[st.chiplet].append(_Task(k, -1, st.weight_load_once_s, None))
    runs = []
    for k, st in enumerate(stages):
        same = k > 0 and stages[k - 1].model_index == st.model_index
        for j in range(st.n_micro_batches):
            runs.append(
                (j, k, _Task(k, j, st.time_per_micro_batch_s, (k - 1, j) if same else None))
            )
    for _, k, task in sorted(runs, key=lambda x: (x[0], x[1])):
        queues[stages[k].chiplet].append(task)
    return queues


def _run_window(stages, w: int, t0: float, events: list[Event], owners: list) -> float:
    """Simulate one window's tasks from ``t0``, appending each task's event (and its stage to
    ``owners``); return the last completion time."""
    queues = _window_tasks(stages)
    done: dict[tuple[int, int], float] = {}
    busy: set[int] = set()
    heap: list[tuple[float, int, int, _Task]] = []  # (end, seq, chiplet, task)
    seq = 0
    first_in_model: dict[int, int] = {}
    for k, st in enumerate(stages):
        first_in_model.setdefault(st.model_index, k)
    n_tasks = sum(len(q) for q in queues.values())

    def try_start(c: int, now: float) -> None:
        nonlocal seq
        if c in busy or not queues[c]:
            return
        task = queues[c][0]
        if task.pred is not None and task.pred not in done:
            return
        queues[c].popleft()
        busy.add(c)
        st = stages[task.stage]
        end = now + task.duration
        k_model = task.stage - first_in_model[st.model_index]
        events.append(Event(w, st.model, k_model, c, task.j, now, end))
        owners.append(st)
        heapq.heappush(heap, (end, seq, c, task))
        seq += 1

    for c in list(queues):
        try_start(c, t0)
    end_time = t0
    finished = 0
    while heap:
        now, _, c, task = heapq.heappop(heap)
        done[(task.stage, task.j)] = now
        busy.discard(c)
        finished += 1
        end_time = max(end_time, now)
        try_start(c, now)
        # the task this one was the predecessor of may be waiting at the head of its queue
        nxt = task.stage + 1
        if task.j >= 0 and nxt < len(stages):
            if stages[nxt].model_index == stages[task.stage].model_index:
                try_start(stages[nxt].chiplet, now)
    if finished != n_tasks:
        raise ValueError(
            f"window {w}: {n_tasks - finished} of {n_tasks} tasks could not run (a dispatch "
            "deadlock); the schedule is not valid under the fixed-order policy"
        )
    return end_time


def simulate(problem, schedule, result=None) -> Timeline:
    """The timeline of ``schedule`` (stage costs from the reference evaluator's pricing;
    ``result``: that evaluation, when the caller has it already)."""
    res = problem.evaluate(schedule) if result is None else result
    mcm = problem.mcm
    events: list[Event] = []
    owners: list = []
    ends: list[float] = []
    t0 = 0.0
    energy = 0.0
    dram_total = 0.0
    occupancy: dict[int, float] = defaultdict(float)
    link_total: dict[tuple[int, int], float] = defaultdict(float)
    model_end: dict[str, float] = {}
    for w in range(problem.max_windows):
        stages = [st for st in res.stages if st.window == w]  # global stage order
        first = len(events)
        span_end = _run_window(stages, w, t0, events, owners)
        dram_w = 0.0
        link_w: dict[tuple[int, int], float] = defaultdict(float)
        for ev, st in zip(events[first:], owners[first:]):
            occupancy[ev.chiplet] += ev.end - ev.start
            if ev.micro_batch < 0:
                energy += st.energy_once_j
                dram_w += st.dram_bytes_once
                items = st.link_bytes_once.items()
            else:
                energy += st.energy_per_micro_batch_j
                dram_w += st.dram_bytes_per_micro_batch
                items = st.link_bytes_per_micro_batch.items()
            for lk, v in items:
                link_w[lk] += v
        lmax = max(link_w.values(), default=0.0)
        end_w = max(span_end, t0 + dram_w / mcm.dram_bw, t0 + lmax / mcm.nop_bw)
        ends.append(end_w)
        scale = (end_w - t0) / (span_end - t0) if span_end > t0 else 1.0
        for ev in events[first:]:
            if ev.micro_batch >= 0:
                at = t0 + (ev.end - t0) * scale
                model_end[ev.model] = max(model_end.get(ev.model, 0.0), at)
        t0 = end_w
        dram_total += dram_w
        for lk, v in link_w.items():
            link_total[lk] += v
    period = max(
        max(occupancy.values(), default=0.0),
        dram_total / mcm.dram_bw,
        max(link_total.values(), default=0.0) / mcm.nop_bw,
    )
    batches = sum(m.batch for m in problem.workload.models)
    names = [m.name for m in problem.workload.models]
    return Timeline(
        events,
        ends,
        energy,
        batches / period if period > 0 else 0.0,
        dram_total,
        {n: model_end.get(n, 0.0) for n in names},
    )
