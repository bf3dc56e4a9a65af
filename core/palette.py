"""The colour of each condition group, the same in every figure (dashboard and report).

A condition's colour comes from its place in its task's condition order (``Task.groups()``:
Go before NoGo, xor's ++ +- -+ --, mante's context 1 before context 2), never from the order in
which a figure happens to meet the groups (the margin view met them in the order its trials were
drawn, so Go was brown on the accuracy curve and NoGo brown beside it). None of these colours is
one the dashboard gives another meaning: excitatory blue, inhibitory red, the rate model's orange,
the band's green or the output fidelity's purple.
"""

from __future__ import annotations

CONDITION_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#9edae5", "#c49c94", "#f7b6d2")


def condition_colors(groups, *others) -> dict[str, str]:
    """{group: colour} for the groups of a task in its condition order (``task.groups()``), then any
    ``others`` not among them (a file's own names), in the order given, after them."""
    groups = list(dict.fromkeys([*groups, *(g for more in others for g in more)]))
    return {group: CONDITION_COLORS[k % len(CONDITION_COLORS)] for k, group in enumerate(groups)}

