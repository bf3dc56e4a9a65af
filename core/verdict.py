"""What a finished search concludes: did any λ convert the model, and which λ to use.

A grid search always has a first maximum, even when no λ converts the model: a network that answers
Go on every trial at every λ (as an earlier shipped go-nogo model did with its readout five times
too strong) scores 0.49 everywhere, and the reference saves its grid's first λ as "optimal". The verdict (docs/method.md, "Verdicts") says what the curve
supports:

- **converted**: the best λ's accuracy meets the task's goal (``Task.goal_accuracy``);
- **below goal**: some λ is usable, but the best misses the goal (by how much, with its interval);
- **failed**: some condition is never answered correctly at any λ scored, or no λ does
  significantly better than always giving the commonest answer (one-sided exact binomial test at
  α / K over the K λ scored).

The **recommended λ** follows the rate network: among the λ whose accuracy is not significantly
below the best (the λ band) and at most ``tolerance`` below it, the one whose spiking output is
closest to the rate network's (lowest mean squared difference). The reference's argmax stays
``opt_scaling_factor``; the recommendation is stored beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import bdtrc

from rate2spike.sweep import wilson_interval

CONVERTED, BELOW_GOAL, FAILED = "converted", "below goal", "failed"
BOTH_WAYS = 0.1  # this share of "correct" answers also crossing the opposite threshold: no clean answer
FEW_TRIALS = 30  # below this many trials per λ, a failed comparison with the constant answer says so
DEFAULT_TOLERANCE = 0.03  # a recommended λ may score this much below the best (and must be in the band)
RECOMMENDATION_RULE = ("the lambda whose spiking output is closest to the rate network's (lowest mean squared "
                       "difference) among those not significantly below the best and within {tolerance:g} of "
                       "its accuracy")


@dataclass(frozen=True)
class Verdict:
    """A search's conclusion: ``kind`` (converted, below goal, failed) and one sentence of why."""

    kind: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.kind == FAILED

    def line(self) -> str:
        """'converted: ...', the form stored in a model file as ``search_verdict``."""
        return f"{self.kind}: {self.reason}"

    @classmethod
    def parse(cls, text: str) -> "Verdict | None":
        """A verdict read back from its ``line`` (None for text of another form)."""
        kind, sep, reason = str(text).partition(": ")
        return cls(kind, reason) if sep and kind in (CONVERTED, BELOW_GOAL, FAILED) else None


def constant_answer_accuracy(labels) -> float:
    """The accuracy of a network that always gives the commonest right answer of these trials
    (always Go, always +1, ...): what an output that ignores the stimulus scores."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return float("nan")
    _values, counts = np.unique(labels, return_counts=True)
    return float(counts.max() / labels.size)


def answers_both_ways(outcome, two_sided: bool) -> bool:
    """Whether a ±1 answer's output also crossed the opposite threshold in the decision window (only
    in tasks whose answers are +1 and -1). The reference's rule looks at one side only, so an output
    that swings across both thresholds is counted correct on every trial."""
    return (two_sided and outcome.label != 0 and np.isfinite(outcome.opposite)
            and -outcome.label * outcome.opposite > abs(outcome.level))


def _clean_counts(result, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``result.table``: trials scored, trials correct by the rule, and trials correct
    cleanly (correct and not answering both ways)."""
    two_sided = {c.label for c in result.base.task.conditions()} >= {-1, 1}
    done, correct, clean = [], [], []
    for k in rows:
        scored = [o for o in result.outcomes[k] if o is not None]
        done.append(len(scored))
        correct.append(sum(o.correct for o in scored))
        clean.append(sum(o.correct and not answers_both_ways(o, two_sided) for o in scored))
    return np.array(done), np.array(correct), np.array(clean)


def _never_answered(result, scored: np.ndarray, clean: bool) -> tuple[str, int] | None:
    """(group, trials) of a condition group answered correctly (cleanly) at no λ scored, or None."""
    two_sided = {c.label for c in result.base.task.conditions()} >= {-1, 1}
    for group in result.base.task.groups():
        counts = [sum(1 for o in result.outcomes[k] if o is not None and o.group == group) for k in scored]
        hits = sum(1 for k in scored for o in result.outcomes[k] if o is not None and o.group == group and o.correct
                   and not (clean and answers_both_ways(o, two_sided)))
        if max(counts, default=0) > 0 and hits == 0:
            return group, max(counts)
    return None


def _beats_constant(result, scored: np.ndarray, done, clean, alpha: float) -> tuple[bool, float]:
    """Whether some λ scores (cleanly) significantly above the constant answer (exact one-sided
    binomial test, Bonferroni over the λ scored), and that constant answer's accuracy."""
    most = scored[int(np.argmax(done))]  # a race scores some λ on fewer trials
    baseline = constant_answer_accuracy([o.label for o in result.outcomes[most] if o is not None])
    level = alpha / max(scored.size, 1)
    beats = any(c > baseline * n and bdtrc(c - 1, n, baseline) < level for n, c in zip(done, clean))
    return bool(beats), baseline


def judge(result) -> Verdict | None:
    """The verdict of a finished search (a ``SweepResult``), or None for an unfinished one. It counts
    clean answers: correct by the reference's rule and not swinging across both thresholds."""
    if result.status != "complete" or result.optimum is None:
        return None
    task, table = result.base.task, result.table  # rows of ``table`` (increasing λ), as ``outcomes``
    scored = np.flatnonzero(table.complete & (table.n_done > 0))
    factors = table.scaling_factors[scored]
    tried = f"the {scored.size} λ tried, {factors.min():g} to {factors.max():g}"
    done, correct, clean = _clean_counts(result, scored)
    never = _never_answered(result, scored, clean=False) or _never_answered(result, scored, clean=True)
    if never is not None:
        group, trials = never
        return Verdict(FAILED, f"No λ converts this model: {group} fails at every λ tried (0 of its {trials} trials "
                               f"correct{_cleanly(result, scored)} at any of {tried})")
    beats, baseline = _beats_constant(result, scored, done, clean, result.options.alpha)
    optimum, accuracy = result.optimum
    if not beats:
        few = f"; {int(done.max())} trials per λ may be too few to tell: run more" if done.max() < FEW_TRIALS else ""
        return Verdict(FAILED, f"No λ converts this model: none does significantly better than always giving the "
                               f"commonest answer ({baseline:.2f}){_cleanly(result, scored)}; the best, λ = "
                               f"{optimum:g}, scores {accuracy:.3f} over {tried}{few}")
    j = int(np.argmax(clean / done))  # the best clean λ (the smallest among ties: rows increase with λ)
    best, score = float(factors[j]), float(clean[j] / done[j])
    low, high = (float(v) for v in wilson_interval(clean[j], done[j]))
    swing = _swing_note(result, optimum, best, score, done, correct, clean, scored)
    goal = task.goal_accuracy
    if score >= goal:
        return Verdict(CONVERTED, f"λ = {best:g} scores {score:.3f} (95% CI {low:.3f}-{high:.3f}), meeting the "
                                  f"{task.name} goal of {goal:g}{swing}")
    return Verdict(BELOW_GOAL, f"the best λ, {best:g}, scores {score:.3f} (95% CI {low:.3f}-{high:.3f}), "
                               f"{goal - score:.3f} below the {task.name} goal of {goal:g}{swing}")


def _cleanly(result, scored) -> str:
    """' (cleanly)' when answers swinging across both thresholds made the difference."""
    _done, correct, clean = _clean_counts(result, scored)
    return " with clean answers" if (correct != clean).any() else ""


def _swing_note(result, optimum: float, best: float, score: float, done, correct, clean, scored) -> str:
    """A clause on the reference's optimum when its 'correct' answers swing across both thresholds:
    what it scores only by counting them, against the best clean score (``score``, at ``best``)."""
    k = int(np.flatnonzero(result.table.scaling_factors[scored] == optimum)[0])
    if correct[k] == 0 or (correct[k] - clean[k]) / correct[k] < BOTH_WAYS:
        return ""
    swinging = f"{(correct[k] - clean[k]) / correct[k]:.0%} of its correct trials answer both ways"
    counted = correct[k] / done[k]
    if optimum == best:
        return f"; it scores {counted:.3f} by the reference's rule, counting outputs that swing ({swinging})"
    compared = "higher" if counted > score else "as high"
    return (f"; the reference's optimum, λ = {optimum:g}, scores {compared} ({counted:.3f}) only by counting "
            f"outputs that swing across both thresholds ({swinging})")


def recommend(result, tolerance: float = DEFAULT_TOLERANCE) -> tuple[float, float, float] | None:
    """(λ, accuracy, mean squared difference from the rate output) of the recommended λ, or None
    (an unfinished search, a failed conversion, or no output fidelity measured)."""
    verdict = judge(result)
    if verdict is None or verdict.failed:
        return None
    _best, top = result.optimum
    table = result.table
    band = set(result.band.tolist())
    with np.errstate(invalid="ignore"):
        counts = np.isfinite(result.output_mse).sum(axis=1)
        mse = np.where(counts > 0, np.nansum(result.output_mse, axis=1) / np.maximum(counts, 1), np.nan)
    candidates = [k for k, lam in enumerate(table.scaling_factors)
                  if lam in band and table.accuracy[k] >= top - tolerance - 1e-12 and np.isfinite(mse[k])]
    if not candidates:
        return None
    k = min(candidates, key=lambda j: mse[j])
    return float(table.scaling_factors[k]), float(table.accuracy[k]), float(mse[k])


def recommendation_rule(tolerance: float = DEFAULT_TOLERANCE) -> str:
    """The rule that chose a recommended λ, in words (stored beside it)."""
    return RECOMMENDATION_RULE.format(tolerance=tolerance)
