"""What the page offers for teaching: presets, Present mode, and λ side by side.

Each piece follows one session and draws with the same frames and figures as the rest of the
page: ``Presets`` (one button per preset computed from the grid search), ``PresentMode`` (λ, the
condition, the presets, the fixed y-range, and the views that have a Present-mode figure, the
output and the accuracy curve, or λ side by side, on one 1280 x 720 projector screen with the
sidebar collapsed), ``SideBySide`` (the trial on screen at up to three λ, same stimulus and noise,
in Present mode: its header button opens it there)
and ``StimulationBar`` (says that stimulation is on, at which λ, and turns it off in one click).
"""

from __future__ import annotations

import panel as pn
from panel.io.document import hold

from bokeh.core.properties import value
from bokeh.models import Tooltip

from rate2spike.explorer import figures, frames
from rate2spike.explorer.controls import ImmediateFloatInput, TaskControls, lambda_slider
from rate2spike.explorer.internals import collapse_sidebar_with
from rate2spike.explorer.session import MAX_SIDE_BY_SIDE, ExplorerSession
from rate2spike.explorer.text import alert, alert_styles, static_text
from rate2spike.explorer.views import PRESENT_PREFIX, VIEWS, help_line, plot

SIDE_BY_SIDE_HELP = (
    "The trial on screen at each λ typed (the presets' too small, optimum and too large to start with): the "
    "same stimulus, the same initial voltages and the same noise, so the only difference is λ. Each column: "
    "the output with the rate network's (orange), the thresholds and the verdict in its title, and the raster."
)


PRESENT_TEXT_PX = figures.PRESENT_FONT_PX  # Present mode's widgets, as its figures' text (at least 14 px)
# Bokeh's widgets size their text from --bokeh-font-size, some of their parts (button labels,
# inputs, slider titles) explicitly: both are set, on the widget's own shadow root
LARGE_TEXT = [f":host {{ --bokeh-font-size: {PRESENT_TEXT_PX}px; font-size: {PRESENT_TEXT_PX}px; }} "
              f".bk-btn, .bk-input, select, input, label, .bk-slider-title, .bk-slider-value, .bk-input-group "
              f"{{ font-size: {PRESENT_TEXT_PX}px; }}"]
LARGE_NOTE = {"font-size": f"{PRESENT_TEXT_PX}px", "color": "#333"}
TOOLTIP_WIDTH_PX = 360


def preset_tooltip(text: str) -> Tooltip:
    """A preset's explanation on hover: below its button (never over the buttons beside it, which a
    tooltip on the right covered), large enough to read, and narrow enough to stay on screen."""
    return Tooltip(content=text, position="bottom_center", attachment="below",
                   stylesheets=[f":host {{ font-size: {PRESENT_TEXT_PX - 1}px; white-space: normal; "
                                f"max-width: {TOOLTIP_WIDTH_PX}px; }}"])


def preset_css(name: str) -> list[str]:
    """A preset button's css classes: by its first word ('preset-recommended', 'preset-inhibit') and
    by its whole name ('preset-λ-too-small', 'preset-λ-too-large', which share their first word)."""
    words = name.lower().split()
    return list(dict.fromkeys([f"preset-{words[0]}", "preset-" + "-".join(words)]))


SIDE_TEXT_PX = 14  # side by side in Present mode: three figures across 1280 px, text still at least 14 px
SHORT_LABELS = {"Rate model, same stimulus": "Rate model"}  # a legend entry that would not fit a third


def side_by_side_style(fig) -> None:
    """Text of at least 14 px in a third of a 1280 px screen, the legend below in rows of two (inside
    the figure: a wider legend was cut at its edge)."""
    fig.title.text_font_size = f"{SIDE_TEXT_PX}px"
    for axis in (*fig.xaxis, *fig.yaxis):
        axis.axis_label_text_font_size = axis.major_label_text_font_size = f"{SIDE_TEXT_PX}px"
    for legend in fig.legend:  # rows of 20 px: the plot keeps its height
        legend.update(label_text_font_size=f"{SIDE_TEXT_PX}px", glyph_height=14, glyph_width=18, label_height=14,
                      spacing=2, padding=3, margin=4, label_standoff=4)
        for item in legend.items:
            label = getattr(item.label, "value", None)
            if label in SHORT_LABELS:
                item.label = value(SHORT_LABELS[label])
    figures.move_legend(fig, "below", ncols=2)


class Presets:
    """One button per preset of the open model (none before any grid search), and a line saying
    what the last one shows while its trial is on screen (``ExplorerSession.preset_note``)."""

    def __init__(self, session: ExplorerSession):
        self.session = session
        self.buttons = pn.Row(sizing_mode="stretch_width", margin=(0, 12), css_classes=["presets"])
        self.note = pn.widgets.StaticText(value=pn.bind(static_text, session.param.preset_note), styles=LARGE_NOTE,
                                          margin=(0, 12), sizing_mode="stretch_width", css_classes=["preset-note"])
        pn.bind(self.show, session.param.model, session.param.sweep, session.param.sweep_running, watch=True)
        self.show()

    def show(self, *_) -> None:
        """Find the presets (off the server's event loop) and show their buttons."""
        if self.session.sweep_running:
            return
        if self.session.cached_presets() is None and self.session.model is not None:
            self.buttons.objects = [pn.pane.Markdown("Finding a trial that shows each preset's point…",
                                                     styles=LARGE_NOTE)]
        self.session.presets_then(self._draw)

    def _draw(self, found, error) -> None:
        if error is not None:
            if not isinstance(error, ValueError):
                raise error
            self.session.error = f"Presets: {error}"
            found = []
        buttons = []
        for preset in found:
            button = pn.widgets.Button(label=preset.name, color="light", description=preset_tooltip(preset.why),
                                       css_classes=preset_css(preset.name), stylesheets=LARGE_TEXT,
                                       margin=(5, 16, 5, 0))
            button.on_click(lambda _, name=preset.name: self.session.apply_preset(name))
            buttons.append(button)
        self.buttons.objects = buttons or [pn.pane.Markdown(
            "Presets appear once the model has a grid search (stored in its file, or run a sweep).",
            styles=LARGE_NOTE)]


class StimulationBar:
    """While the trial on screen has artificial stimulation: 'Stimulation on: …, at λ = 35 —' and
    a button that turns it off (stimulation left on from a preset was invisible and sticky)."""

    def __init__(self, session: ExplorerSession, css_prefix: str = "", large: bool = False):
        style = LARGE_TEXT if large else []
        self.text = pn.widgets.StaticText(value=pn.bind(lambda status: static_text(f"{status} —"),
                                                        session.param.stimulation_status),
                                          css_classes=[f"{css_prefix}stimulation-status"], stylesheets=style,
                                          margin=(8, 6, 0, 0))
        self.off = pn.widgets.Button(label="turn off", color="warning", css_classes=[f"{css_prefix}stimulation-off"],
                                     stylesheets=style, margin=(0, 0))
        self.off.on_click(lambda _: session.stop_stimulation())
        self.panel = pn.Row(self.text, self.off, visible=session.param.stimulation_status.rx.bool(),
                            styles=alert_styles("warning"), margin=(4, 12), css_classes=[f"{css_prefix}stimulation"])


class PresentMode:
    """What fits one 1280 x 720 projector screen, with the sidebar collapsed: λ (slider and number),
    the condition, the fixed y-range, the presets, and the views that have a Present-mode figure
    (the output and the accuracy curve), or λ side by side, all text at least 14 px. The toggle
    (the session's ``present``: a link restores it) brings back the sidebar and every view.

    Its widgets and figures are built the first time it is switched on (``build``): until then
    the page carries none of them (fewer models to serialise with every message, and no hidden λ
    widgets to update with every λ change). The page draws its figures as it draws its own."""

    def __init__(self, session: ExplorerSession, duration: float):
        self.session = session
        self.time_range = figures.time_range(duration)  # its own: zooming here leaves the page's views alone
        self.toggle = pn.widgets.Toggle.from_param(session.param.present, color="light", width=110,
                                                   css_classes=["present-toggle"], stylesheets=LARGE_TEXT)
        collapse_sidebar_with(self.toggle)
        self.views: dict[str, figures.View] = {}  # by key, built by build
        self.presets = Presets(session)
        self.side_by_side = SideBySide(session, duration)
        # in the header: λ side by side needs the whole width of the screen, so it opens Present mode
        self.side_toggle = pn.widgets.Toggle(label="Side by side", value=False, color="light", width=140,
                                             css_classes=["side-toggle"], stylesheets=LARGE_TEXT)
        pn.bind(lambda on: on and setattr(session, "present", True), self.side_toggle.param.value, watch=True)
        pn.bind(lambda on: on or setattr(self.side_toggle, "value", False), session.param.present, watch=True)
        self.column = pn.Column(visible=self.toggle.param.value, sizing_mode="stretch_width",
                                css_classes=["present-panel"])

    @property
    def on(self) -> bool:
        return self.toggle.value

    def build(self) -> None:
        """The widgets and figures (once)."""
        if self.views:
            return
        s = self.session
        self.views = {key: spec.present(self.time_range, PRESENT_PREFIX + key) for key, spec in VIEWS.items()
                      if spec.present is not None}
        for view in self.views.values():
            figures.present_style(view.figure)
        slider = lambda_slider(s, sizing_mode="stretch_width", css_classes=["present-lambda"], stylesheets=LARGE_TEXT)
        number = ImmediateFloatInput.from_param(s.param.scaling_factor, step=0.5, width=110, label="λ",
                                                css_classes=["present-lambda-number"], stylesheets=LARGE_TEXT)
        condition = TaskControls(s, with_options=False, css_prefix=PRESENT_PREFIX, stylesheets=LARGE_TEXT)
        fixed = pn.widgets.Checkbox.from_param(s.param.fix_output_range, label="Fix the y-range",
                                               css_classes=["present-fix-range"], stylesheets=LARGE_TEXT,
                                               margin=(30, 10, 0, 10))
        side = self.side_toggle.param.value
        figures_row = pn.Row(*(plot(view, PRESENT_PREFIX + key) for key, view in self.views.items()),
                             sizing_mode="stretch_width", visible=side.rx.not_())
        self.column.objects = [
            pn.Row(slider, number, condition.panel, fixed, sizing_mode="stretch_width", margin=(0, 12)),
            pn.Column(self.presets.buttons, self.presets.note, visible=side.rx.not_(), sizing_mode="stretch_width"),
            StimulationBar(s, PRESENT_PREFIX, large=True).panel,
            alert(s.param.error, "danger", margin=(5, 12), css_classes=["present-error"]),
            figures_row,
            pn.Column(self.side_by_side.panel(), visible=side, sizing_mode="stretch_width")]

    def panel(self) -> pn.Column:
        """The screen of Present mode (empty, and hidden, until it is first switched on)."""
        return self.column


class SideBySide:
    """The trial on screen at up to three λ typed by the user (the presets' too small, optimum and
    too large to start with): outputs with verdicts and rasters in three columns across the
    screen (in Present mode: a third of 1280 px is 400 px, where the sidebar left 280), with a
    progress bar while they are computed."""

    def __init__(self, session: ExplorerSession, duration: float):
        self.session = session
        self.lambdas = pn.widgets.TextInput(label="λ values (up to 3)", value=session.side_by_side_default(),
                                            width=220, css_classes=["side-lambdas"], stylesheets=LARGE_TEXT)
        self.button = pn.widgets.Button(label="Show side by side", color="primary", css_classes=["side-show"],
                                        stylesheets=LARGE_TEXT, margin=(26, 10, 5, 10))
        self.progress = pn.indicators.Progress(active=True, visible=False, width=200, height=16, margin=(36, 10, 0, 10),
                                               css_classes=["side-progress"])
        self.busy = pn.widgets.StaticText(value="", css_classes=["side-busy"], stylesheets=LARGE_TEXT,
                                          margin=(32, 10, 0, 0))
        self.duration = duration
        # the figures are built at the first "Show side by side": until then the page carries none
        self.views: list[tuple[figures.OutputView, figures.RasterView]] = []
        self.columns: list[pn.Column] = []
        self.row = pn.Row(sizing_mode="stretch_width")
        self.button.on_click(lambda _: self.show())
        pn.bind(lambda _model: setattr(self.lambdas, "value", session.side_by_side_default()), session.param.model,
                watch=True)

    def show(self) -> None:
        """Run the trial on screen at each λ typed (off the server's event loop) and draw them."""
        try:
            lambdas = [float(x) for x in self.lambdas.value.replace(";", ",").split(",") if x.strip()]
        except ValueError:
            self.session.error = f"Side by side: cannot read {self.lambdas.value!r} as numbers separated by commas"
            return
        self._busy(f"Simulating the trial at λ = {', '.join(f'{lam:g}' for lam in lambdas)}…")
        self.session.side_by_side_then(lambdas, self.draw)

    def _busy(self, text: str) -> None:
        """Say what is being computed (empty: done)."""
        self.busy.value = static_text(text)
        self.progress.visible = bool(text)
        self.button.disabled = bool(text)

    def draw(self, trials, error) -> None:
        """The trials side by side, or why not."""
        self._busy("")
        if error is not None:
            if not isinstance(error, ValueError):
                raise error
            self.session.error = f"Side by side: {error}"
            return
        with hold():
            if not self.views:
                self._build()
            for k, column in enumerate(self.columns):
                column.visible = k < len(trials)
                if k < len(trials):
                    output, raster = self.views[k]
                    for view in (output, raster):
                        figures.set_time_range(view.figure.x_range, trials[k].recording.drive.T)
                    output.show(frames.output_frame(trials[k], narrow=True))
                    raster.show(frames.raster_frame(trials[k], self.session.raster_order, narrow=True))

    def _build(self) -> None:
        # the output 400 px tall: with the controls above it, on a 720 px screen whole
        self.views = [(figures.OutputView(figures.time_range(self.duration), height=400, name=f"side{k}-output"),
                       figures.RasterView(figures.time_range(self.duration), height=300, name=f"side{k}-raster"))
                      for k in range(MAX_SIDE_BY_SIDE)]
        for output, raster in self.views:
            side_by_side_style(output.figure)
            side_by_side_style(raster.figure)
        self.columns = [pn.Column(plot(out, f"side{k}-output"), plot(raster, f"side{k}-raster"), visible=False,
                                  sizing_mode="stretch_width") for k, (out, raster) in enumerate(self.views)]
        self.row.objects = self.columns

    def panel(self) -> pn.Column:
        """The λ values, the button, the progress while it computes, the columns and the help line."""
        return pn.Column(pn.Row(self.lambdas, self.button, self.progress, self.busy, margin=(0, 0, 6, 0)),
                         self.row, help_line("side", SIDE_BY_SIDE_HELP), sizing_mode="stretch_width", margin=(0, 12))
