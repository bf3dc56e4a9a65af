"""The three cognitive tasks, one module each, and looking them up by name or by model.

A new task is a ``Task`` subclass in its own module, added to ``TASKS`` here; nothing else in
the package or the dashboard names tasks: the command line's help, the report and the dashboard's
help lines read the task objects (their description, conditions, options, thresholds and goal).
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


TASK_CHOICE = "--task on the command line, task= (task_name= in the spikeRNN functions) in Python"


def infer_task(model) -> Task:
    """The task a model was trained on: the one its file name names ('Task_<task>_...'), else the
    one task whose stimuli have as many inputs as the model. A ValueError when that is not one task:
    none fits, or several do (its message names them and the option that chooses, ``TASK_CHOICE``)."""
    named = []
    if model.path is not None:
        lowered = model.path.name.lower()
        named = [task for task in TASKS.values() if f"task_{task.name}_" in lowered]
    candidates = named or tasks_for(model.n_inputs)
    if not candidates:
        raise ValueError(f"{model.name}: cannot tell the task from {model.n_inputs} inputs; "
                         f"tasks take {', '.join(f'{t.name} {t.n_inputs}' for t in TASKS.values())}")
    if len(candidates) > 1:
        why = "its file name names" if named else f"{model.n_inputs} input(s) fit"
        raise ValueError(f"{model.name}: the task is ambiguous: {why} {' and '.join(t.name for t in candidates)}; "
                         f"choose one with {TASK_CHOICE}")
    return candidates[0]


def task_names_text() -> str:
    """'go-nogo, xor or mante': the tasks a user may name, for help texts."""
    names = list(TASKS)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def condition_examples() -> str:
    """One condition name of each task, quoted where the shell needs it, for help texts."""
    def shown(name: str) -> str:
        return name if name.replace("-", "").isalnum() else f"'{name}'"
    return ", ".join(f"{shown(task.conditions()[0].name)} ({task.name})" for task in TASKS.values())


def option_examples() -> str:
    """Each task option as NAME=DEFAULT with its task ('evidence_strength=0.5 for mante'), for help texts."""
    return ", ".join(f"{o.name}={o.default:g} for {task.name}" for task in TASKS.values() for o in task.options) \
        or "no task has options"


def check_task_fits(task: Task, model) -> None:
    """A task drives only a model with as many inputs as its stimuli have."""
    if task.n_inputs != model.n_inputs:
        raise ValueError(f"task '{task.name}' has {task.n_inputs} input(s) but {model.name} has "
                         f"{model.n_inputs}; choose a task with {model.n_inputs} input(s)")


__all__ = ["TASKS", "TASK_CHOICE", "get_task", "tasks_for", "infer_task", "check_task_fits", "task_names_text",
           "condition_examples", "option_examples", "Task", "Condition", "Factor",
           "TaskOption", "Stimulus", "Outcome", "TrainingBatch", "THRESHOLD", "NOGO_CEILING", "RANDOM"]
