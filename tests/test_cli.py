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
    """--stim-window is in seconds, as the dashboard's link (stim_window=0.005:0.045): the same steps."""
    from rate2spike.network import Stimulation
    from rate2spike.timegrid import lif_dt

    target = tmp_path / "trial.mat"
    assert main(["simulate", str(model_file), "--stim", "exc", "--stim-units", "1,2", "--stim-window", "0.005:0.045",
                 "--save", str(target)]) == 0
    saved = scipy.io.loadmat(target)
    assert str(saved["stim_mode"][0]) == "exc" and saved["stim_units"].ravel().tolist() == [1, 2]
    page = Stimulation.over_window("exc", (1, 2), (0.005, 0.045), lif_dt(1))  # what the dashboard runs
    assert saved["stim_dur"].ravel().tolist() == [page.first, page.stop] == [101, 901]


def test_a_stimulation_window_in_simulation_steps_is_refused_naming_seconds(model_file, tmp_path, capsys):
    """The old form (FIRST:STOP in 0.05 ms steps) would now mean seconds past the trial's end: refused,
    nothing written, the message says the unit and how steps convert."""
    target = tmp_path / "trial.mat"
    assert main(["simulate", str(model_file), "--stim", "exc", "--stim-units", "1", "--stim-window", "10000:15000",
                 "--save", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--stim-window 10000:15000 ends after the trial's 1 s" in err
    assert "in seconds" in err and "steps" in err and not target.exists()
    with pytest.raises(SystemExit) as exited:  # argparse's own check: exit 2, usage and one line
        main(["simulate", str(model_file), "--stim-window", "0.7:0.5"])
    assert exited.value.code == 2 and "'0.7:0.5' is not START:STOP in seconds" in capsys.readouterr().err


def test_train_help_gives_every_option_a_help_line_with_its_default(capsys):
    from rate2spike.cli import build_parser

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    options = [action for action in train._actions if action.option_strings and action.dest != "help"]
    assert len(options) >= 13
    for action in options:
        assert action.help and ("default" in action.help or action.required), action.option_strings
    with pytest.raises(SystemExit) as exited:
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert exited.value.code == 0 and "(default 6000; xor often needs ~10000)" in out and "--min-eval-accuracy" in out


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


def _served_explore(sigint_ignored: bool = False) -> tuple[subprocess.Popen, int]:
    """`rate2spike explore --no-browser` on a free port, once its `panel serve` listens: (the
    command, the server's pid). ``sigint_ignored``: started as a shell starts a script's
    background job (``trap '' INT``, then exec)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    explore = [sys.executable, "-m", "rate2spike.cli", "explore", "--no-browser", "--port", str(port)]
    if sigint_ignored:
        explore = ["sh", "-c", "trap '' INT; exec \"$@\"", "sh", *explore]
    command = subprocess.Popen(explore, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until `panel serve` has started and listens (its handlers are set)
        server = server or next(iter(_children(command.pid)), None)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    if server is None:
        command.kill()
        raise AssertionError(command.communicate(timeout=10))
    return command, server


def _end(command: subprocess.Popen, server: int) -> None:
    for pid in (server, command.pid):
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    command.communicate(timeout=30)


def test_sigterm_to_explore_stops_the_panel_server_too():
    """The server `rate2spike explore` starts allocates with the C allocator by default (it gives a
    class's freed memory back: docs/performance.md) and ends with the command."""
    command, server = _served_explore()
    try:
        assert b"PYTHONMALLOC=malloc" in Path(f"/proc/{server}/environ").read_bytes().split(b"\0")
        command.send_signal(signal.SIGTERM)
        assert command.wait(timeout=30) == 143
        assert not _alive(server)  # waited for, not left running
    finally:
        _end(command, server)


def test_ctrl_c_stops_explore_started_as_a_background_job():
    """A script's background job starts with SIGINT ignored, and so did the server it started: a
    Ctrl-C (SIGINT) to the command then left the server running until the grace period killed it.
    It stops the server at once (well within the grace period), and the command exits 130."""
    from rate2spike.explorer.launch import SHUTDOWN_GRACE

    command, server = _served_explore(sigint_ignored=True)
    try:
        sent = time.monotonic()
        command.send_signal(signal.SIGINT)
        assert command.wait(timeout=30) == 130
        assert time.monotonic() - sent < SHUTDOWN_GRACE / 2 and not _alive(server)
    finally:
        _end(command, server)


def test_the_server_keeps_its_environment_and_releases_memory_unless_told_not_to(monkeypatch):
    from rate2spike.explorer import launch

    assert launch.server_environment(environ={"HOME": "/h"}) == {"HOME": "/h"}
    assert launch.server_environment(True, environ={"HOME": "/h"}) == {"HOME": "/h", "PYTHONMALLOC": "malloc"}
    asked = []
    monkeypatch.setattr(launch, "launch", lambda **kwargs: asked.append(kwargs["release_memory"]) or 0)
    assert main(["explore", "--no-browser"]) == 0 and main(["explore", "--no-browser", "--no-release-memory"]) == 0
    assert asked == [True, False]


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


def test_a_folder_sweep_skips_a_saved_trial_with_a_note_and_leaves_no_lock(model_file, tmp_path, capsys):
    """`sweep DIR` where DIR holds a model and a trial saved by `simulate --save`: the trial file is
    skipped with a note (not an error, exit status of the model's search), unchanged; no lock file stays."""
    trial = tmp_path / "trial.mat"
    assert main(["simulate", str(model_file), "--save", str(trial)]) == 0
    before = trial.read_bytes()
    capsys.readouterr()
    assert main(["sweep", str(tmp_path), "--n-trials", "2", "--scaling-factors", "20", "--no-extend"]) == NOT_CONVERTED
    captured = capsys.readouterr()
    assert "trial.mat: not a model file (none of w, w_in, w_out: a saved trial or other data?); skipped" in captured.out
    assert "error" not in captured.err and trial.read_bytes() == before
    assert load_model(model_file).search_verdict is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([model_file.name, "trial.mat"])  # no lock, no journal
    assert main(["sweep", str(trial)]) == 2  # named on its own, it is an error
    assert "trial.mat: is not a model file" in capsys.readouterr().err


def test_messages_name_the_command_lines_options_there_and_the_apis_arguments_there(model_file, capsys):
    from rate2spike.spikernn import lambda_grid_search

    assert main(["sweep", str(model_file), "--n-trials", "2", "--scaling-factors", "20", "--no-extend"]) == NOT_CONVERTED
    assert "--save-failed stores it anyway" in capsys.readouterr().out
    assert main(["sweep", str(model_file)]) == 0
    assert "skipped (--force redoes it)" in capsys.readouterr().out
    lambda_grid_search(str(model_file.parent), n_trials=2, scaling_factors=[20])
    out = capsys.readouterr().out
    assert "skipped (force=True redoes it)" in out and "--force" not in out


def test_a_repeated_lambda_is_named_as_the_command_line_calls_it(model_file, capsys):
    from rate2spike.limits import check_scaling_factors

    with pytest.raises(SystemExit):
        main(["sweep", str(model_file), "--scaling-factors", "20,20"])
    assert "argument --scaling-factors: '20,20': the grid repeats 20" in capsys.readouterr().err
    with pytest.raises(ValueError, match="^scaling_factors repeats 20$"):  # the API names its argument
        check_scaling_factors([20, 20])


def test_every_output_gets_the_mode_a_plain_open_gives(model_file, tmp_path):
    """Trial files, the CSV, the report and a new model file, under a umask of 027: all 0640, like a
    file made with open(); a model file searched keeps its own mode."""
    from rate2spike.train import train_model

    old = os.umask(0o027)
    try:
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        os.chmod(model_file, 0o600)
        outputs = [tmp_path / "t.mat", tmp_path / "t.npz", tmp_path / "curve.csv", tmp_path / "out" / "report.html"]
        for target in outputs[:2]:
            assert main(["simulate", str(model_file), "--save", str(target)]) == 0
        assert main(["sweep", str(model_file), "--n-trials", "2", "--scaling-factors", "20", "--no-extend",
                     "--csv", str(outputs[2])]) == NOT_CONVERTED
        assert main(["report", str(tmp_path), "-o", str(outputs[3])]) == 0
        outputs.append(train_model("go-nogo", N=10, n_trials=1, out_dir=tmp_path / "trained").path)
    finally:
        os.umask(old)
    modes = {path.name: oct(path.stat().st_mode & 0o777) for path in outputs}
    assert set(modes.values()) == {oct(plain.stat().st_mode & 0o777)} == {"0o640"}, modes
    assert model_file.stat().st_mode & 0o777 == 0o600
