"""The page of one session: sidebar controls, views with help lines, messages, template.

``ExplorerPage`` is the ``pn.viewable.Viewer`` that shows an ``ExplorerSession`` (``panel
serve`` runs ``explorer/main.py``; ``notebook.Explorer`` shows it in a notebook cell). Its views
are those of the registry (``views.VIEWS``): a view is redrawn when a session value it reads
changes, at once if it is on screen, else when it is shown, so a λ change costs the browser one
or two figures, not nine; everything a change causes reaches the page in one held document
update. Every view reads what it draws from the session's trial, model or sweep. Present mode
and λ side by side are in ``teaching``.
"""

from __future__ import annotations

import html
import urllib.parse
from contextlib import contextmanager

import panel as pn
import param
from panel.io.document import hold

from rate2spike.explorer import figures
from rate2spike.explorer.controls import Controls
from rate2spike.explorer.diagnosis_view import DiagnosisCard
from rate2spike.explorer.population_view import PopulationView
from rate2spike.explorer.session import ExplorerSession
from rate2spike.explorer.teaching import LARGE_TEXT, PresentMode, StimulationBar
from rate2spike.explorer.text import SMALL_TEXT, alert, alert_styles, static_text, table_html, text_pane
from rate2spike.explorer.views import (ABOVE_TABS, BELOW_TABS, PRESENT_PREFIX, VIEWS, ViewSpec, help_line, plot,
                                       views_by_tab)

TITLE = "rate2spike explorer"
INTRO = (
    "A rate network trained on a task becomes a network of leaky integrate-and-fire units whose recurrent and "
    "readout weights are divided by one scaling factor **λ** (Kim, Li & Sejnowski, PNAS 2019). Pick a model and "
    "a condition, move λ, and see whether the spiking network still solves the task, and why."
)
FILE_HELP = (
    "What rate2spike found in the file and did with it. PyTorch-era files store the raw trained w, whose "
    "negative entries the rate network never used (it applied relu at every step), so rate2spike rectifies "
    "them; the PyTorch port's own LIF code does not. Untick the box to run the LIF network on the raw w and "
    "compare the two readings (it changes nothing for files stored rectified)."
)


LINK_COPIED = "Link copied"
# The browser copies its own address (the server keeps it a link to the view: ``update_link``) and
# says so for a few seconds; where the page may not write the clipboard (served over plain http to
# another machine), it says to copy the address bar instead.
COPY_LINK_JS = f"""
const say = (text) => {{
  note.text = text;
  setTimeout(() => {{ if (note.text === text) note.text = ""; }}, 4000);
}};
const url = window.location.href;
if (navigator.clipboard && window.isSecureContext) {{
  navigator.clipboard.writeText(url).then(() => say("{LINK_COPIED}"),
                                          () => say("Could not copy: copy the address bar instead"));
}} else {{
  say("This page cannot copy: copy the address bar instead");
}}
"""


def load_extensions() -> None:
    """Panel's front-end pieces this page uses (idempotent)."""
    pn.extension("filedropper", notifications=False)


def file_card_text(model) -> str:
    """How the open file was read, as an HTML table (its values come from the file: shown as text)."""
    if model is None:
        return "No model open."
    return table_html(model.file_facts())


def summary(model, task) -> str:
    """The model on screen in one line, as HTML (its name comes from a file name: shown as text)."""
    if model is None:
        return ("<b>No model yet.</b> Upload a spikeRNN model file (.mat) in the sidebar, or start the dashboard "
                "with <code>panel serve explorer --args --models DIR</code>.")
    task_text = f"task <b>{html.escape(task.name)}</b>. {html.escape(task.description)}" if task else "task ?"
    return (f"<b>{html.escape(model.name)}</b>: N = {model.N} units ({int(model.exc.sum())} excitatory), "
            f"{task_text}")


class ExplorerPage(pn.viewable.Viewer):
    """One session's page: its controls and views, following the session."""

    session = param.ClassSelector(class_=ExplorerSession, constant=True, doc="The session the page shows.")

    def __init__(self, session: ExplorerSession, **params):
        super().__init__(session=session, **params)
        s = session
        self.controls = Controls(s)
        duration = s.trial.spec.duration if s.trial is not None else 1.0
        self.time_range = figures.time_range(duration)  # shared by the views over trial time
        self.views: dict[str, figures.View] = {key: spec.figure(self.time_range, key) for key, spec in VIEWS.items()}
        self.present = PresentMode(s, duration)
        self.diagnosis = DiagnosisCard(s, self)
        self.population = PopulationView.of(s.catalog.models_dir)  # None unless the folder holds a population

        self.error = alert(s.param.error, "danger", margin=(5, 12), css_classes=["page-error"])
        self.notes = alert(s.param.notes, "info", margin=(5, 12), css_classes=["page-notes"])
        kinds = {"failed": "danger", "below goal": "warning", "converted": "success"}
        self.verdict = text_pane(s.param.conclusion, visible=s.param.conclusion.rx.bool(), margin=(5, 12),
                                 styles=pn.bind(lambda kind: alert_styles(kinds.get(kind, "info")),
                                                s.param.conclusion_kind),
                                 sizing_mode="stretch_width", css_classes=["page-verdict"])
        self.summary = pn.pane.HTML(pn.bind(summary, s.param.model, s.param.task), sizing_mode="stretch_width",
                                    margin=(0, 12), css_classes=["model-summary"])
        self.rectify = pn.widgets.Checkbox.from_param(
            s.param.rectify_weights, disabled=pn.bind(lambda m: m is None or m.relu_zeroed == 0, s.param.model),
            css_classes=["rectify-weights"])
        self.file_card = pn.Card(
            pn.pane.HTML(pn.bind(file_card_text, s.param.model), sizing_mode="stretch_width",
                         css_classes=["file-facts"]),
            self.rectify, help_line("file", FILE_HELP), title="How the file was read", collapsed=True,
            sizing_mode="stretch_width", margin=(0, 12, 10, 12), css_classes=["file-card"])
        # a StaticText widget: updating it sends one string, where a Markdown pane update re-scans the page
        self.statuses = {key: pn.widgets.StaticText(value=pn.bind(static_text, s.param[spec.status]),
                                                    styles=SMALL_TEXT, margin=(0, 12), sizing_mode="stretch_width",
                                                    css_classes=[spec.status.replace("_", "-")])
                         for key, spec in VIEWS.items() if spec.status is not None}
        self.tab_views = views_by_tab()
        self.tab_titles = list(self.tab_views)
        self.tabs = pn.Tabs(*[(title, self.tab_content(title)) for title in self.tab_titles], dynamic=False,
                            sizing_mode="stretch_width", margin=(0, 12), css_classes=["trial-tabs"])
        self.copy_link = pn.widgets.Button(label="Copy link", color="light", width=110, css_classes=["copy-link"],
                                           stylesheets=LARGE_TEXT,
                                           description="Copy a link that restores this view")
        self.copy_note = pn.widgets.StaticText(value="", css_classes=["copy-note"], margin=(12, 10, 0, 4),
                                               styles={"color": "white", "font-size": "16px"})
        self.copy_link.js_on_click(args={"note": self.copy_note}, code=COPY_LINK_JS)
        self.stimulation = StimulationBar(s)

        # Every figure, the main area's and Present mode's, is drawn when it is first on screen, then
        # again when a session value it reads has changed. Only what is on screen is recomputed and
        # sent: a λ change then costs one or two figures in the browser, not nine.
        self.stale: set[str] = {name for name, _spec in self.every_figure()}
        read = sorted(set().union(*(spec.reads for spec in VIEWS.values())))
        s.param.watch(lambda *events: self.redraw({event.name for event in events}), read)
        pn.bind(self.update_link, s.param.trial, s.param.voltage_units, s.param.present, watch=True)
        pn.bind(lambda _active: self.views_shown(), self.tabs.param.active, watch=True)
        pn.bind(self.present_toggled, s.param.present, watch=True)
        self.notebook_roots: list[pn.Column] = []  # the cells showing this page (``layout``)
        if s.present:  # opened from a link in Present mode
            self.present.build()
        self.views_shown()
        pn.state.onload(self.update_link)  # once the page is in the browser, its URL links to it

    def __panel__(self) -> pn.template.BootstrapTemplate:
        return self.template()

    # --- session -> views ------------------------------------------------------------------
    def every_figure(self) -> list[tuple[str, ViewSpec]]:
        """Each figure's name with its view's entry: the main area's (named by their keys) and Present
        mode's (present-<key>, built when Present mode is first switched on)."""
        return [*VIEWS.items(),
                *((PRESENT_PREFIX + key, spec) for key, spec in VIEWS.items() if spec.present is not None)]

    def on_screen(self) -> dict[str, tuple[ViewSpec, figures.View, bool]]:
        """The figures on screen by name, each with its view's entry, the figure and whether it is
        Present mode's: Present mode's own, or the main area's and those of the open tab."""
        if self.present.on:
            return {PRESENT_PREFIX + key: (VIEWS[key], view, True) for key, view in self.present.views.items()}
        open_tab = self.tab_titles[self.tabs.active]
        return {key: (spec, self.views[key], False) for key, spec in VIEWS.items() if spec.tab in (None, open_tab)}

    def show_view(self, key: str) -> None:
        """Bring up what a finding points at: open the tab of its view, or the file card."""
        spec = VIEWS.get(key)
        if spec is not None and spec.tab is not None:
            self.tabs.active = self.tab_titles.index(spec.tab)
        if key == "file":
            self.file_card.collapsed = False

    def present_toggled(self, on: bool) -> None:
        with self.one_update():
            if on:
                self.present.build()
            self.views_shown()

    def views_shown(self) -> None:
        """Other views came on screen: tell the session whether they need recordings, and draw them."""
        self.session.needs_recordings = any(spec.recorded for spec, _view, _present in self.on_screen().values())
        self.refresh()

    def redraw(self, changed: set[str]) -> None:
        """Session values changed: redraw the figures that read them, now if they are on screen,
        else when they are shown; a new trial moves what a view marks of it (``on_trial``)."""
        on_screen = self.on_screen()
        trial = self.session.trial
        with self.one_update():
            for name, spec in self.every_figure():
                if changed & spec.redrawn_by:
                    self.stale.add(name)
                elif "trial" in changed and spec.on_trial is not None:
                    if name in on_screen:
                        spec.on_trial(on_screen[name][1], trial)
                    else:
                        self.stale.add(name)  # redrawn in full when shown
            self.refresh()

    def refresh(self) -> None:
        """Bring the figures on screen up to date with the session, in one document update."""
        on_screen = self.on_screen()
        due = [name for name in on_screen if name in self.stale]
        if self.session.offloaded and not self.session.has_recordings():
            # drawn when the trial with recordings arrives (never simulated on the event loop)
            due = [name for name in due if not on_screen[name][0].recorded]
        if not due:
            return
        trial = self.session.trial
        time_range = self.present.time_range if self.present.on else self.time_range
        with self.one_update():
            if trial is not None and time_range.bounds != (0.0, trial.recording.drive.T):
                figures.set_time_range(time_range, trial.recording.drive.T)
            for name in due:
                spec, view, present = on_screen[name]
                view.show(spec.frame_of(self.session, present))
        self.stale.difference_update(due)

    @contextmanager
    def one_update(self):
        """Send every change made inside as one document update. On a server, Panel's ``hold``.
        In a notebook cell, a change made to a Bokeh figure directly reaches the cell only if its
        document is held while it is made and then pushed (``pn.io.push_notebook``; Panel's Bokeh
        pane docs): unheld, the change never leaves the kernel, and the cell showed the last
        trial's data under this one's title. So the cell's document is held here and pushed at the end."""
        if not self.notebook_roots:
            with hold():
                yield
            return
        documents = {view.figure.document for view in [*self.views.values(), *self.present.views.values()]}
        held = [doc for doc in documents if doc is not None and not doc.callbacks.hold_value]
        for doc in held:
            doc.hold("combine")
        try:
            yield
        finally:
            pn.io.push_notebook(*self.notebook_roots)
            for doc in held:
                doc.unhold()

    def update_link(self, *_) -> None:
        """Keep the page's URL a link to what it shows (opening it restores the view)."""
        if pn.state.location is not None and self.session.model is not None:
            pn.state.location.search = "?" + urllib.parse.urlencode(self.session.link_query())

    # --- layout ----------------------------------------------------------------------------
    def main(self) -> list:
        """The main area: Present mode's screen, or the summary and messages, then each view with
        its help line under it."""
        return [self.present.panel(), pn.Column(*self.all_views(), visible=self.present.toggle.param.value.rx.not_(),
                                                sizing_mode="stretch_width")]

    def all_views(self) -> list:
        """The summary and messages, the views above the tabs, the tabs, the views below them side by
        side, then the population's card (λ side by side is in Present mode: it needs the whole width)."""
        return [
            pn.Column(pn.pane.Markdown(INTRO, margin=(0, 12)), self.summary, self.verdict, self.error, self.notes,
                      self.diagnosis.card, self.file_card, self.stimulation.panel,
                      sizing_mode="stretch_width"),
            *(self.view_column(spec) for spec in VIEWS.values() if spec.place == ABOVE_TABS),
            self.tabs,
            pn.Row(*(self.view_column(spec) for spec in VIEWS.values() if spec.place == BELOW_TABS),
                   sizing_mode="stretch_width"),
            *([self.population.card] if self.population is not None else []),
        ]

    def view_column(self, spec: ViewSpec) -> pn.Column:
        """A view of the main area: its figure, its status line if it has one, its help line."""
        status = [self.statuses[spec.key]] if spec.key in self.statuses else []
        return pn.Column(plot(self.views[spec.key], spec.key), *status, *self.help_lines([spec]),
                         sizing_mode="stretch_width")

    def tab_content(self, title: str) -> pn.Column:
        """A tab: its views side by side, their help lines under them."""
        specs = self.tab_views[title]
        plots = [plot(self.views[spec.key], spec.key) for spec in specs]
        shown = plots[0] if len(plots) == 1 else pn.Row(*plots, sizing_mode="stretch_width")
        return pn.Column(shown, *self.help_lines(specs), sizing_mode="stretch_width", name=title)

    @staticmethod
    def help_lines(specs) -> list[pn.pane.Markdown]:
        return [help_line(spec.key, spec.help_text()) for spec in specs if spec.help is not None]

    def header_buttons(self) -> pn.Row:
        """Present, λ side by side (in Present mode), Copy link and its confirmation."""
        return pn.Row(self.present.toggle, self.present.side_toggle, self.copy_link, self.copy_note)

    def template(self) -> pn.template.BootstrapTemplate:
        """Bootstrap, whose design is bundled with Panel: the page loads nothing from the internet
        (the Fast and Material designs fetch web fonts, which fails offline with console errors).
        No busy indicator: Panel's follows one busy state for the whole server, so every slider
        move of one user made every other open page spin, and cost a message per page (a class of
        30 on one server: 30 messages per move). Sweeps show their own progress bar."""
        return pn.template.BootstrapTemplate(title=TITLE, sidebar=self.controls.cards(), main=self.main(),
                                             header=[self.header_buttons()],
                                             sidebar_width=350, collapsed_sidebar=self.session.present,
                                             header_background="#1f4e79", busy_indicator=None)

    def layout(self) -> pn.Column:
        """The page without the server template, for a notebook cell: the header's buttons, then
        the sidebar's cards beside the main area."""
        root = pn.Column(
            pn.Row(pn.pane.Markdown(f"### {TITLE}", margin=(0, 12)), self.header_buttons()),
            pn.Row(pn.Column(*self.controls.cards(), width=350, visible=self.session.param.present.rx.not_()),
                   pn.Column(*self.main(), sizing_mode="stretch_width"),
                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width", min_width=1100)
        self.notebook_roots.append(root)
        return root

    def close(self) -> None:
        """End of the session: stop the sweep and delete uploads."""
        self.controls.sweeps.stop()
        self.session.close()
