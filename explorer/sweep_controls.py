"""Sweep widgets: grid, run/cancel, progress, CSV export, saving into the model file.

While a sweep runs, a periodic callback on the session's own event loop copies the newest
progress snapshot into the state (``ExplorerState.poll_sweep``); the sweep thread itself never
touches the page. Saving into the model file takes two clicks: the first shows what will be
written where, the second writes it.
"""

from __future__ import annotations

import io

import panel as pn

from core.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS
from explorer.controls import hint
from explorer.state import LAMBDA_BOUNDS, ExplorerState

POLL_MS = 250


class SweepControls:
    """Widgets that start, follow, cancel, export and save one session's sweeps."""

    def __init__(self, state: ExplorerState):
        self.state = state
        step = DEFAULT_SCALING_FACTORS[1] - DEFAULT_SCALING_FACTORS[0]
        self.grid = pn.widgets.RangeSlider(label="λ range", start=LAMBDA_BOUNDS[0], end=LAMBDA_BOUNDS[1], step=1,
                                           value=(DEFAULT_SCALING_FACTORS[0], DEFAULT_SCALING_FACTORS[-1]),
                                           sizing_mode="stretch_width")
        self.step = pn.widgets.FloatInput(label="λ step", value=float(step), start=0.1, step=1, width=110,
                                          css_classes=["sweep-step"])
        self.n_trials = pn.widgets.IntInput(label="Trials per λ", value=DEFAULT_N_TRIALS, start=1, end=10_000,
                                            width=110, css_classes=["sweep-trials"])
        self.run = pn.widgets.Button(label="Run sweep", color="primary", sizing_mode="stretch_width",
                                     css_classes=["sweep-run"])
        self.cancel = pn.widgets.Button(label="Cancel", color="warning", disabled=True, sizing_mode="stretch_width",
                                        css_classes=["sweep-cancel"])
        self.progress = pn.indicators.Progress(value=0, max=100, bar_color="primary", sizing_mode="stretch_width",
                                               height=16, margin=(6, 10))
        # a StaticText widget: updating it sends one string, where a Markdown pane update re-scans the page
        self.status = pn.widgets.StaticText(value=state.sweep_status, sizing_mode="stretch_width", margin=(0, 10))
        self.csv = pn.widgets.FileDownload(callback=self._csv, filename="sweep.csv", label="Sweep as CSV",
                                           embed=False, disabled=True, sizing_mode="stretch_width")
        self.save = pn.widgets.Button(label="Save into model file…", disabled=True, sizing_mode="stretch_width")
        self.confirm_text = pn.pane.Markdown("", sizing_mode="stretch_width", margin=(0, 10))
        self.confirm = pn.widgets.Button(label="Yes, write it", color="danger", sizing_mode="stretch_width")
        self.dismiss = pn.widgets.Button(label="No", sizing_mode="stretch_width")
        self.confirm_box = pn.Column(self.confirm_text, pn.Row(self.confirm, self.dismiss, margin=0),
                                     visible=False, sizing_mode="stretch_width", margin=0)
        self._poller = None

        self.run.on_click(self._start)
        self.cancel.on_click(lambda _: self.state.cancel_sweep())
        self.save.on_click(self._ask)
        self.confirm.on_click(self._write)
        self.dismiss.on_click(lambda _: setattr(self.confirm_box, "visible", False))
        state.param.watch(self._show, ["sweep", "sweep_status", "sweep_running", "model"])

    def _start(self, _=None) -> None:
        low, high = self.grid.value
        if self.state.start_sweep(low, high, float(self.step.value), int(self.n_trials.value)):
            self.confirm_box.visible = False
            self._poller = pn.state.add_periodic_callback(self._poll, period=POLL_MS)

    def _poll(self) -> None:
        if not self.state.poll_sweep() and self._poller is not None:
            self._poller.stop()
            self._poller = None

    def _show(self, *_) -> None:
        state = self.state
        snapshot = state.sweep
        self.progress.value = int(round(100 * snapshot.fraction)) if snapshot is not None else 0
        self.status.value = state.sweep_status
        self.run.disabled = state.sweep_running or state.model is None
        self.cancel.disabled = not state.sweep_running
        self.csv.disabled = state.sweep_result is None
        self.save.disabled = not state.can_save_sweep()
        if state.model is not None and state.model.path is not None:
            self.csv.filename = f"{state.model.path.stem}_sweep.csv"

    def _csv(self):
        return io.StringIO(self.state.sweep_csv())

    def _ask(self, _=None) -> None:
        result, model = self.state.sweep_result, self.state.model
        lam, acc = result.optimum
        self.confirm_text.object = (
            f"Write opt_scaling_factor = {lam:g} (accuracy {acc:.2f}), all_perfs and scaling_factors into "
            f"**{model.path.name}**? Every other variable in the file is kept; the file is replaced atomically.")
        self.confirm_box.visible = True

    def _write(self, _=None) -> None:
        self.confirm_box.visible = False
        try:
            self.state.sweep_status = self.state.save_sweep()
        except ValueError as exc:
            self.state.sweep_status = str(exc)

    def stop(self) -> None:
        """End of the session: stop polling and cancel the sweep."""
        if self._poller is not None:
            self._poller.stop()
            self._poller = None
        self.state.cancel_sweep()

    def card(self) -> pn.Card:
        return pn.Card(
            self.grid, pn.Row(self.step, self.n_trials, margin=0), pn.Row(self.run, self.cancel, margin=0),
            self.progress, self.status, self.csv, self.save, self.confirm_box,
            hint("Scores n random trials at each λ (the same trials at every λ) with the current seed, "
                 "downsampling, weights and stimulation, in the background; the curve fills in as it runs."),
            title="Sweep λ", sizing_mode="stretch_width", margin=(5, 0))
