"""What the page offers for teaching: presets, Present mode, and λ side by side.

Each piece follows one session and draws with the same frames and figures as the rest of the
page: ``Presets`` (one button per preset computed from the grid search), ``PresentMode`` (λ,
and the views that have a Present-mode figure, the output and the accuracy curve, on one
projector screen) and ``SideBySide`` (the trial on screen at up to three λ, same stimulus and
noise).
"""

from __future__ import annotations

import panel as pn
from panel.io.document import hold

from rate2spike.explorer import figures, frames
from rate2spike.explorer.controls import ImmediateFloatInput, lambda_slider
from rate2spike.explorer.session import MAX_SIDE_BY_SIDE, ExplorerSession
from rate2spike.explorer.text import SMALL_TEXT, alert, static_text
from rate2spike.explorer.views import PRESENT_PREFIX, VIEWS, help_line, plot

SIDE_BY_SIDE_HELP = (
    "The trial on screen at each λ typed (the presets' too small, optimum and too large to start with): the "
    "same stimulus, the same initial voltages and the same noise, so the only difference is λ. Each column: "
    "the output with the rate network's (orange), the thresholds and the verdict in its title, and the raster."
)


class Presets:
    """One button per preset of the open model (none before any grid search), and a line saying
    what the last one shows."""

    def __init__(self, session: ExplorerSession):
        self.session = session
        self.buttons = pn.Row(sizing_mode="stretch_width", margin=(0, 12), css_classes=["presets"])
        self.note = pn.widgets.StaticText(value="", styles=SMALL_TEXT, margin=(0, 12), css_classes=["preset-note"])
        pn.bind(self.show, session.param.model, session.param.sweep, session.param.sweep_running, watch=True)
        self.show()

    def show(self, *_) -> None:
        """Find the presets (off the server's event loop) and show their buttons."""
        if self.session.sweep_running:
            return
        if self.session.cached_presets() is None and self.session.model is not None:
            self.buttons.objects = [pn.pane.Markdown("Finding a trial that shows each preset's point…",
                                                     styles=SMALL_TEXT)]
        self.session.presets_then(self._draw)

    def _draw(self, found, error) -> None:
        if error is not None:
            if not isinstance(error, ValueError):
                raise error
            self.session.error = f"Presets: {error}"
            found = []
        buttons = []
        for preset in found:
            button = pn.widgets.Button(label=preset.name, color="light", description=preset.why,
                                       css_classes=[f"preset-{preset.name.split()[0].lower()}"])
            button.on_click(lambda _, name=preset.name: setattr(
                self.note, "value", static_text(f"{name}: {self.session.apply_preset(name)}")))
            buttons.append(button)
        self.buttons.objects = buttons or [pn.pane.Markdown(
            "Presets appear once the model has a grid search (stored in its file, or run a sweep).",
            styles=SMALL_TEXT)]


class PresentMode:
    """What fits one 1280 x 720 projector screen: λ (slider and number), the presets, and the views
    that have a Present-mode figure (the output and the accuracy curve), in large type. The toggle
    brings back every view.

    Its widgets and figures are built the first time it is switched on (``build``): until then
    the page carries none of them (fewer models to serialise with every message, and no hidden λ
    widgets to update with every λ change). The page draws its figures as it draws its own."""

    def __init__(self, session: ExplorerSession, duration: float):
        self.session = session
        self.time_range = figures.time_range(duration)  # its own: zooming here leaves the page's views alone
        self.toggle = pn.widgets.Toggle(label="Present", value=False, color="light", width=110,
                                        css_classes=["present-toggle"])
        self.views: dict[str, figures.View] = {}  # by key, built by build
        self.presets = Presets(session)
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
        slider = lambda_slider(s, sizing_mode="stretch_width", css_classes=["present-lambda"],
                               stylesheets=[":host { font-size: 18px; }"])
        number = ImmediateFloatInput.from_param(s.param.scaling_factor, step=0.5, width=110, label="λ",
                                                css_classes=["present-lambda-number"])
        self.column.objects = [
            pn.Row(slider, number, sizing_mode="stretch_width", margin=(0, 12)), self.presets.buttons,
            self.presets.note,
            pn.Row(*(plot(view, PRESENT_PREFIX + key) for key, view in self.views.items()),
                   sizing_mode="stretch_width"),
            alert(s.param.error, "danger", margin=(5, 12), css_classes=["present-error"])]

    def panel(self) -> pn.Column:
        """The screen of Present mode (empty, and hidden, until it is first switched on)."""
        return self.column


class SideBySide:
    """The trial on screen at up to three λ typed by the user (the presets' too small, optimum and
    too large to start with): outputs with verdicts and rasters in columns."""

    def __init__(self, session: ExplorerSession, duration: float):
        self.session = session
        self.lambdas = pn.widgets.TextInput(label="λ values (up to 3)", value=session.side_by_side_default(),
                                            width=220, css_classes=["side-lambdas"])
        self.button = pn.widgets.Button(label="Show side by side", color="primary", css_classes=["side-show"])
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
        self.session.side_by_side_then(lambdas, self.draw)

    def draw(self, trials, error) -> None:
        """The trials side by side, or why not."""
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
        self.views = [(figures.OutputView(figures.time_range(self.duration), height=500, name=f"side{k}-output"),
                       figures.RasterView(figures.time_range(self.duration), height=330, name=f"side{k}-raster"))
                      for k in range(MAX_SIDE_BY_SIDE)]
        # a third of the page is too narrow for the output's legend in one row: below the plot in
        # rows of two (the figure is 500 px tall to keep the plot's height beside the raster's)
        for output, _raster in self.views:
            figures.move_legend(output.figure, "below", ncols=2)
        self.columns = [pn.Column(plot(out, f"side{k}-output"), plot(raster, f"side{k}-raster"), visible=False,
                                  sizing_mode="stretch_width") for k, (out, raster) in enumerate(self.views)]
        self.row.objects = self.columns

    def card(self) -> pn.Card:
        return pn.Card(pn.Row(self.lambdas, self.button, margin=(0, 0, 6, 0)),
                       self.row, help_line("side", SIDE_BY_SIDE_HELP),
                       title="λ side by side", collapsed=True, sizing_mode="stretch_width", margin=(0, 12, 10, 12),
                       css_classes=["side-card"])
