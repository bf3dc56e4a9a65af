"""The LIF simulator against facts that need no reading of the reference code: the f-I curve
of a lone unit, the synaptic filter's unit area, the refractory period."""

from __future__ import annotations

import numpy as np
import pytest

from rate2spike.lif import TM, TR, TREF, VPEAK, VRESET
from rate2spike.model import load_model, model_from_dict
from rate2spike.network import Stimulation, convert, make_drive
from rate2spike.simulation import simulate



def lone_unit(taus=(10.0,)):
    """One excitatory unit, no recurrent weight, input weight 1 (mV per unit of stimulus)."""
    return model_from_dict({"w": np.zeros((1, 1)), "m": np.eye(1), "som_m": np.ones((1, 1)),
                            "w_in": np.ones((1, 1)), "w_out": np.ones((1, 1)), "taus": np.array(taus)})


def run_lone_unit(drive_mv: float, seconds: float = 1.0, v0: float = VRESET):
    network = convert(lone_unit(), 1.0)
    drive = make_drive(network, np.full((1, int(seconds / 0.005) + 1), drive_mv))
    return simulate(network, drive, 0, record=("spikes", "rate"), v0=[v0], noise=np.zeros((drive.nt, 1)))


@pytest.mark.parametrize("drive_mv", [1.0, 5.0, 20.0, 60.0])
def test_noise_free_unit_fires_at_the_closed_form_rate(drive_mv):
    """Under constant current I = BIAS + input the rate is 1 / (tref + tm ln((I - Vreset) / (I - Vth)))."""
    current = VPEAK + drive_mv  # BIAS equals the threshold, so I - Vth is the input
    expected_isi = TREF + TM * np.log((current - VRESET) / (current - VPEAK))
    run = run_lone_unit(drive_mv, seconds=2.0)
    spike_steps = np.flatnonzero(run.spikes[:, 0])
    assert spike_steps.size > 10
    isi = np.diff(spike_steps).mean() * run.drive.dt
    # forward Euler and whole steps: within 1% (measured: at most 0.3%)
    assert isi == pytest.approx(expected_isi, rel=0.01)


def test_below_threshold_input_never_fires():
    assert not run_lone_unit(-1.0).spikes.any()


def test_one_spike_filtered_trace_integrates_to_one():
    """r is a filtered spike train in Hz: one spike contributes area one, up to the
    discretisation of the two exponential filters (sum of a geometric series: 1 + dt/2tr + dt/2td)."""
    run = run_lone_unit(-1.0, seconds=1.0, v0=VPEAK + 5.0)  # fires at step 1, then never again
    assert run.spikes.sum() == 1 and run.spikes[0, 0]
    dt, td = run.drive.dt, run.network.td[0]
    area = run.rate[:, 0].sum() * dt
    assert area == pytest.approx(1 + dt / (2 * TR) + dt / (2 * td), rel=1e-3)


def test_no_unit_fires_twice_within_the_refractory_period(make_model):
    """A strongly driven, stimulated network: every inter-spike interval exceeds 2 ms."""
    model = load_model(make_model("busy.mat", N=60, seed=2))
    network = convert(model, 5.0)  # small lambda: strong recurrence, high rates
    u = np.ones((1, 101)) * 5.0
    drive = make_drive(network, u)
    run = simulate(network, drive, 1, Stimulation("exc", tuple(range(60)), 1, drive.nt), record=("spikes",))
    steps, units = np.nonzero(run.spikes)
    order = np.lexsort((steps, units))
    steps, units = steps[order], units[order]
    same_unit = units[1:] == units[:-1]
    gaps = np.diff(steps)[same_unit] * run.drive.dt
    assert gaps.size > 1000 and gaps.min() > TREF
    # the fastest units sit near the refractory limit, so the check has teeth
    assert gaps.min() < 2 * TREF
