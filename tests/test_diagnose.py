"""What the tool concludes, tested on real and deliberately broken models: the verdict of a search and
the diagnosis's first finding, on each shipped model with one planted cause (tests/planted.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planted import PLANTED, plant
from rate2spike.cli import main
from rate2spike.diagnose import HIGH, diagnose
from rate2spike.model import load_model
from rate2spike.paths import shipped_model_dir
from rate2spike.search import SearchOptions
from rate2spike.sweep import run_sweep

GRID = (10.0, 20.0, 30.0, 45.0, 70.0, 100.0)  # a short grid around the shipped models' optima (20, 35, 45)
SHORT_LADDER = (10.0, 40.0)  # the diagnosis's other λ, where a test needs only the file's findings

# the truth on the short grid, 50 trials per λ (go-nogo's planted models; measured and explained in docs)
GO_NOGO_VERDICTS = {"unbroken": "converted", "readout x5": "below goal", "recurrent x3": "converted",
                    "input x0.05": "failed", "fast decay": "below goal", "dale flipped": "failed",
                    "untrained w0": "failed"}


def shipped(task: str) -> Path:
    return next(shipped_model_dir(task).glob("*.mat"))


@pytest.fixture(scope="module")
def planted_models(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("planted")
    models = {}
    for task in ("go-nogo", "mante", "xor"):
        models[task, "unbroken"] = plant(shipped(task), root / task / "unbroken.mat", None)
        for name in PLANTED:
            models[task, name] = plant(shipped(task), root / task / f"{name.replace(' ', '_')}.mat", name)
    return models


@pytest.mark.parametrize("name", list(GO_NOGO_VERDICTS))
def test_each_planted_cause_gets_its_verdict_and_is_the_diagnosis_first_finding(planted_models, name):
    path = planted_models["go-nogo", name]
    result = run_sweep(load_model(path), scaling_factors=GRID, n_trials=50, options=SearchOptions())
    verdict = result.verdict()
    assert verdict.kind == GO_NOGO_VERDICTS[name], verdict.line()
    assert (result.recommended() is None) == verdict.failed  # a failed conversion recommends no λ
    diagnosis = diagnose(path)
    views = {"output", "raster", "rates", "decay", "diagnostic", "performance", "margins", "file"}
    assert all(finding.view in views for finding in diagnosis.findings)  # each points at the view with its evidence
    assert all(finding.severity in (HIGH, "medium", "low") for finding in diagnosis.findings)
    if name == "unbroken":
        assert not diagnosis.high, diagnosis.lines()  # the shipped model: nothing of high severity
        return
    expected = PLANTED[name][1]
    assert diagnosis.findings[0].cause == expected, diagnosis.lines()
    assert diagnosis.lines()[0].startswith("1. ") and expected in diagnosis.findings[0].cause


@pytest.mark.parametrize("task", ["mante", "xor"])
def test_the_first_finding_names_the_planted_cause_on_the_other_tasks_too(planted_models, task):
    for name, (_plant, cause) in PLANTED.items():
        diagnosis = diagnose(planted_models[task, name], ladder=SHORT_LADDER, n_trials=8)
        assert diagnosis.findings and diagnosis.findings[0].cause == cause, (name, diagnosis.lines())
    assert not diagnose(planted_models[task, "unbroken"], ladder=SHORT_LADDER, n_trials=8).high


def test_the_readout_x5_case_reads_with_its_reason_first(planted_models, capsys):
    """A readout five times too strong, on the command line: the amplified fluctuations of the spiking
    output fail NoGo trials, the more the larger λ (all of them at 60), so no λ reaches the goal; the
    sweep says below goal and the diagnosis names the readout first. (On the go-nogo model shipped
    before issue 24, whose NoGo output was noisier, every λ failed: the issue's 0.49 everywhere.)"""
    path = planted_models["go-nogo", "readout x5"]
    assert main(["sweep", str(path), "--scaling-factors", "20,40,60", "--n-trials", "40"]) == 0
    out = capsys.readouterr().out
    results = [line for line in out.splitlines() if not line.startswith(("  lambda = ", f"{path.name}: go-nogo"))]
    assert results[0] == (f"{path.name}: verdict: below goal: the best λ, 20, scores 0.900 (95% CI 0.769-0.960), "
                          "0.050 below the go-nogo goal of 0.95")
    nogo = {float(line.split()[2].rstrip(":")): float(line.split("NoGo ")[1].rstrip(")"))
            for line in out.splitlines() if line.startswith("  lambda = ")}
    assert nogo[20.0] > nogo[40.0] > nogo[60.0] == 0.0
    assert load_model(path).opt_scaling_factor == 20.0
    assert main(["diagnose", str(path), "--lambdas", "20,40", "--n-trials", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if line.startswith("1. "))
    assert first.startswith("1. The readout is about 4.6 times too strong") and "divide w_out" in first
