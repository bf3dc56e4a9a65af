"""The rate2spike command line: what it prints, what it writes, one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from rate2spike.cli import main, parse_scaling_factors
from rate2spike.model import load_model
from rate2spike.trial import TrialSpec, run_trial


def test_parse_scaling_factors():
    assert parse_scaling_factors("20:75:5") == [float(v) for v in range(20, 76, 5)]
    assert parse_scaling_factors("20,30.5") == [20.0, 30.5]


def test_simulate_prints_the_trial_it_ran_and_saves_it(model_file, tmp_path, capsys):
    target = tmp_path / "trial.npz"
    assert main(["simulate", str(model_file), "--lambda", "30", "--condition", "Go", "--seed", "4",
                 "--save", str(target)]) == 0
    out = capsys.readouterr().out
    expected = run_trial(TrialSpec(load_model(model_file), "go-nogo", 30.0, seed=4, condition="Go"), ("spikes",))
    assert "condition Go, lambda = 30, seed 4" in out
    assert f"{int(expected.recording.spikes.sum())} spikes" in out
    assert f"verdict: {'correct' if expected.outcome.correct else 'incorrect'}" in out
    saved = np.load(target)
    assert saved["spk"].shape == (60, 20000) and saved["REC"].shape == (2000, 60)  # voltages every 0.5 ms
    assert saved["scaling_factor"] == 30 and int(saved["seed"]) == 4 and str(saved["condition"]) == "Go"
    np.testing.assert_array_equal(saved["out"], expected.recording.out)


def test_simulate_with_stimulation_to_mat(model_file, tmp_path):
    target = tmp_path / "trial.mat"
    assert main(["simulate", str(model_file), "--stim", "exc", "--stim-units", "1,2", "--stim-window", "100:900",
                 "--save", str(target)]) == 0
    saved = scipy.io.loadmat(target)
    assert str(saved["stim_mode"][0]) == "exc" and saved["stim_units"].ravel().tolist() == [1, 2]
    assert saved["stim_dur"].ravel().tolist() == [100, 900]


NOT_CONVERTED = 3  # `sweep`'s exit code when no lambda converts a model: an untrained one on a few trials


def test_sweep_writes_results_and_csv(model_file, tmp_path, capsys):
    """An untrained model on 3 trials: searched, saved (--save-failed keeps the reference's optimum),
    the verdict printed first, exit code 3."""
    csv = tmp_path / "curve.csv"
    assert main(["sweep", str(model_file), "--n-trials", "3", "--scaling-factors", "20:30:10", "--csv", str(csv),
                 "--no-extend", "--save-failed"]) == NOT_CONVERTED
    model = load_model(model_file)
    assert model.scaling_factors.tolist() == [20.0, 30.0]
    assert model.opt_scaling_factor in model.scaling_factor_band  # the band is saved beside the reference's three
    lines = [line for line in csv.read_text().splitlines() if not line.startswith("#")]
    assert len(lines) == 3 and lines[1].startswith("20.0,3,")
    assert "in_band" in lines[0] and "output_correlation" in lines[0]
    assert f"# model: {model_file.name}" in csv.read_text() and "# trials per lambda: 3" in csv.read_text()
    assert f"# verdict: {model.search_verdict}" in csv.read_text() and model.search_verdict.startswith("failed: ")
    out = capsys.readouterr().out
    results = [line for line in out.splitlines() if not line.startswith(("  lambda = ", model_file.name + ": go-nogo"))]
    assert results[0] == f"{model_file.name}: verdict: {model.search_verdict}"  # the first result line
    assert f"optimal scaling factor {model.opt_scaling_factor:g}" in out and "lambda band" in out
    assert "output closest to the rate network's at lambda" in out


def test_a_failed_conversion_is_neither_extended_nor_given_an_optimum(model_file, capsys):
    """An untrained model on 3 trials: every lambda ties, so the default sweep's edge extension adds
    nothing, and the file gets the verdict and curve but no opt_scaling_factor."""
    assert main(["sweep", str(model_file), "--n-trials", "3", "--scaling-factors", "20:30:10", "--force"]) == NOT_CONVERTED
    out = capsys.readouterr().out
    model = load_model(model_file)
    assert "added lambda" not in out and model.scaling_factors.tolist() == [20.0, 30.0]
    assert model.opt_scaling_factor is None and model.search_verdict.startswith("failed: No λ converts this model")
    assert "no opt_scaling_factor (its first maximum, 20, is not a result; --save-failed stores it anyway)" in out


def test_task_options_reach_the_sweep(make_model, tmp_path):
    """mante's evidence strength changes the trials a sweep scores."""
    path = make_model("Task_mante_N_40_x.mat", N=40, n_inputs=4)
    csvs = []
    for strength in ("0.5", "2.0"):
        target = tmp_path / f"{strength}.csv"
        assert main(["sweep", str(path), "--n-trials", "6", "--scaling-factors", "20", "--force",
                     "--option", f"evidence_strength={strength}", "--csv", str(target)]) == NOT_CONVERTED
        csvs.append(target.read_text())
    assert csvs[0] != csvs[1]


def test_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"")
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.mat" in err and "empty" in err and "Traceback" not in err
    assert main(["sweep", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_a_float32_sweep_says_so_and_does_not_resume_a_float64_journal(model_file, tmp_path, capsys):
    """--float32 reaches the search (printed, in the CSV), and a float64 search's journal is not
    taken for a float32 search of the same grid: they are different simulations."""
    from rate2spike.journal import Journal, journal_path, search_key
    from rate2spike.search import SearchOptions
    from rate2spike.sweep import sweep_base

    model = load_model(model_file)
    grid = [20.0, 30.0]
    Journal.open(model_file, search_key(sweep_base(model), grid, 3, SearchOptions(extend=False)), print).close()
    assert journal_path(model_file).exists()
    csv = tmp_path / "curve.csv"
    assert main(["sweep", str(model_file), "--n-trials", "3", "--scaling-factors", "20:30:10", "--no-extend",
                 "--float32", "--csv", str(csv)]) == NOT_CONVERTED
    out = capsys.readouterr().out
    assert "in float32" in out and "other precision" in out and "resuming" not in out
    assert "# precision: float32" in csv.read_text()
    assert load_model(model_file).scaling_factors.tolist() == grid


def test_printable_shows_control_characters_and_bidi_marks_as_escapes():
    from rate2spike.text import printable

    assert printable("Task_go-nogo_N_200.mat") == "Task_go-nogo_N_200.mat"
    assert printable("λ band 20–50, é, 日本") == "λ band 20–50, é, 日本"  # ordinary text is left alone
    assert printable("a\nb\r\tc\x1b[31m\x07\x7f\x9b") == "a\\nb\\r\\tc\\x1b[31m\\x07\\x7f\\x9b"
    assert printable("\u202egpj.exe\u2066\u2069\u200e\u200f\u061c\u2028") == \
        "\\u202egpj.exe\\u2066\\u2069\\u200e\\u200f\\u061c\\u2028"
    assert printable(Path("bad\udcffname.mat")) == "bad\\udcffname.mat"  # an undecodable byte of a file name


def test_explore_listens_on_this_machine_only_by_default():
    from rate2spike.explorer.launch import serve_command

    command = serve_command(port=5100, show=False)
    assert command[command.index("--address") + 1] == "127.0.0.1"
    origins = [command[k + 1] for k, arg in enumerate(command) if arg == "--allow-websocket-origin"]
    assert origins == ["127.0.0.1:5100", "localhost:5100"]
    opened = serve_command(port=5100, show=False, host="0.0.0.0", origins=["lab.example.org:5100"])
    assert opened[opened.index("--address") + 1] == "0.0.0.0" and "lab.example.org:5100" in opened


def test_explore_on_every_interface_needs_the_name_browsers_use(capsys):
    assert main(["explore", "--host", "0.0.0.0", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--host 0.0.0.0 listens on every interface" in err
    assert "--allow-websocket-origin" in err


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_sigterm_to_explore_stops_the_panel_server_too(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = subprocess.Popen([sys.executable, "-m", "rate2spike.cli", "explore", "--no-browser", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # until `panel serve` has started and listens (its handlers are set)
            server = server or next(iter(_children(command.pid)), None)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        assert server is not None, command.communicate(timeout=10)
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 143
        assert not _alive(server)  # waited for, not left running
    finally:
        for pid in (server, command.pid):
            if pid is not None and _alive(pid):
                os.kill(pid, signal.SIGKILL)
        command.communicate(timeout=30)


@pytest.mark.parametrize("port", ["70000", "0", "-1", "http"])
def test_explore_refuses_a_port_outside_1_to_65535(capsys, port):
    with pytest.raises(SystemExit) as exit_info:
        main(["explore", "--no-browser", "--port", port])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and f"argument --port: '{port}' is not a port number (1-65535)" in err


def test_initial_weights_and_the_fully_untrained_network(model_file, tmp_path, capsys):
    """--initial-weights runs w0 with the trained td (the reference's); --initial-decay adds td0 and
    needs --initial-weights (one line, exit 2); the CSV head and the saved trial say which ran."""
    assert main(["simulate", str(model_file), "--initial-decay"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--initial-decay" in err and "needs use_initial_weights" in err
    target = tmp_path / "trial.npz"
    assert main(["simulate", str(model_file), "--initial-weights", "--initial-decay", "--save", str(target)]) == 0
    saved = np.load(target)
    assert int(saved["use_initial_weights"]) == 1 and int(saved["initial_decay"]) == 1
    np.testing.assert_array_equal(saved["td"], load_model(model_file).decay_constants(initial=True))
    csv = tmp_path / "curve.csv"
    assert main(["sweep", str(model_file), "--initial-weights", "--n-trials", "2", "--scaling-factors", "20",
                 "--no-extend", "--csv", str(csv)]) == NOT_CONVERTED
    assert "# initial weights: w0 with the trained td (as the reference)" in csv.read_text()
