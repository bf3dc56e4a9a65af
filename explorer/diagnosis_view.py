"""The Diagnosis card: the ranked findings of ``rate2spike.diagnose`` at the top of the page's results.

A button measures the model on screen at the λ on screen (a few seconds to half a minute, on the
server's pool, off the event loop); a sweep that ends short of its goal, or with no λ converting the
model, runs it by itself. Each finding is one line of text, with a button that brings up the view
that shows its evidence.
"""

from __future__ import annotations

import panel as pn

from rate2spike.explorer.text import SMALL_TEXT, as_html, text_pane
from rate2spike.explorer.views import VIEWS, view_css

FILE_CARD = ("how the file was read", "file-card")  # what a finding about the file points at: no view, a card


def evidence(key: str) -> tuple[str, str] | None:
    """How a finding's button names what shows its evidence, and that element's css class (None: nothing does)."""
    if key == "file":
        return FILE_CARD
    spec = VIEWS.get(key)
    return None if spec is None else (spec.called, view_css(key))


# Brings the element with a css class into view; Bokeh and Panel put their views in shadow roots.
SCROLL_JS = """
function find(root, cls) {
  for (const el of root.querySelectorAll("*")) {
    if (el.classList && el.classList.contains(cls)) return el;
    if (el.shadowRoot) { const hit = find(el.shadowRoot, cls); if (hit) return hit; }
  }
  return null;
}
setTimeout(() => { const el = find(document, target); if (el) el.scrollIntoView({block: "center"}); }, 300);
"""


class DiagnosisCard:
    """Diagnose the model on screen; list the findings, each with a button to its evidence."""

    def __init__(self, session, page):
        self.session = session
        self.page = page
        self.button = pn.widgets.Button(label="Diagnose this model", color="primary", css_classes=["diagnose-run"])
        self.status = text_pane("Why does this conversion work or fail? Measures the file, the rate network on "
                                "fresh trials and the spiking network at a ladder of λ (a few seconds).",
                                styles=SMALL_TEXT, sizing_mode="stretch_width", css_classes=["diagnose-status"])
        self.findings = pn.Column(sizing_mode="stretch_width", margin=0, css_classes=["diagnose-findings"])
        self.card = pn.Card(pn.Row(self.button, self.status, sizing_mode="stretch_width"), self.findings,
                            title="Diagnosis: why this conversion works or fails", collapsed=False,
                            sizing_mode="stretch_width", margin=(0, 12, 10, 12), css_classes=["diagnosis-card"])
        self.button.on_click(lambda _: self.run())
        pn.bind(lambda _model: self.clear(), session.param.model, watch=True)
        pn.bind(self._after_sweep, session.param.conclusion_kind, watch=True)

    def run(self) -> None:
        self.button.disabled = True
        self.status.object = as_html(f"Diagnosing {self.session.model.name if self.session.model else ''} at "
                                     f"λ = {self.session.scaling_factor:g}…")
        self.session.diagnose_then(self.show)

    def clear(self) -> None:
        self.findings.objects = []
        self.button.disabled = False

    def _after_sweep(self, kind: str) -> None:
        """A sweep that ends below its goal or with no λ converting the model: diagnose at once."""
        if kind in ("failed", "below goal") and self.session.sweep is not None and not self.button.disabled:
            self.run()

    def show(self, diagnosis, error) -> None:
        self.button.disabled = False
        if error is not None:
            if not isinstance(error, ValueError):
                raise error
            self.status.object = as_html(f"The diagnosis could not run: {error}")
            return
        self.status.object = as_html(f"Findings for {diagnosis.model_name} at λ = "
                                     f"{diagnosis.measures['scaling_factor']:g}, most important first:")
        rows = []
        for k, (line, finding) in enumerate(zip(diagnosis.lines(), diagnosis.findings or [None]), 1):
            row = [text_pane(line, sizing_mode="stretch_width", css_classes=[f"finding-{k}"])]
            if finding is not None and evidence(finding.view) is not None:
                row.append(self._link(finding.view))
            rows.append(pn.Row(*row, sizing_mode="stretch_width", margin=(0, 0, 4, 0)))
        self.findings.objects = rows

    def _link(self, view: str) -> pn.widgets.Button:
        label, css = evidence(view)
        link = pn.widgets.Button(label=f"Show {label}", color="light", width=190, css_classes=[f"finding-link-{view}"])
        link.on_click(lambda _: self.page.show_view(view))
        link.js_on_click(args={"target": css}, code=SCROLL_JS)
        return link
