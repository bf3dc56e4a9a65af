"""The converted LIF network in NEST (3.x), K trials at once (K copies side by side).

This module imports only NEST and NumPy: the exported script (``rate2spike export --to nest``)
carries its source verbatim. Units as NEST's: time ms, voltage mV, current pA, capacitance pF. The
method's currents are in mV (tau_m dv/dt = -(v - bias) + I), so C_m = tau_m (ms) pF makes one
pA of NEST current one mV of ours.

Each LIF unit is an ``iaf_psc_exp_multisynapse`` neuron: leak to E_L = bias, threshold, reset,
refractory period t_ref (NEST clamps v at v_reset during it; the method keeps adding noise: a
difference, docs/interop.md). The double-exponential synapse of area W (kernel
W (exp(-t/td) - exp(-t/tau_rise)) / (td - tau_rise)) is exactly two exponential receptor ports
of the postsynaptic unit: port 1 (tau td) with weight W / (td - tau_rise), port 2 (tau tau_rise)
with the opposite weight. Membrane noise: a ``noise_generator`` of standard deviation
noise_sd C_m / dt pA held for one step (an independent draw per unit and step). The stimulus: one
``step_current_generator`` per input, its 5 ms columns at the method's steps, weighted by w_in.
The readout (w_out / lambda) . r is computed from the recorded spikes with the same double
exponential (``readout``): NEST has no device for it.
"""

import numpy as np

COLUMN_STEPS = 100  # LIF steps per 5 ms stimulus column
HALF_COLUMN = 50  # step i reads column floor((i + 50) / 100)


def build_network(nest, W, td, u, w_in, dt, constants, v0, seed=1):
    """Create K trials' networks in the current NEST kernel; returns (neurons, spike_recorder).

    W (N x N, mV s; row i = inputs of unit i), td (N, s), u (K x inputs x columns), w_in (N x inputs,
    mV per unit of stimulus), dt (s), constants (LIFParameters' fields: s, mV), v0 (K x N, mV)."""
    c = constants
    n_trials, n_inputs, n_columns = u.shape
    n = td.size
    ms = 1e3  # s -> ms
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": dt * ms, "rng_seed": int(seed)})
    params = {"C_m": c["tau_m"] * ms, "tau_m": c["tau_m"] * ms, "E_L": c["bias"], "V_th": c["v_threshold"],
              "V_reset": c["v_reset"], "t_ref": c["t_ref"] * ms, "I_e": 0.0}
    neurons = nest.Create("iaf_psc_exp_multisynapse", n_trials * n, params=params)
    tau_syn = [[float(t) * ms, c["tau_rise"] * ms] for t in td] * n_trials
    neurons.set([{"tau_syn": taus, "V_m": float(v)} for taus, v in zip(tau_syn, np.asarray(v0).reshape(-1))])
    ids = np.asarray(neurons.tolist())
    post, pre = np.nonzero(W)
    scale = W[post, pre] / (td[post] - c["tau_rise"])  # pA: each port's jump per spike
    for k in range(n_trials):
        for port, sign in ((1, 1.0), (2, -1.0)):
            nest.Connect(ids[k * n + pre], ids[k * n + post], "one_to_one",
                         {"synapse_model": "static_synapse", "weight": sign * scale,
                          "delay": np.full(scale.size, dt * ms), "receptor_type": np.full(scale.size, port)})
    noise = nest.Create("noise_generator", params={"mean": 0.0, "std": c["noise_sd"] * c["tau_m"] / dt, "dt": dt * ms})
    nest.Connect(noise, neurons)  # every unit its own draw each step (receptor 0: a current, unfiltered)
    # column c drives steps 100 c - 50 .. 100 c + 49, from time (100 c - 51) dt; column 0 from the first step
    starts = np.maximum((np.arange(n_columns) * COLUMN_STEPS - HALF_COLUMN - 1), 1) * dt * ms
    for k in range(n_trials):
        for j in range(n_inputs):
            generator = nest.Create("step_current_generator", params={
                "amplitude_times": np.round(starts, 6).tolist(), "amplitude_values": u[k, j].astype(float).tolist()})
            nest.Connect(generator, neurons[k * n:(k + 1) * n], "all_to_all",
                         {"weight": w_in[:, j].reshape(-1, 1).astype(float)})
    recorder = nest.Create("spike_recorder")
    nest.Connect(neurons, recorder)
    return neurons, recorder


def run(nest, neurons, recorder, nt, dt, n_units):
    """Run nt steps; return (trial, unit, step row) of every spike (row i - 1 is step i)."""
    nest.Simulate(nt * dt * 1e3)
    events = recorder.get("events")
    index = np.asarray(events["senders"]) - neurons[0].global_id
    rows = np.rint(np.asarray(events["times"]) / (dt * 1e3)).astype(np.int64) - 1
    order = np.lexsort((index, rows))
    return index[order] // n_units, index[order] % n_units, rows[order]


def readout(trial, unit, row, n_trials, td, w_out, dt, nt, tau_rise):
    """K x nt output (w_out . r) from the spikes, r the method's filtered spike train (docs/method.md):
    r = r exp(-dt/td) + hr dt; hr = hr exp(-dt/tau_rise) + spikes / (tau_rise td)."""
    n = td.size
    spikes = np.zeros((nt, n_trials * n))
    np.add.at(spikes, (row, trial * n + unit), 1.0)
    decay_d, decay_r = np.tile(np.exp(-dt / td), n_trials), np.exp(-dt / tau_rise)
    rise_td = np.tile(tau_rise * td, n_trials)
    r, hr = np.zeros(n_trials * n), np.zeros(n_trials * n)
    weights = np.tile(w_out, n_trials).reshape(n_trials, n)
    out = np.empty((n_trials, nt))
    for i in range(nt):
        r = r * decay_d + hr * dt
        hr = hr * decay_r + spikes[i] / rise_td
        out[:, i] = (weights * r.reshape(n_trials, n)).sum(axis=1)
    return out
