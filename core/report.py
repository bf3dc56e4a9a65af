"""A population report: how the lambda searches of many models compare, in one HTML file.

``collect`` reads every model file under a folder into a ``Population`` (one row per file,
including files that are not searched or do not load); the figure functions turn it into
HoloViews objects (bokeh backend); ``report_layout`` lays them out and ``write_report`` saves
them as one standalone HTML file (``rate2spike report DIR``). The dashboard's Population view
shows the same ``report_layout``, so the two never disagree.

Units: the scaling factor λ is dimensionless (it divides the recurrent and readout weights);
accuracies are fractions of trials correct (0..1); N counts units.
"""

from __future__ import annotations

import base64
import html
import math
import mimetypes
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rate2spike.internals import panel_assets
from rate2spike.model import ModelFileError, load_model, write_atomic
from rate2spike.palette import condition_colors
from rate2spike.paths import find_model_files
from rate2spike.tasks import TASKS, infer_task

WIDTH = 900  # px: every figure and text block of the report (the dashboard passes its own)
CURVE_HEIGHT, OPTIMUM_HEIGHT = 380, 260  # px
LAMBDA_LABEL, ACCURACY_LABEL = "scaling factor λ", "accuracy (fraction correct)"
MODEL_COLOR, MEDIAN_COLOR, BAND_COLOR, GOAL_COLOR = "#9e9e9e", "#1f4e79", "#9ecae1", "#d62728"
LAMBDA_DECIMALS = 9  # λ equal to this many decimals are the same λ (grids built by different code)

HELP = {
    "curves": (
        "LIF accuracy against λ, as each model's stored grid search found it (grey: one line per model; "
        "hover for the file). Dark blue: the median over models at each λ; blue band: the interquartile range "
        "(25th to 75th percentile). Models searched on different grids are not interpolated: the curve runs "
        "over the union of their λ, and each λ's median and quartiles are taken over the models that scored "
        "that λ (n in the hover), so points backed by few models are noisier. Red dashed line: the task's "
        "goal."
    ),
    "optimum": (
        "How many models have their optimal λ (the stored opt_scaling_factor) at each value; dashed line: "
        "their median. A wide spread means the best λ depends on the trained network, so each model needs "
        "its own search."
    ),
    "conditions": (
        "Accuracy per condition group (the task's breakdown, e.g. Go and NoGo): the median over the models "
        "that store it at each λ (lines), with the interquartile range (bands); grey dashed: the overall "
        "median. A λ where one group's curve drops while the others stay high fails that group only."
    ),
    "table": (
        "One row per model file. Rate accuracy: the trainer's last evaluation (eval_perf_mean). Optimal λ and "
        "the LIF accuracy there come from the stored grid search; the λ band lists every λ not significantly "
        "below the best (runs of neighbouring grid values joined). Warnings: an optimum on the grid's edge "
        "(the best λ may lie beyond it: `rate2spike sweep --force` extends the grid), a LIF accuracy below "
        "the task's goal, a model not searched yet, a file that could not be read."
    ),
}


# --- the population ---------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ModelRow:
    """One model file of a population: what the table shows and the curves it adds.

    Accuracies are fractions correct; ``scaling_factors`` and ``accuracy`` are the stored
    grid search (λ scored, LIF accuracy at each); ``conditions`` maps a condition group to
    its accuracy per λ (NaN where that λ saw none of it)."""

    path: str  # relative to the population's folder, with '/'
    task: str | None = None
    N: int | None = None
    rate_accuracy: float | None = None
    optimum: float | None = None
    accuracy_at_optimum: float | None = None
    band: tuple[float, ...] = ()
    warnings: tuple[str, ...] = ()
    scaling_factors: np.ndarray | None = None
    accuracy: np.ndarray | None = None
    conditions: dict = field(default_factory=dict)
    error: str | None = None  # why the file could not be read
    verdict: str | None = None  # the stored search_verdict ("converted: ...", "failed: ...")
    recommended: float | None = None  # the stored recommended λ

    @property
    def searched(self) -> bool:
        return self.optimum is not None or self.verdict is not None

    @property
    def failed_conversion(self) -> bool:
        """A search that found no λ converting the model: listed apart, with its reason."""
        return self.verdict is not None and self.verdict.startswith("failed")

    @property
    def has_curve(self) -> bool:
        """A curve the figures draw: a finished search's (a failed conversion is listed apart)."""
        return self.scaling_factors is not None and self.accuracy is not None and not self.failed_conversion


@dataclass(frozen=True)
class CurveSummary:
    """Median and quartiles of accuracy per λ over the models that scored that λ."""

    lambdas: np.ndarray
    median: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    n: np.ndarray  # models behind each λ


def summarise(curves) -> CurveSummary:
    """Median and interquartile range per λ of (λ values, accuracies) curves, on the union of
    their λ with no interpolation: each λ's statistics use only the curves that hold that λ
    (NaN values do not count). Percentiles interpolate linearly between models (NumPy's
    default), so two models give their mean as the median."""
    values: dict[float, list[float]] = {}
    for lambdas, accuracy in curves:
        for lam, acc in zip(np.round(np.asarray(lambdas, dtype=float), LAMBDA_DECIMALS), np.asarray(accuracy, float)):
            if np.isfinite(acc):
                values.setdefault(float(lam), []).append(float(acc))
    lambdas = np.array(sorted(values))
    stats = np.array([np.percentile(values[lam], [50, 25, 75]) for lam in lambdas]).reshape(-1, 3)
    return CurveSummary(lambdas, stats[:, 0], stats[:, 1], stats[:, 2], np.array([len(values[lam]) for lam in lambdas]))


@dataclass(frozen=True)
class Population:
    """Every model file under one folder (``rows``, in path order)."""

    directory: Path
    rows: tuple[ModelRow, ...]

    def tasks(self) -> list[str]:
        """The tasks of the models that loaded, in the package's task order."""
        present = {row.task for row in self.rows}
        return [name for name in TASKS if name in present]

    def of_task(self, task: str) -> list[ModelRow]:
        return [row for row in self.rows if row.task == task]

    def searched(self, task: str | None = None) -> list[ModelRow]:
        """Models with a finished search that found a λ (failed conversions are ``failed_conversions``)."""
        return [row for row in self.rows if row.searched and not row.failed_conversion
                and (task is None or row.task == task)]

    def failed_conversions(self, task: str | None = None) -> list[ModelRow]:
        return [row for row in self.rows if row.failed_conversion and (task is None or row.task == task)]

    @property
    def failed(self) -> list[ModelRow]:
        return [row for row in self.rows if row.error is not None]

    def accuracy_summary(self, task: str) -> CurveSummary:
        return summarise((row.scaling_factors, row.accuracy) for row in self.of_task(task) if row.has_curve)

    def condition_summaries(self, task: str) -> dict[str, CurveSummary]:
        """{condition group: its summary}, over the models of ``task`` that store per-condition accuracy."""
        groups: dict[str, list] = {}
        for row in self.of_task(task):
            for group, accuracy in row.conditions.items():
                groups.setdefault(group, []).append((row.scaling_factors, accuracy))
        return {group: summarise(curves) for group, curves in groups.items()}

    def counts(self) -> str:
        """'go-nogo 3 (2 searched), xor 1 (1 searched)' and the files that could not be read, for people."""
        parts = [f"{task} {len(self.of_task(task))} ({len(self.searched(task))} searched)" for task in self.tasks()]
        unknown = sum(1 for row in self.rows if row.error is None and row.task is None)
        if unknown:
            parts.append(f"{unknown} of unknown task")
        text = ", ".join(parts) or "no model loaded"
        if self.failed:
            text += f"; {len(self.failed)} could not be read"
        return text


def _error_text(exc: Exception) -> str:
    """A load error without the file's path (the table's first column names it)."""
    if isinstance(exc, ModelFileError):
        return f"field '{exc.field}': {exc.problem}" if exc.field else exc.problem
    return f"{type(exc).__name__}: {exc}"


def _search_warnings(task: str | None, factors, opt: float, accuracy_at_opt: float | None) -> list[str]:
    warnings = []
    if factors is not None and factors.size > 1:
        low, high = factors.min(), factors.max()
        if math.isclose(opt, low) or math.isclose(opt, high):
            edge = "lower" if math.isclose(opt, low) else "upper"
            warnings.append(f"optimum on the grid's {edge} edge (λ = {opt:g} of {low:g}–{high:g}): "
                            "the best λ may lie beyond it")
    elif factors is not None:
        warnings.append(f"only one λ scored ({opt:g})")
    goal = TASKS[task].goal_accuracy if task in TASKS else None
    if accuracy_at_opt is not None and goal is not None and accuracy_at_opt < goal:
        warnings.append(f"LIF accuracy {accuracy_at_opt:.3f} at the optimum, below the {task} goal of {goal:g}")
    return warnings


def model_row(path: Path, relative: str) -> ModelRow:
    """One file's row. A file that does not load gives a row with its error: one bad file
    must not stop a report on many."""
    try:
        model = load_model(path)
    except Exception as exc:  # noqa: BLE001 - any failure is reported in the row, the others go on
        return ModelRow(relative, error=_error_text(exc), warnings=(f"could not be read: {_error_text(exc)}",))
    warnings: list[str] = []
    try:
        task = infer_task(model).name
    except ValueError as exc:
        task = None
        warnings.append(str(exc))
    opt, factors, perfs = model.opt_scaling_factor, model.scaling_factors, model.all_perfs
    accuracy_at_opt = None
    verdict = model.search_verdict
    if verdict is not None and verdict.startswith("failed"):
        warnings.append(f"no λ converts this model: {verdict.split(': ', 1)[1]}")
    if opt is None and verdict is None:  # a curve without an optimum or a verdict is no finished search
        warnings.append("not searched")
        factors = perfs = None
    elif opt is None:  # a failed conversion: its curve is kept, its first maximum is no result
        if factors is None or perfs is None or factors.size != perfs.size:
            factors = perfs = None
    elif factors is None or perfs is None:
        warnings.append("stores an optimum but no accuracy per λ (all_perfs, scaling_factors)")
        factors = perfs = None
    elif factors.size != perfs.size:
        warnings.append(f"all_perfs holds {perfs.size} values for {factors.size} scaling factors: curve left out")
        factors = perfs = None
    else:
        at = np.flatnonzero(np.isclose(factors, opt))
        if at.size:
            accuracy_at_opt = float(perfs[at[0]])
        else:
            warnings.append(f"optimum λ = {opt:g} is not among the λ scored")
    if opt is not None and not (verdict or "").startswith("failed"):
        warnings.extend(_search_warnings(task, factors, opt, accuracy_at_opt))
    conditions = {} if factors is None or model.condition_perfs is None else dict(model.condition_perfs)
    if factors is not None:  # a file keeps its grid in the order it was given: curves are drawn by lambda
        by_lambda = np.argsort(factors, kind="stable")
        factors, perfs = factors[by_lambda], perfs[by_lambda]
        conditions = {group: values[by_lambda] for group, values in conditions.items()}
    band = () if model.scaling_factor_band is None else tuple(sorted(float(v) for v in model.scaling_factor_band))
    return ModelRow(relative, task, model.N, model.eval_perf_mean, opt, accuracy_at_opt, band, tuple(warnings),
                    factors, perfs, conditions, verdict=verdict, recommended=model.recommended_scaling_factor)


def collect(directory) -> Population:
    """Read every .mat file under ``directory`` (recursively) into a Population.

    Raises FileNotFoundError for a missing folder and ValueError when it holds no .mat file;
    files that fail to load are rows with their error, not exceptions."""
    directory = Path(directory)
    paths = find_model_files(directory)
    if not paths:
        raise ValueError(f"{directory}: no .mat model files under it; nothing to report")
    rows = []
    for path in paths:
        relative = path.name if directory.is_file() else path.relative_to(directory).as_posix()
        rows.append(model_row(path, relative))
    return Population(directory, tuple(rows))


# --- figures (HoloViews, bokeh backend) -----------------------------------------------------

def _hv():
    """HoloViews with its bokeh backend registered (imported on first use: it takes a second)."""
    import holoviews as hv
    import holoviews.plotting.bokeh  # noqa: F401 - registers the bokeh backend's options

    return hv


def _dimensions():
    hv = _hv()
    return (hv.Dimension("scaling_factor", label=LAMBDA_LABEL),
            hv.Dimension("accuracy", label=ACCURACY_LABEL, range=(0, 1)))


def _lambda_range(pop: Population, task: str) -> tuple[float, float]:
    """The x range of a task's figures: every λ any of its models scored, padded by 3%."""
    lambdas = [row.scaling_factors for row in pop.of_task(task) if row.has_curve]
    lambdas += [np.array([row.optimum]) for row in pop.searched(task)]
    if not lambdas:
        return 0.0, 1.0
    values = np.concatenate(lambdas)
    low, high = float(values.min()), float(values.max())
    pad = max(high - low, 1.0) * 0.03
    return low - pad, high + pad


def _plot_options(pop: Population, task: str, title: str, height: int, width: int) -> dict:
    return dict(backend="bokeh", width=width, height=height, title=title, xlim=_lambda_range(pop, task),
                legend_position="right", show_grid=True, fontsize={"title": "11pt"})


def _empty(hv, pop, task, title, message, height, width):
    """A figure with only a message in it (keeps the report's layout regular)."""
    low, high = _lambda_range(pop, task)
    lam, acc = _dimensions()
    text = hv.Text(low, 0.5, f"  {message}", kdims=[lam, acc]).opts(backend="bokeh", text_color="#555",
                                                                    text_align="left", text_font_size="11pt")
    return hv.Overlay([text]).opts(**_plot_options(pop, task, title, height, width), ylim=(0, 1.02))


def accuracy_curves(pop: Population, task: str, width: int = WIDTH):
    """Every model's accuracy against λ (grey), the median per λ (dark blue) with its
    interquartile band, and the task's goal (red dashed): an hv.Overlay."""
    hv = _hv()
    lam, acc = _dimensions()
    rows = [row for row in pop.of_task(task) if row.has_curve]
    title = f"{task}: LIF accuracy against λ, {len(rows)} model{'s' if len(rows) != 1 else ''}"
    if not rows:
        return _empty(hv, pop, task, title, "no model of this task stores a grid search", CURVE_HEIGHT, width)
    summary = pop.accuracy_summary(task)
    models = hv.Path([{lam.name: row.scaling_factors, acc.name: row.accuracy, "model": row.path} for row in rows],
                     kdims=[lam, acc], vdims=["model"], label="each model").opts(
        backend="bokeh", color=MODEL_COLOR, alpha=0.6, line_width=1.2, show_legend=True, tools=["hover"])
    band = hv.Area((summary.lambdas, summary.q25, summary.q75), kdims=[lam], vdims=[acc, "q75"],
                   label="interquartile range").opts(backend="bokeh", color=BAND_COLOR, alpha=0.5, line_alpha=0)
    median = hv.Curve((summary.lambdas, summary.median), kdims=[lam], vdims=[acc], label="median over models").opts(
        backend="bokeh", color=MEDIAN_COLOR, line_width=3)
    points = hv.Scatter((summary.lambdas, summary.median, summary.q25, summary.q75, summary.n), kdims=[lam],
                        vdims=[acc, hv.Dimension("q25", label="25th percentile"),
                               hv.Dimension("q75", label="75th percentile"), hv.Dimension("n", label="models")],
                        label="median over models").opts(backend="bokeh", color=MEDIAN_COLOR, size=6, tools=["hover"])
    layers = [band, models, median, points]
    goal = TASKS[task].goal_accuracy if task in TASKS else None
    if goal is not None:
        layers.append(hv.HLine(goal).opts(backend="bokeh", color=GOAL_COLOR, line_dash="dashed", line_width=1.5))
        title += f" (goal {goal:g}, red)"
    return hv.Overlay(layers).opts(**_plot_options(pop, task, title, CURVE_HEIGHT, width), ylim=(0, 1.02))


def optimum_distribution(pop: Population, task: str, width: int = WIDTH):
    """How many models have their optimal λ at each value (bars: no binning, optima sit on
    grid values), with the median optimum dashed: an hv.Overlay."""
    hv = _hv()
    lam, _ = _dimensions()
    rows = pop.searched(task)
    title = f"{task}: optimal λ of {len(rows)} model{'s' if len(rows) != 1 else ''}"
    if not rows:
        return _empty(hv, pop, task, title, "no model of this task is searched", OPTIMUM_HEIGHT, width)
    optima = np.round([row.optimum for row in rows], LAMBDA_DECIMALS)
    values, counts = np.unique(optima, return_counts=True)
    names = [", ".join(row.path for row, o in zip(rows, optima) if o == v) for v in values]
    median = float(np.median(optima))
    title += f", median {median:g}"
    count = hv.Dimension("models", label="models (count)")
    bars = hv.Spikes((values, counts, names), kdims=[lam], vdims=[count, "files"],
                     label="models with this optimum").opts(backend="bokeh", color=MEDIAN_COLOR, line_width=8,
                                                            tools=["hover"])
    step = max(1, math.ceil(counts.max() / 6))
    line = hv.VLine(median).opts(backend="bokeh", color="black", line_dash="dashed", line_width=1.5)
    return hv.Overlay([bars, line]).opts(**_plot_options(pop, task, title, OPTIMUM_HEIGHT, width),
                                         ylim=(0, counts.max() + 0.5), yticks=list(range(0, counts.max() + 1, step)))


NO_CONDITIONS = "no model of this task stores per-condition accuracy"


def condition_breakdown(pop: Population, task: str, width: int = WIDTH):
    """Accuracy per condition group against λ: median over models (one colour per group)
    with interquartile bands, and the overall median (grey dashed): an hv.Overlay."""
    hv = _hv()
    lam, acc = _dimensions()
    rows = pop.of_task(task)
    with_groups = [row for row in rows if row.conditions]
    title = f"{task}: accuracy per condition, {len(with_groups)} of {len(rows)} models store it"
    if not with_groups:
        return _empty(hv, pop, task, title, NO_CONDITIONS, CURVE_HEIGHT, width)
    layers = []
    summaries = pop.condition_summaries(task)
    colors = condition_colors(TASKS[task].groups() if task in TASKS else (), summaries)  # as the dashboard's
    for group, summary in summaries.items():
        color = colors[group]
        layers.append(hv.Area((summary.lambdas, summary.q25, summary.q75), kdims=[lam], vdims=[acc, "q75"]).opts(
            backend="bokeh", color=color, alpha=0.18, line_alpha=0))
        layers.append(hv.Curve((summary.lambdas, summary.median, summary.n), kdims=[lam],
                               vdims=[acc, hv.Dimension("n", label="models")], label=group).opts(
            backend="bokeh", color=color, line_width=2.5, tools=["hover"]))
    overall = pop.accuracy_summary(task)
    layers.append(hv.Curve((overall.lambdas, overall.median), kdims=[lam], vdims=[acc], label="all conditions").opts(
        backend="bokeh", color="#555555", line_dash="dashed", line_width=1.5))
    return hv.Overlay(layers).opts(**_plot_options(pop, task, title, CURVE_HEIGHT, width), ylim=(0, 1.02))


def band_runs(band, grid=None) -> str:
    """The λ band as runs of neighbouring grid values ('16–21', '5, 7–15, 55–60')."""
    if not band:
        return ""
    grid = sorted(set(np.round(grid, LAMBDA_DECIMALS))) if grid is not None else sorted(band)
    index = {v: i for i, v in enumerate(grid)}
    runs: list[list[float]] = []
    for value in sorted(np.round(band, LAMBDA_DECIMALS)):
        if runs and value in index and runs[-1][-1] in index and index[value] == index[runs[-1][-1]] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    return ", ".join(f"{run[0]:g}" if len(run) == 1 else f"{run[0]:g}–{run[-1]:g}" for run in runs)


TABLE_COLUMNS = ("model", "task", "N", "rate accuracy", "verdict", "optimal λ", "recommended λ",
                 "LIF accuracy at optimum", "λ band", "warnings")


def table_rows(pop: Population) -> list[dict[str, str]]:
    """The model table as text, one dict per file (keys: TABLE_COLUMNS)."""
    def number(value, digits=3):
        return "" if value is None else f"{value:.{digits}f}"

    rows = []
    for row in pop.rows:
        rows.append({
            "model": row.path, "task": row.task or "?", "N": "" if row.N is None else str(row.N),
            "rate accuracy": ("not stored" if row.rate_accuracy is None and row.error is None
                              else number(row.rate_accuracy)),
            "verdict": "" if row.verdict is None else row.verdict.split(":", 1)[0],
            "optimal λ": "" if row.optimum is None else f"{row.optimum:g}",
            "recommended λ": "" if row.recommended is None else f"{row.recommended:g}",
            "LIF accuracy at optimum": number(row.accuracy_at_optimum),
            "λ band": band_runs(row.band, row.scaling_factors), "warnings": "; ".join(row.warnings),
        })
    return rows


TABLE_STYLE = """<style>
table.models { border-collapse: collapse; font-size: 13px; width: calc(100% - 4px); table-layout: fixed; }
table.models th, table.models td { border: 1px solid #ccc; padding: 3px 6px; vertical-align: top;
  overflow-wrap: break-word; text-align: left; }
table.models th { background: #eef3f8; position: sticky; top: 0; }
table.models td.warn { color: #a11; }
</style>"""
COLUMN_WIDTHS = (180, 64, 40, 70, 76, 62, 84, 80, 90, None)  # px; the warnings take the rest
LINE_PX, CHAR_PX = 19, 7.8  # estimated line height and mean character width of 14 px text (wide fonts)


def _lines(text: str, width_px: float) -> int:
    return max(1, math.ceil(len(text) * CHAR_PX / max(width_px - 12, 1)))


def _div(content: str, height: int, width: int):
    """An hv.Div of a fixed height (a Div cannot size itself to its text in a layout): the
    content scrolls inside it rather than running over the next figure."""
    hv = _hv()
    return hv.Div(f'<div style="height:{height - 6}px;overflow-y:auto;font-size:14px;line-height:1.35">'
                  f"{content}</div>").opts(backend="bokeh", width=width, height=height)


def text_block(paragraphs, heading: str | None = None, level: int = 3, width: int = WIDTH):
    """Paragraphs of plain text (escaped) under an optional heading, as an hv.Div sized to them."""
    body = "".join(f"<p style='margin:0 0 6px 0'>{html.escape(p)}</p>" for p in paragraphs)
    height = sum(_lines(p, width) * LINE_PX + 6 for p in paragraphs) + 12
    if heading:
        body = f"<h{level} style='margin:6px 0'>{html.escape(heading)}</h{level}>" + body
        height += 44 if level <= 2 else 34
    return _div(body, height, width)


def model_table(pop: Population, width: int = WIDTH, max_height: int = 2000):
    """The table of models as an hv.Div (an HTML table, so long warnings and errors wrap and stay
    readable); taller tables scroll within ``max_height`` px."""
    rows = table_rows(pop)
    widths = [w or width - sum(x for x in COLUMN_WIDTHS if x) for w in COLUMN_WIDTHS]
    head = "".join(f"<col style='width:{w}px'>" if given else "<col>" for w, given in zip(widths, COLUMN_WIDTHS))
    header = "".join(f"<th>{html.escape(name)}</th>" for name in TABLE_COLUMNS)
    body = []
    height = max(_lines(name, w) for name, w in zip(TABLE_COLUMNS, widths)) * LINE_PX + 12
    for row in rows:
        cells = "".join(f"<td{' class=warn' if name == 'warnings' and row[name] else ''}>{html.escape(row[name])}</td>"
                        for name in TABLE_COLUMNS)
        body.append(f"<tr>{cells}</tr>")
        height += max(_lines(row[name], w) for name, w in zip(TABLE_COLUMNS, widths)) * LINE_PX + 8
    table = f"{TABLE_STYLE}<table class='models'><colgroup>{head}</colgroup><tr>{header}</tr>{''.join(body)}</table>"
    return _div(table, min(height, max_height), width)


def task_line(task: str) -> str:
    """What the task asks and the accuracy that counts as converted, from the task itself."""
    return f"{TASKS[task].description} Goal: a LIF accuracy of {TASKS[task].goal_accuracy:g} at the best λ."


def report_layout(pop: Population, width: int = WIDTH):
    """The whole report as one hv.Layout (one column): a summary, then per task the accuracy
    curves, the optima and the per-condition breakdown, each after its explanation, then the
    table of models."""
    hv = _hv()

    def text(paragraphs, **kwargs):
        return text_block(paragraphs, width=width, **kwargs)

    items = [text([f"{len(pop.rows)} model file{'s' if len(pop.rows) != 1 else ''} under {pop.directory}: "
                    f"{pop.counts()}.",
                    "Each model's grid search stored its LIF accuracy at every scaling factor λ it scored and the "
                    "optimal λ; this report puts them side by side, one set of figures per task."],
                   heading="rate2spike population report", level=2)]
    for task in pop.tasks():
        rows = pop.of_task(task)
        searched, failed = pop.searched(task), pop.failed_conversions(task)
        heading = f"{task}: {len(rows)} model{'s' if len(rows) != 1 else ''}, {len(searched) + len(failed)} searched"
        listed_apart = [text([f"{row.path}: {row.verdict.split(': ', 1)[1]}" for row in failed],
                             heading=f"{len(failed)} failed conversion{'s' if len(failed) != 1 else ''}: no λ "
                                     "converts them (left out of the figures)", level=4)] if failed else []
        if not searched:
            items.append(text(["No model of this task converts: every search found no λ (listed below)." if failed
                               else "No model of this task holds a grid search yet: run `rate2spike sweep` on the "
                               "folder first."], heading=heading))
            items += listed_apart
            continue
        items += [text([task_line(task), HELP["curves"]], heading=heading), *listed_apart, accuracy_curves(pop, task, width),
                  text([HELP["optimum"]]), optimum_distribution(pop, task, width)]
        if any(row.conditions for row in rows):
            items += [text([HELP["conditions"]]), condition_breakdown(pop, task, width)]
        else:  # an empty figure would only take room
            items.append(text([f"Per condition: {NO_CONDITIONS} (searches by this version store it: "
                               "`rate2spike sweep --force` redoes a search)."]))
    items += [text([HELP["table"]], heading="Models"), model_table(pop, width)]
    # one toolbar above the whole report (HoloViews hides each plot's own in a layout): its zoom, pan,
    # reset and save act on the figure they are used on; hover works everywhere
    return hv.Layout(items).cols(1).opts(backend="bokeh", shared_axes=False)


# --- the file -------------------------------------------------------------------------------

# Panel (which hv.save uses) leaves its own stylesheets and icons on its CDN even with INLINE
# resources, and offers no public way to inline them: they ship in Panel's package, so they are
# embedded as data: URLs (rate2spike.internals.panel_assets says where).
_QUOTED_URL = r'(?<=["\'])%s([\w./-]+\.(?:css|ico|png|svg))(\?[^"\']*)?(?=["\'])'


def _embed_panel_assets(text: str) -> str:
    """``text`` (a saved page) with each of Panel's stylesheets and icons on its CDN as a data: URL."""
    cdn, folder = panel_assets()

    def data_url(match: re.Match) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"

    return re.sub(_QUOTED_URL % re.escape(cdn), data_url, text)


def check_output(output) -> Path:
    """The report's path, if it can be written there: not a folder itself, and its folder either
    there or creatable (``write_report`` creates it): the nearest existing parent is a folder.
    Checked before any model is read; nothing is created here."""
    output = Path(output)
    if output.is_dir():
        raise IsADirectoryError(f"{output}: is a folder; name the HTML file to write (e.g. {output / 'report.html'})")
    existing = next((p for p in output.absolute().parents if p.exists() or p.is_symlink()), None)
    if existing is not None and not existing.is_dir():
        raise NotADirectoryError(f"{existing}: is not a folder, so {output} cannot be made; the report was not "
                                 "written")
    return output


def write_report(directory, output="report.html", *, population: Population | None = None) -> Path:
    """Write the population report of ``directory`` as one standalone HTML file (BokehJS and
    Panel inlined: it opens offline) and return its path; a missing folder of ``output`` is
    created. ``population``: one already collected from ``directory`` (not read again).

    Written with the shared atomic writer (``rate2spike.model.write_atomic``): a reader never sees
    half a report, a failure leaves any old report in place, and the file gets the mode of every
    other output. HoloViews renders into a private temporary folder first."""
    from bokeh.resources import INLINE

    output = check_output(output)
    pop = population if population is not None else collect(directory)
    hv = _hv()
    with tempfile.TemporaryDirectory(prefix="rate2spike-report-") as private:
        rendered = Path(private) / "report.html"
        hv.save(report_layout(pop), str(rendered), fmt="html", backend="bokeh", resources=INLINE,
                title=f"rate2spike population report: {pop.directory.name or pop.directory}")
        [rendered] = Path(private).iterdir()  # whatever suffix HoloViews gave it
        text = _embed_panel_assets(rendered.read_text(encoding="utf-8"))
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, lambda fh: fh.write(text.encode("utf-8")))
    return output
