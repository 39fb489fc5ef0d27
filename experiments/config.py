"""Experiment configs: one typed model per experiment ``kind`` (pydantic), every nested field
checked before anything is written.

A config file is read as UTF-8 YAML with duplicate keys refused (:func:`costmodel.config.read_yaml`),
validated by the model of its ``kind`` and returned as a plain dict with every default filled in
(the defaults live here, once). Every error is a ``ValueError`` that names the file, the field and,
for a choice, the allowed values. Size limits (the machine has to hold what a config asks for) are
module constants and are listed in ``docs/design.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from costmodel import (
    DATAFLOWS,
    MODELS,
    PATTERNS,
    SCENARIOS,
    Problem,
    Workload,
    baseline_names,
)
from costmodel.config import load_mcm, load_workload, read_yaml

#: the experiment kinds, each with its model below
KINDS = ("search", "seed", "scar", "hetero", "benchmark", "scaling", "suite", "targets")
#: size limits: a config past them is refused with the limit named, instead of running out of
#: memory or time (an MCM's own limit is costmodel.hardware.MAX_CHIPLETS)
MAX_SEEDS = 1000
MAX_EVALS = 10_000_000
MAX_POPULATION = 100_000
MAX_LIST = 256  # scenarios, strategies, mixes, sizes, sweep values, problems ...
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

PositiveInt = Annotated[StrictInt, Field(gt=0)]
PositiveNumber = Annotated[StrictInt | StrictFloat, Field(gt=0)]


def _choice(what: str, value: Any, choices: tuple[str, ...] | list[str]) -> Any:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choices: {', '.join(choices)}")
    return value


def safe_name(value: Any, what: str = "name") -> str:
    """A name that becomes a folder: letters, digits, ``.``, ``_``, ``-``; cannot leave its parent."""
    if not isinstance(value, str) or not NAME_RE.match(value) or value in (".", ".."):
        raise ValueError(
            f"{what} must be 1-64 letters, digits, '.', '_' or '-' starting with a letter or "
            f"digit (it names a folder), got {value!r}"
        )
    return value


def _objectives() -> tuple[str, ...]:
    from costmodel.problem import OBJECTIVES

    return tuple(OBJECTIVES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BudgetConfig(_Strict):
    evals: Annotated[StrictInt, Field(gt=0, le=MAX_EVALS)] | None = None
    seconds: Annotated[StrictInt | StrictFloat, Field(gt=0, le=7 * 24 * 3600)] | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> BudgetConfig:
        if self.evals is None and self.seconds is None:
            raise ValueError("needs evals and/or seconds")
        return self


class CommonConfig(_Strict):
    """Keys every kind takes: what to run, with which agents and seeds, where."""

    name: str
    kind: str
    out: StrictStr | None = None
    agents: list[str] = Field(default_factory=lambda: ["ga"], min_length=1, max_length=64)
    seeds: list[Annotated[StrictInt, Field(ge=0, lt=2**32)]] = Field(
        default_factory=lambda: [0], min_length=1, max_length=MAX_SEEDS
    )
    agent_options: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: Any) -> str:
        return safe_name(v)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seed_count(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):  # ``seeds: 5`` means 0..4
            if not 0 < v <= MAX_SEEDS:
                raise ValueError(f"a seed count must be 1..{MAX_SEEDS}, got {v}")
            return list(range(v))
        return v

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError(f"seeds must be distinct, got {v}")
        return v

    @field_validator("agents")
    @classmethod
    def _agents(cls, v: list[str]) -> list[str]:
        from search import AGENTS

        for a in v:
            _choice("agent", a, tuple(AGENTS))
        if len(set(v)) != len(v):
            raise ValueError(f"agents must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _options(self) -> CommonConfig:
        from search import agent_class

        for a, opts in self.agent_options.items():
            if a not in self.agents:
                raise ValueError(
                    f"agent_options: {a!r} is not among agents ({', '.join(self.agents)})"
                )
            try:
                agent_class(a)(**opts)  # unknown or bad options fail now
            except TypeError as exc:
                raise ValueError(f"agent_options.{a}: {exc}") from None
        return self


class ExperimentConfig(CommonConfig):
    """Keys of every kind that searches one objective under one budget."""

    objective: str = "edp"
    budget: BudgetConfig
    max_windows: PositiveInt | None = None

    @field_validator("objective")
    @classmethod
    def _objective(cls, v: Any) -> str:
        return _choice("objective", v, _objectives())


def _check_workload(v: Any) -> Any:
    load_workload(v, "workload")
    return v


def _check_mcm(v: Any) -> Any:
    load_mcm(v)
    return v


class SearchConfig(ExperimentConfig):
    kind: Literal["search"]
    workload: dict[str, Any]
    mcm: dict[str, Any]
    baselines: list[str] = Field(default_factory=list, max_length=MAX_LIST)

    _w = field_validator("workload")(_check_workload)
    _m = field_validator("mcm")(_check_mcm)

    @field_validator("baselines")
    @classmethod
    def _baselines(cls, v: list[str]) -> list[str]:
        return [_choice("baseline", b, baseline_names()) for b in v]


class SeedSweep(_Strict):
    gpt2: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    seq_len: list[PositiveInt] = Field(default_factory=list, max_length=MAX_LIST)
    batch: list[Annotated[StrictInt, Field(gt=0, le=4096)]] = Field(
        default_factory=list, max_length=MAX_LIST
    )
    noc_bw: list[PositiveNumber | None] = Field(default_factory=list, max_length=MAX_LIST)

    @field_validator("gpt2")
    @classmethod
    def _gpt2(cls, v: list[str]) -> list[str]:
        for m in v:
            _choice("GPT-2 model", m, tuple(x for x in MODELS if x.startswith("gpt2")))
        return v


class SeedConfig(ExperimentConfig):
    kind: Literal["seed"]
    workload: dict[str, Any]
    mcm: dict[str, Any]
    objectives: list[str] = Field(
        default_factory=lambda: ["throughput", "energy"], min_length=1, max_length=8
    )
    sweep: SeedSweep = Field(default_factory=SeedSweep)

    _w = field_validator("workload")(_check_workload)
    _m = field_validator("mcm")(_check_mcm)

    @field_validator("objectives")
    @classmethod
    def _objs(cls, v: list[str]) -> list[str]:
        return [_choice("objective", o, _objectives()) for o in v]


Mesh = Annotated[StrictInt, Field(gt=0, le=64)]


class ScarConfig(ExperimentConfig):
    kind: Literal["scar"]
    scenarios: list[str] = Field(min_length=1, max_length=MAX_LIST)
    strategies: list[str] = Field(min_length=1, max_length=MAX_LIST)
    rows: Mesh = 3
    cols: Mesh = 3
    pes: Annotated[StrictInt, Field(gt=0, le=1 << 20)] = 4096
    objectives: list[str] | None = Field(default=None, min_length=1, max_length=8)

    @field_validator("scenarios")
    @classmethod
    def _scenarios(cls, v: list[str]) -> list[str]:
        return [_choice("scenario", s, tuple(SCENARIOS)) for s in v]

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: list[str]) -> list[str]:
        choices = baseline_names() + tuple(f"search:{p}" for p in PATTERNS if p != "grid")
        return [_choice("strategy", s, choices) for s in v]

    @model_validator(mode="after")
    def _default_objectives(self) -> ScarConfig:
        if self.objectives is None:
            self.objectives = [self.objective]
        for o in self.objectives:
            _choice("objective", o, _objectives())
        return self


class HeteroConfig(ExperimentConfig):
    kind: Literal["hetero"]
    mixes: dict[str, list[dict[str, Any]]] = Field(min_length=1, max_length=MAX_LIST)
    chiplet_pes: list[Annotated[StrictInt, Field(gt=0, le=1 << 20)]] = Field(
        min_length=1, max_length=MAX_LIST
    )
    pairs: list[list[str]] = Field(min_length=1, max_length=MAX_LIST)
    noc_bw: list[PositiveNumber | None] = Field(min_length=1, max_length=MAX_LIST)
    rows: Mesh = 2
    cols: Mesh = 2
    het_patterns: list[str] = Field(
        default_factory=lambda: ["het-checkerboard", "het-sides"], min_length=1, max_length=8
    )

    @field_validator("mixes")
    @classmethod
    def _mixes(cls, v: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
        for name, models in v.items():
            safe_name(name, "mix name")
            load_workload({"models": models}, f"mix {name}")
        return v

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: list[list[str]]) -> list[list[str]]:
        for pair in v:
            if len(pair) != 2:
                raise ValueError(f"each pair names two dataflows, got {pair}")
            for df in pair:
                _choice("dataflow", df, tuple(DATAFLOWS))
        return v

    @field_validator("het_patterns")
    @classmethod
    def _het(cls, v: list[str]) -> list[str]:
        return [
            _choice("heterogeneous pattern", p, tuple(x for x in PATTERNS if x.startswith("het")))
            for p in v
        ]


class SmallInstance(_Strict):
    small_instance: Annotated[StrictInt, Field(ge=0, lt=1000)]


class ProblemSpec(_Strict):
    workload: dict[str, Any]
    mcm: dict[str, Any]

    _w = field_validator("workload")(_check_workload)
    _m = field_validator("mcm")(_check_mcm)


class BenchmarkConfig(ExperimentConfig):
    kind: Literal["benchmark"]
    problems: dict[str, SmallInstance | ProblemSpec] = Field(min_length=1, max_length=MAX_LIST)

    @field_validator("problems", mode="before")
    @classmethod
    def _problems(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            for name, spec in v.items():
                safe_name(name, "problem name")
                if isinstance(spec, Mapping) and "small_instance" in spec and len(spec) > 1:
                    raise ValueError(f"{name}: small_instance takes no other key")
        return v


class ScalingSize(_Strict):
    rows: Mesh
    cols: Mesh
    scenario: str

    @field_validator("scenario")
    @classmethod
    def _sc(cls, v: Any) -> str:
        return _choice("scenario", v, tuple(SCENARIOS))


class ScalingConfig(ExperimentConfig):
    kind: Literal["scaling"]
    sizes: list[ScalingSize] = Field(min_length=1, max_length=MAX_LIST)
    pattern: str = "het-sides"
    population: Annotated[StrictInt, Field(gt=0, le=MAX_POPULATION)] = 1024

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: Any) -> str:
        return _choice("pattern", v, tuple(p for p in PATTERNS if p != "grid"))


class TargetsConfig(ExperimentConfig):
    """Config of kind ``targets``: ``scenarios`` (names, or workload specs with ``targets``
    under a name), ``strategies`` (baselines and ``search:<pattern>``), the MCM geometry and the
    target ``objectives`` the searches minimize."""

    kind: Literal["targets"]
    scenarios: list[str] = Field(min_length=1, max_length=MAX_LIST)
    workloads: dict[str, dict[str, Any]] = Field(default_factory=dict, max_length=MAX_LIST)
    strategies: list[str] = Field(min_length=1, max_length=MAX_LIST)
    rows: Mesh = 3
    cols: Mesh = 3
    pes: Annotated[StrictInt, Field(gt=0, le=1 << 20)] = 256
    objectives: list[str] = Field(
        default_factory=lambda: ["energy@targets", "targets-met"], min_length=1, max_length=3
    )

    @field_validator("strategies")
    @classmethod
    def _strategies(cls, v: list[str]) -> list[str]:
        choices = baseline_names() + tuple(f"search:{p}" for p in PATTERNS if p != "grid")
        return [_choice("strategy", s, choices) for s in v]

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, v: list[str]) -> list[str]:
        from costmodel.targets import TARGET_OBJECTIVES

        return [_choice("objective", o, TARGET_OBJECTIVES) for o in v]

    @model_validator(mode="after")
    def _workloads(self) -> TargetsConfig:
        for name, spec in self.workloads.items():
            safe_name(name, "workload name")
            w = load_workload(spec, f"workloads.{name}")
            if not any(w.targets):
                raise ValueError(f"workloads.{name}: has no latency targets (give targets:)")
        for s in self.scenarios:
            if s not in self.workloads:
                _choice("scenario", s, tuple(SCENARIOS) + tuple(self.workloads))
                if not any(load_workload({"scenario": s}).targets):
                    raise ValueError(
                        f"scenarios: {s!r} has no default latency targets (sc6-sc10 have); "
                        "define it under workloads with targets"
                    )
        return self


class SuiteConfig(CommonConfig):
    """The benchmark suite (:mod:`search.suite`): each instance sets its own objective, so there
    is no ``objective``; ``budgets`` lists evaluation counts, each run once per agent, seed,
    instance and track."""

    kind: Literal["suite"]
    budgets: list[Annotated[StrictInt, Field(gt=0, le=MAX_EVALS)]] = Field(
        min_length=1, max_length=16
    )
    tiers: list[str] | None = None
    instances: list[str] = Field(default_factory=list, max_length=MAX_LIST)
    tracks: list[str] = Field(default_factory=lambda: ["unseeded", "seeded"], min_length=1)
    best_known: StrictStr | None = None
    exclude: dict[str, list[str]] = Field(default_factory=dict)
    # a tier run at only some of the budgets (tiny instances: 2,000 evaluations reach the optimum)
    tier_budgets: dict[str, list[int]] = Field(default_factory=dict)
    # every analysis of the suite reads best-so-far curves: improving calls are enough
    history: Literal["calls", "improvements"] = "improvements"

    @model_validator(mode="after")
    def _suite(self) -> SuiteConfig:
        from search import suite

        if self.tiers is None:
            self.tiers = [] if self.instances else list(suite.TIERS)
        suite.select(self.tiers, self.instances)  # unknown tier or instance: ValueError
        for t in self.tracks:
            suite.check_track(t)
        if len(set(self.budgets)) < len(self.budgets):
            raise ValueError(f"budgets: {self.budgets} lists a budget twice")
        for tier, bs in self.tier_budgets.items():
            if tier not in suite.TIERS:
                raise ValueError(
                    f"tier_budgets: unknown tier {tier!r}; choices: {', '.join(suite.TIERS)}"
                )
            if not bs or len(set(bs)) < len(bs) or any(b not in self.budgets for b in bs):
                raise ValueError(
                    f"tier_budgets.{tier}: {bs} must be a non-empty subset of budgets {self.budgets}, "
                    "each budget once"
                )
        for a, names in self.exclude.items():
            if a not in self.agents:
                raise ValueError(f"exclude: {a!r} is not among agents ({', '.join(self.agents)})")
            for x in names:
                if x not in suite.TIERS:
                    suite.instance(x)  # a tier or an instance name, else ValueError
        return self


MODELS_BY_KIND: dict[str, type[CommonConfig]] = {
    "search": SearchConfig,
    "seed": SeedConfig,
    "scar": ScarConfig,
    "hetero": HeteroConfig,
    "benchmark": BenchmarkConfig,
    "scaling": ScalingConfig,
    "suite": SuiteConfig,
    "targets": TargetsConfig,
}


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys the model at ``loc`` (a path of field names and indices) takes."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            if part not in current.model_fields:
                return []
            current = current.model_fields[part].annotation
            continue
        args = [a for a in typing.get_args(current) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        current = models[0] if models else (args[-1] if args else None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return sorted(current.model_fields)
    return []


def _message(exc: ValidationError, model: type[BaseModel]) -> str:
    """The first error of a pydantic exception as ``field.path: message (got value)``."""
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif err["type"] != "missing" and "input" in err:
        given = repr(err["input"])
        msg = f"{msg}, got {given if len(given) <= 60 else given[:57] + '...'}"
    if err["type"] == "extra_forbidden":
        allowed = _allowed_keys(model, tuple(err["loc"][:-1]))
        msg = "unknown key" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
    if msg.startswith(f"{loc}:"):  # a nested loader already named the field
        return msg
    return f"{loc}: {msg}" if loc else msg


def load_config(path: str | Path) -> dict:
    """Read and validate a config file; ``ValueError`` names the file, the field and the choices."""
    p = Path(path)
    return validate_config(read_yaml(p), where=str(p))


def validate_config(cfg: Any, where: str = "config") -> dict:
    """A config mapping checked by the model of its kind, as a plain dict with defaults filled in."""
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{where}: must be a mapping of keys, got {type(cfg).__name__}")
    kind = cfg.get("kind")
    if kind not in MODELS_BY_KIND:
        raise ValueError(f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    cls = MODELS_BY_KIND[kind]
    try:
        model = cls.model_validate(dict(cfg))
    except ValidationError as exc:
        raise ValueError(f"{where}: {_message(exc, cls)}") from None
    except ValueError as exc:  # raised outside a field (e.g. a nested loader)
        raise ValueError(f"{where}: {exc}") from None
    return model.model_dump(exclude_none=False)


def build_workload(spec: Any, where: str = "workload") -> Workload:
    """``{scenario: sc1[, seq_len]}``, ``{models: [{model, batch, seq_len|size}]}`` (or inline
    model definitions ``{name, batch, layers}``) or ``{model_file: path}``."""
    return load_workload(spec, where)


def build_problem(spec: Mapping, objective: str, max_windows: int | None = None) -> Problem:
    return Problem(
        build_workload(spec["workload"]),
        load_mcm(spec["mcm"]),
        objective=objective,
        max_windows=max_windows,
    )
