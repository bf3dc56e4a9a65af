"""Why a conversion works or fails: ranked findings, each with its measured evidence and what to try.

``diagnose(model)`` measures what the file says and what the networks do:

- the file: the readout's scale against the task's targets, the recurrent matrix's eigenvalue
  outlier against its bulk (E/I imbalance), Dale's principle (signs in ``m`` against the unit
  types), the share of ``w`` that relu zeroes, ``w`` equal to the untrained ``w0``, decay constants
  piled at one end of the file's range, inputs too weak to move a membrane against its noise;
- the rate network on fresh trials, per condition, against the file's stored ``eval_perf_mean``;
- the spiking network at a ladder of λ on the same trials: per condition how its output fails (too
  high, too low, too noisy for the threshold's margin, answering before the stimulus), its gain
  against the rate network's output in the decision window and the λ that equalises it, and the
  share of units silent or pinned at the refractory ceiling.

Findings are ranked: a cause planted in the file (high severity) before the behaviour it produces,
then the rest by severity. Each names the dashboard view that shows its evidence (``view``).
docs/method.md, "Diagnosis", defines every measure and threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.model import RateModel, as_model
from rate2spike.tasks import Task, get_task, infer_task
from rate2spike.timegrid import LIF_STEP, RATE_STEP, first_sample_from
from rate2spike.rate import simulate_rate
from rate2spike.train import evaluate
from rate2spike.trial import TrialSpec, default_scaling_factor, run_trials_at

HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, LOW: 2}
LADDER = (2.5, 5.0, 10.0, 20.0, 40.0, 80.0, 150.0)  # λ scored by the spiking measurements (with the λ shown)
DIAGNOSIS_TRIALS = 20  # trials per λ of the ladder (the same trials at every λ)
RATE_TRIALS = 200  # fresh trials of the rate network
SATURATION_TRIALS = 10  # rate-network trials whose saturation is measured
PINNED_SHARE_OF_CEILING = 0.8  # a unit firing at 80% of 1/tref or more is pinned at the refractory ceiling


@dataclass(frozen=True)
class Finding:
    """One sentence: what was measured, what it means, what to try. ``cause`` names the part of the
    model or conversion it points at; ``view`` the dashboard view that shows its evidence."""

    severity: str
    cause: str
    text: str
    view: str


@dataclass
class Diagnosis:
    """The ranked findings of one model (most important first) and the measurements behind them."""

    model_name: str
    task: str
    findings: list[Finding] = field(default_factory=list)
    measures: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The findings as a numbered list, most important first."""
        if not self.findings:
            return ["1. Nothing stands out: the file, the rate network and the spiking network at the λ scored "
                    "look as a converted model does."]
        return [f"{k}. {finding.text}" for k, finding in enumerate(self.findings, 1)]

    @property
    def high(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == HIGH]


# --- measurements ----------------------------------------------------------------------------

def membrane_noise_sd(params: LIFParameters = DEFAULT_PARAMETERS, dt: float = LIF_STEP) -> float:
    """mV: the stationary spread of a membrane under the per-step noise alone (about 1 mV with the
    reference's 0.1 mV per 0.05 ms step and tm = 10 ms): what an input must beat to be felt."""
    keep = 1 - dt / params.tau_m
    return float(params.noise_sd / math.sqrt(1 - keep * keep))


def file_measures(model: RateModel, task: Task) -> dict:
    """What the file alone says: recurrent spectrum, Dale's signs, relu, w0, decay constants, inputs."""
    W = model.recurrent_weights()
    eigenvalues = np.linalg.eigvals(W)
    bulk = float(np.sqrt(model.N * W.var()))  # radius of the eigenvalue disc of a random matrix this spread
    signs = np.sign(np.diag(model.m))
    td = model.decay_constants()
    low, high = min(model.taus) * RATE_STEP, max(model.taus) * RATE_STEP
    margin = 0.02 * (high - low)
    return {
        "bulk_radius": bulk,
        "outlier": float(np.max(eigenvalues.real)),
        "dale_mismatch": int(np.count_nonzero((signs > 0) != model.exc)) if model.dale else 0,
        "relu_zeroed": float(model.relu_zeroed),
        "untrained": model.w0 is not None and np.array_equal(model.w, model.w0),
        "decay_fast": float(np.mean(td <= low + margin)) if high > low else 0.0,
        "decay_slow": float(np.mean(td >= high - margin)) if high > low else 0.0,
        "decay_range_ms": (low * 1e3, high * 1e3),
        "input_drive": float(np.median(np.abs(model.w_in).max(axis=1))),  # mV per unit of input, median unit
    }


def rate_measures(model: RateModel, task: Task, seed: int = 0) -> dict:
    """The rate network on fresh trials (the trainer's rule): accuracy per condition label, how far
    its answers overshoot their target of 1, and the share of unit-steps saturated (activity below
    0.02 or above 0.98, where the sigmoid no longer responds)."""
    result = evaluate(model, task, np.random.default_rng([seed, 3]), RATE_TRIALS)
    correct = task.training_correct(result.outputs, result.labels)
    by_label = {int(label): float(correct[result.labels == label].mean()) for label in np.unique(result.labels)}
    answering = result.labels != 0
    tail = result.outputs[:, result.outputs.shape[1] // 2:]
    overshoot = float(np.median(np.abs(tail[answering]).max(axis=1))) if answering.any() else math.nan
    saturated = []
    for k in range(SATURATION_TRIALS):
        stimulus = task.stimulus(np.random.default_rng([seed, k, 0]))
        r = simulate_rate(model, stimulus.u, seed=[seed, k, 2]).r
        saturated.append(np.mean((r < 0.02) | (r > 0.98)))
    return {"accuracy": result.accuracy, "by_label": by_label, "overshoot": overshoot,
            "saturated": float(np.mean(saturated)), "labels": _label_names(task)}


def _label_names(task: Task) -> dict[int, str]:
    """Condition label -> the words for its trials ('Go', 'NoGo'; '+1 answers', '-1 answers')."""
    names: dict[int, list[str]] = {}
    for condition in task.conditions():
        names.setdefault(condition.label, []).append(condition.group)
    return {label: groups[0] if len(set(groups)) == 1 else f"{'+' if label > 0 else '-'}1 answers"
            for label, groups in names.items()}


def _stimulus_onset(stimulus, dt: float) -> float:
    """Time (s) of the first stimulus column that differs from the trial's first column (the context
    cues of mante are on from the start), or the trial's end when nothing changes."""
    u = stimulus.u
    changed = np.flatnonzero(np.any(u != u[:, :1], axis=0))
    return (changed[0] if changed.size else u.shape[1]) * RATE_STEP


def failure_mode(trial) -> str | None:
    """How a wrong trial failed: 'early' (answered before the stimulus), 'high' (a NoGo window whose
    mean is above the ceiling), 'noisy' (the window's mean on the right side, its fluctuations across
    the line), 'low' (an answer that never reached its threshold)."""
    outcome, out = trial.outcome, trial.recording.out
    if outcome.correct:
        return None
    dt = trial.recording.drive.dt
    onset = first_sample_from(_stimulus_onset(trial.stimulus, dt), dt)
    start = first_sample_from(trial.spec.task.decision_start, dt)
    if outcome.label != 0 and onset > 0 and np.max(outcome.label * out[:onset]) > abs(outcome.level):
        return "early"
    window = out[start:]
    if outcome.label == 0:
        return "noisy" if window.mean() < outcome.level else "high"
    return "noisy" if outcome.label * window.mean() > abs(outcome.level) else "low"


def spiking_measures(model: RateModel, task: Task, ladder, seed: int = 0, n_trials: int = DIAGNOSIS_TRIALS) -> dict:
    """The spiking network at each λ of ``ladder`` on the same trials: accuracy and failure modes per
    group, the gain of its output against the rate network's in the decision window, and the share
    of units silent or pinned at the refractory ceiling."""
    specs = [TrialSpec(model, task, ladder[0], seed=seed, index=k) for k in range(n_trials)]
    trials = run_trials_at(specs, ladder, record=("rate_model",))
    duration = trials[0][0].recording.drive.T
    per_lambda = []
    for g, lam in enumerate(ladder):
        at = [row[g] for row in trials]
        groups: dict[str, dict] = {}
        gains, silent, pinned = [], [], []
        for trial in at:
            group = groups.setdefault(trial.outcome.group, {"n": 0, "correct": 0, "modes": {}, "window_means": [],
                                                            "level": trial.outcome.level})
            group["n"] += 1
            group["correct"] += trial.outcome.correct
            start = first_sample_from(task.decision_start, trial.recording.drive.dt)
            group["window_means"].append(float(np.mean(trial.recording.out[start:])))
            mode = failure_mode(trial)
            if mode is not None:
                group["modes"][mode] = group["modes"].get(mode, 0) + 1
            rates = trial.recording.spike_counts / duration
            silent.append(np.mean(rates == 0))
            pinned.append(np.mean(rates >= PINNED_SHARE_OF_CEILING / trial.spec.params.t_ref))
            gain = window_gain(trial)
            if gain is not None:
                gains.append(gain)
        per_lambda.append({"lambda": float(lam), "accuracy": float(np.mean([t.outcome.correct for t in at])),
                           "trials": len(at),
                           "groups": groups, "gain": float(np.median(gains)) if gains else math.nan,
                           "silent": float(np.mean(silent)), "pinned": float(np.mean(pinned))})
    return {"ladder": per_lambda}


def window_gain(trial) -> float | None:
    """The spiking output's mean over the decision window divided by the rate network's (on the same
    stimulus), for trials where the rate network's answer is clearly away from 0."""
    rate = trial.rate_response
    start_rate = int(round(trial.spec.task.decision_start / RATE_STEP))
    rate_mean = float(np.mean(rate.o[start_rate:]))
    if abs(rate_mean) < 0.2:
        return None
    dt = trial.recording.drive.dt
    lif_mean = float(np.mean(trial.recording.out[first_sample_from(trial.spec.task.decision_start, dt):]))
    return lif_mean / rate_mean


# --- findings --------------------------------------------------------------------------------

# thresholds (docs/method.md, "Diagnosis")
READOUT_OVERSHOOT = 2.5  # the rate network's answers this many times their target of 1: the readout is too large
WEAK_INPUT_SHARE = 0.25  # a median input weight below this share of the membrane noise hardly moves a membrane
PILED_DECAY = 0.9  # this share of units at one end of the file's decay range: taus_gaus pushed to a bound
GROWN_RECURRENCE = 4.0  # |w| / |w0| above this with most of the rate network saturated: recurrence too strong
SATURATED = 0.6
RATE_FAILS = 0.9  # the rate network answers a condition correctly on fewer trials than this: it fails
STORED_DISAGREES = 0.1  # a stored accuracy this far from the one measured now
GAIN_BAND = (2 / 3, 1.5)  # spiking over rate output in the decision window: outside it, λ is off
SILENT, PINNED = 0.6, 0.1  # shares of units silent / at the refractory ceiling worth a finding
CAUSE_ORDER = ("untrained", "dale", "readout", "input", "decay", "recurrent", "rate network", "spiking output",
               "gain", "stored results", "units", "relu", "balance")


def _file_findings(model, file, rate) -> list[Finding]:
    found = []
    if file["untrained"]:
        found.append(Finding(HIGH, "untrained", f"w is identical to the untrained w0: the file holds the network "
                             f"before training (its rate network answers {rate['accuracy']:.2f} of fresh trials); "
                             "load the trained file or train it (rate2spike train).", "file"))
    if file["dale_mismatch"]:
        found.append(Finding(HIGH, "dale", f"Dale's principle is broken: {file['dale_mismatch']} of {model.N} units "
                             "have a sign in m that contradicts their type (exc/inh), so inhibitory units excite and "
                             "excitatory ones inhibit; fix m (or inh/exc) from the trainer's record.", "file"))
    if rate["overshoot"] >= READOUT_OVERSHOOT:
        found.append(Finding(HIGH, "readout", f"The readout is about {rate['overshoot']:.1f} times too strong: the "
                             f"rate network's answers reach {rate['overshoot']:.1f} against a target of 1, and the "
                             "spiking output's fluctuations, amplified alike, cross the thresholds that a silent "
                             f"answer must stay under; divide w_out (and b_out) by {rate['overshoot']:.0f}.", "output"))
    if file["input_drive"] < WEAK_INPUT_SHARE * membrane_noise_sd():
        found.append(Finding(HIGH, "input", f"The inputs are too weak to make units fire: the median unit's input "
                             f"weight is {file['input_drive']:.3f} mV per unit of stimulus, against membrane noise of "
                             f"about {membrane_noise_sd():.1f} mV; the stimulus barely moves the network (check w_in's "
                             "scale against the trainer's).", "raster"))
    piled = max(file["decay_fast"], file["decay_slow"])
    if piled >= PILED_DECAY:
        end = "fast" if file["decay_fast"] >= file["decay_slow"] else "slow"
        low, high = file["decay_range_ms"]
        found.append(Finding(HIGH, "decay", f"{piled:.0%} of the decay constants sit at the {end} end of the file's "
                             f"range ({low:.0f}-{high:.0f} ms): taus_gaus is pushed to a bound, so the synapses keep "
                             "no variety of time scales; check taus_gaus against the trainer's.", "decay"))
    grown = _grown_recurrence(model)
    if grown >= GROWN_RECURRENCE and rate["saturated"] >= SATURATED:
        severity = HIGH if min(rate["by_label"].values()) < RATE_FAILS else MEDIUM
        fails = "; the rate network no longer solves the task reliably" if severity == HIGH else ""
        found.append(Finding(severity, "recurrent", f"The recurrent weights are {grown:.1f} times the scale of the "
                             f"untrained w0 and {rate['saturated']:.0%} of the rate network's activity is saturated "
                             f"(below 0.02 or above 0.98){fails}: if training did not grow them so far, check w's "
                             "scale against the trainer's.", "diagnostic"))
    if model.relu_zeroed > 0.3:
        found.append(Finding(LOW, "relu", f"relu zeroes {model.relu_zeroed:.0%} of w's nonzero entries (a "
                             "PyTorch-era file): the conversion uses relu(w) as the rate network did.", "file"))
    if file["bulk_radius"] > 0 and file["outlier"] > 3 * file["bulk_radius"]:
        found.append(Finding(MEDIUM, "balance", f"The recurrent matrix has an eigenvalue outlier at "
                             f"{file['outlier']:.1f}, {file['outlier'] / file['bulk_radius']:.1f} times its bulk: "
                             "excitation and inhibition are out of balance.", "diagnostic"))
    return found


def _grown_recurrence(model) -> float:
    """|w| / |w0|: how far training (or an edit) took the recurrent weights from their initial scale."""
    if model.w0 is None or not np.any(model.w0):
        return math.nan
    return float(np.linalg.norm(model.w) / np.linalg.norm(model.w0))


def _rate_findings(model, rate) -> list[Finding]:
    found = []
    names = rate["labels"]
    failing = {names.get(label, str(label)): acc for label, acc in rate["by_label"].items() if acc < RATE_FAILS}
    if failing:
        detail = ", ".join(f"{name} {acc:.2f}" for name, acc in failing.items())
        found.append(Finding(HIGH, "rate network", f"The rate network itself fails on fresh trials ({detail}; "
                             f"{RATE_TRIALS} trials by the trainer's rule): no λ can convert what it does not do; "
                             "retrain it or check the file.", "output"))
    if model.eval_perf_mean is not None and abs(model.eval_perf_mean - rate["accuracy"]) > STORED_DISAGREES:
        found.append(Finding(MEDIUM, "stored results", f"The file's stored rate accuracy (eval_perf_mean "
                             f"{model.eval_perf_mean:.2f}) disagrees with the rate network measured now "
                             f"({rate['accuracy']:.2f}): the file was changed after training, or its numbers "
                             "belong to another network.", "file"))
    return found


def _row(spiking, lam) -> dict:
    return next(row for row in spiking["ladder"] if row["lambda"] == lam)


def _spiking_findings(model, task, spiking, shown: float) -> list[Finding]:
    found = []
    ladder = spiking["ladder"]
    top = max(row["accuracy"] for row in ladder)  # the best λ; among ties, the one nearest the λ shown
    best = min((row for row in ladder if row["accuracy"] == top), key=lambda row: abs(math.log(row["lambda"] / shown)))
    never = [group for group in best["groups"]
             if all(row["groups"].get(group, {"correct": 1})["correct"] == 0 for row in ladder)]
    if best["accuracy"] < task.goal_accuracy:
        parts = [_how_it_fails(group, data) for group, data in best["groups"].items() if data["correct"] < data["n"]]
        severity = HIGH if never else MEDIUM
        lead = (f"{', '.join(never)} fails at every λ tried ({ladder[0]['lambda']:g}-{ladder[-1]['lambda']:g})"
                if never else f"The spiking output falls short even at its best λ, {best['lambda']:g} "
                              f"({best['accuracy']:.2f} of {best['trials']} trials)")
        found.append(Finding(severity, "spiking output", f"{lead}: {'; '.join(parts)}.", "margins"))
    row = _row(spiking, shown)
    gain = row["gain"]
    if np.isfinite(gain) and not GAIN_BAND[0] <= gain <= GAIN_BAND[1]:
        equal = _equalising_lambda(ladder)
        advice = f"; λ ≈ {equal:.0f} equalises them" if equal is not None else ""
        how = (f"averages {gain:.2g} times the rate network's" if gain > 0 else
               f"has, on average, the opposite sign to the rate network's (ratio {gain:.2g})")
        found.append(Finding(MEDIUM, "gain", f"At λ = {shown:g} the spiking output {how} in the decision window"
                             f"{advice}; the recommended λ of a sweep is where the two agree best.", "output"))
    if row["silent"] >= SILENT or row["pinned"] >= PINNED:
        trend = ", ".join(f"{r['silent']:.0%} silent at λ = {r['lambda']:g}" for r in (ladder[0], ladder[-1]))
        found.append(Finding(MEDIUM if row["pinned"] >= PINNED else LOW, "units",
                             f"At λ = {shown:g}, {row['silent']:.0%} of units are silent and {row['pinned']:.0%} "
                             f"pinned at the refractory ceiling ({PINNED_SHARE_OF_CEILING / DEFAULT_PARAMETERS.t_ref:.0f} "
                             f"Hz or more); "
                             f"against λ: {trend}.", "rates"))
    return found


def _how_it_fails(group: str, data: dict) -> str:
    """'NoGo 0/14 correct, mostly too high (window mean 0.81 against 0.3)'."""
    mode = max(data["modes"], key=data["modes"].get) if data["modes"] else "low"
    words = {"high": "too high", "low": "too low", "noisy": "too noisy for the threshold's margin",
             "early": "answering before the stimulus"}[mode]
    mean = float(np.mean(data["window_means"]))
    return (f"{group} {data['correct']}/{data['n']} correct, mostly {words} (window mean {mean:.2f} against "
            f"{data['level']:g})")


def _equalising_lambda(ladder) -> float | None:
    """The λ where the spiking output's gain against the rate network's crosses 1 (log-log interpolation
    between the ladder's λ), or None when it does not cross."""
    points = [(row["lambda"], row["gain"]) for row in ladder if np.isfinite(row["gain"]) and row["gain"] > 0]
    for (lam_a, gain_a), (lam_b, gain_b) in zip(points, points[1:]):
        if (gain_a - 1) * (gain_b - 1) <= 0 and gain_a != gain_b:
            t = math.log(gain_a) / (math.log(gain_a) - math.log(gain_b))
            return float(math.exp(math.log(lam_a) + t * (math.log(lam_b) - math.log(lam_a))))
    return None


def _stored_search_findings(model, spiking) -> list[Finding]:
    """A stored grid search whose accuracy at its optimum disagrees with what is measured now."""
    if model.opt_scaling_factor is None or model.all_perfs is None or model.scaling_factors is None:
        return []
    at = np.flatnonzero(np.isclose(model.scaling_factors, model.opt_scaling_factor))
    row = next((r for r in spiking["ladder"] if np.isclose(r["lambda"], model.opt_scaling_factor)), None)
    if not at.size or row is None:
        return []
    stored = float(model.all_perfs[at[0]])
    if abs(stored - row["accuracy"]) <= 0.25:  # 24 trials: only a clear disagreement counts
        return []
    return [Finding(MEDIUM, "stored results", f"The file's stored grid search gives {stored:.2f} at its optimum "
                    f"λ = {model.opt_scaling_factor:g}; measured now: {row['accuracy']:.2f} on "
                    f"{row['trials']} trials. Search again (rate2spike sweep --force).", "performance")]


def rank(findings: list[Finding]) -> list[Finding]:
    """Most important first: by severity, then causes in the file before the behaviour they produce."""
    return sorted(findings, key=lambda f: (SEVERITY_ORDER[f.severity], CAUSE_ORDER.index(f.cause)))


def diagnose(model, scaling_factor: float | None = None, task=None, seed: int = 0, progress=None,
             ladder=LADDER, n_trials: int = DIAGNOSIS_TRIALS) -> Diagnosis:
    """Ranked findings on why the conversion of ``model`` (a RateModel or a path) works or fails.
    ``scaling_factor`` is the λ the spiking measurements look at closely (default: the file's
    recommended or stored λ, else 50); ``ladder`` the other λ they score, ``n_trials`` trials each
    (the same trials at every λ); ``progress(text)`` hears what is being measured."""
    model = as_model(model)
    task = infer_task(model) if task is None else get_task(task)
    say = progress or (lambda text: None)
    shown = float(default_scaling_factor(model) if scaling_factor is None else scaling_factor)
    ladder = sorted({*ladder, shown, *([model.opt_scaling_factor] if model.opt_scaling_factor else [])})
    say("the file")
    file = file_measures(model, task)
    say(f"the rate network on {RATE_TRIALS} fresh trials")
    rate = rate_measures(model, task, seed)
    say(f"the spiking network at {len(ladder)} values of λ on {n_trials} trials")
    spiking = spiking_measures(model, task, ladder, seed, n_trials)
    findings = (_file_findings(model, file, rate) + _rate_findings(model, rate)
                + _spiking_findings(model, task, spiking, shown) + _stored_search_findings(model, spiking))
    return Diagnosis(model.name, task.name, rank(findings), {"file": file, "rate": rate, "spiking": spiking,
                                                            "scaling_factor": shown})
