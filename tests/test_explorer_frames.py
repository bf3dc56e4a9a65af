"""The dashboard's frames (plot data read from a trial) and figures, without a browser."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from rate2spike.explorer import figures, frames
from rate2spike.explorer.session import VIEW_RECORDINGS
from rate2spike.explorer.sweeps import SweepSnapshot
from rate2spike.explorer.views import VIEWS
from rate2spike.model import load_model
from rate2spike.network import Stimulation
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.trial import TrialSpec, run_trial


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    from conftest import write_model
    path = write_model(tmp_path_factory.mktemp("m") / "Task_go-nogo_N_50_x.mat", N=50, seed=1)
    spec = TrialSpec(load_model(path), scaling_factor=40.0, seed=3, condition="Go",
                     stimulation=Stimulation("exc", (1, 2), 2001, 4001))
    return run_trial(spec, VIEW_RECORDINGS)


def test_envelope_keeps_single_step_peaks_and_bounds_the_size():
    t = np.arange(20_000) * 5e-5
    v = np.full(t.size, -60.0)
    v[[123, 9_001, 19_999]] = 30.0
    v[5_000] = -90.0
    te, ve = frames.envelope(t, v, 4_000)
    assert ve.size <= 4_002 and np.all(np.diff(te) > 0)
    assert set(np.round(te[ve == 30.0], 6)) == set(np.round(t[[123, 9_001, 19_999]], 6))
    assert ve.min() == -90.0
    short_t, short_v = frames.envelope(t[:100], v[:100], 4_000)
    assert short_v.size == 100


def test_unit_order():
    exc = np.array([False, True, True, False])
    assert list(frames.unit_order("index", exc, None)) == [0, 1, 2, 3]
    assert list(frames.unit_order("type", exc, None)) == [1, 3, 2, 0]  # excitatory on top (row 0 is the bottom)
    assert list(frames.unit_order("rate", exc, np.array([1.0, 5.0, 3.0, 0.0]))) == [1, 3, 2, 0]  # highest on top


def test_stimulus_spans():
    u = np.zeros((1, 201))
    u[0, 50:75] = 1
    assert frames.stimulus_spans(u) == [(0.25, 0.375)]
    assert frames.stimulus_spans(np.zeros((1, 201))) == []
    mante = np.zeros((4, 501))
    mante[0, 50:250] = np.random.default_rng(0).standard_normal(200) + 0.5
    mante[2, :] = 1  # the context cue is on all trial long: not a stimulus period
    assert frames.stimulus_spans(mante) == [(0.25, 1.25)]


def test_output_frame(sim):
    frame = frames.output_frame(sim)
    assert frame.title.startswith("Output, Go trial, λ = 40, seed 3\n") and frame.title.endswith("\nTask_go-nogo_N_50_x.mat")
    assert ("correct ✓" in frame.title) == sim.outcome.correct
    assert list(frame.sources["window"]["start"]) == [0.5] and list(frame.sources["window"]["end"]) == [1.0]
    assert list(frame.sources["levels"]["level"]) == [0.7, 0.3]
    assert list(zip(frame.sources["stimulus"]["start"], frame.sources["stimulus"]["end"])) == [(0.25, 0.375)]
    assert frame.sources["lif"]["output"].size <= frames.TRACE_MAX_POINTS + 2
    assert frame.sources["lif"]["output"].max() == pytest.approx(sim.recording.out.max(), rel=1e-6)
    assert frame.sources["rate"]["time"][-1] == pytest.approx(1.0)
    low, high = frame.extras["y_range"]
    assert low < min(sim.recording.out.min(), 0.3) and high > max(sim.recording.out.max(), 0.7)


def test_the_output_axis_takes_round_bounds_that_small_changes_leave_alone():
    assert frames.nice_range(-0.1, 1.1) == (-0.25, 1.25)  # padded, then out to multiples of 0.25
    assert frames.nice_range(-0.12, 1.13) == (-0.25, 1.25)  # another lambda, the same axis
    assert frames.nice_range(-2.5, 0.3) == (-3.0, 1.0)
    low, high = frames.nice_range(0.05, 0.06)
    assert low < 0.05 and high > 0.06 and high - low < 0.02


def test_raster_frame_draws_all_or_decimates(sim):
    total = int(sim.recording.spikes.sum())
    frame = frames.raster_frame(sim, "type")
    drawn = frame.sources["exc"]["time"].size + frame.sources["inh"]["time"].size
    assert drawn == total and f"{total:,} spikes, all drawn" in frame.title
    inh_rows = frame.sources["inh"]["row"]
    assert inh_rows.max() < (~sim.recording.network.exc).sum() <= frame.sources["exc"]["row"].min()
    assert np.all(sim.recording.network.exc[frame.sources["exc"]["unit"]])
    small = frames.raster_frame(sim, "index", max_spikes=500)
    assert small.sources["exc"]["time"].size + small.sources["inh"]["time"].size == 500
    assert "a random 500 are drawn (decimated)" in small.title
    (start, end), = zip(frame.sources["stimulation"]["start"], frame.sources["stimulation"]["end"])
    assert (start, end) == pytest.approx((0.1, 0.2))


def test_voltage_frame(sim):
    frame = frames.voltage_frame(sim, [0, 7, 999])
    assert frame.sources["lines"]["label"] == [f"unit 0 ({'E' if sim.recording.network.exc[0] else 'I'})",
                                               f"unit 7 ({'E' if sim.recording.network.exc[7] else 'I'})"]
    # stacked: unit 0 on top, one lane (-75 .. +40 mV: 115 mV) above unit 7, each lane the unit's own trace
    low, high = frames.voltage_lane(DEFAULT_PARAMETERS)
    assert (low, high) == (DEFAULT_PARAMETERS.v_reset - 10, DEFAULT_PARAMETERS.v_spike_drawn + 10)
    lane = high - low
    top, bottom = frame.sources["lines"]["ys"]
    assert top.max() - lane == pytest.approx(sim.recording.voltage[:, 0].max())
    assert bottom.max() == pytest.approx(sim.recording.voltage[:, 7].max())
    threshold, reset = DEFAULT_PARAMETERS.v_threshold, DEFAULT_PARAMETERS.v_reset
    assert frame.extras["ticks"][lane + threshold] == f"{threshold:g}" and frame.extras["ticks"][reset] == f"{reset:g}"
    assert list(frame.sources["thresholds"]["level"]) == [lane + threshold, threshold]
    assert frame.extras["y_range"] == (low, low + 2 * lane)
    assert "none chosen" in frames.voltage_frame(sim, []).title


def test_voltage_lanes_and_pinned_rate_follow_the_trials_constants(sim):
    """A variant's trial is drawn with its own reset, threshold, drawn spike and refractory ceiling."""
    variant = LIFParameters(v_reset=-70.0, v_threshold=-50.0, v_spike_drawn=20.0, t_ref=0.004)
    trial = run_trial(sim.spec.replace(params=variant), VIEW_RECORDINGS)
    frame = frames.voltage_frame(trial, [0])
    assert frame.extras["y_range"] == (-80.0, 30.0)
    assert set(frame.extras["ticks"].values()) == {"-70", "-50", "0"}
    assert list(frame.sources["thresholds"]["level"]) == [-50.0] and list(frame.sources["resets"]["level"]) == [-70.0]
    assert frames.voltage_frame(sim, [0]).extras["y_range"] == (-75.0, 40.0)  # the reference's
    assert frames.pinned_rate(variant) == pytest.approx(200.0) and frames.pinned_rate() == pytest.approx(400.0)
    assert frames.pinned_rate(LIFParameters(t_ref=0.0)) == np.inf  # nothing is pinned without a ceiling
    assert frames.pinned_label() == "Pinned (≥ 400 Hz)"
    view = figures.DiagnosticView()
    assert view.pinned_item.label.value == "Pinned (≥ 400 Hz)"
    view.show(frames.diagnostic_frame(trial))
    assert view.pinned_item.label.value == "Pinned (≥ 200 Hz)"
    voltage_help, diagnostic_help = (VIEWS[key].help_text(variant) for key in ("voltage", "diagnostic"))
    assert "4 ms refractory period" in voltage_help and "-50 mV" in voltage_help
    assert "above 200 Hz" in diagnostic_help and "1/t_ref = 250 Hz" in diagnostic_help
    assert "2 ms refractory period" in VIEWS["voltage"].help_text()  # the page's: the reference's constants


def test_distributions(sim):
    rates = frames.firing_rate_frame(sim)
    assert rates.sources["exc"]["top"].sum() == sim.recording.network.exc.sum()
    assert rates.sources["inh"]["top"].sum() == (~sim.recording.network.exc).sum()
    decay = frames.decay_frame(sim.spec.model)
    assert decay.sources["exc"]["left"][0] == pytest.approx(sim.spec.model.decay_constants().min() * 1e3)
    assert decay.title.endswith(" ms")


def fake_sim(rates, activity, lam=50.0, duration=1.0):
    rates = np.asarray(rates, dtype=float)
    network = SimpleNamespace(exc=np.array([True, True, False, False]), scaling_factor=lam, N=rates.size)
    run = SimpleNamespace(firing_rates=rates, spike_counts=np.round(rates * duration), network=network)
    return SimpleNamespace(recording=run, spec=SimpleNamespace(scaling_factor=lam, seed=0, params=DEFAULT_PARAMETERS,
                                                               model=SimpleNamespace(name="m.mat"),
                                                               stimulation=Stimulation(), dt=5e-5),
                           stimulus=SimpleNamespace(condition=SimpleNamespace(name="Go")),
                           rate_response=SimpleNamespace(r=np.repeat(np.asarray(activity, dtype=float)[:, None], 3, 1)))


def test_diagnostic_flags_silent_and_pinned_units():
    frame = frames.diagnostic_frame(fake_sim([0.0, 20.0, 450.0, 30.0], [0.1, 0.4, 0.99, 0.6], lam=40.0))
    assert list(frame.sources["silent"]["unit"]) == [0]
    assert list(frame.sources["pinned"]["unit"]) == [2]
    assert list(frame.sources["inh"]["unit"]) == [2, 3]
    assert frame.sources["ideal"]["rate"][-1] == pytest.approx(0.99 * 40.0)  # rate = lambda * r
    assert frame.title.split("\n")[:2] == ["Rate vs LIF over the trial, Go trial, λ = 40, seed 0",
                                            "1 silent, 1 pinned, of 4 units"]
    assert frames.diagnostic_frame(None).sources["exc"]["rate"].size == 0


def snapshot(done, total=6):
    factors = np.array([20.0, 30.0, 40.0])
    n_done = np.array([2, 2, done - 4]) if done > 4 else np.array([min(done, 2), max(done - 2, 0), 0])
    acc = np.where(n_done > 0, [0.5, 1.0, 0.5], np.nan)
    complete = n_done == 2
    optimum = (30.0, 1.0) if complete[:2].all() else None
    return SweepSnapshot(factors, acc, acc - 0.2, np.minimum(acc + 0.2, 1), n_done, {"Go": acc, "NoGo": acc}, acc,
                         optimum, done, total, 1.0, 1.0, finished=done == total)


def test_performance_frame_fills_in():
    running = frames.performance_frame(snapshot(2), None, 45.0)
    assert list(running.sources["sweep"]["scaling_factor"]) == [20.0]
    assert "sweep running\n2 / 6 trials" in running.title and running.sources["best"]["accuracy"].size == 0
    assert running.extras["x_range"][1] >= 45.0  # the slider's lambda stays in view
    done = frames.performance_frame(snapshot(6), None, 45.0)
    assert list(done.sources["sweep"]["accuracy"]) == [0.5, 1.0, 0.5]
    assert list(done.sources["best"]["scaling_factor"]) == [30.0]
    assert done.sources["groups"]["label"] == ["Go trials", "NoGo trials"]
    assert "best λ = 30" in done.title
    stored = SimpleNamespace(all_perfs=np.array([0.9, 0.8]), scaling_factors=np.array([20.0, 25.0]), name="m.mat",
                             scaling_factor_band=None, recommended_scaling_factor=25.0, search_verdict=None)
    from_file = frames.performance_frame(None, stored, 50.0)
    assert list(from_file.sources["stored"]["accuracy"]) == [0.9, 0.8]
    assert list(from_file.sources["recommended"]["scaling_factor"]) == [25.0]  # the stored recommendation, drawn
    failed = SimpleNamespace(**{**vars(stored), "recommended_scaling_factor": None,
                                "search_verdict": "failed: No λ converts this model: ..."})
    assert "no λ converted this model" in frames.performance_frame(None, failed, 50.0).title


def test_figures_have_labelled_axes_with_units_and_share_time():
    x_range = figures.time_range(1.0)
    output, raster, voltage = figures.OutputView(x_range), figures.RasterView(x_range), figures.VoltageView(x_range)
    rates, decay = figures.HistogramView.firing_rates(), figures.HistogramView.decay_constants()
    diagnostic, performance = figures.DiagnosticView(), figures.PerformanceView()
    labels = {v: (v.figure.xaxis[0].axis_label, v.figure.yaxis[0].axis_label)
              for v in (output, raster, voltage, rates, decay, diagnostic, performance)}
    assert labels[output] == ("Time (s)", "Network output (a.u.)")
    assert labels[raster][0] == "Time (s)" and labels[raster][1].startswith("Unit")
    assert labels[voltage] == ("Time (s)", "Membrane voltage (mV, one lane per unit)")
    assert labels[rates] == ("LIF firing rate (Hz)", "Number of units")
    assert labels[decay] == ("Synaptic decay constant (ms)", "Number of units")
    assert labels[diagnostic] == ("Rate-model activity r (mean over the trial)", "LIF firing rate (Hz)")
    assert labels[performance] == ("Scaling factor λ", "Accuracy (fraction correct)")  # one quantity per axis
    assert [axis.axis_label for axis in performance.figure.right] == ["Output correlation with the rate network"]
    assert output.figure.x_range is raster.figure.x_range is voltage.figure.x_range
    for view in labels:
        assert any(tool.__class__.__name__ == "SaveTool" for tool in view.figure.toolbar.tools)  # PNG export


def test_show_swaps_data_and_hides_empty_legend_entries(sim):
    view = figures.DiagnosticView()
    view.show(frames.diagnostic_frame(sim))
    assert len(view.sources["exc"].data["rate"]) == sim.recording.network.exc.sum()
    visible = {item.label.value: item.visible for item in view.figure.legend[0].items}
    assert visible["Excitatory"] and visible["Silent"] == bool((sim.recording.spike_counts == 0).any())
    performance = figures.PerformanceView()
    performance.show(frames.performance_frame(snapshot(6), None, 35.0))
    assert performance.marker.visible and performance.marker.location == 35.0
    performance.mark(150.0)
    assert performance.figure.x_range.end >= 150.0


def test_a_running_sweep_names_the_leading_lambda_and_a_cancelled_one_is_no_result():
    import dataclasses
    leading = dataclasses.replace(snapshot(5), finished=False)
    frame = frames.performance_frame(leading, None, 30.0)
    assert "leading λ so far 30" in frame.title and frame.sources["best"]["accuracy"].size == 0
    cancelled = dataclasses.replace(snapshot(5), finished=True, cancelled=True)
    frame = frames.performance_frame(cancelled, None, 30.0)
    assert "cancelled\nafter 5 / 6 trials, not a result" in frame.title and frame.sources["best"]["accuracy"].size == 0
    assert "cannot be saved" in cancelled.status() and "leading λ so far 30" in leading.status()


def test_margin_frame_draws_every_trial_by_condition(sim):
    from rate2spike.tasks import get_task
    margins = {"scaling_factor": np.array([20.0, 20.0, 40.0, 40.0]), "group": np.array(["Go", "NoGo", "Go", "NoGo"],
               dtype=object), "value": np.array([0.9, 0.1, 0.2, 0.4]), "level": np.array([0.7, 0.3, 0.7, 0.3]),
               "correct": np.array([True, True, False, False])}
    import dataclasses
    frame = frames.margin_frame(dataclasses.replace(snapshot(6), margins=margins), get_task("go-nogo"))
    points = frame.sources["points"]
    assert points["value"].tolist() == [0.9, 0.1, 0.2, 0.4] and points["lambda"].tolist() == [20, 20, 40, 40]
    assert points["group"] == ["Go trials", "NoGo trials", "Go trials", "NoGo trials"]
    assert np.all(np.abs(points["scaling_factor"] - points["lambda"]) < 5)  # offsets stay within a grid step
    assert frame.sources["levels"]["level"].tolist() == [0.7, 0.3]
    assert "run a sweep" in frames.margin_frame(None, get_task("go-nogo")).title


def test_unit_frame_sets_lambda_times_rate_against_the_lif_unit(sim):
    unit = int(np.argmax(sim.recording.spike_counts))
    frame = frames.unit_frame(sim, unit)
    np.testing.assert_allclose(frame.sources["rate_model"]["rate"], 40.0 * sim.rate_response.r[unit])
    assert frame.sources["lif"]["rate"].max() == pytest.approx(sim.recording.rate[:, unit].max(), rel=1e-6)
    assert frame.sources["spikes"]["time"].size == sim.recording.spikes[:, unit].sum()
    assert frame.title.startswith(f"Unit {unit} (") and "λ = 40, seed 3" in frame.title
    assert "choose a unit" in frames.unit_frame(sim, 999).title


def test_readout_contributions_add_up_to_the_mean_output_in_the_window(sim):
    frame = frames.readout_frame(sim, top=sim.recording.network.N)
    start = int(round(sim.spec.task.decision_start / sim.recording.drive.dt))
    mean_output = sim.recording.out[start:].mean()
    assert frame.sources["bars"]["lif"].sum() == pytest.approx(mean_output, rel=1e-9, abs=1e-12)
    top = frames.readout_frame(sim, top=5).sources["bars"]
    assert len(top["label"]) == 5 and np.all(np.diff(np.abs(top["lif"])) <= 0)  # the strongest pushes first
    unit = int(top["label"][0].split()[0])
    expected_rate = sim.spec.model.w_out[unit] * sim.rate_response.r[unit, 100:].mean()
    assert top["rate_model"][0] == pytest.approx(expected_rate)


def test_the_diagnostic_can_be_restricted_to_the_decision_window(sim):
    whole = frames.diagnostic_frame(sim, "whole trial")
    window = frames.diagnostic_frame(sim, "decision window")
    counts = sim.recording.spikes[int(round(0.5 / sim.recording.drive.dt)):].sum(axis=0)
    rates = np.concatenate([window.sources["exc"]["rate"], window.sources["inh"]["rate"]])
    units = np.concatenate([window.sources["exc"]["unit"], window.sources["inh"]["unit"]])
    np.testing.assert_allclose(rates, counts[units] / 0.5)
    assert "in the decision window" in window.title and "over the trial" in whole.title


def test_a_go_answer_before_the_stimulus_is_flagged(sim):
    """Correct by the rule (the window is late) but for the wrong reason: the output crossed 0.7
    before the pulse began."""
    import dataclasses
    out = np.zeros_like(sim.recording.out)
    out[:40] = 1.5  # the start-up burst of the random initial voltages: not a response
    out[3000:3200] = 0.9  # 0.15-0.16 s, before the pulse at 0.25 s
    out[12000:] = 0.9
    early = dataclasses.replace(sim, recording=dataclasses.replace(sim.recording, out=out))
    assert frames.early_response(early) == pytest.approx(0.15005)
    assert "responded before the stimulus (at 0.150 s)" in frames.output_frame(early).title
    out[3000:3200] = 0.0
    assert frames.early_response(early) is None and "before the stimulus" not in frames.output_frame(early).title


def test_the_raster_draws_each_spike_as_a_tick_of_its_row(sim):
    """The raster view strokes its spikes as one line: per spike a tick from 0.4 below to 0.4
    above its row at the spike's time, then a break; hovering a tick still names the unit."""
    frame = frames.raster_frame(sim, "rate")
    view = figures.RasterView(figures.time_range(sim.recording.drive.T))
    view.show(frame)
    drawn = view.sources["exc"].data
    spikes = frame.sources["exc"]
    assert len(drawn["time"]) == 3 * spikes["time"].size > 0
    np.testing.assert_array_equal(drawn["time"][0::3], spikes["time"])
    np.testing.assert_array_equal(drawn["time"][1::3], spikes["time"])
    np.testing.assert_allclose(drawn["row"][0::3], spikes["row"] - 0.4, rtol=0, atol=1e-5)
    np.testing.assert_allclose(drawn["row"][1::3], spikes["row"] + 0.4, rtol=0, atol=1e-5)
    assert np.isnan(drawn["time"][2::3]).all() and np.isnan(drawn["row"][2::3]).all()
    np.testing.assert_array_equal(drawn["unit"][0::3], spikes["unit"])


def _legend(view) -> dict:
    """{label: shown} of a figure's legend entries (field labels: one entry per data row)."""
    return {item.label.value: item.visible for item in view.figure.legend[0].items if hasattr(item.label, "value")}


def test_a_condition_has_one_colour_in_every_figure_whatever_order_its_trials_came_in():
    """The margins met NoGo first (its trials were drawn first), the accuracy curve lists Go first:
    each condition keeps the colour of its place in the task's condition order in both, and in the
    report."""
    import dataclasses

    from rate2spike.palette import condition_colors
    from rate2spike.tasks import get_task

    task = get_task("go-nogo")
    margins = {"scaling_factor": np.array([20.0, 20.0, 30.0, 30.0]), "group": np.array(["NoGo", "Go", "NoGo", "Go"],
               dtype=object), "value": np.array([0.1, 0.9, 0.2, 0.8]), "level": np.full(4, 0.3),
               "correct": np.ones(4, dtype=bool)}
    done = dataclasses.replace(snapshot(6), margins=margins)
    curve = frames.performance_frame(done, None, 30.0, task).sources["groups"]
    points = frames.margin_frame(done, task).sources["points"]
    in_curve = dict(zip(curve["label"], curve["color"]))
    in_margins = dict(zip(points["group"], points["color"]))
    assert in_curve == in_margins and in_curve["Go trials"] != in_curve["NoGo trials"]
    assert in_curve["Go trials"] == condition_colors(task.groups())["Go"]
    xor = condition_colors(get_task("xor").groups(), ["odd one"])
    assert list(xor) == ["++", "+-", "-+", "--", "odd one"] and len(set(xor.values())) == 5


def test_no_figure_takes_the_mouse_wheel_until_its_zoom_is_chosen():
    """A wheel over a figure scrolls the page: no scroll tool is active, and each figure keeps its
    wheel zoom in the toolbar."""
    from bokeh.models import WheelZoomTool

    time = figures.time_range(1.0)
    for key, spec in VIEWS.items():
        for build in (spec.figure, spec.present):
            if build is not None:
                fig = build(time, key).figure
                assert fig.toolbar.active_scroll is None, key
                assert any(isinstance(tool, WheelZoomTool) for tool in fig.toolbar.tools), key


@pytest.mark.parametrize("compact", [False, True])
def test_the_accuracy_curve_lists_the_lambda_on_screen_and_the_stored_curve(compact):
    stored = SimpleNamespace(all_perfs=np.array([0.9, 0.8]), scaling_factors=np.array([20.0, 25.0]), name="m.mat",
                             scaling_factor_band=None, recommended_scaling_factor=None, search_verdict=None)
    view = figures.PerformanceView(compact=compact)
    view.show(frames.performance_frame(None, stored, 22.0))
    shown = _legend(view)
    on_screen = "λ on screen" if compact else "λ of the trial on screen"
    in_file = "Stored in the file" if compact else "Grid search stored in the model file"
    assert shown[on_screen] and shown[in_file] and view.marker.location == 22.0
    view.show(frames.performance_frame(None, None, None))  # no trial, nothing stored: neither is listed
    assert not _legend(view)[on_screen] and not _legend(view)[in_file]
    view.mark(30.0)
    assert _legend(view)[on_screen]
    # its legend key draws a dashed line: Bokeh draws a line glyph's legend from its first row (an
    # empty source showed the label alone); the row is NaN, so nothing shows on the plot
    (key,) = view.marker_item.renderers
    assert key.glyph.line_dash == view.marker.line_dash and key.glyph.line_color == view.marker.line_color
    columns = key.data_source.data
    assert len(columns["x"]) == 1 and all(np.isnan(np.asarray(values, float)).all() for values in columns.values())


def test_the_output_correlation_has_its_own_axis_that_shows_a_negative_one():
    import dataclasses

    low = dataclasses.replace(snapshot(6), output_correlation=np.array([-0.4, 0.5, 0.9]))
    frame = frames.performance_frame(low, None, 30.0)
    assert frame.extras["correlation_range"][0] < -0.4 and frame.extras["correlation_range"][1] > 1.0
    view = figures.PerformanceView()
    view.show(frame)
    fidelity = next(r for r in view.figure.renderers if getattr(r, "data_source", None) is view.sources["fidelity"])
    assert fidelity.y_range_name == "correlation" and view.figure.extra_y_ranges["correlation"].start < -0.4
    assert (view.figure.y_range.start, view.figure.y_range.end) == (0, 1.03)  # accuracy keeps its axis
