"""Gymnasium environments over the schedule evaluator (issue 4).

Importing this package registers two environments by entry-point string, so nothing heavy (the
cost model) is imported until ``gymnasium.make`` builds one:

- ``chiplet_sched/Mapping-v0`` (:class:`env.mapping.MappingEnv`): a schedule one layer per step.
- ``chiplet_sched/Design-v0`` (:class:`env.design.DesignEnv`): a whole genome in one step.
"""

from __future__ import annotations

import gymnasium

ENV_IDS = {
    "chiplet_sched/Mapping-v0": "env.mapping:MappingEnv",
    "chiplet_sched/Design-v0": "env.design:DesignEnv",
}


def _register() -> None:
    """Register once; re-importing (or reloading) must not warn about overriding."""
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)


_register()

__all__ = ["ENV_IDS"]
