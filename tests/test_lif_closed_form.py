"""The LIF simulator against facts that need no reading of the reference code: the f-I curve
of a lone unit, the synaptic filter's unit area, the refractory period; each on the reference's
constants and on a variant (``LIFParameters``), whose values the kernel takes as arguments."""

from __future__ import annotations

import numpy as np
import pytest

from rate2spike.model import load_model, model_from_dict
from rate2spike.network import Stimulation, convert, make_drive
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.simulation import simulate

# the reference's, and a variant with a shorter refractory period and a slower membrane
PARAMETER_SETS = {"reference": DEFAULT_PARAMETERS, "variant": LIFParameters(t_ref=0.001, tau_m=0.02)}


def lone_unit(taus=(10.0,)):
    """One excitatory unit, no recurrent weight, input weight 1 (mV per unit of stimulus)."""
    return model_from_dict({"w": np.zeros((1, 1)), "m": np.eye(1), "som_m": np.ones((1, 1)),
                            "w_in": np.ones((1, 1)), "w_out": np.ones((1, 1)), "taus": np.array(taus)})


def run_lone_unit(drive_mv: float, params: LIFParameters, seconds: float = 1.0, v0: float | None = None):
    network = convert(lone_unit(), 1.0)
    drive = make_drive(network, np.full((1, int(seconds / 0.005) + 1), drive_mv))
    return simulate(network, drive, 0, record=("spikes", "rate"), v0=[params.v_reset if v0 is None else v0],
                    noise=np.zeros((drive.nt, 1)), params=params)


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
@pytest.mark.parametrize("drive_mv", [1.0, 5.0, 20.0, 60.0])
def test_noise_free_unit_fires_at_the_closed_form_rate(drive_mv, name):
    """Under constant current I = bias + input the rate is 1 / (t_ref + tau_m ln((I - v_reset) / (I - v_threshold)))."""
    p = PARAMETER_SETS[name]
    current = p.bias + drive_mv  # the bias equals the threshold, so I - v_threshold is the input
    expected_isi = p.t_ref + p.tau_m * np.log((current - p.v_reset) / (current - p.v_threshold))
    run = run_lone_unit(drive_mv, p, seconds=2.0)
    spike_steps = np.flatnonzero(run.spikes[:, 0])
    assert spike_steps.size > 10
    isi = np.diff(spike_steps).mean() * run.drive.dt
    # forward Euler and whole steps: within 1% (measured: at most 0.3%)
    assert isi == pytest.approx(expected_isi, rel=0.01)


def test_the_two_parameter_sets_give_different_f_i_curves():
    """The variant really runs: at 20 mV its closed-form interval (8.1 ms) is not the reference's (6.1 ms)."""
    intervals = {name: np.diff(np.flatnonzero(run_lone_unit(20.0, p, seconds=2.0).spikes[:, 0])).mean()
                 for name, p in PARAMETER_SETS.items()}
    assert intervals["variant"] > 1.25 * intervals["reference"]


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_below_threshold_input_never_fires(name):
    assert not run_lone_unit(-1.0, PARAMETER_SETS[name]).spikes.any()


@pytest.mark.parametrize("params", [DEFAULT_PARAMETERS, LIFParameters(tau_rise=0.004)], ids=["reference", "variant"])
def test_one_spike_filtered_trace_integrates_to_one(params):
    """r is a filtered spike train in Hz: one spike contributes area one, up to the
    discretisation of the two exponential filters (sum of a geometric series: 1 + dt/2tr + dt/2td)."""
    run = run_lone_unit(-1.0, params, seconds=1.0, v0=params.v_threshold + 5.0)  # fires at step 1, then never again
    assert run.spikes.sum() == 1 and run.spikes[0, 0]
    dt, td = run.drive.dt, run.network.td[0]
    area = run.rate[:, 0].sum() * dt
    assert area == pytest.approx(1 + dt / (2 * params.tau_rise) + dt / (2 * td), rel=1e-3)


@pytest.mark.parametrize("params", [DEFAULT_PARAMETERS, LIFParameters(t_ref=0.004, stim_kick=0.25)],
                         ids=["reference", "variant"])
def test_no_unit_fires_twice_within_the_refractory_period(make_model, params):
    """A strongly driven, stimulated network: every inter-spike interval exceeds t_ref. A refractory
    unit does not integrate, but the noise and the stimulation's kicks still move it (the method's
    step 3 and 4): this holds while the kicks over t_ref (at most t_ref / dt x stim_kick: 20 mV for both
    sets here) stay below the 25 mV from reset to threshold. With t_ref = 4 ms and 0.5 mV kicks a
    unit fired again after 3.4 ms."""
    model = load_model(make_model("busy.mat", N=60, seed=2))
    network = convert(model, 5.0)  # small lambda: strong recurrence, high rates
    u = np.ones((1, 101)) * 5.0
    drive = make_drive(network, u)
    run = simulate(network, drive, 1, Stimulation("exc", tuple(range(60)), 1, drive.nt), record=("spikes",),
                   params=params)
    steps, units = np.nonzero(run.spikes)
    order = np.lexsort((steps, units))
    steps, units = steps[order], units[order]
    same_unit = units[1:] == units[:-1]
    gaps = np.diff(steps)[same_unit] * run.drive.dt
    assert gaps.size > 1000 and gaps.min() > params.t_ref
    # the fastest units sit near the refractory limit, so the check has teeth
    assert gaps.min() < 2 * params.t_ref
