"""The three cognitive tasks, one module each, and looking them up by name or by model.

A new task is a ``Task`` subclass in its own module, added to ``TASKS`` here; nothing else in
the package or the dashboard names tasks.
"""

from __future__ import annotations

from rate2spike.tasks.base import (NOGO_CEILING, RANDOM, THRESHOLD, Condition, Factor, Outcome, Stimulus, Task,
                                   TaskOption, TrainingBatch)
from rate2spike.tasks.gonogo import GoNogo
from rate2spike.tasks.mante import Mante
from rate2spike.tasks.xor import Xor

TASKS: dict[str, Task] = {task.name: task for task in (GoNogo(), Xor(), Mante())}
_ALIASES = {"gonogo": "go-nogo", "go_nogo": "go-nogo", "go nogo": "go-nogo", "context": "mante"}


def get_task(name) -> Task:
    """A task by name ('go-nogo', 'xor', 'mante'; case, '_' and 'context' are forgiven)."""
    if isinstance(name, Task):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TASKS:
        raise ValueError(f"unknown task '{name}'; choose from: {', '.join(TASKS)}")
    return TASKS[key]


def tasks_for(n_inputs: int) -> list[Task]:
    """The tasks whose stimuli have ``n_inputs`` inputs."""
    return [t for t in TASKS.values() if t.n_inputs == n_inputs]


def infer_task(model) -> Task:
    """The task a model was trained on: from its file name ('Task_<task>_...'), else from its
    number of inputs."""
    if model.path is not None:
        lowered = model.path.name.lower()
        for task in TASKS.values():
            if f"task_{task.name}_" in lowered:
                return task
    matches = tasks_for(model.n_inputs)
    if not matches:
        raise ValueError(f"{model.name}: cannot tell the task from {model.n_inputs} inputs; "
                         f"tasks take {', '.join(f'{t.name} {t.n_inputs}' for t in TASKS.values())}")
    return matches[0]


def check_task_fits(task: Task, model) -> None:
    """A task drives only a model with as many inputs as its stimuli have."""
    if task.n_inputs != model.n_inputs:
        raise ValueError(f"task '{task.name}' has {task.n_inputs} input(s) but {model.name} has "
                         f"{model.n_inputs}; choose a task with {model.n_inputs} input(s)")


__all__ = ["TASKS", "get_task", "tasks_for", "infer_task", "check_task_fits", "Task", "Condition", "Factor",
           "TaskOption", "Stimulus", "Outcome", "TrainingBatch", "THRESHOLD", "NOGO_CEILING", "RANDOM"]
