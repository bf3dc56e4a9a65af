"""The population report: rows, statistics per λ, the standalone HTML file, the CLI, the
dashboard's Population view, and the file in headless Chromium.

The population is made of copies of the shipped models with grid searches written into them
(no simulation), once per module.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import panel as pn
import pytest

from rate2spike.cli import main
from conftest import write_model
from rate2spike.model import (RESULT_FIELDS, grid_search_variables, read_mat, save_grid_search, save_results,
                              write_mat_atomic)
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.report import band_runs, collect, summarise, table_rows, write_report
from test_browser import browser  # noqa: F401 - the module's headless Chromium (fails in CI when missing)

GRID_A = np.arange(20.0, 80.0, 5.0)  # 20..75, the reference's grid
ACC_A = np.linspace(0.97, 0.30, GRID_A.size)  # best at 20: on the grid's lower edge
GRID_B = np.arange(15.0, 45.0, 5.0)  # 15..40
ACC_B = np.array([0.70, 0.85, 0.90, 0.88, 0.80, 0.75])  # best 0.90 at 25: below the go-nogo goal 0.95
GRID_C = np.array([20.0, 30.0, 40.0])
ACC_C = np.array([0.60, 0.96, 0.93])  # best 0.96 at 30: fine
CONDITIONS_B = {"Go": np.array([1.0, 1.0, 0.95, 0.9, 0.85, 0.8]), "NoGo": np.array([0.4, 0.7, 0.85, np.nan, 0.75, 0.7])}


def shipped(task):
    return find_model_files(shipped_model_dir(task))[0]


@pytest.fixture(scope="module")
def population_dir(tmp_path_factory):
    """go-nogo/a (edge optimum), b (below goal, per-condition accuracy), c (fine), unsearched;
    the shipped xor model as it is; a file that is not a MAT file."""
    root = tmp_path_factory.mktemp("population")
    (root / "go-nogo").mkdir()
    for name, grid, acc, band, conditions in (("a", GRID_A, ACC_A, [20.0], None),
                                              ("b", GRID_B, ACC_B, [20.0, 25.0, 30.0], CONDITIONS_B),
                                              ("c", GRID_C, ACC_C, [30.0, 40.0], None)):
        path = root / "go-nogo" / f"{name}.mat"
        shutil.copy(shipped("go-nogo"), path)
        save_grid_search(path, grid, acc, grid[np.argmax(acc)], band=band, conditions=conditions)
    unsearched = root / "go-nogo" / "unsearched.mat"
    shutil.copy(shipped("go-nogo"), unsearched)
    variables = read_mat(unsearched)
    write_mat_atomic(unsearched, {k: v for k, v in variables.items() if k not in RESULT_FIELDS})
    shutil.copy(shipped("xor"), root / "xor.mat")
    (root / "broken.mat").write_bytes(b"this is not a MAT file, whatever its name says" * 4)
    return root


@pytest.fixture(scope="module")
def population(population_dir):
    return collect(population_dir)


@pytest.fixture(scope="module")
def report(population_dir, population, tmp_path_factory):
    return write_report(population_dir, tmp_path_factory.mktemp("out") / "report.html", population=population)


def rows_by_path(population):
    return {row.path: row for row in population.rows}


def test_rows_give_the_optimum_its_accuracy_and_the_warnings(population):
    rows = rows_by_path(population)
    assert list(rows) == ["broken.mat", "go-nogo/a.mat", "go-nogo/b.mat", "go-nogo/c.mat", "go-nogo/unsearched.mat",
                          "xor.mat"]
    a, b, c = rows["go-nogo/a.mat"], rows["go-nogo/b.mat"], rows["go-nogo/c.mat"]
    assert (a.task, a.N, a.optimum, a.accuracy_at_optimum) == ("go-nogo", 200, 20.0, pytest.approx(0.97))
    assert a.rate_accuracy == pytest.approx(1.0)  # the shipped model's eval_perf_mean
    assert len(a.warnings) == 1 and "lower edge" in a.warnings[0] and "λ = 20 of 20–75" in a.warnings[0]
    assert (b.optimum, b.accuracy_at_optimum, b.band) == (25.0, pytest.approx(0.90), (20.0, 25.0, 30.0))
    assert b.warnings == ("LIF accuracy 0.900 at the optimum, below the go-nogo goal of 0.95",)
    assert (c.optimum, c.accuracy_at_optimum, c.warnings) == (30.0, pytest.approx(0.96), ())
    assert rows["go-nogo/unsearched.mat"].warnings == ("not searched",)
    assert not rows["go-nogo/unsearched.mat"].searched
    xor = rows["xor.mat"]
    assert (xor.task, xor.optimum, xor.accuracy_at_optimum) == ("xor", 20.0, pytest.approx(1.0))
    assert xor.warnings == ()  # converted, its optimum inside the grid the search extended to 5
    broken = rows["broken.mat"]
    assert broken.task is None and broken.error.startswith("is not a readable MAT file")
    assert population.tasks() == ["go-nogo", "xor"]
    assert population.counts() == "go-nogo 4 (3 searched), xor 1 (1 searched); 1 could not be read"


def test_warnings_for_odd_searches_and_models_of_no_known_task(make_model):
    from rate2spike.model import save_results

    upper = make_model("upper.mat")
    save_grid_search(upper, [20, 25, 30], [0.5, 0.9, 0.97], 30)
    assert collect(upper).rows[0].warnings == ("optimum on the grid's upper edge (λ = 30 of 20–30): the best λ "
                                               "may lie beyond it",)
    off_grid = make_model("off_grid.mat")
    save_grid_search(off_grid, [20, 25, 30], [0.97, 0.96, 0.5], 22)
    row = collect(off_grid).rows[0]
    assert row.optimum == 22 and row.accuracy_at_optimum is None
    assert row.warnings == ("optimum λ = 22 is not among the λ scored",)
    mismatched = make_model("mismatched.mat")
    save_results(mismatched, {"opt_scaling_factor": 25.0, "scaling_factors": [20.0, 25.0, 30.0],
                              "all_perfs": [0.9, 0.97]})
    row = collect(mismatched).rows[0]
    assert not row.has_curve and row.warnings == ("all_perfs holds 2 values for 3 scaling factors: curve left out",)
    three_inputs = make_model("three.mat", n_inputs=3)
    row = collect(three_inputs).rows[0]
    assert row.task is None and "cannot tell the task from 3 inputs" in row.warnings[0]


def test_the_table_shows_the_rows_as_text(population):
    text = {row["model"]: row for row in table_rows(population)}
    assert text["go-nogo/b.mat"] == {
        "model": "go-nogo/b.mat", "task": "go-nogo", "N": "200", "rate accuracy": "1.000", "verdict": "",
        "optimal λ": "25", "recommended λ": "", "LIF accuracy at optimum": "0.900", "λ band": "20–30",
        "warnings": "LIF accuracy 0.900 at the optimum, below the go-nogo goal of 0.95"}
    assert text["xor.mat"]["λ band"] == "10–45"  # runs of neighbouring grid values
    grid = [1.0, *range(5, 16), *range(20, 80, 5)]  # an earlier xor model's search: a band with gaps
    assert band_runs([5, *range(7, 16), 55, 60], grid) == "5, 7–15, 55–60"
    unsearched = text["go-nogo/unsearched.mat"]
    assert unsearched["optimal λ"] == "" and unsearched["warnings"] == "not searched"
    assert text["broken.mat"]["warnings"].startswith("could not be read: is not a readable MAT file")


def test_median_and_quartiles_per_lambda_over_the_models_that_scored_it(population):
    """Grids differ: each λ counts only the models searched at it (no interpolation)."""
    summary = population.accuracy_summary("go-nogo")
    assert summary.lambdas.tolist() == [15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0]
    assert summary.n.tolist() == [1, 3, 2, 3, 2, 3, 1, 1, 1, 1, 1, 1, 1]
    # λ = 15: b alone
    assert (summary.median[0], summary.q25[0], summary.q75[0]) == pytest.approx((0.70, 0.70, 0.70))
    # λ = 20: a 0.97, b 0.85, c 0.60 -> median 0.85, quartiles halfway between neighbours
    assert (summary.median[1], summary.q25[1], summary.q75[1]) == pytest.approx((0.85, 0.725, 0.91))
    # λ = 25: a and b only -> the mean of the two
    a25 = ACC_A[1]
    assert summary.median[2] == pytest.approx((a25 + 0.90) / 2)
    assert summary.q25[2] == pytest.approx(0.90 + 0.25 * (a25 - 0.90))


def test_condition_summaries_skip_lambdas_without_trials_of_a_group(population):
    groups = population.condition_summaries("go-nogo")
    assert list(groups) == ["Go", "NoGo"]
    assert groups["Go"].lambdas.tolist() == GRID_B.tolist()
    assert groups["NoGo"].lambdas.tolist() == [15.0, 20.0, 25.0, 35.0, 40.0]  # NaN at 30: no NoGo trial there
    assert groups["NoGo"].median.tolist() == pytest.approx([0.4, 0.7, 0.85, 0.75, 0.7])


def test_summarise_and_band_runs_directly():
    summary = summarise([([1.0, 2.0], [0.2, 0.4]), ([2.0 + 1e-12, 3.0], [0.8, 0.6])])
    assert summary.lambdas.tolist() == [1.0, 2.0, 3.0] and summary.n.tolist() == [1, 2, 1]
    assert summary.median.tolist() == pytest.approx([0.2, 0.6, 0.6])
    assert band_runs([16, 17, 18], [15, 16, 17, 18, 20]) == "16–18"
    assert band_runs([15, 20], [15, 20, 25]) == "15–20" and band_runs([15, 25], [15, 20, 25]) == "15, 25"


def test_the_report_is_one_standalone_html_file(report, population_dir):
    text = report.read_text(encoding="utf-8")
    assert report.stat().st_size > 500_000  # BokehJS is inside
    external = re.findall(r"""<script[^>]+src=["']?(?:https?:)?//""", text)
    assert external == []
    linked = re.findall(r""""url":"(https?://[^"]+)"|<link[^>]+href=["']?(https?://[^"' >]+)""", text)
    assert linked == []  # no stylesheet or icon from a CDN (Panel's are embedded)
    for expected in ("go-nogo: LIF accuracy against λ, 3 models", "xor: optimal λ of 1 model",
                     "go-nogo: accuracy per condition, 1 of 4 models store it", "scaling factor λ",
                     "accuracy (fraction correct)", "not searched", "is not a readable MAT file", "lower edge",
                     "below the go-nogo goal of 0.95", "union of their λ"):
        assert json.dumps(expected)[1:-1] in text, expected  # as the page's JSON writes it
    assert [p.name for p in report.parent.iterdir()] == ["report.html"]  # no temporary file left


def test_write_report_refuses_a_folder_without_model_files(tmp_path):
    (tmp_path / "notes.txt").write_text("no models here")
    with pytest.raises(ValueError, match="no .mat model files"):
        write_report(tmp_path, tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_cli_report_prints_counts_and_writes_the_file(population_dir, tmp_path, capsys):
    target = tmp_path / "population.html"
    assert main(["report", str(population_dir), "-o", str(target)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"6 model file(s) under {population_dir}: go-nogo 4 (3 searched), xor 1 (1 searched); "
                      "1 could not be read")
    assert out[1].startswith("  could not read broken.mat: is not a readable MAT file")
    assert out[-1] == f"report written to {target}" and target.stat().st_size > 500_000


def test_a_link_at_the_report_path_is_replaced_not_written_through(population_dir, population, tmp_path):
    """`report -o PATH` where PATH is a link planted to another file: the report takes the link's
    place (a temporary file renamed over it); the file it pointed to keeps its bytes (#27)."""
    victim = tmp_path / "victim.html"
    victim.write_text("precious")
    link = tmp_path / "out" / "report.html"
    link.parent.mkdir()
    link.symlink_to(victim)
    write_report(population_dir, link, population=population)
    assert victim.read_text() == "precious" and not link.is_symlink() and link.stat().st_size > 500_000


@pytest.mark.parametrize("case", ["empty folder", "missing folder", "output under a file"])
def test_cli_report_errors_are_one_line_and_exit_2(case, population_dir, tmp_path, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    args = {"empty folder": [str(tmp_path)], "missing folder": [str(tmp_path / "nowhere")],
            "output under a file": [str(population_dir), "-o", str(tmp_path / "a_file" / "r.html")]}[case]
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rate2spike: error: ") and err.count("\n") == 1
    assert not list(tmp_path.glob("**/*.html")) and sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_cli_report_creates_the_folder_it_is_told_to_write_into(population_dir, tmp_path, capsys):
    target = tmp_path / "reports" / "2026" / "population.html"
    assert main(["report", str(population_dir), "-o", str(target)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"report written to {target}"
    assert target.stat().st_size > 500_000 and [p.name for p in target.parent.iterdir()] == ["population.html"]


def test_the_dashboard_shows_a_population_view_only_for_a_population(population_dir, tmp_path, assets):
    from rate2spike.explorer.app import ExplorerPage, load_extensions
    from rate2spike.explorer.population_view import PopulationView
    from rate2spike.explorer.session import ExplorerSession

    load_extensions()
    assert PopulationView.of(None) is None  # no --models DIR: no view
    session = ExplorerSession(models_dir=population_dir)
    page = ExplorerPage(session)
    try:
        card = page.population.card
        assert card in page.all_views() and card.collapsed
        assert "Population: 4 searched models" in card.title
        card.collapsed = False  # opening it draws the report's figures
        panes = card.select(pn.pane.HoloViews)
        assert len(panes) == 1 and panes[0].object is not None
        titles = [item.opts.get("plot", backend="bokeh").kwargs.get("title") for item in panes[0].object]
        assert "go-nogo: LIF accuracy against λ, 3 models (goal 0.95, red)" in titles  # the report's own layout
    finally:
        page.close()
    single = tmp_path / "one"
    single.mkdir()
    shutil.copy(population_dir / "xor.mat", single / "xor.mat")
    page = ExplorerPage(ExplorerSession(models_dir=single))
    try:
        assert page.population is None  # one searched model is no population
    finally:
        page.close()


CANVASES_JS = """() => {
  let n = 0;
  const walk = (root) => { for (const el of root.querySelectorAll("*")) {
    if (el.tagName === "CANVAS") n++;
    if (el.shadowRoot) walk(el.shadowRoot);
  } };
  walk(document);
  return n;
}"""
PLOT_TITLES_JS = """() => {
  const titles = [];
  for (const doc of window.Bokeh.documents) for (const model of doc.all_models)
    if (model.type === "Title" && model.text) titles.push(model.text);
  return titles;
}"""


@pytest.mark.browser
def test_the_report_opens_offline_in_chromium_without_errors(report, browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors, outside = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:", "blob:"))
               else (outside.append(route.request.url), route.abort()))
    try:
        page.goto(report.as_uri())
        page.wait_for_function(f"({CANVASES_JS})() >= 5", timeout=20_000)  # the five figures drew
        titles = page.evaluate(PLOT_TITLES_JS)
        assert "go-nogo: LIF accuracy against λ, 3 models (goal 0.95, red)" in titles
        assert any(t.startswith("xor: optimal λ of 1 model") for t in titles)
        page.wait_for_timeout(300)  # late errors (a failed load) would arrive now
        assert errors == [] and outside == []
    finally:
        context.close()


def test_a_failed_conversion_is_listed_apart_with_its_reason(tmp_path):
    """A search that found no λ stores its verdict and curve but no optimum: the report names it and its
    reason, leaves it out of the figures' curves and optima, and the table says 'failed'."""
    folder = tmp_path / "models"
    good = write_model(folder / "go-nogo" / "good.mat", N=40)
    save_results(good, {**grid_search_variables([20, 30], [0.9, 0.97], 30, verdict="converted: λ = 30 scores 0.97",
                                                recommended=30.0, rule="closest output")})
    bad = write_model(folder / "go-nogo" / "bad.mat", N=40, seed=1)
    reason = "No λ converts this model: NoGo fails at every λ tried (0 of its 51 trials correct)"
    save_results(bad, grid_search_variables([20, 30], [0.49, 0.49], None, verdict=f"failed: {reason}"))
    population = collect(folder)
    rows = {row.path: row for row in population.rows}
    assert rows["go-nogo/bad.mat"].failed_conversion and not rows["go-nogo/bad.mat"].has_curve
    assert population.searched("go-nogo") == [rows["go-nogo/good.mat"]]
    assert population.failed_conversions("go-nogo") == [rows["go-nogo/bad.mat"]]
    table = {row["model"]: row for row in table_rows(population)}
    assert table["go-nogo/bad.mat"]["verdict"] == "failed" and table["go-nogo/bad.mat"]["optimal λ"] == ""
    assert f"no λ converts this model: {reason}" in table["go-nogo/bad.mat"]["warnings"]
    assert table["go-nogo/good.mat"]["recommended λ"] == "30" and table["go-nogo/good.mat"]["verdict"] == "converted"
    html = write_report(folder, tmp_path / "report.html").read_text()
    embedded = lambda text: json.dumps(text)[1:-1]  # noqa: E731 - the page's data holds its text as JSON
    assert embedded("1 failed conversion: no λ converts them") in html
    assert embedded(f"go-nogo/bad.mat: {reason}") in html


def test_each_condition_has_the_dashboards_colour_in_the_report(population):
    """The report's per-condition curves take each condition's colour from the task's condition
    order (rate2spike.palette), as the dashboard's accuracy curve and margins do."""
    import holoviews as hv

    from rate2spike.palette import condition_colors
    from rate2spike.report import condition_breakdown
    from rate2spike.tasks import get_task

    overlay = condition_breakdown(population, "go-nogo")
    curves = {el.label: hv.Store.lookup_options("bokeh", el, "style").kwargs["color"]
              for el in overlay if isinstance(el, hv.Curve) and el.label in ("Go", "NoGo")}
    assert curves == {group: color for group, color in condition_colors(get_task("go-nogo").groups()).items()}
