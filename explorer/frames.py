"""Pure functions from a scored trial or a sweep to plot data: what each view shows.

Each ``*_frame`` function takes what the session holds (a ``ScoredTrial``, a sweep snapshot,
a model; or None before anything exists) and returns a ``Frame``: plain columns per data
source, a title and view settings. They read lambda, seed and every setting from the trial
they are given, never from the controls, so a figure always describes what it shows. Tests
check them without a browser; ``figures`` draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rate2spike.palette import condition_colors
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.tasks import THRESHOLD
from rate2spike.timegrid import RATE_STEP

EXC_COLOR = "#1f77b4"  # excitatory: blue
INH_COLOR = "#d62728"  # inhibitory: red
RATE_MODEL_COLOR = "#ff7f0e"
WINDOW_COLOR = "#2ca02c"
STIMULUS_COLOR = "#777777"
STIMULATION_COLOR = "#9467bd"
SILENT_COLOR = "#555555"
PINNED_COLOR = "#9467bd"
# Voltage traces: none of the excitatory blue / inhibitory red, the rate model's orange or the
# stimulation purple, so a trace's colour never reads as a population.
VOLTAGE_COLORS = ("#111111", "#1b9e77", "#a6761d", "#e7298a", "#666666", "#66a61e")
LANE_MARGIN = 10.0  # mV: a voltage lane spans v_reset - 10 .. v_spike_drawn + 10 (-75 .. +40 mV)
LANE_LABEL_BELOW_TOP = 7.0  # mV: a lane's unit label sits this far below the lane's top

RASTER_MAX_SPIKES = 20_000  # above this the raster draws a random subset (decimation)
TRACE_MAX_POINTS = 4_000  # voltage/output traces are reduced to a min/max envelope of this size
PINNED_FRACTION = 0.8  # a unit above 80% of 1/t_ref (400 Hz) is pinned at the refractory limit
HIST_BINS = 30


@dataclass
class Frame:
    """What one view shows at one moment: columns for each named data source, and a title."""

    sources: dict[str, dict[str, np.ndarray | list]]
    title: str
    extras: dict = field(default_factory=dict)  # view-specific settings (ranges, sizes, colours)


# --- pure helpers -------------------------------------------------------------------------

def params_of(trial) -> LIFParameters:
    """The LIF constants of the trial shown, or the reference's before there is one."""
    return DEFAULT_PARAMETERS if trial is None else trial.spec.params


def pinned_rate(params: LIFParameters = DEFAULT_PARAMETERS) -> float:
    """Rate (Hz) from which a unit counts as pinned: PINNED_FRACTION of the refractory ceiling
    1/t_ref (400 Hz for the reference's 2 ms); infinite (none pinned) without a refractory period."""
    return PINNED_FRACTION * params.max_rate


def pinned_label(params: LIFParameters = DEFAULT_PARAMETERS) -> str:
    """The diagnostic's legend entry for pinned units: 'Pinned (≥ 400 Hz)'."""
    rate = pinned_rate(params)
    return f"Pinned (≥ {rate:.0f} Hz)" if np.isfinite(rate) else "Pinned (none: no refractory period)"


def voltage_lane(params: LIFParameters = DEFAULT_PARAMETERS) -> tuple[float, float]:
    """The span (mV) of one voltage lane: from LANE_MARGIN below the reset to LANE_MARGIN above
    the drawn spike (-75 .. +40 mV for the reference's constants)."""
    return params.v_reset - LANE_MARGIN, params.v_spike_drawn + LANE_MARGIN


def lane_ticks(params: LIFParameters, offsets) -> dict[float, str]:
    """The y-axis ticks of stacked lanes (each lane shifted by its offset, mV): reset, threshold
    and 0 mV, labelled with their voltages, not the offset positions."""
    ticks = {}
    for offset in offsets:
        ticks.update({float(offset + params.v_reset): f"{params.v_reset:g}",
                      float(offset + params.v_threshold): f"{params.v_threshold:g}", float(offset + 0.0): "0"})
    return ticks


def envelope(times: np.ndarray, values: np.ndarray, max_points: int = TRACE_MAX_POINTS):
    """Reduce a trace to at most ``max_points`` by keeping each bin's minimum and maximum, in
    time order, so one-step events (spikes at +30 mV, threshold crossings) are never dropped."""
    times = np.asarray(times)
    values = np.asarray(values)
    n = values.shape[0]
    if n <= max_points:
        return times, values
    per_bin = int(np.ceil(2 * n / max_points))
    n_bins = n // per_bin
    head = values[: n_bins * per_bin].reshape(n_bins, per_bin)
    offsets = np.arange(n_bins) * per_bin
    low_at, high_at = head.argmin(axis=1), head.argmax(axis=1)
    index = np.empty(2 * n_bins, dtype=np.int64)
    index[0::2] = np.minimum(low_at, high_at) + offsets
    index[1::2] = np.maximum(low_at, high_at) + offsets
    if n_bins * per_bin < n:
        tail = np.arange(n_bins * per_bin, n)
        index = np.concatenate([index, [tail[values[tail].argmin()], tail[values[tail].argmax()]]])
    index = np.unique(index)  # sorted; a flat bin's minimum and maximum are one sample
    return times[index], values[index]


def unit_order(order: str, exc: np.ndarray, firing_rates: np.ndarray | None) -> np.ndarray:
    """Raster row of each unit (row 0 at the bottom): by index, by type (excitatory first, from
    the top) or by rate (the highest rate on top)."""
    n = exc.size
    if order == "type":
        top_down = np.concatenate([np.flatnonzero(exc), np.flatnonzero(~exc)])
    elif order == "rate" and firing_rates is not None:
        top_down = np.argsort(-np.asarray(firing_rates), kind="stable")
    else:
        return np.arange(n)
    rows = np.empty(n, dtype=np.int64)
    rows[top_down] = np.arange(n)[::-1]
    return rows


def stimulus_spans(u: np.ndarray, dt_column: float = RATE_STEP) -> list[tuple[float, float]]:
    """Time spans (s) during which a time-varying input is on; constant inputs (context cues) are skipped."""
    u = np.atleast_2d(np.asarray(u))
    varying = u[np.ptp(u, axis=1) > 0]
    if varying.size == 0:
        return []
    active = (varying != 0).any(axis=0).astype(np.int8)
    edges = np.diff(np.concatenate([[0], active, [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(float(a * dt_column), float(b * dt_column)) for a, b in zip(starts, stops)]


def stimulation_span(trial) -> list[tuple[float, float]]:
    """The artificial stimulation window in seconds, if any."""
    window = trial.spec.stimulation.window(trial.spec.dt)
    return [] if window is None else [window]


def stimulation_words(trial, narrow: bool = False) -> str | None:
    """The artificial stimulation of the trial in a few words ('Stimulation on: 48 excitatory units
    pushed down, 0.5–0.75 s'), or None without one: titles and the page's status say it is on.
    ``narrow`` gives the short form for side-by-side columns."""
    if trial is None:
        return None
    window = trial.spec.stimulation.window(trial.spec.dt)
    if window is None:
        return None
    units = np.asarray(trial.spec.stimulation.units, dtype=np.int64)
    exc = np.asarray(trial.spec.model.exc, dtype=bool)
    chosen = exc[units]
    if chosen.all() or not chosen.any():
        kind = "excitatory" if chosen.all() else "inhibitory"
        every = units.size == int((exc == chosen.all()).sum())
        who = f"{'all ' if every else ''}{units.size} {kind} unit{'s' if units.size > 1 else ''}"
    else:
        every = units.size == exc.size
        who = f"{'all ' if every else ''}{units.size} units ({int(chosen.sum())} E, {int((~chosen).sum())} I)"
    way = "pushed up" if trial.spec.stimulation.sign > 0 else "pushed down"
    span = f"{window[0]:.3g}–{window[1]:.3g} s"
    if narrow:  # a third of a screen: 'Stimulated: 163 E units down, 0.5–1 s'
        short = who.replace("all ", "").replace("excitatory", "E").replace("inhibitory", "I")
        return f"Stimulated: {short} {way.split()[1]}, {span}"
    return f"Stimulation on: {who} {way}, {span}"


def _compact(*columns):
    """float32 copies of plotted columns: half the bytes to send, far finer than a pixel."""
    return tuple(np.asarray(c, dtype=np.float32) for c in columns)


def _spans(spans) -> dict:
    spans = np.asarray(spans, dtype=float).reshape(-1, 2)
    return {"start": spans[:, 0], "end": spans[:, 1]}


def describe(trial) -> str:
    """What a figure shows, read from the trial: condition, lambda and seed."""
    spec = trial.spec
    return f"{trial.stimulus.condition.name} trial, λ = {spec.scaling_factor:g}, seed {spec.seed}"


def wrapped_name(name: str, width: int = 34) -> str:
    """A long model file name broken at underscores into lines of at most ``width`` characters,
    so that it fits the title of a half-width figure."""
    lines, line = [], ""
    for part in name.split("_"):
        piece = part if not line else f"_{part}"
        if line and len(line) + len(piece) > width:
            lines.append(line + "_")
            line = part
        else:
            line += piece
    return "\n".join(lines + [line])


def trial_title(what: str, trial, detail: str, narrow: bool = False) -> str:
    """Three lines, '<what>, <condition> trial, λ = .., seed ..', '<detail>', '<model file>' (and,
    while stimulation is on, a line saying so after the first):
    what the figure shows, read from the trial; short lines, so a PNG saved from the figure says
    what it is. ``narrow`` (half-width figures, Present mode, side by side) wraps the model name."""
    name = trial.spec.model.name
    stimulation = stimulation_words(trial, narrow)
    stimulated = "" if stimulation is None else f"\n{stimulation}"
    return f"{what}, {describe(trial)}{stimulated}\n{detail}\n{wrapped_name(name) if narrow else name}"


START_UP = 0.1  # s: the start-up burst of the random initial voltages, ignored by early_response


def early_response(trial) -> float | None:
    """Time (s) at which a Go (or +1) trial's output first crossed the threshold before its
    stimulus started, if it did: counted correct by the task's rule, but not for the right reason.
    The first START_UP seconds are not counted: the reference starts every unit at a random voltage
    (up to +30 mV, most of them above threshold), so most units fire on the first step and the
    output overshoots briefly on every trial, a start-up transient that decays with the synapses
    (at most 100 ms), not a response."""
    spans = stimulus_spans(trial.stimulus.u)
    if trial.outcome.label <= 0 or not spans:
        return None
    run = trial.recording
    first = int(round(START_UP / run.drive.dt))
    before = run.out[first: max(first, int(round(spans[0][0] / run.drive.dt)))]
    hits = np.flatnonzero(before > THRESHOLD)
    return None if hits.size == 0 else float((first + hits[0] + 1) * run.drive.dt)


def verdict(trial) -> str:
    """Whether the trial was correct, and why (the task's own comparison)."""
    if trial is None:
        return "no trial yet"
    outcome = trial.outcome
    statistic = "min" if outcome.label < 0 else "max"
    wants_above = outcome.label > 0
    holds = {True: ">" if wants_above else "<", False: "≤" if wants_above else "≥"}[outcome.correct]
    mark = "correct ✓" if outcome.correct else "incorrect ✗"
    early = early_response(trial)
    warning = "" if early is None else f"; ⚠ responded before the stimulus (at {early:.3f} s)"
    return f"{mark} ({statistic} in window {outcome.extreme:.3f} {holds} {outcome.level:g}){warning}"


def padded(low: float, high: float, fraction: float = 0.06) -> tuple[float, float]:
    if not np.isfinite(low) or not np.isfinite(high):
        return 0.0, 1.0
    pad = (high - low) * fraction if high > low else 0.5
    return low - pad, high + pad


NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def nice_range(low: float, high: float, ticks: int = 6) -> tuple[float, float]:
    """``padded(low, high)`` widened to whole multiples of a round step (1, 2, 2.5 or 5 x 10^k,
    about a sixth of the span): a small change of the data (another λ) mostly leaves the axis
    as it was, which is steadier to read and spares the browser a new layout (a moved axis
    re-measures its tick labels: about 50 ms per λ change in headless Chromium)."""
    low, high = padded(low, high)
    raw = (high - low) / ticks
    magnitude = 10.0 ** np.floor(np.log10(raw))
    step = next(m * magnitude for m in NICE_STEPS if m * magnitude >= raw * (1 - 1e-9))
    return float(round(np.floor(low / step) * step, 12)), float(round(np.ceil(high / step) * step, 12))


# --- frames (pure) ------------------------------------------------------------------------

INPUT_COLORS = ("#555555", "#8c6d31", "#17becf", "#7b4173")  # dark enough to read as thin lines


def input_traces(u) -> tuple[dict, tuple[float, float]]:
    """The stimulus channels that are ever non-zero, one trace each on the 5 ms grid (mante's
    noisy evidence and context cues, the go-nogo and xor pulses), and their value range."""
    u = np.atleast_2d(np.asarray(u, dtype=float))
    rows = [k for k in range(u.shape[0]) if np.any(u[k] != 0)]
    times = np.arange(u.shape[1], dtype=np.float32) * np.float32(RATE_STEP)
    traces = {"xs": [times for _ in rows], "ys": [u[k].astype(np.float32) for k in rows],
              "label": [f"input {k + 1}" for k in rows], "color": [INPUT_COLORS[k % len(INPUT_COLORS)] for k in rows]}
    low, high = (float(u[rows].min()), float(u[rows].max())) if rows else (-1.0, 1.0)
    # the inputs take the lower part of the plot, under the outputs
    low, high = padded(min(low, 0.0), max(high, 0.0))
    return traces, (low, low + 2.2 * (high - low))


def output_frame(trial, fixed_range: bool = False, max_points: int = TRACE_MAX_POINTS,
                 narrow: bool = False) -> Frame:
    """LIF and rate-model output, the task's inputs, decision window, stimulus periods, the
    artificial stimulation's window, thresholds, verdict; ``fixed_range`` keeps the y-range on screen (to compare λ)."""
    empty = {"time": np.empty(0), "output": np.empty(0)}
    if trial is None:
        return Frame({"lif": empty, "rate": empty, "window": _spans([]), "stimulus": _spans([]),
                      "stimulation": _spans([]), "levels": {"level": np.empty(0)}, "inputs": {"xs": [], "ys": [], "label": [], "color": []}},
                     "Network output: no trial yet", {"y_range": (-1, 1), "fixed_range": fixed_range})
    run, task = trial.recording, trial.spec.task
    t, o = _compact(*envelope(run.times, run.out, max_points))
    rate = empty
    if trial.rate_response is not None:
        response = np.asarray(trial.rate_response.o)
        rate = {"time": trial.rate_response.times, "output": response}
    levels = np.array(task.thresholds)
    values = np.concatenate([o, rate["output"], levels])
    inputs, input_range = input_traces(trial.stimulus.u)
    return Frame(
        {"lif": {"time": t, "output": o}, "rate": rate, "window": _spans([(task.decision_start, run.drive.T)]),
         "stimulus": _spans(stimulus_spans(trial.stimulus.u)), "stimulation": _spans(stimulation_span(trial)),
         "levels": {"level": levels}, "inputs": inputs},
        trial_title("Output", trial, verdict(trial), narrow),
        {"y_range": nice_range(values.min(), values.max()), "data_range": (float(values.min()), float(values.max())),
         "correct": trial.outcome.correct, "input_range": input_range, "fixed_range": fixed_range},
    )


def raster_frame(trial, order: str = "index", max_spikes: int = RASTER_MAX_SPIKES, seed: int = 0,
                 narrow: bool = False) -> Frame:
    """Spike times and rows by population; a random subset of ``max_spikes`` above that many."""
    empty = {"time": np.empty(0), "row": np.empty(0, dtype=np.int64), "unit": np.empty(0, dtype=np.int64)}
    if trial is None:
        return Frame({"exc": empty, "inh": empty, "stimulation": _spans([])}, "Spike raster",
                     {"n_units": 1, "order": order})
    run = trial.recording
    steps, units = run.spike_events()
    total = steps.size
    if total > max_spikes:
        keep = np.sort(np.random.default_rng(seed).choice(total, size=max_spikes, replace=False))
        steps, units = steps[keep], units[keep]
        drawn = f"{total:,} spikes; a random {max_spikes:,} are drawn (decimated)"
    else:
        drawn = f"{total:,} spikes, all drawn"
    exc = run.network.exc
    rows = unit_order(order, exc, run.firing_rates)[units].astype(np.int32)
    times = ((steps + 1) * run.drive.dt).astype(np.float32)  # step k+1 ends at (k+1)*dt
    units = units.astype(np.int32)
    is_exc = exc[units]
    pick = lambda mask: {"time": times[mask], "row": rows[mask], "unit": units[mask]}  # noqa: E731
    return Frame({"exc": pick(is_exc), "inh": pick(~is_exc), "stimulation": _spans(stimulation_span(trial))},
                 trial_title("Spike raster", trial, drawn, narrow),
                 {"n_units": run.network.N, "order": order})


def voltage_frame(trial, units=(), max_points: int = TRACE_MAX_POINTS) -> Frame:
    """Envelopes of the chosen units' membrane voltage, stacked: one lane per unit, the first
    on top, each offset by a lane's height (``voltage_lane`` of the trial's constants, 115 mV), with
    its threshold and reset levels. Extras give the lanes' y-axis ticks (labelled in mV, not offset)
    so the levels are read off the axis."""
    params = params_of(trial)
    low, high = voltage_lane(params)
    lines = {"xs": [], "ys": [], "label": [], "color": []}
    lanes = {"y": [], "text": []}
    spans = []
    chosen = [] if trial is None else [u for u in units if 0 <= u < trial.recording.network.N]
    for k, unit in enumerate(chosen):
        run = trial.recording
        offset = (len(chosen) - 1 - k) * (high - low)
        t, v = _compact(*envelope(run.times, run.voltage[:, unit], max_points))
        lines["xs"].append(t)
        lines["ys"].append(v + np.float32(offset))
        label = f"unit {unit} ({'E' if run.network.exc[unit] else 'I'})"
        lines["label"].append(label)
        lines["color"].append(VOLTAGE_COLORS[k % len(VOLTAGE_COLORS)])
        lanes["y"].append(offset + high - LANE_LABEL_BELOW_TOP)
        lanes["text"].append(label)
    if trial is not None:
        spans = stimulation_span(trial)
    offsets = (len(chosen) - 1 - np.arange(len(chosen))) * (high - low)
    shown = ", ".join(lines["label"]) if lines["label"] else "none chosen (see Display in the sidebar)"
    title = f"Membrane voltage: {shown}" if trial is None else trial_title("Membrane voltage", trial, shown)
    n_lanes = max(1, len(chosen))
    return Frame({"lines": lines, "lanes": lanes, "stimulation": _spans(spans),
                  "thresholds": {"level": offsets + params.v_threshold}, "resets": {"level": offsets + params.v_reset}},
                 title, {"y_range": (low, low + n_lanes * (high - low)), "ticks": lane_ticks(params, offsets),
                         "n_lanes": n_lanes})


def _histogram(values_exc, values_inh, bins: int = HIST_BINS) -> dict:
    values = np.concatenate([values_exc, values_inh])
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1.0, bins + 1)
    return {name: {"left": edges[:-1], "right": edges[1:], "top": np.histogram(v, edges)[0]}
            for name, v in (("exc", values_exc), ("inh", values_inh))}


def firing_rate_frame(trial) -> Frame:
    """Histogram of the LIF firing rates (Hz) by population."""
    if trial is None:
        return Frame(_histogram(np.empty(0), np.empty(0)), "Firing rates")
    rates, exc = trial.recording.firing_rates, trial.recording.network.exc
    mean = lambda x: f"{x.mean():.1f} Hz" if x.size else "none"  # noqa: E731
    return Frame(_histogram(rates[exc], rates[~exc]),
                 trial_title("Firing rates", trial, f"mean E {mean(rates[exc])}, I {mean(rates[~exc])}",
                             narrow=True))


def decay_frame(model, initial_decay: bool = False) -> Frame:
    """Histogram of the synaptic decay constants (ms) by population: the trained ones, or the
    initial td0 with ``initial_decay`` (the fully untrained network)."""
    if model is None:
        return Frame(_histogram(np.empty(0), np.empty(0)), "Synaptic decay constants")
    td = model.decay_constants(initial_decay and (len(model.taus) == 1 or model.taus_gaus0 is not None)) * 1e3
    return Frame(_histogram(td[model.exc], td[~model.exc]),
                 f"{wrapped_name(model.name)}\nDecay constants: {td.min():.0f} to {td.max():.0f} ms")


WINDOWS = ("whole trial", "decision window")  # what the diagnostic averages over


def _window_start(trial, window: str) -> float:
    """Start (s) of the span averaged over: 0, or the task's decision window."""
    return trial.spec.task.decision_start if window == "decision window" else 0.0


def diagnostic_frame(trial, window: str = WINDOWS[0]) -> Frame:
    """LIF firing rate against rate-model activity per unit, over the whole trial or the
    decision window; silent and pinned units flagged (pinned: at least ``pinned_rate`` of the
    trial's constants, 80% of the refractory ceiling 1/t_ref)."""
    empty = {"activity": np.empty(0), "rate": np.empty(0), "unit": np.empty(0, dtype=np.int64)}
    if trial is None or trial.rate_response is None:
        return Frame({"exc": empty, "inh": empty, "silent": empty, "pinned": empty,
                      "ideal": {"activity": np.empty(0), "rate": np.empty(0)}},
                     "Conversion diagnostic", {"pinned_label": pinned_label(params_of(trial))})
    run = trial.recording
    start = _window_start(trial, window)
    first_column = int(round(start / RATE_STEP))
    activity = np.asarray(trial.rate_response.r[:, first_column:].mean(axis=1))
    if window == "decision window":
        first_step = int(round(start / run.drive.dt))
        counts = run.spikes[first_step:].sum(axis=0)
        rates = counts / (run.drive.T - start)
    else:
        counts, rates = run.spike_counts, run.firing_rates
    units = np.arange(rates.size)
    pick = lambda mask: {"activity": activity[mask], "rate": rates[mask], "unit": units[mask]}  # noqa: E731
    exc = run.network.exc
    silent = counts == 0
    pinned = rates >= pinned_rate(params_of(trial))
    top = float(max(activity.max(), 1e-9))
    lam = trial.spec.scaling_factor
    span = "in the decision window" if window == "decision window" else "over the trial"
    return Frame(
        {"exc": pick(exc), "inh": pick(~exc), "silent": pick(silent), "pinned": pick(pinned),
         "ideal": {"activity": np.array([0.0, top]), "rate": np.array([0.0, top * lam])}},
        trial_title(f"Rate vs LIF {span}", trial,
                    f"{int(silent.sum())} silent, {int(pinned.sum())} pinned, of {rates.size} units"),
        {"pinned_label": pinned_label(params_of(trial))},
    )


def unit_frame(trial, unit: int, max_points: int = TRACE_MAX_POINTS) -> Frame:
    """One unit, same stimulus: the rate network's activity scaled by lambda, λ·r(t), against
    the LIF unit's filtered spike train r(t) (Hz; what the readout uses) and its spikes."""
    empty = {"time": np.empty(0), "rate": np.empty(0)}
    if trial is None or trial.recording.rate is None or not 0 <= unit < trial.recording.network.N:
        return Frame({"lif": empty, "rate_model": empty, "spikes": {"time": np.empty(0)}},
                     "One unit: choose a unit under Display")
    run, lam = trial.recording, trial.spec.scaling_factor
    t, r = _compact(*envelope(run.times, run.rate[:, unit], max_points))
    scaled = {"time": np.empty(0), "rate": np.empty(0)}
    if trial.rate_response is not None:
        activity = np.asarray(trial.rate_response.r[unit])
        scaled = {"time": np.arange(activity.size) * RATE_STEP, "rate": lam * activity}
    spikes = (np.flatnonzero(run.spikes[:, unit]) + 1) * run.drive.dt
    kind = "excitatory" if run.network.exc[unit] else "inhibitory"
    return Frame({"lif": {"time": t, "rate": r}, "rate_model": scaled, "spikes": {"time": spikes}},
                 trial_title(f"Unit {unit} ({kind})", trial,
                             f"{spikes.size} spikes, mean LIF rate {run.firing_rates[unit]:.1f} Hz"))


def readout_frame(trial, top: int = 12) -> Frame:
    """Each unit's push on the output in the decision window: w_out_i · r_i / λ averaged over the
    window (LIF) beside w_out_i · r_i of the rate network, for the units that push most."""
    empty = {"label": [], "lif": np.empty(0), "rate_model": np.empty(0), "color": []}
    if trial is None or trial.recording.rate is None:
        return Frame({"bars": empty}, "Readout contributions: no trial yet", {"labels": []})
    run, spec = trial.recording, trial.spec
    start = spec.task.decision_start
    lif = run.network.w_out * run.rate[int(round(start / run.drive.dt)):].mean(axis=0)
    rate_model = np.full(lif.size, np.nan)
    if trial.rate_response is not None:
        rate_model = spec.model.w_out * trial.rate_response.r[:, int(round(start / RATE_STEP)):].mean(axis=1)
    order = np.argsort(-np.abs(lif), kind="stable")[:top]
    exc = run.network.exc
    labels = [f"{u} ({'E' if exc[u] else 'I'})" for u in order]
    bars = {"label": labels, "lif": lif[order], "rate_model": rate_model[order],
            "color": [EXC_COLOR if exc[u] else INH_COLOR for u in order]}
    total_rate = np.nansum(rate_model)
    return Frame({"bars": bars},
                 trial_title("Readout in the decision window", trial,
                             f"mean output {lif.sum():.3f} (LIF), {total_rate:.3f} (rate network, no bias)"),
                 {"labels": labels})


def performance_frame(snapshot=None, model=None, current_lambda: float | None = None, task=None) -> Frame:
    """Accuracy against lambda: sweep with 95% intervals, per-condition lines (each in its
    condition's colour, from ``task``'s condition order), stored grid, optimum; the output's
    correlation with the rate network on its own axis."""
    nothing = np.empty(0)
    band = {"scaling_factor": nothing, "low": nothing, "high": nothing}
    sweep = {"scaling_factor": nothing, "accuracy": nothing, "n_trials": np.empty(0, dtype=np.int64)}
    groups = {"xs": [], "ys": [], "label": [], "color": []}
    best = {"scaling_factor": nothing, "accuracy": nothing}
    stored = {"scaling_factor": nothing, "accuracy": nothing}
    balanced = {"scaling_factor": nothing, "accuracy": nothing}
    lambda_band = {"scaling_factor": nothing, "width": nothing}
    fidelity = {"scaling_factor": nothing, "correlation": nothing}
    match = {"scaling_factor": nothing, "correlation": nothing}
    dropped = {"scaling_factor": nothing, "accuracy": nothing}
    recommended = {"scaling_factor": nothing, "accuracy": nothing}
    title = "Performance curve: run a sweep to draw it"
    if model is not None and model.all_perfs is not None and model.scaling_factors is not None \
            and model.all_perfs.size == model.scaling_factors.size:
        by_lambda = np.argsort(model.scaling_factors, kind="stable")  # a file keeps the order its grid was given in
        stored = {"scaling_factor": model.scaling_factors[by_lambda], "accuracy": model.all_perfs[by_lambda]}
        title = "Performance curve: the grid search\nstored in the file"
        if snapshot is None:
            if model.scaling_factor_band is not None:
                lambda_band = band_bars(model.scaling_factor_band, model.scaling_factors)
            recommended = _stored_point(model.recommended_scaling_factor, model.scaling_factors, model.all_perfs)
            if model.search_verdict and model.search_verdict.startswith("failed"):
                title = "Performance curve stored in the file:\nno λ converted this model"
    if snapshot is not None:
        seen = snapshot.n_done > 0
        x = snapshot.scaling_factors[seen]
        if snapshot.output_correlation is not None:
            fidelity = {"scaling_factor": x, "correlation": snapshot.output_correlation[seen]}
        if snapshot.dropped is not None and snapshot.dropped.any():
            out = snapshot.dropped
            dropped = {"scaling_factor": snapshot.scaling_factors[out], "accuracy": snapshot.accuracy[out]}
        if snapshot.band is not None:
            lambda_band = band_bars(snapshot.band, snapshot.scaling_factors)
        if snapshot.best_match is not None:
            match = {"scaling_factor": np.array([snapshot.best_match[0]]),
                     "correlation": np.array([snapshot.best_match[2]])}
        band = {"scaling_factor": x, "low": snapshot.low[seen], "high": snapshot.high[seen]}
        sweep = {"scaling_factor": x, "accuracy": snapshot.accuracy[seen], "n_trials": snapshot.n_done[seen]}
        balanced = {"scaling_factor": x, "accuracy": snapshot.balanced_accuracy[seen]}
        colors = condition_colors(() if task is None else task.groups(), snapshot.group_accuracy)
        for group, accuracy in snapshot.group_accuracy.items():
            groups["xs"].append(x)
            groups["ys"].append(accuracy[seen])
            groups["label"].append(f"{group} trials")
            groups["color"].append(colors[group])
        leading = "" if snapshot.optimum is None else f"; leading λ so far {snapshot.optimum[0]:g}"
        if snapshot.is_result and snapshot.verdict is not None and snapshot.verdict.failed:
            title = (f"Performance curve: no λ converts this model\n"
                     f"{int(snapshot.n_done.max())} trials/λ: see the verdict above")
        elif snapshot.is_result and snapshot.optimum is not None:
            best = {"scaling_factor": np.array([snapshot.optimum[0]]), "accuracy": np.array([snapshot.optimum[1]])}
            if snapshot.recommended is not None:
                recommended = {"scaling_factor": np.array([snapshot.recommended[0]]),
                               "accuracy": np.array([snapshot.recommended[1]])}
            count = len(snapshot.warnings)
            caution = f", {count} warning{'s' if count > 1 else ''}" if count else ""  # short: Present mode
            advice = "" if snapshot.recommended is None else f", recommended {snapshot.recommended[0]:g}"
            title = (f"Performance curve: best λ = {snapshot.optimum[0]:g}{advice}\n"
                     f"accuracy {snapshot.optimum[1]:.2f}, {int(snapshot.n_done.max())} trials/λ{caution}")
        elif snapshot.cancelled:
            title = f"Performance curve: sweep cancelled\nafter {snapshot.done} / {snapshot.total} trials, not a result"
        elif not snapshot.finished:
            title = f"Performance curve: sweep running\n{snapshot.done} / {snapshot.total} trials{leading}"
    x_all = np.concatenate([np.asarray(band["scaling_factor"]), np.asarray(stored["scaling_factor"]),
                            [] if current_lambda is None else [current_lambda]])
    if band["scaling_factor"].size or stored["scaling_factor"].size:
        x_range = padded(float(x_all.min()), float(x_all.max()))
    else:  # nothing scored yet: a generic range around the reference grid and the slider
        x_range = (0.0, max(100.0, 1.2 * float(x_all.max())) if x_all.size else 100.0)
    if model is not None:
        title = f"{title}\n{wrapped_name(model.name)}"
    return Frame({"band": band, "sweep": sweep, "groups": groups, "best": best, "stored": stored,
                  "balanced": balanced, "lambda_band": lambda_band, "fidelity": fidelity, "match": match,
                  "dropped": dropped, "recommended": recommended}, title,
                 {"x_range": x_range, "lambda": current_lambda,
                  "correlation_range": correlation_range(fidelity["correlation"])})


def correlation_range(correlation) -> tuple[float, float]:
    """The correlation axis: 0 to 1 (a little over, for the marks), down to the lowest correlation
    when one is negative (an output that moves against the rate network's)."""
    values = np.asarray(correlation, dtype=float)
    values = values[np.isfinite(values)]
    low = min(0.0, float(values.min())) if values.size else 0.0
    return (low - 0.03 if low < 0 else 0.0), 1.03


def _stored_point(value, scaling_factors, accuracy) -> dict:
    """A stored lambda (the recommended one) on the stored curve, if it lies on it."""
    if value is None:
        return {"scaling_factor": np.empty(0), "accuracy": np.empty(0)}
    at = np.flatnonzero(np.isclose(scaling_factors, value))
    y = np.array([accuracy[at[0]]]) if at.size else np.array([np.nan])
    return {"scaling_factor": np.array([float(value)]), "accuracy": y}


def band_bars(band, scaling_factors) -> dict:
    """The lambda band as one bar per lambda in it, each as wide as the gap to its nearest
    neighbour on the searched grid (a refined grid has narrower bars)."""
    band = np.asarray(band, dtype=float)
    grid = np.unique(np.asarray(scaling_factors, dtype=float))
    gaps = np.diff(grid)
    nearest = np.minimum(np.r_[np.inf, gaps], np.r_[gaps, np.inf]) if gaps.size else np.ones(grid.size)
    return {"scaling_factor": band, "width": nearest[np.clip(np.searchsorted(grid, band), 0, grid.size - 1)]}


def margin_frame(snapshot=None, task=None, jitter_seed: int = 0) -> Frame:
    """Per lambda and condition group, every trial's scored value (window max, or min for -1
    answers) with the thresholds: where each condition starts failing, and whether any lambda
    serves all of them. Groups are offset a little along lambda so they do not hide each other."""
    empty = {"scaling_factor": np.empty(0), "value": np.empty(0), "lambda": np.empty(0)}
    margins = None if snapshot is None else snapshot.margins
    levels = np.array(task.thresholds if task is not None else ())
    if margins is None or margins["value"].size == 0:
        title = "Margins: run a sweep to see\neach condition's scored values"
        return Frame({"points": {**empty, "group": [], "color": []}, "levels": {"level": levels}}, title)
    groups = list(dict.fromkeys(margins["group"]))
    colors = condition_colors(() if task is None else task.groups(), groups)  # the accuracy curve's colours
    factors = np.unique(margins["scaling_factor"])
    step = float(np.min(np.diff(factors))) if factors.size > 1 else 1.0
    offsets = {g: (k - (len(groups) - 1) / 2) * 0.15 * step for k, g in enumerate(groups)}
    jitter = (np.random.default_rng(jitter_seed).random(margins["value"].size) - 0.5) * 0.08 * step
    x = margins["scaling_factor"] + np.array([offsets[g] for g in margins["group"]]) + jitter
    points = {"scaling_factor": x, "value": margins["value"], "lambda": margins["scaling_factor"],
              "group": [f"{g} trials" for g in margins["group"]], "color": [colors[g] for g in margins["group"]]}
    y_range, outside = robust_range(margins["value"], levels)
    beyond = f"; {outside} beyond the range shown" if outside else ""
    return Frame({"points": points, "levels": {"level": levels}},
                 f"Margins: each trial's scored value\nby condition, {margins['value'].size} trials{beyond}",
                 {"x_range": padded(float(factors.min()), float(factors.max())), "y_range": y_range})


ROBUST_QUANTILE = 0.02  # the margin view shows the central 96% of values (and every threshold)


def robust_range(values: np.ndarray, always=()) -> tuple[tuple[float, float], int]:
    """A y-range that a few extreme points cannot ruin: the central 96% of ``values`` widened to the
    ``always`` levels (the thresholds), padded; and how many values lie outside it. A readout five
    times too strong put some outputs at 2500, which squeezed every threshold into one line."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return (-1.0, 1.0), 0
    low, high = np.quantile(finite, [ROBUST_QUANTILE, 1 - ROBUST_QUANTILE])
    levels = np.asarray(always, dtype=float)
    low, high = min(low, *levels, 0.0) if levels.size else low, max(high, *levels) if levels.size else high
    low, high = padded(float(low), float(high))
    return (low, high), int(np.count_nonzero((finite < low) | (finite > high)))


