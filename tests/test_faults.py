"""Hostile and unlucky input: every case a probe found, and faults a person meets (a killed
process, a read-only file or folder, two searches at once, a decompression bomb).

Each case checks the guarantee docs/errors.md states: one clear line naming the
problem, exit code 2, and a file on disk that is either byte-identical or fully updated, never
half-written. Processes that must not use root's overrides run under setpriv (CI runs as root).
"""

from __future__ import annotations

import csv
import http.server
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.sparse

from conftest import file_digest, model_variables, write_model
from faults import bomb_file, rate2spike_command, run, unprivileged
from rate2spike.cli import main
from rate2spike.cluster import CONNECT_TIMEOUT
from rate2spike.journal import LOCK_NAME, Journal, journal_path, search_key
from rate2spike.model import TEMP_SUFFIX, ModelFileChanged, load_model, read_mat, save_grid_search
from rate2spike.network import Stimulation
from rate2spike.paths import kind_of
from rate2spike.search import SearchOptions
from rate2spike.spikernn import lambda_grid_search
from rate2spike.sweep import sweep_base

pytestmark = pytest.mark.faults
NOT_CONVERTED = 3  # `sweep`'s exit code when no lambda converts a model: these untrained ones, on a few trials


def go_nogo(folder: Path, name: str = "Task_go-nogo_N_30_a.mat", **kwargs) -> Path:
    return write_model(folder / name, N=kwargs.pop("N", 30), **kwargs)


# --- the command line ---------------------------------------------------------------------

def test_a_folder_with_broken_files_searches_the_others_and_exits_2(tmp_path, capsys):
    good = go_nogo(tmp_path, "a_good.mat")
    nan = tmp_path / "b_nan.mat"
    variables = model_variables(N=30)
    variables["w"][0, 0] = np.nan
    scipy.io.savemat(nan, variables)
    truncated = tmp_path / "c_truncated.mat"
    truncated.write_bytes(good.read_bytes()[:400])
    five_inputs = write_model(tmp_path / "d_five_inputs.mat", N=30, n_inputs=5)
    later = go_nogo(tmp_path, "e_later.mat")
    digests = {p: file_digest(p) for p in (nan, truncated, five_inputs)}
    assert main(["sweep", str(tmp_path), "--n-trials", "2", "--scaling-factors", "20,40", "--save-failed"]) == 2
    out, err = capsys.readouterr()
    assert load_model(good).opt_scaling_factor is not None and load_model(later).opt_scaling_factor is not None
    for path, phrase in ((nan, "non-finite"), (truncated, "truncated or corrupt"), (five_inputs, "5 inputs")):
        line = next(line for line in err.splitlines() if path.name in line)
        assert phrase in line and line.startswith("rate2spike: error: "), line
        assert file_digest(path) == digests[path]
    assert "3 model file(s) failed" in err and "skipping" not in out and "error" not in out


@pytest.mark.parametrize("stored", [0.0, -5.0])
def test_a_stored_optimum_that_is_not_positive_is_refused(tmp_path, capsys, stored):
    path = go_nogo(tmp_path)
    save_grid_search(path, [20, 30], [0.5, 0.6], 30)
    variables = scipy.io.loadmat(path)
    variables["opt_scaling_factor"] = stored
    scipy.io.savemat(path, {k: v for k, v in variables.items() if not k.startswith("__")})
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and path.name in err and "field 'opt_scaling_factor'" in err


@pytest.mark.parametrize("argv,phrase", [
    (["--lambda", "0"], "argument --lambda: '0' is not a positive number"),
    (["--seed", "-1"], "argument --seed: '-1' must be 0 or more"),
    (["--stim", "exc", "--stim-window", "0:1e23", "--stim-units", "1"], "--stim-window 0:1e+23 ends after the trial's"),
    (["--stim", "exc", "--stim-window", "0:inf", "--stim-units", "1"], "argument --stim-window: '0:inf'"),
    (["--stim", "exc", "--stim-window", "0.01:0.9"], "stimulation 'exc' needs units"),
    (["--stim", "exc", "--stim-units", "1.7", "--stim-window", "0.01:0.9"], "cannot read '1.7'"),
    (["--downsample", "0"], "argument --downsample: '0' must be 1 or more"),
    (["--option", "evidence_strength=1"], "no option evidence_strength"),
    (["--condition", "Maybe"], "no condition 'Maybe'"),
])
def test_bad_simulate_options_get_one_line_naming_them(model_file, capsys, argv, phrase):
    try:
        code = main(["simulate", str(model_file), *argv])
    except SystemExit as exc:  # argparse refuses the value before any work
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and phrase in err and "Traceback" not in err


def test_bad_sweep_options_name_the_option(model_file, capsys):
    before = file_digest(model_file)
    for argv, phrase in ((["--threads", "-1"], "argument --threads: '-1' must be 1 or more"),
                         (["--n-trials", "0"], "argument --n-trials: '0' must be 1 or more")):
        with pytest.raises(SystemExit) as exit_info:
            main(["sweep", str(model_file), *argv])
        assert exit_info.value.code == 2 and phrase in capsys.readouterr().err
    assert file_digest(model_file) == before


def test_stims_of_the_api_are_checked_too():
    with pytest.raises(ValueError, match="must run forwards within steps"):
        Stimulation.from_stims({"mode": "exc", "dur": [0, 2**70], "units": [1]}, 10)
    with pytest.raises(ValueError, match="stimulated units must be whole numbers, got 1.7"):
        Stimulation.from_stims({"mode": "exc", "dur": [0, 10], "units": [1.7]}, 10)


def test_a_model_without_inhibitory_units_says_so(tmp_path, capsys):
    variables = model_variables(N=1)
    variables.update(m=np.eye(1), inh=np.zeros((1, 1), bool), exc=np.ones((1, 1), bool), w=np.zeros((1, 1)),
                     w0=np.zeros((1, 1)))
    path = tmp_path / "one.mat"
    scipy.io.savemat(path, variables)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["simulate", str(path), "--lambda", "1"]) == 0
    assert "no inhibitory units" in capsys.readouterr().out


def test_csv_files_of_models_with_one_name_do_not_overwrite_each_other(tmp_path):
    for folder in ("a", "b"):
        go_nogo(tmp_path / "models" / folder, "model.mat", seed=ord(folder))
    assert main(["sweep", str(tmp_path / "models"), "--n-trials", "2", "--scaling-factors", "20",
                 "--csv", str(tmp_path / "curve.csv")]) == NOT_CONVERTED
    written = sorted(p.name for p in tmp_path.glob("curve_*.csv"))
    assert written == ["curve_a_model.csv", "curve_b_model.csv"]


# --- files on disk -------------------------------------------------------------------------

def _sweep(path, *extra, timeout=300):
    """A sweep of untrained models on 2 trials: no lambda converts them (exit 3 when nothing else goes
    wrong); ``--save-failed`` stores the optimum all the same, as these tests check."""
    return run(unprivileged(rate2spike_command("sweep", str(path), "--n-trials", "2", "--scaling-factors", "20",
                                               "--force", "--save-failed", *extra)), timeout=timeout)


def test_a_read_only_model_file_is_refused_before_any_work(tmp_path):
    path = go_nogo(tmp_path)
    path.chmod(0o444)
    before = file_digest(path)
    result = _sweep(path)
    assert result.returncode == 2 and f"{path}: the file is read-only" in result.stderr
    assert "lambda = " not in result.stdout  # refused before the search, not after it
    assert file_digest(path) == before and path.stat().st_mode & 0o777 == 0o444


def test_a_read_only_folder_names_the_model_and_the_others_continue(tmp_path):
    locked = go_nogo(tmp_path / "models" / "locked")
    free = go_nogo(tmp_path / "models" / "free", seed=3)
    before = file_digest(locked)
    locked.parent.chmod(0o555)
    try:
        result = _sweep(tmp_path / "models")
    finally:
        locked.parent.chmod(0o755)
    assert result.returncode == 2
    assert f"{locked}: its folder {locked.parent} is not writable" in result.stderr
    assert file_digest(locked) == before and load_model(free).opt_scaling_factor == 20.0
    assert not list(locked.parent.glob(f"*{TEMP_SUFFIX}"))


SAVER = """
import sys, numpy as np
from rate2spike.model import save_grid_search
path = sys.argv[1]
k = 0
while True:
    k += 1
    save_grid_search(path, np.arange(20, 20 + k % 7 + 2), np.linspace(0, 1, k % 7 + 2), 20)
"""


def _fully_written(path: Path, original: dict) -> None:
    """The file loads as a model and keeps every original variable: old or new, never a mix."""
    now = read_mat(path)
    for name, value in original.items():
        np.testing.assert_array_equal(now[name], value)
    model = load_model(path)
    if model.opt_scaling_factor is not None:
        assert model.all_perfs.size == model.scaling_factors.size


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.9, 1.7])
def test_kill_9_while_saving_leaves_the_file_whole_and_the_next_save_tidies_up(tmp_path, delay):
    path = write_model(tmp_path / "model.mat", N=120)
    original = read_mat(path)
    saver = subprocess.Popen([sys.executable, "-c", SAVER, str(path)])
    time.sleep(delay + random.random() * 0.05)
    saver.send_signal(signal.SIGKILL)
    saver.wait()
    _fully_written(path, original)
    save_grid_search(path, [20, 30], [0.5, 0.7], 30)  # the next save removes what the killed one left
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}")) and load_model(path).opt_scaling_factor == 30


def test_sigterm_while_saving_removes_the_temporary_file(tmp_path):
    path = write_model(tmp_path / "model.mat", N=120)
    original = read_mat(path)
    for delay in (0.2, 0.6, 1.2):
        # the handler exits by raising SystemExit in the middle of a save; Python drops an exception
        # raised while a finaliser runs, so the handler also ends the loop at the next save
        saver = subprocess.Popen([sys.executable, "-c", "import signal, sys\nstopped = []\n"
                                  "def stop(*a):\n    stopped.append(1)\n    sys.exit(143)\n"
                                  "signal.signal(signal.SIGTERM, stop)\n"
                                  + SAVER.replace("while True:", "while not stopped:") + "sys.exit(143)\n",
                                  str(path)])
        time.sleep(delay)
        saver.send_signal(signal.SIGTERM)
        assert saver.wait(timeout=30) == 143
        assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
        _fully_written(path, original)


def test_sigterm_stops_the_command_line_cleanly(tmp_path):
    path = write_model(tmp_path / "model.mat", N=60)
    before = file_digest(path)
    command = subprocess.Popen(rate2spike_command("sweep", str(path), "--n-trials", "400", "--force"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    journal = path.with_name(path.name + ".journal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 2):
        time.sleep(0.1)  # mid-search: some blocks of trials are journaled
    command.send_signal(signal.SIGTERM)
    command.communicate(timeout=60)
    assert command.returncode in (143, 2) and file_digest(path) == before
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    assert len(journal.read_text().splitlines()) >= 2  # the finished trials stay for the next run


def test_two_sweeps_of_one_folder_do_not_both_work_and_leave_the_file_whole(tmp_path):
    path = go_nogo(tmp_path)
    original = read_mat(path)
    grids = ("20,30", "25,35,45")
    runs = [subprocess.Popen(rate2spike_command("sweep", str(path), "--n-trials", "30", "--scaling-factors", grid,
                                                "--force", "--no-extend"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for grid in grids]
    finished = []
    for grid, process in zip(grids, runs):
        out, err = process.communicate(timeout=300)
        if process.returncode in (0, NOT_CONVERTED):  # searched and saved, converted or not
            finished.append([float(v) for v in grid.split(",")])
        else:  # the folder was locked by the other driver: it says so and does nothing
            assert process.returncode == 2 and "is busy: another rate2spike sweep" in err, err
    assert finished
    _fully_written(path, original)
    assert load_model(path).scaling_factors.tolist() in finished
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))


MEASURE = """
import resource, sys
from rate2spike.cli import main
from rate2spike.cluster import CONNECT_TIMEOUT
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
code = main(sys.argv[1:])
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
sys.exit(code)
"""


def test_a_decompression_bomb_is_refused_quickly_without_memory(tmp_path):
    bomb = bomb_file(tmp_path / "Task_go-nogo_N_30_bomb.mat", N=30)
    assert bomb.stat().st_size < 5 * 2**20
    before = file_digest(bomb)
    started = time.monotonic()
    result = run([sys.executable, "-c", MEASURE, "simulate", str(bomb)])
    elapsed = time.monotonic() - started
    growth_mb = int(result.stdout.split("GROWTH_KB")[1]) / 1024
    assert result.returncode == 2 and "field 'extra'" in result.stderr and "nothing was loaded" in result.stderr
    assert growth_mb < 50, growth_mb
    assert elapsed < 10  # a whole process (imports included); the refusal itself takes well under 1 s
    assert file_digest(bomb) == before


def test_a_file_larger_than_a_variable_may_be_is_refused_by_every_reader(tmp_path):
    bomb = bomb_file(tmp_path / "bomb.mat", N=30)
    before = file_digest(bomb)
    for reader in (lambda: load_model(bomb), lambda: read_mat(bomb), lambda: save_grid_search(bomb, [20], [1], 20)):
        with pytest.raises(ValueError, match="over the 512 MB"):
            reader()
    assert file_digest(bomb) == before


# --- paths others planted: links, folders, FIFOs (issue #27) ---------------------------------

def _plant(kind: str, where: Path, victim: Path) -> None:
    """Something that is not rate2spike's own file at ``where``: a link to ``victim`` (outside the
    folder), a second name of it, a directory or a FIFO."""
    if kind == "symlink":
        where.symlink_to(victim)
    elif kind == "hardlink":
        where.hardlink_to(victim)
    elif kind == "directory":
        where.mkdir()
    else:
        os.mkfifo(where)


@pytest.mark.parametrize("kind,phrase", [("symlink", "a symbolic link"), ("hardlink", "a file with 2 names"),
                                         ("directory", "a directory"), ("fifo", "a FIFO")])
def test_a_planted_folder_lock_is_refused_and_nothing_outside_is_written(tmp_path, kind, phrase):
    """`ln -s ~/victim DIR/.rate2spike-sweep.lock` once made `sweep DIR` empty the victim; a FIFO
    there hung it. Now the lock is refused by name (a subprocess: a hang fails on the timeout)."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious bytes\n")
    path = go_nogo(tmp_path / "models")
    lock = path.parent / LOCK_NAME
    _plant(kind, lock, victim)
    before = file_digest(path)
    result = run(rate2spike_command("sweep", str(path.parent), "--n-trials", "2", "--scaling-factors", "20"),
                 timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert f"{lock}: is {phrase}" in result.stderr and "Traceback" not in result.stderr
    assert victim.read_bytes() == b"precious bytes\n" and file_digest(path) == before
    assert kind_of(lock) == {"symlink": "a symbolic link", "directory": "a directory", "fifo": "a FIFO"}.get(
        kind, "a regular file")


@pytest.mark.parametrize("suffix", [".npz", ".mat"])
def test_simulate_save_replaces_a_planted_link_instead_of_writing_through_it(tmp_path, capsys, suffix):
    victim = tmp_path / f"victim{suffix}"
    victim.write_bytes(b"precious bytes\n")
    path = go_nogo(tmp_path / "models")
    link = tmp_path / "out" / f"trial{suffix}"
    link.parent.mkdir()
    link.symlink_to(victim)
    assert main(["simulate", str(path), "--lambda", "20", "--save", str(link)]) == 0
    assert victim.read_bytes() == b"precious bytes\n"
    assert not link.is_symlink() and link.stat().st_size > 1000  # the trial, in a file of its own
    (tmp_path / f"folder{suffix}").mkdir()
    assert main(["simulate", str(path), "--lambda", "20", "--save", str(tmp_path / f"folder{suffix}")]) == 2
    assert f"folder{suffix}: is a directory" in capsys.readouterr().err
    assert not list((tmp_path / "out").glob(f"*{TEMP_SUFFIX}")) and not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))


def test_things_planted_under_temporary_names_neither_hang_a_save_nor_are_touched(tmp_path):
    """A save tidies `.NAME.*.tmp` files a killed writer left; a FIFO there once blocked it forever
    and a link was opened through. Only regular files are tidied now."""
    path = go_nogo(tmp_path)
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.write_bytes(b"precious bytes\n")
    fifo, link = tmp_path / f".{path.name}.planted{TEMP_SUFFIX}", tmp_path / f".{path.name}.linked{TEMP_SUFFIX}"
    os.mkfifo(fifo)
    link.symlink_to(victim)

    def hung(*_):
        raise TimeoutError("the save blocked on a planted FIFO")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        save_grid_search(path, [20, 30], [0.5, 0.7], 30)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert load_model(path).opt_scaling_factor == 30
    assert kind_of(fifo) == "a FIFO" and link.is_symlink() and victim.read_bytes() == b"precious bytes\n"
    victim.unlink()


# --- results go only into the file they were computed from (issue #27 item 6) ----------------

def test_a_model_file_replaced_or_removed_after_loading_does_not_receive_its_results(tmp_path):
    path = go_nogo(tmp_path)
    model = load_model(path)
    assert model.content_sha256 == file_digest(path)  # the digest of the bytes that were read
    other = go_nogo(tmp_path, "other.mat", seed=5)
    os.replace(other, path)  # another model under the same name
    before = file_digest(path)
    with pytest.raises(ModelFileChanged, match=f"^{path} changed on disk after it was read .*nothing was written"):
        save_grid_search(path, [20, 30], [0.5, 0.7], 30, expected_sha256=model.content_sha256)
    assert file_digest(path) == before and load_model(path).opt_scaling_factor is None
    assert not list(tmp_path.glob(f"*{TEMP_SUFFIX}"))
    path.unlink()
    with pytest.raises(ModelFileChanged, match=f"^{path} was removed after it was read"):
        save_grid_search(path, [20, 30], [0.5, 0.7], 30, expected_sha256=model.content_sha256)
    assert not path.exists()
    replacement = go_nogo(tmp_path, path.name, seed=5)  # the file as loaded now: its results go in
    save_grid_search(path, [20, 30], [0.5, 0.7], 30, expected_sha256=load_model(replacement).content_sha256)
    assert load_model(path).opt_scaling_factor == 30


# --- journals: planted, huge, malformed or edited (issue #27 item 9) --------------------------

GRID_ARGS = dict(n_trials=20, scaling_factors=[20, 30], force=True)


def _stored(path: Path) -> tuple:
    model = load_model(path)
    return model.opt_scaling_factor, model.scaling_factors.tolist(), model.all_perfs.tolist()


def _interrupted(folder: Path, name: str = "m.mat", blocks: int = 2, seed: int = 0) -> Path:
    """A model under ``folder`` whose search was stopped after ``blocks`` journaled blocks (a kill
    leaves the same); returns its journal."""
    path = write_model(folder / name, N=40, seed=seed)
    journal = journal_path(path)
    lambda_grid_search(folder, verbose=False, cancel=lambda: journal.exists() and len(
        journal.read_text().splitlines()) > blocks, **GRID_ARGS)
    lines = journal.read_text().splitlines()
    assert len(lines) > blocks, "the search was stopped before it journaled enough blocks"
    journal.write_text("\n".join(lines[:blocks + 1]) + "\n")  # blocks in flight when it stopped finish too
    return journal


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple:
    """What an uninterrupted search of the model `_interrupted` makes stores."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_model(folder / "m.mat", N=40)
    lambda_grid_search(folder, verbose=False, **GRID_ARGS)
    return _stored(path)


@pytest.mark.parametrize("kind,phrase", [("symlink", "a symbolic link"), ("directory", "a directory"),
                                         ("fifo", "a FIFO"), ("hardlink", None)])
def test_a_planted_journal_refuses_that_model_only_and_nothing_outside_is_written(tmp_path, kind, phrase):
    """A journal path that is a link, a directory or a FIFO once hung the search (FIFO), aborted the
    folder and left a temporary file (directory) or was written through (link). Now that model is
    refused by name and the others are searched; a second name of a file is replaced, not written."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious bytes\n")
    folder = tmp_path / "models"
    planted, other = go_nogo(folder, "a.mat"), go_nogo(folder, "b.mat", seed=2)
    _plant(kind, journal_path(planted), victim)
    before = file_digest(planted)
    result = run(rate2spike_command("sweep", str(folder), "--n-trials", "2", "--scaling-factors", "20", "--save-failed"),
                 timeout=120)
    assert victim.read_bytes() == b"precious bytes\n" and load_model(other).opt_scaling_factor == 20
    assert not list(folder.glob(f".*{TEMP_SUFFIX}"))
    if phrase is None:
        assert result.returncode == NOT_CONVERTED and load_model(planted).opt_scaling_factor == 20
        return
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"rate2spike: error: {journal_path(planted)}: is {phrase}" in result.stderr
    assert "1 model file(s) failed" in result.stderr and file_digest(planted) == before
    assert kind_of(journal_path(planted)) == phrase


JOURNAL_MEMORY = """
import resource, sys
from rate2spike.spikernn import lambda_grid_search
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
lambda_grid_search(sys.argv[1], n_trials=2, scaling_factors=[20], force=True)
print("GROWTH_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


@pytest.mark.parametrize("head", [b"", b'{"key": {"format": 1}}\n'])
def test_a_huge_journal_is_not_read_whole(tmp_path, head):
    """A 256 MB journal (one endless first line, or a head and then one) once was read whole just to
    check its first line; now at most 64 kB of the head and 1 MB per line are read."""
    path = go_nogo(tmp_path)
    journal = journal_path(path)
    journal.write_bytes(head)
    os.truncate(journal, 256 * 2**20)  # sparse: no disk, no time
    result = run([sys.executable, "-c", JOURNAL_MEMORY, str(tmp_path)], timeout=120)
    assert result.returncode == 0, result.stderr
    growth_mb = int(result.stdout.split("GROWTH_KB")[1]) / 1024
    assert growth_mb < 60, growth_mb
    assert load_model(path).opt_scaling_factor == 20 and not journal.exists()
    said = "not a rate2spike journal" if not head else "written for another search"
    assert f"{journal.name}: {said}" in result.stdout


def _edit_scores(line: str, edit) -> str:
    record = json.loads(line)
    for score in record["scores"]:
        edit(score)
    return json.dumps(record)


def _flip(score) -> None:
    """Every verdict turned round, consistently: the recorded extreme moved across its level."""
    outcome = score[2]
    outcome["correct"] = not outcome["correct"]
    passes_above = outcome["label"] > 0
    outcome["extreme"] = (0.9 if passes_above else 0.1) if outcome["correct"] else (0.1 if passes_above else 0.9)


@pytest.mark.parametrize("damage,replayed", [
    ("none", 24),
    # malformed: tracebacks on every rerun before; now the end of the good part
    ("lambda as text", 12), ("huge exponent", 12), ("list for outcome", 12), ("head not an object", 0),
    ("nested", 12), ("not utf-8", 12),
    # well-formed but not what this search could write: the end of the good part
    ("lambda off the grid", 12), ("trial out of range", 12), ("verdict against its extreme", 12),
    ("trial twice", 12),
])
def test_a_damaged_journal_is_used_up_to_its_damage_and_the_results_are_the_same(tmp_path, capsys, reference,
                                                                                 damage, replayed):
    journal = _interrupted(tmp_path)
    head, first, second = journal.read_text().splitlines()
    bad = {
        "none": second,
        "lambda as text": _edit_scores(second, lambda s: s.__setitem__(0, "20")),
        "huge exponent": re.sub(r"\}, \d+, \[", "}, 1e999, [", second, count=1),  # a spike count
        "list for outcome": _edit_scores(second, lambda s: s.__setitem__(2, list(s[2].values()))),
        "head not an object": second,
        "nested": "[" * 100000 + "]" * 100000,
        "not utf-8": '{"scores": [["\udcff"]]}',
        "lambda off the grid": _edit_scores(second, lambda s: s.__setitem__(0, 25.0)),
        "trial out of range": _edit_scores(second, lambda s: s.__setitem__(1, 20)),
        "verdict against its extreme": _edit_scores(second, lambda s: s[2].__setitem__("correct", not s[2]["correct"])),
        "trial twice": first,
    }[damage]
    if damage == "head not an object":
        head = "[1, 2]"
    journal.write_bytes(f"{head}\n{first}\n".encode() + bad.encode("utf-8", "surrogateescape") + b"\n")
    capsys.readouterr()
    results = lambda_grid_search(tmp_path, **GRID_ARGS)
    out = capsys.readouterr().out
    assert not results.failures and _stored(tmp_path / "m.mat") == reference
    assert (f"resuming from m.mat.journal ({replayed} trials already scored)" in out) == bool(replayed)
    assert ("m.mat.journal: not a rate2spike journal" in out) == (damage == "head not an object")
    assert not journal.exists()


@pytest.mark.parametrize("edit", ["spike counts", "verdicts"])
def test_an_edited_journal_that_does_not_match_the_search_is_not_replayed(tmp_path, capsys, reference, edit):
    """Outcomes edited to claim other results, consistent and under the right key, were replayed as
    results. A few journaled trials, chosen at random, are simulated again first: every entry differs
    here, so any choice finds it, the journal is ignored and the search starts afresh."""
    journal = _interrupted(tmp_path)
    head, *blocks = journal.read_text().splitlines()
    change = (lambda s: s.__setitem__(3, s[3] + 1)) if edit == "spike counts" else _flip
    journal.write_text("\n".join([head] + [_edit_scores(line, change) for line in blocks]) + "\n")
    capsys.readouterr()
    results = lambda_grid_search(tmp_path, **GRID_ARGS)
    out = capsys.readouterr().out
    assert "m.mat.journal: does not match the search (trial " in out and "ignored, starting afresh" in out
    assert "resuming" not in out and not results.failures and _stored(tmp_path / "m.mat") == reference


def _during_first_search(action):
    """A progress callback that does ``action`` once, while the folder's first model is searched."""
    done = []

    def progress(p):
        if not done:
            done.append(1)
            action()
    return progress


@pytest.mark.parametrize("which,change", [("searched", "replaced"), ("searched", "removed"), ("next", "replaced"),
                                          ("next", "removed")])
def test_a_model_removed_or_replaced_during_a_folder_search_fails_alone(tmp_path, capsys, which, change):
    """A model file deleted during a folder search once stopped the rest of the folder, and one
    replaced got the old file's results ("saved"). Now that model fails with a line naming it and
    nothing is written into it, whether it changed while searched or while waiting its turn; the
    other models are searched and saved (the command exits with 2)."""
    models = [go_nogo(tmp_path, f"{name}.mat", seed=seed) for seed, name in enumerate("abc")]
    target = models[0] if which == "searched" else models[1]
    replacement = go_nogo(tmp_path / "elsewhere", "x.mat", seed=7).read_bytes()
    action = target.unlink if change == "removed" else lambda: target.write_bytes(replacement)
    results = lambda_grid_search(tmp_path, n_trials=2, scaling_factors=[20], force=True,
                                 progress=_during_first_search(action))
    err = capsys.readouterr().err
    assert list(results.failures) == [target]
    assert all(load_model(path).opt_scaling_factor == 20 for path in models if path != target)
    how = "was removed" if change == "removed" else "changed on disk"
    assert f"rate2spike: error: {target} {how} after it was read" in err and "nothing was written" in err
    assert target.read_bytes() == replacement if change == "replaced" else not target.exists()
    assert not list(tmp_path.glob(f".*{TEMP_SUFFIX}"))
    assert which == "searched" or not journal_path(target).exists()  # refused before its search began


def test_a_journal_is_not_replayed_into_a_model_replaced_after_it_was_read(tmp_path, capsys):
    """The journal's key held the digest of the file on disk when the journal was opened, not of the
    model read before: a file replaced in between resumed the other file's trials into this search.
    The key is the digest of the bytes read, so that journal is named as another file's, not used."""
    journal = _interrupted(tmp_path / "other", "m.mat", seed=7)  # a journal of the replacement's search
    path = write_model(tmp_path / "models" / "m.mat", N=40)
    model = load_model(path)  # the model searched
    (path.parent / journal.name).write_bytes(journal.read_bytes())
    path.write_bytes((tmp_path / "other" / "m.mat").read_bytes())  # replaced after it was read
    key = search_key(sweep_base(model), GRID_ARGS["scaling_factors"], GRID_ARGS["n_trials"], SearchOptions())
    capsys.readouterr()
    opened = Journal.open(path, key, file_sha256=model.content_sha256)
    opened.close()
    out = capsys.readouterr().out
    assert not opened.known and "resuming" not in out
    assert "m.mat.journal: written for another search (other file contents); ignored, starting afresh" in out


# --- unclear files: sparse, HDF5, a FIFO, a folder; names with terminal escapes (issue #27) ----

def test_a_file_name_with_terminal_escapes_is_printed_escaped(tmp_path):
    """An error naming the file is still one line, and the terminal gets no escape sequence or
    right-to-left override from it."""
    path = tmp_path / "a\x1b]0;pwned\x07\x1b[2J\u202egpj.mat\nrate2spike: error: forged"
    path.write_bytes(b"")
    result = run(rate2spike_command("simulate", str(path)), timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr and "\x07" not in result.stderr
    assert "a\\x1b]0;pwned\\x07\\x1b[2J\\u202egpj.mat\\nrate2spike: error: forged: is empty (0 bytes)" in result.stderr


def test_a_sparse_matrix_in_a_model_file_says_to_store_it_full(tmp_path, capsys):
    variables = model_variables(N=30)
    variables["w"] = scipy.sparse.csc_matrix(np.asarray(variables["w"], dtype=float))
    path = tmp_path / "sparse.mat"
    scipy.io.savemat(path, variables)
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "sparse.mat: field 'w': is stored as a sparse matrix" in err
    assert "full(...) in MATLAB or .toarray() in Python" in err


@pytest.mark.parametrize("head", [
    b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".ljust(512)
    + b"\x89HDF\r\n\x1a\n",  # MATLAB's save -v7.3: a 512-byte user block, then HDF5
    b"\x89HDF\r\n\x1a\n",  # h5py: the signature at the start
], ids=["matlab-v7.3", "h5py"])
def test_an_hdf5_file_says_to_resave_it(tmp_path, capsys, head):
    path = tmp_path / "model.mat"
    path.write_bytes(head + bytes(4096))
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "model.mat: is an HDF5 file" in err
    assert "save(..., '-v7')" in err and "scipy.io.savemat" in err


@pytest.mark.parametrize("command,phrase", [
    ("simulate", "is a FIFO, not a .mat file"),
    ("evaluate", "is a FIFO, not a .mat file"),
    ("sweep", "is not a regular file or a folder (a FIFO, socket or device)"),
])
def test_a_fifo_as_the_model_is_refused_without_waiting_for_a_writer(tmp_path, command, phrase):
    fifo = tmp_path / "model.mat"
    os.mkfifo(fifo)
    result = run(rate2spike_command(command, str(fifo)), timeout=60)  # opening it would block for ever
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"{fifo}: {phrase}" in result.stderr, result.stderr


def test_a_folder_where_a_model_file_is_expected_says_what_to_give(tmp_path, capsys):
    folder = tmp_path / "models.mat"
    folder.mkdir()
    for command in ("simulate", "evaluate"):
        assert main([command, str(folder)]) == 2
        err = capsys.readouterr().err
        assert f"{folder}: is a directory, not a .mat file; give one model file" in err and err.count("\n") == 1


# --- limits: lambda, grids, training options, workers (issue #27) ----------------------------

MANY_CORES = str((os.cpu_count() or 1) + 1)


@pytest.mark.parametrize("argv,phrase", [
    (["sweep", "M", "--scaling-factors", "20:1e12:1"], "argument --scaling-factors: '20:1e12:1' holds "
                                                        "999,999,999,981 lambdas; a grid may hold at most 1000"),
    (["sweep", "M", "--scaling-factors", "20:2e7:1"], "holds 19,999,981 lambdas; a grid may hold at most 1000"),
    (["sweep", "M", "--scaling-factors", "1e-320,20"], "every scaling factor must be a positive number of at "
                                                       "least 0.001"),
    (["sweep", "M", "--scaling-factors", "20,inf"], "every scaling factor must be a positive number"),
    (["sweep", "M", "--workers", MANY_CORES], f"at most {os.cpu_count()} (each worker keeps a core busy); to use more "
                                              "machines, start a Dask cluster and pass --scheduler ADDRESS"),
    (["simulate", "M", "--lambda", "1e-320"], "argument --lambda: '1e-320' is not a positive number of at least 0.001"),
    (["evaluate", "M", "--lambda", "nan"], "argument --lambda: 'nan' is not a positive number"),
    (["train", "--N", "10000000"], "argument --N: '10000000': N must be a whole number from 1 to 5000"),
    (["train", "--N", "0"], "N must be a whole number from 1 to 5000, got 0"),
    (["train", "--taus", "nan", "20"], "argument --taus: 'nan': taus must be a finite number"),
    (["train", "--taus", "inf"], "argument --taus: 'inf': taus must be a finite number"),
    (["train", "--taus", "1e-300"], "taus must be at least 1 step of 5 ms (the rate network's Euler step is unstable"),
    (["train", "--gain", "nan"], "argument --gain: 'nan': gain must be a finite number"),
    (["train", "--gain", "0"], "gain must be above 0"),
    (["train", "--P-inh", "1.5"], "argument --P-inh: '1.5': P_inh must be from 0 to 1"),
    (["train", "--workers", MANY_CORES], f"on a machine with {os.cpu_count()} core(s)"),
])
def test_values_past_the_limits_are_refused_in_one_line_before_any_work(tmp_path, capsys, argv, phrase):
    model = go_nogo(tmp_path)
    before = file_digest(model)
    argv = [str(model) if arg == "M" else arg for arg in argv]
    if argv[0] == "train":
        argv += ["--task", "go-nogo", "--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and phrase in err and "Traceback" not in err, err
    assert file_digest(model) == before and not (tmp_path / "out").exists()


def test_reversed_taus_are_refused_before_a_cluster_starts(tmp_path, capsys):
    started = time.monotonic()
    assert main(["train", "--task", "go-nogo", "--taus", "20", "4", "--seeds", "0:2", "--workers", "1",
                 "--out", str(tmp_path)]) == 2
    assert "taus must be one value or (min, max) with min <= max, got (20.0, 4.0)" in capsys.readouterr().err
    assert time.monotonic() - started < 2 and not (tmp_path / "models").exists()


@pytest.mark.parametrize("options,phrase", [
    ({"taus": (float("nan"), 20)}, "taus must be a finite number"),
    ({"taus": (float("inf"),)}, "taus must be a finite number"),
    ({"taus": (1e-300,)}, "taus must be at least 1 step of 5 ms"),
    ({"gain": float("nan")}, "gain must be a finite number"),
    ({"P_inh": -0.1}, "P_inh must be from 0 to 1"),
    ({"N": 10_000_000}, "N must be a whole number from 1 to 5000"),
])
def test_train_model_refuses_options_whose_file_the_tool_could_not_load(tmp_path, options, phrase):
    """The Python API checks what the command line checks: no file the loader refuses is written."""
    from rate2spike.train import train_model

    with pytest.raises(ValueError, match=re.escape(phrase)):
        train_model("go-nogo", n_trials=100, out_dir=tmp_path, **{"N": 20, **options})
    assert not list(tmp_path.rglob("*"))


def test_every_way_a_lambda_enters_refuses_a_subnormal_one(tmp_path, capsys):
    """lambda = 1e-320 made W / lambda infinite and the output NaN; it is refused by the one check
    (rate2spike.limits.check_scaling_factor) wherever it enters."""
    from rate2spike import LIF_network_fnc, TrialSpec, evaluate_single_trial, run_sweep
    from rate2spike.limits import LAMBDA_RULE

    path = go_nogo(tmp_path)
    model = load_model(path)
    u = np.zeros((1, 201))
    for call in (lambda: TrialSpec(model, scaling_factor=1e-320), lambda: run_sweep(model, None, [20, 1e-320], 2),
                 lambda: LIF_network_fnc(model, 1e-320, u, {"mode": "none"}, seed=0),
                 lambda: evaluate_single_trial(model, 1e-320, seed=0)):
        with pytest.raises(ValueError, match=re.escape(f"must be a {LAMBDA_RULE}, got 1e-320")):
            call()
    with pytest.raises(ValueError, match="a grid may hold at most 1000"):  # refused before 10**12 values are made
        run_sweep(model, None, range(20, 10**12), 2)
    save_grid_search(path, [20, 30], [0.5, 0.6], 30)
    variables = scipy.io.loadmat(path)
    variables["opt_scaling_factor"] = 1e-320
    scipy.io.savemat(path, {k: v for k, v in variables.items() if not k.startswith("__")})
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "field 'opt_scaling_factor': the stored optimum must be a positive number of at least 0.001" in err


def test_a_local_cluster_larger_than_the_machine_is_refused_in_the_api_too():
    from rate2spike.cluster import dask_client

    with pytest.raises(ValueError, match=f"with {os.cpu_count()} core"):
        with dask_client(workers=int(MANY_CORES)):
            pass


# --- a scheduler address that is not a Dask scheduler (issue #27) ---------------------------

@contextmanager
def not_a_scheduler(kind: str):
    """A service on an ephemeral 127.0.0.1 port that is not Dask: a web server (what `python -m
    http.server` runs) or a silent listener (connections are accepted by the system, never answered)."""
    if kind == "http":
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle(self):
                try:
                    super().handle()
                except ConnectionError:  # the probe hangs up after reading the status line
                    pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"tcp://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
    else:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"


HTTP_PHRASE = "is a web server (it answers HTTP), not a Dask scheduler"
SILENT_PHRASE = f"accepted the connection but sent nothing within {CONNECT_TIMEOUT} s: not a Dask scheduler"


@pytest.mark.parametrize("command,kind,phrase", [
    ("sweep", "http", HTTP_PHRASE), ("train", "http", HTTP_PHRASE),
    ("sweep", "silent", SILENT_PHRASE),  # the same probe as train's (cluster.client_for): its 10 s wait once
])
def test_a_scheduler_address_that_is_not_dask_is_one_line_within_the_timeout(tmp_path, kind, phrase, command):
    """docs/errors.md: a scheduler that does not answer is reported within CONNECT_TIMEOUT (10 s); Dask's
    own connect waited for a handshake for ever (over 120 s at a web server). Both commands reach the
    scheduler through one probe, so the silent listener's full wait is taken once."""
    model = go_nogo(tmp_path)
    before = file_digest(model)
    argv = (["sweep", str(model), "--n-trials", "2", "--scaling-factors", "20"] if command == "sweep"
            else ["train", "--task", "go-nogo", "--N", "20", "--n-trials", "100", "--out", str(tmp_path / "out")])
    with not_a_scheduler(kind) as address:
        started = time.monotonic()
        result = run(rate2spike_command(*argv, "--scheduler", address), timeout=CONNECT_TIMEOUT + 50)
        elapsed = time.monotonic() - started
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"rate2spike: error: {address} ")
    assert phrase in result.stderr, result.stderr
    assert elapsed < CONNECT_TIMEOUT + 8  # the process's own start (imports) included
    assert file_digest(model) == before and not (tmp_path / "out").exists()


# --- what a file name can do to the CSV and the terminal (issue #27) ------------------------

HOSTILE_NAME = "x\n# optimum: 999\nscaling_factor,n_trials\n1,2\r# status: forged\u2028\x1b[2J\u202egpj.mat"


CSV_METADATA_KEYS = ["model", "task", "seed", "trials per lambda", "downsample", "initial weights", "stimulation",
                     "task options", "search", "precision", "verdict", "optimum", "recommended", "lambda band",
                     "closest output",
                     "trials scored", "status", "rate2spike", "date"]


def _csv_comments(text: str) -> list[str]:
    return [line[2:].split(":", 1)[0] for line in text.split("\n") if line.startswith("#")]


def test_a_hostile_model_name_cannot_forge_lines_of_the_csv(tmp_path, capsys):
    path = go_nogo(tmp_path, HOSTILE_NAME)
    target = tmp_path / "curve.csv"
    assert main(["sweep", str(path), "--n-trials", "2", "--scaling-factors", "20,30", "--no-extend",
                 "--csv", str(target)]) == NOT_CONVERTED
    text = target.read_text()
    keys = [key for key in _csv_comments(text) if key not in ("note", "warning")]
    assert keys == CSV_METADATA_KEYS
    assert "\r" not in text and "\u2028" not in text and "\x1b" not in text and "\u202e" not in text
    assert "# model: x\\n# optimum: 999\\nscaling_factor,n_trials\\n1,2\\r# status: forged\\u2028\\x1b[2J" in text
    table = [line for line in text.split("\n") if line and not line.startswith("#")]
    assert len(table) == 3 and table[0].startswith("scaling_factor,n_trials,")  # one header, one row per lambda
    rows = list(csv.DictReader(line for line in text.splitlines(keepends=True) if not line.startswith("#")))
    assert [float(row["scaling_factor"]) for row in rows] == [20.0, 30.0]
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(target, comment="#")  # docs/usage.md's one call
    assert frame["scaling_factor"].tolist() == [20.0, 30.0] and list(frame.columns) == list(rows[0])
    out = capsys.readouterr().out  # and the terminal: the sweep's lines show the name escaped
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[2J\\u202egpj.mat" in out


def test_the_csv_replaces_a_symlink_at_its_name_instead_of_writing_through_it(tmp_path):
    path = go_nogo(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    target = tmp_path / "curve.csv"
    target.symlink_to(victim)
    assert main(["sweep", str(path), "--n-trials", "2", "--scaling-factors", "20", "--csv", str(target)]) == NOT_CONVERTED
    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink() and target.read_text().startswith("# model: ")
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".curve.csv")]  # no temporary file left


def test_a_folder_given_as_the_csv_is_refused_before_the_search(tmp_path, capsys):
    folder = tmp_path / "curves"
    folder.mkdir()
    path = go_nogo(tmp_path)
    before = file_digest(path)
    assert main(["sweep", str(path), "--n-trials", "2", "--scaling-factors", "20", "--csv", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"{folder}: is a folder; name the CSV file to write" in err and err.count("\n") == 1
    assert file_digest(path) == before  # refused before the search, not after it
