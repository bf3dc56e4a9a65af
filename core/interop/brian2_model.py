"""The converted LIF network in Brian2: the method's update (docs/method.md, "The LIF network"),
step by step on the 0.05 ms grid, for K trials at once (K copies of the network side by side).

This module imports only Brian2 and NumPy: the exported script (``rate2spike export --to brian2``)
carries its source verbatim, so the script and ``rate2spike.interop.to_brian2.run_brian2``
run the same code. Units: time s, voltage and current mV, W in mV s per spike (the area of the
synaptic current one spike adds), w_in in mV per unit of stimulus, the output per Hz.

Per step i (time i dt), in Brian2's schedule:
  groups:       I = IPSC + bias + ext(column of i);  v += dt (i dt > tlast + t_ref) (-v + I) / tau_m
                + noise_sd z   (z: Brian2's randn(), or our draws through a TimedArray)
  thresholds:   v >= v_threshold
  synapses:     JD_i += W[i, j] for each unit j that fired
  before_resets: IPSC = IPSC exp(-dt/td) + h dt;  h = h exp(-dt/tau_rise) + JD / (tau_rise td)
                 r = r exp(-dt/td) + hr dt;  hr = hr exp(-dt/tau_rise)
  resets:       v = v_reset; tlast = i dt; hr += 1 / (tau_rise td)
The output (w_out . r, a summed variable) is read at the next step's start: run one extra step.
"""

import numpy as np
from brian2 import (Hz, Network, NeuronGroup, SpikeMonitor, StateMonitor, Synapses, TimedArray, mV, second)

COLUMN_STEPS = 100  # LIF steps per 5 ms stimulus column at dt = 0.05 ms
HALF_COLUMN = 50  # step i reads column floor((i + 50) / 100): MATLAB's round(i / 100) + 1


def build_network(W, td, w_out, exc, ext_columns, dt, constants, v0, noise=None, column_dt=None):
    """A Brian2 ``Network`` of K trials and its monitors ({'spikes', 'output'}).

    W (N x N, mV s; row i = inputs of unit i; or K x N x N, one network per trial, e.g. several
    lambdas at once), td (N, s), w_out (N, already divided by lambda; or K x N),
    exc (N bool), ext_columns (K x columns x N, mV: w_in @ u of each trial, one row per stimulus
    column), dt (s), constants (the LIF constants by LIFParameters' names, s and mV), v0 (K x N, mV).
    noise: None (Brian2 draws z with randn()) or K x nt x N standard normals (ours, for the
    spike-by-spike check). Unit n of trial k is neuron k N + n; spikes of monitor 'spikes'
    fall at Brian2 time (i - 1) dt for step i.
    """
    ext_columns = np.asarray(ext_columns, dtype=float)
    n_trials, _, n = ext_columns.shape
    c = constants
    column_dt = COLUMN_STEPS * dt if column_dt is None else column_dt
    ext = TimedArray(ext_columns.transpose(1, 0, 2).reshape(-1, n_trials * n) * mV, dt=column_dt * second)
    namespace = {"ext": ext, "lif_dt": dt * second, "t_ref": c["t_ref"] * second, "inv_tau_m": Hz / c["tau_m"],
                 "bias": c["bias"] * mV, "v_threshold": c["v_threshold"] * mV, "v_reset": c["v_reset"] * mV,
                 "noise_sd": c["noise_sd"] * mV, "ext_offset": (HALF_COLUMN + 1) * dt * second,
                 "decay_rise": np.exp(-dt / c["tau_rise"])}
    if noise is None:
        draw = "randn()"
    else:
        noise = np.asarray(noise, dtype=float)
        namespace["z"] = TimedArray(noise.transpose(1, 0, 2).reshape(noise.shape[1], n_trials * n), dt=dt * second)
        draw = "z(t, i)"
    units = NeuronGroup(n_trials * n, """
        v : volt                     # membrane potential
        ipsc : volt                  # synaptic current (the double exponential's decay part)
        h : volt / second            # its rise part
        jd : volt * second           # this step's spikes, summed over W
        r : Hz                       # filtered spike train (the readout's input)
        hr : Hz / second             # its rise part
        tlast : second               # the last spike's time (0 at the start: refractory for t_ref)
        decay_d : 1 (constant)       # exp(-dt / td)
        rise_td : second ** 2 (constant)  # tau_rise * td
        """, threshold="v >= v_threshold",
        reset="v = v_reset\ntlast = lif_dt * (timestep(t, lif_dt) + 1)\nhr += 1 / rise_td",
        namespace=namespace, dt=dt * second)
    units.run_regularly(f"""
        active = int(lif_dt * (timestep(t, lif_dt) + 1) > tlast + t_ref)
        v = v + lif_dt * (active * (-v + (ipsc + bias + ext(t + ext_offset, i))) * inv_tau_m) + noise_sd * {draw}
        """, when="groups", name="membrane")
    units.run_regularly("""
        ipsc = ipsc * decay_d + h * lif_dt
        h = h * decay_rise + jd / rise_td
        jd = 0 * volt * second
        r = r * decay_d + hr * lif_dt
        hr = hr * decay_rise
        """, when="before_resets", name="synapses_and_rates")
    td = np.asarray(td, dtype=float)
    units.decay_d = np.tile(np.exp(-dt / td), n_trials)
    units.rise_td = np.tile(c["tau_rise"] * td, n_trials) * second ** 2
    units.v = np.asarray(v0, dtype=float).reshape(-1) * mV
    W = np.broadcast_to(np.asarray(W, dtype=float), (n_trials, n, n))
    trial, post, pre = np.nonzero(W)  # the connections of every trial's network, trial by trial
    recurrent = Synapses(units, units, "w : volt * second", on_pre="jd_post += w", dt=dt * second)
    recurrent.connect(i=trial * n + pre, j=trial * n + post)
    recurrent.w = W[trial, post, pre] * volt_second()
    readout = NeuronGroup(n_trials, "out : 1", dt=dt * second)
    reading = Synapses(units, readout, "w_out : second\nout_post = w_out * r_pre : 1 (summed)", dt=dt * second)
    reading.connect(i=np.arange(n_trials * n), j=np.repeat(np.arange(n_trials), n))
    reading.w_out = np.broadcast_to(np.asarray(w_out, dtype=float), (n_trials, n)).reshape(-1) * second
    monitors = {"spikes": SpikeMonitor(units), "output": StateMonitor(readout, "out", record=True, when="end")}
    return Network(units, recurrent, readout, reading, *monitors.values()), monitors


def volt_second():
    """The unit of W: mV s."""
    return mV * second


def run(network, monitors, nt, dt, n_units):
    """Run nt steps (plus the one that reads the last output) and return (trial, unit, step row)
    of every spike, in time order, and the K x nt output."""
    network.run((nt + 1) * dt * second)
    index = np.asarray(monitors["spikes"].i)
    rows = np.rint(np.asarray(monitors["spikes"].t / second) / dt).astype(np.int64)
    keep = rows < nt
    output = np.asarray(monitors["output"].out)[:, 1:nt + 1]
    return index[keep] // n_units, index[keep] % n_units, rows[keep], output
