"""The sidebar: widgets bound to one session's ``ExplorerState``.

Widgets are linked to state parameters both ways (``from_param``), sliders through their
throttled value, so dragging a slider simulates once, on release. Only the controls that
apply to the current task are shown.
"""

from __future__ import annotations

import io

import panel as pn

from explorer.catalog import MAX_UPLOAD_BYTES
from explorer.state import LAMBDA_BOUNDS, ExplorerState

SMALL_TEXT = {"font-size": "0.85em", "color": "#555"}


def hint(text: str) -> pn.pane.Markdown:
    """A line of small explanatory text under a control group."""
    return pn.pane.Markdown(text, styles=SMALL_TEXT, margin=(0, 10, 4, 10), sizing_mode="stretch_width")


class Controls:
    """All sidebar widgets of one session, grouped in cards."""

    def __init__(self, state: ExplorerState):
        self.state = state
        self.model_select = pn.widgets.Select.from_param(state.param.model_label, sizing_mode="stretch_width",
                                                         css_classes=["model-select"])
        self.upload = pn.widgets.FileDropper(
            accepted_filetypes=[".mat"], max_file_size=f"{MAX_UPLOAD_BYTES // 2**20}MB", multiple=False,
            layout="compact", sizing_mode="stretch_width", height=70)
        self.upload.param.watch(self._uploaded, "value")

        self.task = pn.widgets.Select.from_param(state.param.task_name, sizing_mode="stretch_width")
        self.condition = pn.widgets.Select.from_param(state.param.condition, sizing_mode="stretch_width",
                                                      css_classes=["condition-select"])
        self.context = pn.widgets.Select.from_param(state.param.context, sizing_mode="stretch_width")
        self.sign1 = pn.widgets.Select.from_param(state.param.input1_sign, sizing_mode="stretch_width")
        self.sign2 = pn.widgets.Select.from_param(state.param.input2_sign, sizing_mode="stretch_width")
        self.strength = pn.widgets.FloatSlider.from_param(state.param.evidence_strength, throttled=True,
                                                          sizing_mode="stretch_width")
        self.mante = pn.Column(self.context, self.sign1, self.sign2, self.strength, margin=0,
                               sizing_mode="stretch_width")

        self.scaling = pn.widgets.FloatSlider.from_param(
            state.param.scaling_factor, throttled=True, start=LAMBDA_BOUNDS[0], end=LAMBDA_BOUNDS[1],
            step=0.5, sizing_mode="stretch_width", css_classes=["lambda-slider"])
        self.seed = pn.widgets.IntInput.from_param(state.param.seed, sizing_mode="stretch_width")
        self.downsample = pn.widgets.IntSlider.from_param(state.param.downsample, throttled=True,
                                                          sizing_mode="stretch_width")
        self.initial = pn.widgets.Checkbox.from_param(state.param.use_initial_weights)

        self.stim_mode = pn.widgets.RadioButtonGroup.from_param(state.param.stim_mode, color="default",
                                                                sizing_mode="stretch_width")
        self.stim_units = pn.widgets.TextInput.from_param(state.param.stim_units, placeholder="e.g. 0-9, 15 or inh",
                                                          sizing_mode="stretch_width")
        self.stim_window = pn.widgets.RangeSlider.from_param(state.param.stim_window, throttled=True, step=0.005,
                                                             sizing_mode="stretch_width")

        self.raster_order = pn.widgets.RadioButtonGroup.from_param(state.param.raster_order,
                                                                   sizing_mode="stretch_width")
        self.voltage_units = pn.widgets.MultiChoice(label="Voltage of units", max_items=6, sizing_mode="stretch_width")
        self.voltage_units.param.watch(self._units_chosen, "value")
        state.param.watch(self._model_changed, "model")
        state.param.watch(self._units_changed, "voltage_units")
        state.param.watch(self._task_changed, "task_name")
        self._model_changed()
        self._task_changed()

        self.download_mat = pn.widgets.FileDownload(callback=lambda: self._trial_file("mat"), filename="trial.mat",
                                                    label="Trial as .mat", embed=False,
                                                    sizing_mode="stretch_width")
        self.download_npz = pn.widgets.FileDownload(callback=lambda: self._trial_file("npz"), filename="trial.npz",
                                                    label="Trial as .npz", embed=False,
                                                    sizing_mode="stretch_width")
        state.param.watch(self._trial_changed, "trial")
        self._trial_changed()

    # --- callbacks -----------------------------------------------------------------------
    def _uploaded(self, event) -> None:
        for filename, data in (event.new or {}).items():
            if isinstance(data, str):
                data = data.encode()
            self.state.upload(filename, data)

    def _model_changed(self, *_):
        model = self.state.model
        if model is None:
            self.voltage_units.options = {}
            return
        self.voltage_units.options = {f"{u} ({'E' if model.exc[u] else 'I'})": u for u in range(model.N)}
        self.initial.disabled = model.w0 is None
        self._units_changed()

    def _units_changed(self, *_):
        if self.voltage_units.value != self.state.voltage_units:
            self.voltage_units.value = list(self.state.voltage_units)

    def _units_chosen(self, event):
        if list(event.new) != self.state.voltage_units:
            self.state.voltage_units = [int(u) for u in event.new]

    def _task_changed(self, *_):
        mante = self.state.task_name == "mante"
        self.mante.visible = mante
        self.condition.visible = not mante

    def _trial_changed(self, *_):
        missing = self.state.trial is None
        for widget in (self.download_mat, self.download_npz):
            if widget.disabled != missing:
                widget.disabled = missing

    def _trial_file(self, fmt: str):
        """Named when clicked (not on every trial: each widget update is a message to the page)."""
        widget = self.download_mat if fmt == "mat" else self.download_npz
        widget.filename = self.state.trial_file_name(fmt)
        return io.BytesIO(self.state.trial_file(fmt))

    # --- layout --------------------------------------------------------------------------
    def cards(self) -> list:
        """The sidebar content, top to bottom."""
        card = dict(sizing_mode="stretch_width", margin=(5, 0))
        return [
            pn.Card(self.model_select, self.upload,
                    hint(f"Shipped models, .mat files under the folder given at start (--models DIR), or your own "
                         f"upload (at most {MAX_UPLOAD_BYTES // 2**20} MB, kept private to this page)."),
                    title="Model", **card),
            pn.Card(self.task, self.condition, self.mante,
                    hint("The task is inferred from the model; 'random' draws the condition from the seed."),
                    title="Task and condition", **card),
            pn.Card(self.scaling, self.seed, self.downsample, self.initial,
                    hint("λ divides the recurrent and readout weights of the LIF network. It starts at the "
                         "model's stored optimum (else 50). The trial is re-simulated when a slider is released."),
                    title="Conversion", **card),
            pn.Card(self.stim_mode, self.stim_units, self.stim_window,
                    hint("Pushes the chosen units up (exc) or down (inh) by 0.5 mV with probability 0.5 per step "
                         "during the window, as the reference's stims."),
                    title="Artificial stimulation", collapsed=True, **card),
            pn.Card(pn.pane.Markdown("Sort raster by", margin=(0, 10)), self.raster_order, self.voltage_units,
                    title="Display", **card),
            pn.Card(self.download_mat, self.download_npz,
                    hint("The whole current trial (voltages, spikes, rates, output, stimulus) under the "
                         "reference's names; each figure saves as PNG with its toolbar's save button."),
                    title="Export", collapsed=True, **card),
        ]
