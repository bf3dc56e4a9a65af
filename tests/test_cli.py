"""The rate2spike command line: summaries, sweeps, one-line errors."""

from __future__ import annotations

import numpy as np

from core.cli import main, parse_scaling_factors
from core.model import load_model


def test_parse_scaling_factors():
    assert parse_scaling_factors("20:75:5") == [float(v) for v in range(20, 76, 5)]
    assert parse_scaling_factors("20,30.5") == [20.0, 30.5]


def test_simulate_prints_summary_and_saves(model_file, tmp_path, capsys):
    target = tmp_path / "trial.npz"
    code = main(["simulate", str(model_file), "--lambda", "30", "--condition", "Go", "--save", str(target)])
    out = capsys.readouterr().out
    assert code == 0
    assert "condition Go" in out and "lambda = 30" in out and "verdict:" in out
    saved = np.load(target)
    assert saved["spk"].shape == (60, 20000) and saved["REC"].shape == (20000, 60)
    assert saved["scaling_factor"] == 30


def test_simulate_with_stimulation_to_mat(model_file, tmp_path, capsys):
    target = tmp_path / "trial.mat"
    code = main(["simulate", str(model_file), "--stim", "exc", "--stim-units", "1,2", "--stim-window", "100:900",
                 "--save", str(target)])
    assert code == 0 and target.exists()


def test_sweep_writes_results_and_csv(model_file, tmp_path, capsys):
    csv = tmp_path / "curve.csv"
    code = main(["sweep", str(model_file), "--n-trials", "3", "--scaling-factors", "20:30:10", "--csv", str(csv)])
    assert code == 0
    assert load_model(model_file).scaling_factors.tolist() == [20.0, 30.0]
    assert csv.read_text().count("\n") == 3


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"")
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.mat" in err and "empty" in err and "Traceback" not in err
    assert main(["sweep", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
