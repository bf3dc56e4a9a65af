"""The dashboard's session state without a server: models, uploads, trials, sweeps."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import file_digest, model_path, model_variables, synthetic_assets, write_model
from rate2spike.explorer.catalog import MAX_UPLOAD_BYTES, ModelCatalog, UploadError, models_dir_from, safe_upload_name
from rate2spike.explorer.frames import performance_frame
from rate2spike.explorer.session import ExplorerSession as ExplorerState
from rate2spike.export import trial_bytes, trial_file_name
from rate2spike.model import load_model, save_grid_search
from rate2spike.network import Stimulation, parse_units
from rate2spike.search import SearchOptions
from rate2spike.trial import DEFAULT_SCALING_FACTOR as DEFAULT_LAMBDA, TrialSpec, run_trial


@pytest.fixture
def state(assets):
    session = ExplorerState()
    yield session
    session.close()


def mat_bytes(**kwargs) -> bytes:
    import io

    import scipy.io
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, model_variables(**kwargs))
    return buffer.getvalue()


def wait_for_sweep(state: ExplorerState, timeout: float = 60.0) -> list:
    """Poll like the page does; returns the snapshots seen."""
    seen = []
    deadline = time.monotonic() + timeout
    while state.poll_sweep():
        if state.sweep is not None and (not seen or seen[-1] is not state.sweep):
            seen.append(state.sweep)
        assert time.monotonic() < deadline, "sweep did not finish in time"
        time.sleep(0.02)
    seen.append(state.sweep)
    return seen


def test_opens_a_go_nogo_model_by_default_and_simulates(state):
    assert state.model_label.startswith("go-nogo/")
    assert state.task_name == "go-nogo" and state.param.task_name.objects == ["go-nogo"]
    assert state.scaling_factor == DEFAULT_LAMBDA  # no stored optimum in the file
    assert state.trial is not None and state.trial.recording.out.shape == (20000,)
    assert state.trial.rate_response is not None and state.trial.rate_response.o.shape == (201,)
    assert state.voltage_units == [int(np.flatnonzero(state.model.exc)[0]), int(np.flatnonzero(~state.model.exc)[0])]
    assert state.error == ""


def test_changing_lambda_changes_the_trial(state):
    before = state.trial
    state.scaling_factor = 25.0
    after = state.trial
    assert after is not before
    assert after.spec.scaling_factor == 25.0 and after.recording.network.scaling_factor == 25.0
    assert after.spec == before.spec.replace(scaling_factor=25.0)  # nothing else changed
    assert not np.array_equal(after.recording.out, before.recording.out)
    assert after.rate_response is before.rate_response  # the rate model does not depend on lambda: reused
    state.scaling_factor = before.spec.scaling_factor
    assert np.array_equal(state.trial.recording.out, before.recording.out)  # same spec, same trial


def test_random_condition_is_trial_zero_of_a_sweep_with_the_same_seed(state):
    state.seed = 7
    expected = run_trial(TrialSpec(state.model, scaling_factor=state.scaling_factor, seed=7, index=0))
    assert state.trial.stimulus.condition == expected.stimulus.condition
    np.testing.assert_array_equal(state.trial.recording.out, expected.recording.out)


def test_condition_choice_sets_the_stimulus(state):
    state.choose_level("trial", "Go")
    assert state.trial.stimulus.condition.name == "Go" and state.trial.stimulus.u[0, 50:75].min() == 1
    state.choose_level("trial", "NoGo")
    assert state.trial.stimulus.condition.label == 0 and not state.trial.stimulus.u.any()
    assert state.trial.spec.condition == (("trial", "NoGo"),)


def test_xor_and_mante_conditions(state, assets):
    state.model_label = next(label for label in state.catalog.labels if label.startswith("xor/"))
    assert state.task_name == "xor" and state.param.task_name.objects == ["xor"]
    assert [f.name for f in state.task.factors] == ["input1", "input2"] and state.condition == {}
    state.condition = {"input1": "-", "input2": "+"}
    assert state.trial.stimulus.condition.name == "-+" and state.trial.stimulus.condition.label == -1

    state.model_label = next(label for label in state.catalog.labels if label.startswith("mante/"))
    assert state.task_name == "mante" and state.trial.recording.out.shape == (50000,)
    assert state.condition == {} and state.task_options == {"evidence_strength": 0.5}  # reset for the new task
    state.param.update(condition={"context": "2", "input1": "+", "input2": "-"}, task_options={"evidence_strength": 1.5})
    cond = state.trial.stimulus.condition
    assert cond.levels == ("2", "+", "-") and cond.label == -1  # context 2 attends input 2
    assert state.trial.stimulus.u[1, 50:250].mean() < -0.9  # strength 1.5 -> mean about -1.5
    state.condition = {}
    expected = TrialSpec(state.model, seed=state.seed, task_options=(("evidence_strength", 1.5),)).stimulus()
    assert np.array_equal(state.trial.stimulus.u, expected.u)


def test_stored_optimum_sets_lambda(tmp_path, monkeypatch):
    root = synthetic_assets(tmp_path / "assets", N=40)
    path = model_path(root, "go-nogo", 40)
    save_grid_search(path, [20, 30, 40], [0.5, 0.9, 0.7], 30)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    session = ExplorerState()
    assert session.scaling_factor == 30.0 and session.trial.spec.scaling_factor == 30.0


def test_bad_upload_shows_the_core_error_and_keeps_the_previous_model(state):
    label, model, trial = state.model_label, state.model, state.trial
    assert not state.upload("broken.mat", b"this is not a MAT file at all" * 10)
    assert "Upload rejected; the previous model stays." in state.error
    assert "broken.mat: is not a readable MAT file" in state.error  # the core's message, with the upload's name
    assert str(state.catalog.upload_dir) not in state.error  # no server path shown
    assert state.model_label == label and state.model is model and state.trial is trial
    assert not any(lab.startswith("upload:") for lab in state.catalog.labels)
    assert not list(state.catalog.upload_dir.iterdir())  # the rejected file is deleted
    state.scaling_factor = 33.0  # the previous model is still usable
    assert state.trial.spec.scaling_factor == 33.0 and state.error == ""


def test_upload_missing_field_names_the_field(state):
    data = mat_bytes(N=30)
    import io

    import scipy.io
    variables = scipy.io.loadmat(io.BytesIO(data))
    del variables["w_in"]
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {k: v for k, v in variables.items() if not k.startswith("__")})
    label = state.model_label
    assert not state.upload("no_inputs.mat", buffer.getvalue())
    assert "field 'w_in': is missing" in state.error and state.model_label == label


def test_good_upload_becomes_the_model_and_is_private(state):
    assert state.upload("../../evil dir/Task_go-nogo_N_30_mine.mat", mat_bytes(N=30, seed=3))
    assert state.model.N == 30 and state.model_label == "upload: Task_go-nogo_N_30_mine.mat"
    path = state.model.path
    assert path.parent == state.catalog.upload_dir and path.name == "Task_go-nogo_N_30_mine.mat"
    assert state.trial.recording.network.N == 30
    state.close()
    assert not path.exists()


def test_upload_limits(state):
    with pytest.raises(UploadError, match="not a .mat file"):
        safe_upload_name("model.txt")
    assert not state.upload("huge.mat", b"\0" * (MAX_UPLOAD_BYTES + 1))
    assert "limited to" in state.error


def test_only_catalogued_models_can_be_chosen(state, tmp_path):
    outside = write_model(tmp_path / "elsewhere" / "Task_go-nogo_N_20_x.mat", N=20)
    label = state.model_label
    state.model_label = str(outside)  # what a tampered page can send
    assert f"Could not open {outside}" in state.error and "is not one of the models this page can open" in state.error
    assert state.model_label == label and state.model.N == 40  # the page shows the real current model
    with pytest.raises(KeyError):
        state.catalog.path(str(outside))


def test_models_folder_and_broken_file_in_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(tmp_path / "no-assets"))
    folder = tmp_path / "mine"
    write_model(folder / "good" / "Task_go-nogo_N_20_a.mat", N=20)
    (folder / "broken.mat").write_bytes(b"garbage" * 40)
    session = ExplorerState(models_dir=folder)
    assert session.catalog.labels == ["mine/broken.mat", "mine/good/Task_go-nogo_N_20_a.mat"]
    assert session.model.N == 20  # the go-nogo file is preferred over the first one
    session.model_label = "mine/broken.mat"
    assert "Could not open mine/broken.mat; the previous model stays." in session.error
    assert "is not a readable MAT file" in session.error
    assert session.model_label == "mine/good/Task_go-nogo_N_20_a.mat" and session.model.N == 20


def test_models_dir_from_args_and_environment(tmp_path):
    assert models_dir_from(["--models", str(tmp_path)], {}) == tmp_path
    assert models_dir_from([f"--models={tmp_path}"], {}) == tmp_path
    assert models_dir_from([], {"RATE2SPIKE_MODELS": str(tmp_path)}) == tmp_path
    assert models_dir_from([], {}) is None
    catalog = ModelCatalog(tmp_path / "missing")
    assert catalog.problems and "no such directory" in catalog.problems[0]


def test_no_models_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(tmp_path / "empty"))
    session = ExplorerState()
    assert session.model is None and session.trial is None and session.model_label is None
    assert not session.start_sweep(20, 30, 5, 2)
    assert "Open a model" in session.error


def test_stimulation_silences_and_bad_units_keep_the_trial(state):
    state.param.update(stim_mode="inh", stim_units="all", stim_window=(0.2, 0.8))
    stim = state.trial.spec.stimulation
    assert stim.mode == "inh" and len(stim.units) == state.model.N
    assert (stim.first, stim.stop) == (4001, 16001)  # steps 4001..16000 end between 0.2 and 0.8 s
    trial = state.trial
    state.stim_units = "3, 999"
    assert "unit 999 does not exist" in state.error and state.trial is trial
    state.stim_units = "0-4"
    assert state.error == "" and state.trial.recording.stimulation.units == (0, 1, 2, 3, 4)


def test_stimulation_says_who_is_pushed_which_way_and_when(state):
    exc = state.model.exc
    last_inh = int(np.flatnonzero(~exc)[-1])  # not among 0-4
    state.param.update(stim_mode="exc", stim_units=f"0-4, {last_inh}", stim_window=(0.2, 0.8))
    n_exc = int(exc[[0, 1, 2, 3, 4, last_inh]].sum())
    assert state.stimulation_status == (f"Stimulation on: 6 units ({n_exc} E, {6 - n_exc} I) pushed up, 0.2–0.8 s, in "
                                        f"this {state.trial.stimulus.condition.name} trial at λ = {state.scaling_factor:g}")
    state.stim_units = "inh"
    assert state.stimulation_status.startswith(f"Stimulation on: all {int((~exc).sum())} inhibitory units pushed up")
    state.stop_stimulation()
    assert state.stimulation_status == "" and state.stim_units == "inh"  # off; the units are kept for next time


def test_a_link_restores_present_mode(state):
    assert "present" not in state.link_query()
    state.present = True
    query = state.link_query()
    assert query["present"] == "1"
    other = ExplorerState()
    try:
        assert other.apply_query({key: [value.encode()] for key, value in query.items()}) == []
        assert other.present and other.scaling_factor == state.scaling_factor
        other.apply_query({"model": [query["model"].encode()]})
        assert not other.present  # a link without it opens the full page
    finally:
        other.close()


def test_parse_units():
    exc = np.array([True, False, True, True, False])
    assert parse_units("0, 2 - 3;1", exc) == (0, 2, 3, 1)
    assert parse_units("inh", exc) == (1, 4) and parse_units("E", exc) == (0, 2, 3)
    assert parse_units("", exc) == ()
    with pytest.raises(ValueError, match="cannot read 'x'"):
        parse_units("1, x", exc)
    with pytest.raises(ValueError, match="needs units"):
        Stimulation.over_window("exc", (), (0.1, 0.2), 5e-5)
    assert Stimulation.over_window("exc", (1,), (0.1, 0.2), 1e-4).first == 1001  # dt = 0.1 ms


def test_sweep_reports_progress_and_finishes(state):
    assert state.start_sweep(20, 40, 10, 4, n_threads=1)
    assert state.sweep_running and "starting" in state.sweep_status
    snapshots = wait_for_sweep(state)
    final = snapshots[-1]
    assert final.finished and not final.cancelled and final.done == final.total == 12
    assert [s.done for s in snapshots] == sorted(s.done for s in snapshots)
    assert list(final.scaling_factors) == [20.0, 30.0, 40.0] and (final.n_done == 4).all()
    assert np.isfinite(final.accuracy).all() and (final.low <= final.accuracy).all()
    assert set(final.group_accuracy) == {"Go", "NoGo"}
    assert "Sweep finished: 12 / 12 trials" in state.sweep_status
    assert not state.sweep_running and state.sweep_result is not None
    table = [line for line in state.sweep_csv().splitlines() if not line.startswith("#")]
    assert table[0].startswith("scaling_factor,n_trials,n_correct,accuracy") and len(table) == 4
    # the sweep's trial 0 is the dashboard's trial with the same seed and lambda
    state.scaling_factor = 30.0
    assert state.trial.outcome.correct == state.sweep_result.outcomes[1][0].correct


def test_a_raced_and_extended_sweep_reports_its_band_verdict_and_closest_output(state):
    """The dashboard's search options reach the sweep, and the finished snapshot carries what the
    page draws (band, dropped lambdas, output correlation, verdict). An untrained model on 6 trials:
    every lambda ties, so nothing is added at the edges, and the verdict says no λ converts it."""
    assert state.start_sweep(20, 30, 10, 6, n_threads=1, options=SearchOptions(race=True, extend=True))
    assert "race" in state.sweep_status and "edge extension" in state.sweep_status
    final = wait_for_sweep(state)[-1]
    assert final.finished and final.scaling_factors.tolist() == [20.0, 30.0]  # a flat curve is not extended
    assert final.optimum[0] in final.band and final.best_match is not None
    assert final.output_correlation.shape == final.scaling_factors.shape and final.dropped.dtype == bool
    assert final.verdict.failed and final.recommended is None
    assert state.sweep_status.startswith("Sweep finished") and "No λ converts this model" in state.sweep_status
    assert state.conclusion.startswith("No λ converts this model") and state.conclusion_kind == "failed"
    frame = performance_frame(final, state.model, state.scaling_factor)
    assert list(frame.sources["lambda_band"]["scaling_factor"]) == list(final.band)
    assert frame.sources["match"]["scaling_factor"].tolist() == [final.best_match[0]]


def test_sweep_can_be_cancelled(state):
    assert state.start_sweep(10, 100, 2, 50, n_threads=1)  # 46 x 50 trials: minutes if not cancelled
    deadline = time.monotonic() + 30
    while state.poll_sweep() and (state.sweep is None or state.sweep.done < 3):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    state.cancel_sweep()
    final = wait_for_sweep(state, timeout=30)[-1]
    assert final.cancelled and final.finished and 3 <= final.done < final.total
    assert state.sweep_status.startswith("Sweep cancelled after")
    assert state.sweep_result.cancelled and not state.can_save_sweep()


def test_a_bad_grid_is_refused(state):
    assert not state.start_sweep(40, 20, 5, 10)
    assert "runs backwards" in state.error and not state.sweep_running
    assert not state.start_sweep(20, 40, 0, 10)
    assert "step 0: needs a STEP above 0" in state.error  # the package's one grid rule (rate2spike.limits)


@pytest.fixture
def writable(tmp_path, monkeypatch):
    """A session on a --models DIR folder started with --allow-save (no shipped models)."""
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(tmp_path / "no-assets"))
    write_model(tmp_path / "mine" / "Task_go-nogo_N_30_a.mat", N=30)
    session = ExplorerState(models_dir=tmp_path / "mine", allow_save=True)
    yield session
    session.close()


def test_sweep_saved_into_the_model_file(writable):
    state = writable
    path = state.model.path
    before = load_model(path)
    assert state.may_write_model_file() and not state.can_save_sweep()
    assert state.start_sweep(20, 30, 10, 3, n_threads=1)
    wait_for_sweep(state)
    assert state.can_save_sweep()
    message = state.save_sweep()
    assert path.name in message
    saved = load_model(path)
    # untrained, 3 trials: a failed conversion stores its verdict and curve, not its first maximum
    assert saved.opt_scaling_factor is None and saved.search_verdict == state.sweep_result.verdict().line()
    assert list(saved.scaling_factors) == [20.0, 30.0]
    assert np.array_equal(saved.all_perfs, state.sweep_result.accuracy)
    assert np.array_equal(saved.w, before.w) and np.array_equal(saved.w_in, before.w_in)
    assert state.model.search_verdict == saved.search_verdict  # reloaded for the page


def test_a_model_file_replaced_after_it_was_opened_gets_no_sweep_and_is_not_downloaded(writable, tmp_path):
    """The page's sweep is of the bytes it opened: a file put in its place since (another model, same
    name) is refused by name, on Save (--allow-save) and on download, and keeps its own bytes."""
    state = writable
    path = state.model.path
    assert state.start_sweep(20, 30, 10, 3, n_threads=1)
    wait_for_sweep(state)
    assert state.can_save_sweep()
    replacement = write_model(tmp_path / "elsewhere" / path.name, N=30, seed=9).read_bytes()
    path.write_bytes(replacement)
    for action in (state.save_sweep, state.model_file_bytes):
        label = state.current_label()
        with pytest.raises(ValueError, match=f"{label} changed on disk after it was read .*nothing was written"):
            action()
        assert "changed on disk" in state.error and str(path.parent) not in state.error  # no server path shown
    assert path.read_bytes() == replacement and load_model(path).opt_scaling_factor is None
    state.sweep_result = None  # no sweep: the download is the file as opened, or nothing
    with pytest.raises(ValueError, match="changed on disk after it was read"):
        state.model_file_bytes()


def test_shipped_models_and_uploads_are_never_written_but_download_with_results(state, tmp_path):
    import scipy.io

    for kind in ("shipped", "upload"):
        if kind == "upload":
            assert state.upload("Task_go-nogo_N_30_mine.mat", mat_bytes(N=30, seed=2))
        path = state.model.path
        before = file_digest(path)
        assert not state.may_write_model_file()
        assert state.model_file_bytes() == path.read_bytes()  # no sweep yet: the file as it is
        assert state.start_sweep(20, 30, 10, 3, n_threads=1)
        wait_for_sweep(state)
        assert not state.can_save_sweep()
        with pytest.raises(ValueError, match="does not write model files"):
            state.save_sweep()
        assert file_digest(path) == before
        downloaded = tmp_path / f"{kind}.mat"
        downloaded.write_bytes(state.model_file_bytes())
        again = load_model(downloaded)  # the file a researcher takes home loads, with its results
        assert again.search_verdict == state.sweep_result.verdict().line()
        assert again.opt_scaling_factor is None  # untrained, 3 trials: no λ converts it
        assert list(again.scaling_factors) == [20.0, 30.0]
        np.testing.assert_array_equal(again.all_perfs, state.sweep_result.accuracy)
        original, new = scipy.io.loadmat(path), scipy.io.loadmat(downloaded)
        for name in (k for k in original if not k.startswith("__")):
            np.testing.assert_array_equal(new[name], original[name])


def test_a_folder_without_allow_save_is_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(tmp_path / "no-assets"))
    write_model(tmp_path / "mine" / "Task_go-nogo_N_30_a.mat", N=30)
    session = ExplorerState(models_dir=tmp_path / "mine")
    try:
        assert session.model is not None and not session.may_write_model_file()
    finally:
        session.close()


def test_trial_export_is_the_trial_on_screen_with_its_settings(state):
    import io

    import scipy.io
    state.param.update(seed=3, scaling_factor=42.0)
    trial = state.trial.with_everything_recorded()
    data = np.load(io.BytesIO(trial_bytes(trial, "npz")))
    assert data["out"].shape == (20000,) and data["u"].shape == (1, 201) and str(data["task"]) == "go-nogo"
    # the export is the trial on screen: spikes and output exactly, the other recordings every 0.5 ms
    np.testing.assert_array_equal(data["out"], state.trial.recording.out)
    np.testing.assert_array_equal(data["spk"], state.trial.recording.spikes.T)
    np.testing.assert_array_equal(data["REC"], state.recorded_trial().recording.voltage[9::10].astype(np.float32))
    np.testing.assert_allclose(data["t_recorded"][:2], [0.0005, 0.001])
    assert data["rs"].shape == (40, 2000) and data["rs"].any() and data["IPSCs"].shape == (40, 2000)
    assert data["rate_output"].shape == (201,)
    assert float(data["scaling_factor"]) == 42.0 and int(data["seed"]) == 3
    mat = scipy.io.loadmat(io.BytesIO(trial_bytes(trial, "mat")))
    assert mat["spk"].shape == (40, 20000) and list(mat["condition_levels"]) == []
    assert trial_file_name(trial, "mat").endswith("_lambda42_seed3.mat")


def test_a_failed_refresh_keeps_the_trial_and_its_name(state):
    """Bad units leave the previous trial on screen; its export says the settings it has."""
    trial = state.trial
    state.param.update(stim_mode="exc", stim_units="999", scaling_factor=61.0, seed=9)
    assert "unit 999" in state.error and state.trial is trial
    assert trial_file_name(state.trial, "npz").endswith(f"_lambda{trial.spec.scaling_factor:g}_seed{trial.spec.seed}.npz")


def test_sessions_do_not_share_state(assets):
    first, second = ExplorerState(), ExplorerState()
    try:
        first.scaling_factor = 22.0
        assert second.scaling_factor == DEFAULT_LAMBDA and second.trial.spec.scaling_factor == DEFAULT_LAMBDA
        assert first.upload("Task_go-nogo_N_30_one.mat", mat_bytes(N=30))
        assert not any(label.startswith("upload:") for label in second.catalog.labels)
        assert first.catalog.upload_dir != second.catalog.upload_dir
    finally:
        first.close()
        second.close()


def test_saving_refuses_an_unfinished_sweep(state):
    before = file_digest(state.model.path)
    with pytest.raises(ValueError, match="only a complete sweep"):
        state.save_sweep()
    assert file_digest(state.model.path) == before  # the file is untouched


def test_sweep_threads_yield_the_cpu_to_interactive_work():
    import os
    import threading

    from explorer.sweeps import lower_thread_priority
    seen = {}

    def trial_thread():
        seen["trial"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def sweep_thread():
        seen["lowered"] = lower_thread_priority()
        child = threading.Thread(target=trial_thread)
        child.start()
        child.join()

    main = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    thread = threading.Thread(target=sweep_thread)
    thread.start()
    thread.join()
    assert seen["lowered"] and seen["trial"] >= min(main + 10, 19)  # inherited by the threads it starts
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == main  # the server thread is untouched


def test_each_models_finished_sweep_is_kept_while_the_page_lives(state):
    """Sweep model A, open B (no sweep there), sweep B, open A again: A's curve, result and status
    come back (CSV and saving work on them), and B's too when B is opened again."""
    first = state.model_label
    assert state.start_sweep(20, 40, 20, 2, n_threads=1)
    wait_for_sweep(state)
    kept, status = state.sweep_result, state.sweep_status
    assert kept is not None and state.sweep.finished
    second = next(label for label in state.catalog.labels if label.startswith("xor/"))
    state.model_label = second
    assert state.sweep is None and state.sweep_result is None and state.sweep_status == "No sweep yet."
    assert performance_frame(state.sweep, state.model).sources["sweep"]["accuracy"].size == 0
    assert state.start_sweep(10, 30, 20, 2, n_threads=1)
    wait_for_sweep(state)
    xor_result = state.sweep_result
    state.model_label = first
    assert state.sweep_result is kept and state.sweep_status == status and not state.sweep_running
    assert state.finished_sweep() is kept and state.sweep_csv() == kept.to_csv()
    assert list(performance_frame(state.sweep, state.model).sources["sweep"]["scaling_factor"]) == [20.0, 40.0]
    state.model_label = second
    assert state.sweep_result is xor_result and list(state.sweep.scaling_factors) == [10.0, 30.0]


def test_the_lambda_slider_spans_the_models_search_and_the_box_goes_past_it(tmp_path, monkeypatch):
    """The slider spans the stored grid (20-40) and half its span on each side; after a sweep, the
    sweep's grid; a λ typed beyond it widens it; any allowed λ is taken, below 0.001 is refused."""
    from rate2spike.explorer.session import slider_range

    root = synthetic_assets(tmp_path / "assets", N=40)
    save_grid_search(model_path(root, "go-nogo", 40), [20, 30, 40], [0.5, 0.9, 0.7], 30)
    monkeypatch.setenv("RATE2SPIKE_ASSETS", str(root))
    session = ExplorerState()
    try:
        assert session.lambda_range == (10.0, 50.0) and session.scaling_factor == 30.0
        session.scaling_factor = 400.0
        assert session.trial.spec.scaling_factor == 400.0 and session.lambda_range[1] >= 400.0
        assert session.apply_query({"lambda": ["0.0005"]}) and session.scaling_factor == 400.0
        assert session.start_sweep(60, 120, 30, 2, n_threads=1)
        wait_for_sweep(session)
        assert session.lambda_range == slider_range([60.0, 90.0, 120.0], 400.0) == (30.0, 440.0)
    finally:
        session.close()
    assert slider_range(None, 19.0) == (0.5, 102.5)  # the reference's 20-75 grid: 0.5-102.5, not 1-200


def test_opening_another_model_stops_and_clears_the_sweep(state):
    assert state.start_sweep(10, 100, 2, 50, n_threads=1)
    background = state._ticket.sweep
    state.model_label = next(label for label in state.catalog.labels if label.startswith("xor/"))
    assert not state.sweep_running and state.sweep is None and state.sweep_result is None
    assert state.sweep_status == "Sweep cancelled: another model was opened."
    assert not state.poll_sweep()  # the old sweep no longer reports into this session
    background.join(timeout=30)
    assert not background.running and background.result.cancelled


def test_task_options_reach_the_sweep(state):
    """The sweep scores the trials on screen: mante's evidence strength included."""
    state.model_label = next(label for label in state.catalog.labels if label.startswith("mante/"))
    state.param.update(task_options={"evidence_strength": 1.7}, scaling_factor=20.0, seed=4)
    assert state.start_sweep(20, 20, 5, 2, n_threads=1)
    wait_for_sweep(state)
    base = state.sweep_result.base
    assert base.task_options == (("evidence_strength", 1.7),) and base.seed == 4
    assert state.sweep_result.outcomes[0][0] == state.trial.outcome  # trial 0 is the trial on screen


def test_a_session_keeps_a_bounded_number_of_uploads(state):
    from rate2spike.explorer.catalog import MAX_UPLOADS
    data = mat_bytes(N=20)
    for k in range(MAX_UPLOADS):
        assert state.upload(f"Task_go-nogo_N_20_{k}.mat", data)
    assert not state.upload("Task_go-nogo_N_20_one_more.mat", data)
    assert "already holds 20 uploads" in state.error and state.model.path.name == f"Task_go-nogo_N_20_{MAX_UPLOADS - 1}.mat"
    assert len(list(state.catalog.upload_dir.iterdir())) == MAX_UPLOADS


def test_a_link_restores_the_view(state):
    state.model_label = next(label for label in state.catalog.labels if label.startswith("mante/"))
    state.param.update(scaling_factor=33.0, seed=4, condition={"context": "2", "input1": "-"},
                       task_options={"evidence_strength": 0.9}, stim_mode="inh", stim_units="0-3",
                       stim_window=(0.5, 1.0), voltage_units=[1, 2, 5])
    query = {key: [value.encode()] for key, value in state.link_query().items()}  # as the server gives it
    other = ExplorerState()
    try:
        assert other.apply_query(query) == [] and other.error == ""
        mine, theirs = state.trial.spec, other.trial.spec
        assert theirs.replace(model=mine.model) == mine
        assert other.voltage_units == [1, 2, 5] and other.model_label == state.model_label
    finally:
        other.close()


def test_initial_weights_keep_the_trained_decay_constants_unless_the_second_box_is_ticked(state):
    """'Use the initial weights w0' runs w0 with the trained td (the reference); the second box adds
    td0 (the fully untrained network), does nothing alone, and a link restores it."""
    trained_td = state.model.decay_constants()
    state.use_initial_weights = True
    spec = state.trial.spec
    assert spec.use_initial_weights and not spec.initial_decay
    np.testing.assert_array_equal(state.trial.recording.network.td, trained_td)
    state.initial_decay = True
    assert state.trial.spec.initial_decay and state.link_query()["initial_decay"] == "1"
    np.testing.assert_array_equal(state.trial.recording.network.td, state.model.decay_constants(initial=True))
    query = {key: [value.encode()] for key, value in state.link_query().items()}
    other = ExplorerState()
    try:
        assert other.apply_query(query) == [] and other.trial.spec.initial_decay
    finally:
        other.close()
    state.use_initial_weights = False
    assert not state.trial.spec.initial_decay and "initial_decay" not in state.link_query()


def test_a_bad_link_names_each_bad_value_and_keeps_defaults(state):
    label = state.model_label
    problems = state.apply_query({"model": ["elsewhere/secret.mat"], "lambda": ["-3"], "seed": ["x"],
                                  "c_trial": ["Maybe"], "units": ["999"]})
    assert len(problems) == 5 and "lambda='-3' (must be 0.001 or more)" in state.error
    assert "model='elsewhere/secret.mat' (no such model here)" in state.error
    assert state.model_label == label and state.trial.spec.scaling_factor == DEFAULT_LAMBDA


def test_lambdas_side_by_side_share_the_stimulus_and_the_noise(state):
    state.param.update(seed=5, scaling_factor=30.0)
    trials = state.side_by_side([10, 30, 90])
    assert [t.spec.scaling_factor for t in trials] == [10.0, 30.0, 90.0]
    assert all(t.spec.replace(scaling_factor=30.0) == state.trial.spec for t in trials)  # only λ differs
    assert all(np.array_equal(t.stimulus.u, state.trial.stimulus.u) for t in trials)
    np.testing.assert_array_equal(trials[1].recording.out, state.trial.recording.out)  # same seeds: same trial
    assert trials[0].rate_response is trials[2].rate_response  # the rate network does not depend on λ
    with pytest.raises(ValueError, match="1 to 3 values"):
        state.side_by_side([10, 20, 30, 40])
    assert state.side_by_side_default() == "7.5, 30, 90"  # no grid search yet: around the λ on screen
