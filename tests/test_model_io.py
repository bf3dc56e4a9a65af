"""Model files: the styles found in the wild, every malformed case, and atomic saving."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy.io

from rate2spike.model import ModelFileError, load_model, read_mat, save_grid_search, save_results
from conftest import file_digest, model_variables


def test_tensorflow_style_file(make_model):
    path = make_model("tf.mat", N=30, n_inputs=2, style="tf")
    model = load_model(path)
    variables = model_variables(N=30, n_inputs=2, style="tf")
    assert model.N == 30 and model.n_inputs == 2 and model.w_in.dtype == np.float64
    assert model.exc.dtype == bool and model.exc.shape == (30,)
    np.testing.assert_array_equal(model.exc, variables["exc"].ravel())
    assert model.taus == (4.0, 20.0) and model.activation == "sigmoid"
    assert model.notes == ()
    w = variables["w"].astype(float)
    np.testing.assert_allclose(model.recurrent_weights(), (w @ variables["m"]) * variables["som_m"])
    td = (1 / (1 + np.exp(-variables["taus_gaus"].astype(float).ravel())) * 16 + 4) * 0.005
    np.testing.assert_allclose(model.decay_constants(), td, rtol=1e-6)


def test_pytorch_style_file_is_rectified_with_a_note(make_model):
    path = make_model("torch.mat", N=40, style="torch")
    variables = model_variables(N=40, style="torch")
    assert (variables["w"] < 0).any()
    model = load_model(path)
    assert model.w_out.shape == (40,) and model.taus_gaus.shape == (40,)
    np.testing.assert_allclose(model.recurrent_weights(), (np.maximum(variables["w"], 0) @ variables["m"]))
    assert len(model.notes) == 1 and "relu" in model.notes[0] and "torch.mat" in model.notes[0]


def test_one_value_taus(make_model):
    model = load_model(make_model("one.mat", N=20, taus=(10.0,)))
    np.testing.assert_allclose(model.decay_constants(), np.full(20, 0.05))
    assert model.taus_gaus is None


def test_single_input_saved_as_row_vector(tmp_path):
    variables = model_variables(N=25)
    variables["w_in"] = variables["w_in"].ravel()  # savemat writes 1 x N
    scipy.io.savemat(tmp_path / "row.mat", variables)
    assert load_model(tmp_path / "row.mat").w_in.shape == (25, 1)


def _broken(tmp_path, name="bad.mat", **changes):
    variables = model_variables(N=20)
    for key, value in changes.items():
        if value is None:
            variables.pop(key)
        else:
            variables[key] = value
    path = tmp_path / name
    scipy.io.savemat(path, variables)
    return path


CASES = [
    ("missing w", dict(w=None), "'w'", "is missing"),
    ("missing w_out", dict(w_out=None), "'w_out'", "is missing"),
    ("missing taus_gaus", dict(taus_gaus=None), "'taus_gaus'", "is missing"),
    ("w not square", dict(w=np.ones((20, 19))), "'w'", "square"),
    ("m wrong shape", dict(m=np.eye(19)), "'m'", "20 x 20"),
    ("w_in wrong rows", dict(w_in=np.ones((19, 1))), "'w_in'", "N = 20"),
    ("w_out wrong length", dict(w_out=np.ones((1, 21))), "'w_out'", "vector of 20"),
    ("N disagrees", dict(N=21), "'N'", "N = 21"),
    ("nan in w", dict(w=np.full((20, 20), np.nan)), "'w'", "non-finite"),
    ("inf in w_in", dict(w_in=np.full((20, 1), np.inf)), "'w_in'", "non-finite"),
    ("bad taus", dict(taus=np.array([[20.0, 4.0]])), "'taus'", "(min, max)"),
    ("text in w_out", dict(w_out="abc"), "'w_out'", "numeric"),
    ("bad activation", dict(activation="tanh"), "'activation'", "tanh"),
]


@pytest.mark.parametrize("label,changes,field,phrase", CASES, ids=[c[0] for c in CASES])
def test_malformed_fields_are_named_and_file_kept(tmp_path, label, changes, field, phrase):
    path = _broken(tmp_path, **changes)
    before = file_digest(path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    message = str(info.value)
    assert str(path) in message and field in message and phrase in message
    with pytest.raises(ModelFileError):
        save_grid_search(path, [20, 25], [0.5, 0.6], 25)
    assert file_digest(path) == before
    assert os.listdir(tmp_path) == ["bad.mat"]  # no temporary file left behind


def _raw_file(tmp_path, content: bytes, name="raw.mat"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_empty_file(tmp_path):
    path = _raw_file(tmp_path, b"")
    with pytest.raises(ModelFileError, match="empty"):
        load_model(path)


def test_not_a_mat_file(tmp_path):
    path = _raw_file(tmp_path, b"hello, this is a text file and not a model\n" * 10)
    with pytest.raises(ModelFileError, match="not a readable MAT file") as info:
        load_model(path)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path, model_file):
    data = model_file.read_bytes()
    path = _raw_file(tmp_path, data[: len(data) // 2], "cut.mat")
    before = file_digest(path)
    with pytest.raises(ModelFileError, match="truncated or corrupt"):
        load_model(path)
    with pytest.raises(ModelFileError):
        save_grid_search(path, [20], [0.5], 20)
    assert file_digest(path) == before


def test_matlab_v73_hdf5_file_is_explained(tmp_path):
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    content = header.ljust(512, b" ") + b"\x89HDF\r\n\x1a\n" + bytes(200)
    path = _raw_file(tmp_path, content, "v73.mat")
    with pytest.raises(ModelFileError, match="v7.3") as info:
        load_model(path)
    assert "-v7" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelFileError, match="no such file"):
        load_model(tmp_path / "nope.mat")
    with pytest.raises(ModelFileError, match="directory"):
        load_model(tmp_path)


def test_save_keeps_every_variable_with_dtype_and_shape(make_model):
    path = make_model("keep.mat", N=20, style="tf")
    before = read_mat(path)
    save_grid_search(path, [20, 25, 30], [0.5, 0.9, 0.9], 25)
    after = read_mat(path)
    assert set(after) == set(before) | {"opt_scaling_factor", "all_perfs", "scaling_factors"}
    for key, value in before.items():
        assert after[key].dtype == value.dtype, key
        assert after[key].shape == value.shape, key
        np.testing.assert_array_equal(after[key], value)
    assert before["exc"].dtype == bool  # MATLAB logicals stay logical
    classes = {name: cls for name, _, cls in scipy.io.whosmat(str(path))}
    assert classes["exc"] == classes["inh"] == "logical" and classes["w"] == "single"
    model = load_model(path)
    assert model.opt_scaling_factor == 25
    np.testing.assert_array_equal(model.scaling_factors, [20, 25, 30])
    np.testing.assert_allclose(model.all_perfs, [0.5, 0.9, 0.9])
    # saving again replaces the results and still keeps the rest
    save_grid_search(path, [40], [1.0], 40)
    assert load_model(path).opt_scaling_factor == 40
    assert read_mat(path)["losses"].shape == before["losses"].shape


def test_failed_write_leaves_the_file_untouched(make_model, monkeypatch):
    path = make_model("atomic.mat", N=20)
    before = file_digest(path)

    def explode(*args, **kwargs):
        args[0].write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(scipy.io, "savemat", explode)
    with pytest.raises(OSError, match="disk full"):
        save_results(path, {"opt_scaling_factor": 30.0})
    assert file_digest(path) == before
    assert sorted(os.listdir(path.parent)) == ["atomic.mat"]


def test_how_the_file_was_read(make_model):
    tf = load_model(make_model("tf.mat", N=30, style="tf"))
    torch = load_model(make_model("torch.mat", N=30, style="torch"))
    assert tf.file_style.startswith("TensorFlow-era") and tf.relu_zeroed == 0
    assert torch.file_style.startswith("PyTorch-era") and 0.3 < torch.relu_zeroed < 0.7
    facts = dict(torch.file_facts())
    assert f"{torch.relu_zeroed:.0%} of nonzero entries zeroed" in facts["recurrent weights w"]
    assert facts["Dale's principle"].startswith("m is diagonal ±1, matching the unit types")
    assert "the LIF readout has no bias" in facts["readout bias b_out"]
    assert dict(tf.file_facts())["stored grid search"] == "none"


def test_the_raw_weights_reading_differs_only_where_relu_acts(make_model):
    from rate2spike.trial import TrialSpec, run_trial
    torch = load_model(make_model("torch.mat", N=30, style="torch"))
    raw = torch.recurrent_weights(rectify=False)
    np.testing.assert_array_equal(raw, (torch.w @ torch.m) * torch.som_m)
    assert not np.array_equal(raw, torch.recurrent_weights())
    spec = TrialSpec(torch, scaling_factor=20, seed=1)
    assert not np.array_equal(run_trial(spec).recording.out, run_trial(spec.replace(rectify_weights=False)).recording.out)
    tf = load_model(make_model("tf.mat", N=30, style="tf"))
    np.testing.assert_array_equal(tf.recurrent_weights(rectify=False), tf.recurrent_weights())
