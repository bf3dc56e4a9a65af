"""Populations of trained models (core.population, `rate2spike train --seeds`): file names that never
collide, the training record in each file, one task per seed on a Dask cluster, failures and cancels."""

import datetime
import json
import threading
import time

import numpy as np
import pytest
import scipy.io

import rate2spike.train as train_module
from rate2spike.cli import main, parse_seeds
from rate2spike.cluster import dask_client
from rate2spike.model import load_model, read_mat, save_grid_search
from rate2spike.population import train_population
from rate2spike.train import save_new_model, train_model

TINY = dict(N=20, n_trials=100, batch_size=1, min_trials=0)  # ~0.2 s a seed; batch 1: the same bits on any BLAS
TINY_CLI = ["--N", "20", "--n-trials", "100"]
FIXED = datetime.datetime(2026, 1, 2, 3, 4, 5, 678)


def model_files(folder):
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture
def same_second(monkeypatch):
    monkeypatch.setattr(train_module, "_now", lambda: FIXED)


# --- file names and the training record ----------------------------------------------------------


def test_two_seeds_in_the_same_second_get_two_files_recording_seed_and_options(tmp_path, same_second):
    first = train_model("go-nogo", seed=0, out_dir=tmp_path, **TINY)
    second = train_model("go-nogo", seed=1, out_dir=tmp_path, **TINY)
    assert first.path.parent == second.path.parent
    assert first.path.name == "Task_go-nogo_N_20_Taus_4.0_20.0_Act_sigmoid_seed_0_2026_01_02_030405.mat"
    assert second.path.name == "Task_go-nogo_N_20_Taus_4.0_20.0_Act_sigmoid_seed_1_2026_01_02_030405.mat"
    assert model_files(tmp_path) == sorted([first.path, second.path])  # no temporary file left
    for seed, result in ((0, first), (1, second)):
        data = scipy.io.loadmat(result.path)
        assert data["train_seed"].dtype == np.int64 and data["train_seed"].tolist() == [[seed]]
        options = json.loads(str(data["train_options"][0]))
        assert options == {
            "task": "go-nogo", "N": 20, "taus": [4.0, 20.0], "activation": "sigmoid", "P_inh": 0.2, "gain": 1.5,
            "n_trials": 100, "batch_size": 1, "max_eval_loss": 7.0, "min_eval_accuracy": 0.95, "min_trials": 0,
            "learning_rate": 0.01, "seed": seed, "rate2spike": options["rate2spike"], "numpy": np.__version__,
        }
        assert options["rate2spike"] != "unknown"
        np.testing.assert_array_equal(load_model(result.path).recurrent_weights(), result.network.recurrent_weights())


def test_the_same_seed_twice_in_one_second_takes_the_next_second(tmp_path, same_second):
    first = train_model("go-nogo", seed=4, out_dir=tmp_path, **TINY)
    second = train_model("go-nogo", seed=4, out_dir=tmp_path, **TINY)
    assert first.path.name.endswith("_seed_4_2026_01_02_030405.mat")
    assert second.path.name.endswith("_seed_4_2026_01_02_030406.mat")
    assert model_files(tmp_path) == [first.path, second.path]


@pytest.mark.parametrize("hard_links", [True, False])
def test_writers_racing_for_one_name_never_overwrite_each_other(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # a file system without them: claim with O_EXCL, then rename
        def no_link(*_):
            raise PermissionError("no hard links here")
        monkeypatch.setattr(train_module.os, "link", no_link)
    names = [tmp_path / "m" / f"model_{k}.mat" for k in range(12)]
    start, paths = threading.Barrier(8), {}

    def writer(who):
        start.wait()
        paths[who] = save_new_model(names, {"who": np.array([[who]]), "pad": np.full((200, 200), who / 7)})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(paths.values()) == names[:8]  # eight distinct names, the first eight
    for who, path in paths.items():
        assert int(scipy.io.loadmat(path)["who"][0, 0]) == who  # each file is its writer's, whole
    assert model_files(tmp_path) == names[:8]


def test_a_failed_or_interrupted_save_leaves_nothing(tmp_path, monkeypatch):
    def broken_savemat(fh, *_args, **_kw):
        fh.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(scipy.io, "savemat", broken_savemat)  # the one module every writer uses
    with pytest.raises(KeyboardInterrupt):
        train_model("go-nogo", seed=0, out_dir=tmp_path, **TINY)
    assert model_files(tmp_path) == []
    monkeypatch.undo()

    def no_link(*_):
        raise OSError("no hard links here")

    def interrupted_rename(*_):
        raise KeyboardInterrupt  # after the name was claimed (O_EXCL), before the file took it

    monkeypatch.setattr(train_module.os, "link", no_link)
    monkeypatch.setattr(train_module.os, "replace", interrupted_rename)
    with pytest.raises(KeyboardInterrupt):
        save_new_model([tmp_path / "a.mat"], {"x": np.ones(3)})
    assert model_files(tmp_path) == []  # neither the empty claim nor the temporary file


def test_a_grid_search_keeps_the_training_record(tmp_path):
    path = train_model("go-nogo", seed=7, out_dir=tmp_path, **TINY).path
    before = read_mat(path, ["train_seed", "train_options"])
    save_grid_search(path, [20, 25, 30], [0.6, 0.9, 0.7], 25)
    after = read_mat(path)
    assert after["train_seed"].dtype == np.int64 and after["train_seed"].tolist() == [[7]]
    assert str(after["train_options"][0]) == str(before["train_options"][0])
    assert json.loads(str(after["train_options"][0]))["seed"] == 7
    assert load_model(path).opt_scaling_factor == 25


def test_seeds_are_checked_before_training(tmp_path):
    for seed in (-1, 2**63, 1.5, True):
        with pytest.raises(ValueError, match="seed must be a whole number"):
            train_model("go-nogo", seed=seed, out_dir=tmp_path, **TINY)
    assert not tmp_path.joinpath("models").exists()


def test_an_output_folder_that_cannot_be_written_is_refused_before_training(tmp_path):
    blocked = tmp_path / "a_file"
    blocked.write_text("in the way")
    started = time.perf_counter()
    population = train_population("go-nogo", [0, 1], out_dir=blocked, **{**TINY, "n_trials": 10**6})
    assert time.perf_counter() - started < 1
    assert set(population.failures) == {0, 1} and "nothing was trained" in population.failures[0]


# --- populations -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def here(tmp_path_factory):
    """Seeds 0 and 1 trained in this process, with seed -1 failing between them."""
    reports = []
    population = train_population("go-nogo", [0, -1, 1], out_dir=tmp_path_factory.mktemp("here"),
                                  progress=reports.append, **TINY)
    return population, reports


def test_a_failing_seed_is_reported_and_the_others_finish(here):
    population, reports = here
    assert set(population.results) == {0, 1} and not population.cancelled
    assert population.failures == {-1: "ValueError: seed must be a whole number from 0 to 2**63 - 1, got -1"}
    assert [r.done for r in reports] == [1, 2, 3] and {r.total for r in reports} == {3}
    assert [o.seed for o in population.outcomes] == [0, -1, 1] and population.unfinished == ()
    for seed, result in population.results.items():
        assert result.path.is_absolute() and f"_seed_{seed}_" in result.path.name and result.trials == 100
        assert int(scipy.io.loadmat(result.path)["train_seed"][0, 0]) == seed


def test_seeds_may_appear_once(tmp_path):
    with pytest.raises(ValueError, match="once"):
        train_population("go-nogo", [1, 1], out_dir=tmp_path, **TINY)


def test_cancel_stops_the_population_here(tmp_path):
    stop = threading.Event()
    population = train_population("go-nogo", [0, 1, 2], out_dir=tmp_path, progress=lambda _: stop.set(),
                                  cancel=stop, **TINY)
    assert population.cancelled and list(population.results) == [0] and population.unfinished == (1, 2)
    assert len(model_files(tmp_path)) == 1


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, say=lambda _: None) as dask:
        yield dask


def test_a_cluster_trains_the_same_weights_and_reports_the_failing_seed(here, client, tmp_path):
    population, _ = here
    reports = []
    there = train_population("go-nogo", [0, -1, 1], client=client, out_dir=tmp_path, progress=reports.append, **TINY)
    assert there.failures == population.failures and sorted(r.done for r in reports) == [1, 2, 3]
    assert set(there.results) == {0, 1}
    for seed in (0, 1):
        local, remote = population.results[seed], there.results[seed]
        assert remote.path.parent == tmp_path / "models" / "go-nogo" / "P_rec_0.2_Taus_4.0_20.0"
        for name in ("w", "w_out", "b_out", "taus_gaus"):
            np.testing.assert_array_equal(getattr(remote.network, name), getattr(local.network, name))
        np.testing.assert_array_equal(scipy.io.loadmat(remote.path)["w"], scipy.io.loadmat(local.path)["w"])
        assert remote.eval_loss == local.eval_loss


def test_cancel_stops_the_seeds_on_the_cluster_without_saving(client, tmp_path):
    started = time.monotonic()
    population = train_population("go-nogo", [10, 11, 12], client=client, out_dir=tmp_path,
                                  cancel=lambda: time.monotonic() - started > 1.0,
                                  **{**TINY, "n_trials": 10**6, "min_trials": 10**6})
    assert population.cancelled and population.results == {} and population.failures == {}
    assert population.unfinished == (10, 11, 12) and all(o.cancelled for o in population.outcomes)
    assert time.monotonic() - started < 8
    assert not tmp_path.joinpath("models").exists()


# --- the command line ------------------------------------------------------------------------------


def test_parse_seeds():
    assert parse_seeds("0:3") == [0, 1, 2] and parse_seeds("5:6") == [5]
    assert parse_seeds("2,7, 4") == [2, 7, 4] and parse_seeds("3") == [3]
    for bad in ("3:3", "3:1", "-1:2", "1,1", "a:b", "", "1:2:3"):
        with pytest.raises(Exception, match="START:STOP"):
            parse_seeds(bad)


def test_train_seeds_command(tmp_path, capsys):
    assert main(["train", "--task", "go-nogo", "--seeds", "0:2", *TINY_CLI, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 seed(s) (0-1)" in out and "2 seed(s) in" in out and "0 failed" in out
    assert out.count("seed 0: ") == 1 and out.count("seed 1: ") == 1
    names = [p.name for p in model_files(tmp_path)]
    assert len(names) == 2 and "_seed_0_" in names[0] and "_seed_1_" in names[1]


def test_train_seeds_command_on_local_workers(tmp_path, capsys):
    argv = ["train", "--task", "go-nogo", "--seeds", "3,5", *TINY_CLI, "--out", str(tmp_path), "--workers", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Dask: 2 worker(s)" in out and "2 seed(s) (3,5)" in out and "0 failed" in out
    assert sorted(int(scipy.io.loadmat(p)["train_seed"][0, 0]) for p in model_files(tmp_path)) == [3, 5]


def test_train_seeds_command_exits_2_after_the_others_finish(tmp_path, capsys, monkeypatch):
    import rate2spike.population as population_module

    def flaky(task, seed, **kw):
        if seed == 1:
            raise RuntimeError("the GPU caught fire")
        return train_model(task, seed=seed, **kw)

    monkeypatch.setattr(population_module, "train_model", flaky)
    code = main(["train", "--task", "go-nogo", "--seeds", "0,1,2", *TINY_CLI, "--out", str(tmp_path)])
    captured = capsys.readouterr()
    assert code == 2
    assert "seed 1: FAILED: RuntimeError: the GPU caught fire" in captured.out
    assert "1 of 3 seed(s) failed (1;" in captured.err
    assert len(model_files(tmp_path)) == 2


def test_train_seeds_command_ctrl_c(tmp_path, capsys, monkeypatch):
    import rate2spike.population as population_module

    def interrupted(task, seed, **kw):
        if seed == 1:
            raise KeyboardInterrupt
        return train_model(task, seed=seed, **kw)

    monkeypatch.setattr(population_module, "train_model", interrupted)
    assert main(["train", "--task", "go-nogo", "--seeds", "0:3", *TINY_CLI, "--out", str(tmp_path)]) == 130
    assert "interrupted; 1 model(s) saved" in capsys.readouterr().err
    assert len(model_files(tmp_path)) == 1


def test_train_command_usage_errors(capsys):
    for argv in (["--seeds", "0:2", "--seed", "1"], ["--seeds", "2:0"], ["--seeds", "0:2", "--workers", "0"],
                 ["--seeds", "0:2", "--workers", "2", "--scheduler", "tcp://localhost:1"]):
        with pytest.raises(SystemExit) as stopped:
            main(["train", "--task", "go-nogo", *argv])
        assert stopped.value.code == 2
    capsys.readouterr()
