"""The LIF method's constants in one object (``LIFParameters``): the reference's defaults, checked
against the NumPy reading's own constants and the table of docs/method.md; validation; and a
variant threaded through the simulator, trials, journals, sweeps and exports."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

import numpy_reading
from conftest import reading_constants
from rate2spike import DEFAULT_PARAMETERS, LIFParameters, lif, load_model
from rate2spike.export import trial_variables
from rate2spike.journal import search_key
from rate2spike.network import convert, make_drive
from rate2spike.parameters import meaning, unit
from rate2spike.search import SearchOptions
from rate2spike.simulation import simulate
from rate2spike.sweep import run_sweep, sweep_base
from rate2spike.trial import TrialSpec, run_trial, run_trials

METHOD = Path(__file__).resolve().parent.parent / "docs" / "method.md"
GO = np.zeros((1, 201))
GO[0, 50:75] = 1.0


def test_the_numpy_readings_own_constants_are_the_defaults():
    """The reading types the reference's constants itself; they must be the object's defaults."""
    assert reading_constants(DEFAULT_PARAMETERS) == numpy_reading.CONSTANTS
    assert set(reading_constants(DEFAULT_PARAMETERS)) == set(numpy_reading.CONSTANTS)


def _table_values() -> dict[str, float]:
    """The constants table of docs/method.md as {field: value in the field's unit}."""
    text = METHOD.read_text(encoding="utf-8")
    table = text.split("<!-- constants-table", 1)[1].split("\n\n", 1)[0]
    scale = {"s": 1.0, "ms": 1e-3, "mV": 1.0, "": 1.0}
    values = {}
    for field, number, suffix in re.findall(r"\| `(\w+)` \| ([−\-\d.]+) ?(\w*) \|", table):
        values[field] = float(number.replace("−", "-")) * scale[suffix]
    return values


def test_the_constants_table_of_the_method_is_the_defaults():
    values = _table_values()
    assert set(values) == set(DEFAULT_PARAMETERS.as_dict())  # every field, once
    for name, value in values.items():
        assert value == pytest.approx(getattr(DEFAULT_PARAMETERS, name), rel=1e-12), name


def test_the_defaults_and_their_units():
    p = DEFAULT_PARAMETERS
    assert p == LIFParameters() and p.changes() == {} and p.describe() == "the reference's"
    assert (p.t_ref, p.tau_m, p.tau_rise) == (0.002, 0.010, 0.002)
    assert (p.v_reset, p.v_threshold, p.bias, p.v_spike_drawn) == (-65.0, -40.0, -40.0, 30.0)
    assert p.max_rate == pytest.approx(500.0) and LIFParameters(t_ref=0.0).max_rate == math.inf
    assert {unit(name) for name in p.as_dict()} == {"s", "mV", "mV per step", "", "step"}
    assert all(meaning(name) for name in p.as_dict())
    variant = LIFParameters(t_ref=0.0, tau_m=0.02)
    assert variant.describe() == "t_ref = 0 s, tau_m = 0.02 s" and variant.changes() == {"t_ref": 0.0, "tau_m": 0.02}
    assert variant != p and hash(variant) != hash(p) and variant.replace(t_ref=0.002, tau_m=0.01) == p
    with pytest.raises(Exception):
        variant.t_ref = 0.001  # frozen


@pytest.mark.parametrize("changes,phrase", [
    ({"t_ref": -0.001}, r"t_ref \(s\) must be 0 or more"),
    ({"tau_m": 0.0}, r"tau_m \(s\) must be above 0"),
    ({"tau_rise": -1.0}, r"tau_rise \(s\) must be above 0"),
    ({"v_threshold": -70.0}, r"v_threshold \(-70 mV\) must be above v_reset \(-65 mV\)"),
    ({"v_spike_drawn": -50.0}, r"v_spike_drawn \(-50 mV\) must be at least v_threshold"),
    ({"v_initial_high": -70.0}, r"v_initial_high \(-70 mV\) must be at least v_initial_low"),
    ({"noise_sd": -0.1}, r"noise_sd \(mV per step\) must be 0 or more"),
    ({"stim_kick": -0.5}, r"stim_kick \(mV\) must be 0 or more"),
    ({"stim_probability": 1.5}, r"stim_probability must lie in 0..1"),
    ({"firing_rate_first_step": 0}, r"firing_rate_first_step must be 1 or more"),
    ({"firing_rate_first_step": 2.5}, r"firing_rate_first_step must be a whole number"),
    ({"bias": float("nan")}, r"bias must be finite"),
    ({"tau_m": float("inf")}, r"tau_m must be finite"),
    ({"t_ref": "2 ms"}, r"t_ref must be a number"),
    ({"v_reset": True}, r"v_reset must be a number"),
])
def test_bad_parameters_are_refused_with_the_field_named(changes, phrase):
    with pytest.raises(ValueError, match=f"LIFParameters: {phrase}"):
        LIFParameters(**changes)


def test_numbers_are_stored_as_floats_and_whole_steps_as_ints():
    p = LIFParameters(t_ref=np.float32(0.001), v_reset=-70, firing_rate_first_step=20.0)
    assert type(p.t_ref) is float and type(p.v_reset) is float and type(p.firing_rate_first_step) is int


def test_the_kernels_take_the_methods_constants_as_arguments():
    """No kernel of lif.py reads a number of the method from a module global (Numba would freeze it
    into the compiled code, and patching it would change nothing): only the subnormal flush thresholds,
    which are the implementation's, are globals."""
    kernels = [obj for obj in vars(lif).values() if hasattr(obj, "py_func")]
    assert {k.py_func.__name__ for k in kernels} >= {"run_lif_trials", "initial_voltages", "release_step"}
    for kernel in kernels:
        globals_read = {name for name in kernel.py_func.__code__.co_names
                        if isinstance(getattr(lif, name, None), (int, float, LIFParameters))}
        assert globals_read <= {"FLUSH_BELOW", "FLUSH_BELOW_SINGLE"}, kernel.py_func.__name__
    assert lif.kernel_constants(DEFAULT_PARAMETERS).inv_tau_m == 1.0 / 0.010
    assert lif.kernel_constants(DEFAULT_PARAMETERS).noise_scale == 1.0 / 10.0  # the same float as before


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from conftest import write_model
    return load_model(write_model(tmp_path_factory.mktemp("p") / "Task_go-nogo_N_60_x.mat", N=60, seed=3))


def test_a_variant_runs_from_python(model):
    network = convert(model, 25.0)
    drive = make_drive(network, GO)
    reference = simulate(network, drive, 4, record=("spikes",))
    variant = simulate(network, drive, 4, record=("spikes",), params=LIFParameters(t_ref=0.0))
    assert reference.params == DEFAULT_PARAMETERS and variant.params == LIFParameters(t_ref=0.0)
    np.testing.assert_array_equal(reference.v0, variant.v0)  # the same seed: the same draws
    assert not np.array_equal(reference.spikes, variant.spikes)
    with pytest.raises(ValueError, match="params must be a LIFParameters"):
        simulate(network, drive, 4, params={"t_ref": 0.0})


def test_the_initial_voltages_are_drawn_on_the_variants_range(model):
    network = convert(model, 25.0)
    drive = make_drive(network, GO)
    reference = simulate(network, drive, 5).v0
    narrow = simulate(network, drive, 5, params=LIFParameters(v_initial_low=-60.0, v_initial_high=-50.0)).v0
    assert reference.min() >= -65.0 and reference.max() <= 30.0
    np.testing.assert_allclose(narrow, -60.0 + 10.0 * (reference + 65.0) / 95.0, atol=1e-12)  # the same uniforms


def test_the_parameters_are_part_of_a_trials_identity(model):
    spec = TrialSpec(model, scaling_factor=25.0, condition="Go")
    variant = spec.replace(params=LIFParameters(t_ref=0.0))
    assert spec.params is DEFAULT_PARAMETERS and variant != spec and hash(variant) != hash(spec)
    assert variant == spec.replace(params=LIFParameters(t_ref=0.0))
    ran = run_trial(variant, ("spikes",))
    assert ran.recording.params == variant.params
    assert not np.array_equal(ran.recording.spikes, run_trial(spec, ("spikes",)).recording.spikes)
    with pytest.raises(ValueError, match="precision and LIF parameters"):
        run_trials([spec, variant])
    with pytest.raises(ValueError, match="params must be a LIFParameters"):
        TrialSpec(model, params=0.002)


def test_journals_of_the_reference_keep_their_key(model):
    """A variant's journal key names its parameters; the reference's key is as before, so existing
    journals still resume."""
    base = sweep_base(model)
    key = search_key(base, [20.0, 30.0], 4, SearchOptions())
    assert "lif_parameters" not in key
    variant = search_key(base.replace(params=LIFParameters(t_ref=0.0)), [20.0, 30.0], 4, SearchOptions())
    assert variant["lif_parameters"]["t_ref"] == 0.0 and {k: v for k, v in variant.items() if k != "lif_parameters"} == key


def test_a_sweep_and_an_export_say_which_constants_they_ran(model):
    variant = LIFParameters(t_ref=0.001)
    result = run_sweep(model, None, [20.0, 30.0], 2, params=variant)
    assert result.base.params == variant and result.metadata()["LIF parameters"] == "t_ref = 0.001 s"
    assert "LIF parameters" not in run_sweep(model, None, [20.0, 30.0], 2).metadata()
    exported = trial_variables(run_trial(TrialSpec(model, params=variant)))
    assert exported["lif_t_ref"] == 0.001 and exported["lif_tau_m"] == DEFAULT_PARAMETERS.tau_m
