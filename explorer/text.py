"""Text from outside the program, shown as text: never as HTML or Markdown.

A link's values, a model file's fields, file and folder names, and the messages that quote them
reach the page only through these helpers. Panel renders the strings of its Markdown, Alert, Str
and StaticText panes and of a Card's title as HTML (Str and StaticText included), so a file named
``<img src=x onerror=alert(1)>.mat`` or a link ending ``?lambda=<script>...`` would otherwise run
script in the page of whoever opens it, and ``[text](url)`` would become a link. Our own constant
help texts may stay Markdown. The styles of the page's text (small print, message boxes) are here too.
"""

from __future__ import annotations

import html

import panel as pn
import param

from rate2spike.explorer.internals import TextPane

SMALL_TEXT = {"font-size": "0.85em", "color": "#555"}  # our own explanatory lines: hints, help lines, statuses

ALERT_COLOURS = {  # Bootstrap 5's alert colours: text, background, border
    "danger": ("#842029", "#f8d7da", "#f5c2c7"),
    "warning": ("#664d03", "#fff3cd", "#ffecb5"),
    "success": ("#0f5132", "#d1e7dd", "#badbcc"),
    "info": ("#055160", "#cff4fc", "#b6effb"),
}


def alert_styles(kind: str) -> dict:
    """CSS of a coloured message box of one kind (danger, warning, success, info)."""
    colour, background, border = ALERT_COLOURS[kind]
    return {"color": colour, "background": background, "border": f"1px solid {border}", "border-radius": "6px",
            "padding": "10px 14px"}


def as_html(text) -> str:
    """``text`` as HTML that shows it literally: markup escaped, line breaks kept."""
    escaped = html.escape("" if text is None else str(text), quote=True)
    return f'<div class="plain-text">{escaped.replace(chr(10), "<br>")}</div>'


def text_pane(value, **params) -> pn.pane.HTML:
    """A pane showing ``value`` as text: a string, or a parameter (or bound function) giving one.
    Its updates send the new text alone (``internals.TextPane``)."""
    shown = as_html(value) if isinstance(value, str) else pn.bind(as_html, value)
    return TextPane(shown, **params)


def alert(value: param.Parameter, kind: str = "danger", **params) -> pn.pane.HTML:
    """A coloured box showing a string parameter as text, visible while the string is not empty
    (Panel's Alert renders Markdown, so it cannot show a message that quotes a file name)."""
    return text_pane(value, visible=value.rx.bool(), styles=alert_styles(kind), sizing_mode="stretch_width", **params)


def table_html(rows) -> str:
    """(name, value) rows as an HTML table, every cell shown as text."""
    body = "".join(f"<tr><th style='text-align:left;padding-right:12px'>{html.escape(str(name))}</th>"
                   f"<td>{html.escape(str(value))}</td></tr>" for name, value in rows)
    return f"<table>{body}</table>"


def card_title(text: str) -> str:
    """A Card title (Panel puts it into the page as HTML) that shows ``text`` literally."""
    return html.escape(text, quote=True)


def static_text(text) -> str:
    """A value for a StaticText widget (whose string value Panel sends as HTML) that shows literally."""
    return html.escape("" if text is None else str(text), quote=True)


# Bokeh draws $$...$$, \[...\] and \(...\) in a title or axis label as TeX: a file named
# "a $$x^2$$.mat" turned a whole figure title into one line of mathematics. A zero-width space
# inside each opening delimiter keeps the characters on screen and the text plain.
_MATH_DELIMITERS = {"$$": "$\u200b$", "\\[": "\\\u200b[", "\\(": "\\\u200b("}


def canvas_text(text: str) -> str:
    """A figure title (drawn by Bokeh on its canvas) that shows ``text`` as it is, never as TeX."""
    for delimiter, broken in _MATH_DELIMITERS.items():
        text = text.replace(delimiter, broken)
    return text
