"""Searching on a Dask cluster: the same numbers as threads, a resume after a killed driver, a lost
worker's blocks retried, journals that do not match ignored, a busy folder refused, an
unreachable scheduler reported in time (issue #10; docs/scaling.md)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import file_digest, write_model
from faults import rate2spike_command
from rate2spike import cluster
from rate2spike.cli import main
from rate2spike.engine import THREAD_BLOCK_TRIALS
from rate2spike.journal import FolderBusy, FolderLock, journal_path
from rate2spike.model import load_model
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.spikernn import lambda_grid_search
from rate2spike.sweep import run_sweep

distributed = pytest.importorskip("distributed")  # a declared dependency: this never skips in CI

SEARCH = dict(n_trials=20, scaling_factors=[15, 20, 30], force=True, verbose=False, extend=True, race=True)


@pytest.fixture(scope="module")
def client():
    """A local cluster of two single-threaded worker processes, as `--workers 2` starts."""
    with cluster.dask_client(workers=2, say=lambda line: None) as client:
        yield client


def folder_of_models(root: Path, broken: bool = False) -> Path:
    """The shipped go-nogo model and a small synthetic one (and a broken file) in one folder."""
    root.mkdir(parents=True)
    shutil.copy(find_model_files(shipped_model_dir("go-nogo"))[0], root / "a_go-nogo.mat")
    write_model(root / "b_small.mat", N=40, seed=3)
    if broken:
        (root / "c_broken.mat").write_bytes(b"not a mat file")
    return root


def stored(path: Path) -> dict:
    model = load_model(path)
    return {"opt": model.opt_scaling_factor, "factors": model.scaling_factors.tolist(),
            "perfs": model.all_perfs.tolist(), "band": model.scaling_factor_band.tolist()}


def same_results(a, b) -> None:
    assert a.scaling_factors.tolist() == b.scaling_factors.tolist()
    assert a.n_done.tolist() == b.n_done.tolist() and a.n_correct.tolist() == b.n_correct.tolist()
    assert a.optimum == b.optimum and a.band.tolist() == b.band.tolist()
    np.testing.assert_array_equal(a.spike_totals, b.spike_totals)
    np.testing.assert_array_equal(a.output_mse, b.output_mse)


def test_threads_one_worker_and_two_workers_store_identical_results(tmp_path, client):
    threaded = lambda_grid_search(folder_of_models(tmp_path / "threads"), **SEARCH)
    with cluster.dask_client(workers=1, say=lambda line: None) as one_worker:
        one = lambda_grid_search(folder_of_models(tmp_path / "one"), client=one_worker, **SEARCH)
    two = lambda_grid_search(folder_of_models(tmp_path / "two", broken=True), client=client, **SEARCH)
    assert [p.name for p in two.failures] == ["c_broken.mat"]  # reported and skipped; the others finish
    for name in ("a_go-nogo.mat", "b_small.mat"):
        reference = threaded[tmp_path / "threads" / name]
        same_results(one[tmp_path / "one" / name], reference)
        same_results(two[tmp_path / "two" / name], reference)
        assert stored(tmp_path / "two" / name) == stored(tmp_path / "threads" / name)
        assert not journal_path(tmp_path / "two" / name).exists()  # removed once the results are saved


def test_a_killed_driver_continues_from_the_journal_to_the_same_results(tmp_path):
    folder = folder_of_models(tmp_path / "killed")
    reference = lambda_grid_search(folder_of_models(tmp_path / "whole"), **SEARCH)
    before = {p.name: file_digest(p) for p in folder.glob("*.mat")}
    command = rate2spike_command("sweep", str(folder), "--workers", "2", "--n-trials", "20",
                                 "--scaling-factors", "15,20,30", "--force", "--race", "--save-failed")
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    journal = journal_path(folder / "a_go-nogo.mat")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 3):
        time.sleep(0.1)
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    assert len(journal.read_text().splitlines()) >= 3, "the driver was killed before it journaled a block"
    for path in folder.glob("*.mat"):  # nothing half-saved: each file untouched, or whole with its results
        assert file_digest(path) == before[path.name] or load_model(path).search_verdict is not None
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    failed = any(result.verdict().failed for result in reference.values())  # untrained models on 20 trials
    assert again.returncode == (3 if failed else 0), again.stderr
    assert "a_go-nogo.mat: resuming from a_go-nogo.mat.journal" in again.stdout
    for name in ("a_go-nogo.mat", "b_small.mat"):
        assert stored(folder / name) == stored(tmp_path / "whole" / name)
        assert not journal_path(folder / name).exists()
    assert reference  # the uninterrupted run searched both


def test_a_lost_worker_has_its_blocks_retried_with_the_same_results(tmp_path, client):
    model = load_model(find_model_files(shipped_model_dir("go-nogo"))[0])
    reference = run_sweep(model, None, [15, 20, 25, 30], 20)
    pids = client.run(os.getpid)
    killed = threading.Event()

    def kill_one_worker(progress):
        if not killed.is_set():
            killed.set()
            os.kill(next(iter(pids.values())), signal.SIGKILL)

    result = run_sweep(model, None, [15, 20, 25, 30], 20, client=client, progress=kill_one_worker)
    assert killed.is_set()
    same_results(result, reference)
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the tests after this one


def test_a_journal_of_another_search_is_ignored_and_a_torn_line_dropped(tmp_path, capsys):
    folder = tmp_path / "models"
    path = write_model(folder / "m.mat", N=40)
    lambda_grid_search(folder, None, 20, [20, 30], force=True, verbose=False)  # uninterrupted, for reference
    reference = stored(path)
    journal = journal_path(path)

    def after_blocks(n):  # cancel once the journal holds n blocks (a kill would leave the same)
        return lambda: journal.exists() and len(journal.read_text().splitlines()) > n

    lambda_grid_search(folder, None, 20, [20, 30], force=True, verbose=False, cancel=after_blocks(2))
    head_and_blocks = journal.read_text().splitlines()[:3]
    journal.write_text("\n".join(head_and_blocks) + '\n{"scores": [[20.0, 3')  # a line cut by a kill
    lambda_grid_search(folder, None, 20, [20, 30], force=True)
    out = capsys.readouterr().out
    two_blocks = 2 * THREAD_BLOCK_TRIALS
    assert f"m.mat: resuming from m.mat.journal ({two_blocks} trials already scored)" in out and stored(path) == reference
    # a journal written for another number of trials is named as such and not used
    lambda_grid_search(folder, None, 20, [20, 30], force=True, verbose=False, cancel=after_blocks(1))
    lambda_grid_search(folder, None, 6, [20, 30], force=True)
    out = capsys.readouterr().out
    assert "m.mat.journal: written for another search (other n trials); ignored, starting afresh" in out
    assert load_model(path).all_perfs.size == 2 and not journal.exists()


def test_a_second_driver_on_a_busy_folder_is_refused_and_changes_nothing(tmp_path, capsys):
    path = write_model(tmp_path / "m.mat", N=40)
    before = file_digest(path)
    with FolderLock(tmp_path):
        with pytest.raises(FolderBusy, match=f"{tmp_path} is busy: another rate2spike sweep"):
            lambda_grid_search(tmp_path, None, 2, [20], force=True, verbose=False)
        assert main(["sweep", str(tmp_path), "--n-trials", "2", "--force"]) == 2
    assert "is busy" in capsys.readouterr().err and file_digest(path) == before
    # free again: searched (exit 3: no lambda converts an untrained model on 2 trials)
    assert main(["sweep", str(tmp_path), "--n-trials", "2", "--scaling-factors", "20", "--force"]) == 3


def test_an_unreachable_scheduler_is_one_clear_line_within_the_timeout(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)  # the command line waits 10 s; the test need not
    path = write_model(tmp_path / "m.mat", N=40)
    started = time.monotonic()
    assert main(["sweep", str(path), "--scheduler", "tcp://127.0.0.1:1", "--n-trials", "2"]) == 2
    assert time.monotonic() - started < 8
    err = capsys.readouterr().err
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1 within 2 s" in err and len(err.splitlines()) == 1
