"""A plain NumPy reading of the reference LIF method (docs/method.md, "The LIF network").

The reference is the MATLAB code (spiking/LIF_network_fnc.m); this reading follows its indexing,
not the PyTorch port's: step i = 1..nt takes stimulus column round(i/100) + 1 (MATLAB, 1-based),
the stimulation acts on steps dur(1) <= i < dur(2), all_fr counts spk(n, 10:end), w0 runs with the
trained decay constants td, and params.w_out is the file's w_out.

Written to be read side by side with the reference, line by line, not to be fast: the
tests feed it and the Numba kernel the same initial voltages and noise and require the same
spikes and voltages, and ``python -m benchmarks`` times it (from a source checkout). It lives in
tests/, outside the package, and imports nothing from it: it reads the raw variables of a
model file (as ``scipy.io.loadmat`` returns them) and computes W and td itself.
"""

from __future__ import annotations

import numpy as np

# The reference's constants, typed here from LIF_network_fnc.m (MATLAB's names; seconds and mV),
# not imported from the package: a test checks that they equal rate2spike.DEFAULT_PARAMETERS.
CONSTANTS = {
    "tref": 0.002,  # refractory period
    "tm": 0.010,  # membrane time constant
    "vreset": -65.0,  # reset voltage
    "vpeak": -40.0,  # threshold
    "BIAS": -40.0,  # bias current (= vpeak)
    "spike_drawn": 30.0,  # v recorded at a spike
    "tr": 0.002,  # synaptic rise constant
    "noise_divisor": 10.0,  # membrane noise randn / 10 per step
    "kick": 0.5,  # artificial stimulation's push
    "kick_probability": 0.5,  # the push's chance per step
    "v0_low": -65.0,  # initial voltages: -65 + (30 - (-65)) * rand
    "v0_high": 30.0,
    "all_fr_from": 10,  # all_fr counts spk(n, 10:end)
}


def reference_lif(variables: dict, scaling_factor, u, stims, downsample=1, use_initial_weights=False,
                  v0=None, noise=None, stim_draws=None, rng=None, constants=None):
    """Simulate one trial; returns (W, REC, spk, rs, all_fr, out, params) with REC nt x N.

    ``v0`` (N), ``noise`` (nt x N standard normals) and ``stim_draws`` (nt uniforms, one
    per step) replace the random draws; anything not given is drawn from ``rng``.
    ``constants`` replaces some of CONSTANTS (a variant of the method); the reference's otherwise.
    """
    const = {**CONSTANTS, **(constants or {})}
    unknown = set(const) - set(CONSTANTS)
    if unknown:
        raise ValueError(f"unknown constants {sorted(unknown)}")
    rng = np.random.default_rng() if rng is None else rng
    w = np.asarray(variables["w0" if use_initial_weights else "w"], dtype=float)
    m = np.asarray(variables["m"], dtype=float)
    som_m = np.asarray(variables["som_m"], dtype=float)
    N = w.shape[0]
    if (np.diag(m) < 0).any():
        w = np.maximum(w, 0)
    W = ((w @ m) * som_m) / scaling_factor

    w_in = np.asarray(variables["w_in"], dtype=float)
    if w_in.shape == (1, N) and N != 1:
        w_in = w_in.T
    file_w_out = np.asarray(variables["w_out"], dtype=float).reshape(1, N)
    w_out = file_w_out / scaling_factor

    taus = np.asarray(variables["taus"], dtype=float).reshape(-1)

    def decay(gaus_name):
        if taus.size == 1:
            return np.full(N, taus[0] * 5 / 1000)
        gaus = np.asarray(variables[gaus_name], dtype=float).reshape(N)
        return (1 / (1 + np.exp(-gaus)) * (taus[1] - taus[0]) + taus[0]) * 5 / 1000

    td = decay("taus_gaus")  # the trained decay constants, with w0 too
    td0 = decay("taus_gaus0") if taus.size == 1 or "taus_gaus0" in variables else None

    u = np.asarray(u, dtype=float)[:, ::downsample]
    ext = w_in @ u
    dt = 0.00005 * downsample
    T = (u.shape[1] - 1) * dt * 100
    nt = int(round(T / dt))

    tref, tm, vreset, vpeak, tr = const["tref"], const["tm"], const["vreset"], const["vpeak"], const["tr"]
    BIAS = const["BIAS"]
    low, high = const["v0_low"], const["v0_high"]
    v = low + (high - low) * rng.random(N) if v0 is None else np.array(v0, dtype=float)
    IPSC = np.zeros(N)
    h = np.zeros(N)
    r = np.zeros(N)
    hr = np.zeros(N)
    tlast = np.zeros(N)
    REC = np.zeros((nt, N))
    spk = np.zeros((N, nt))
    rs = np.zeros((N, nt))
    IPSCs = np.zeros((N, nt))

    mode = stims.get("mode", "none") if stims else "none"
    for i in range(1, nt + 1):
        IPSCs[:, i - 1] = IPSC
        c = int(np.floor(i / 100 + 0.5))  # MATLAB round(i/100) + 1, 0-based
        I = IPSC + BIAS + ext[:, c]
        dv = (dt * i > tlast + tref) * (-v + I) / tm
        z = rng.standard_normal(N) if noise is None else noise[i - 1]
        v = v + dt * dv + z / const["noise_divisor"]

        if mode in ("exc", "inh") and stims["dur"][0] <= i < stims["dur"][1]:
            draw = rng.random() if stim_draws is None else stim_draws[i - 1]
            if draw < const["kick_probability"]:
                units = np.asarray(stims["units"], dtype=int)
                v[units] = v[units] + (const["kick"] if mode == "exc" else -const["kick"])

        fired = v >= vpeak
        JD = W[:, fired].sum(axis=1)
        tlast[fired] = dt * i

        new_IPSC = IPSC * np.exp(-dt / td) + h * dt
        h = h * np.exp(-dt / tr) + JD * fired.any() / (tr * td)
        new_r = r * np.exp(-dt / td) + hr * dt
        hr = hr * np.exp(-dt / tr) + fired / (tr * td)
        IPSC, r = new_IPSC, new_r

        rs[:, i - 1] = r
        spk[:, i - 1] = fired
        v[fired] = const["spike_drawn"]
        REC[i - 1, :] = v
        v[fired] = vreset

    out = (w_out @ rs).reshape(-1)
    all_fr = (spk[:, const["all_fr_from"] - 1:].sum(axis=1) / T).reshape(N, 1)
    params = {"dt": dt, "T": T, "nt": nt, "w_out": file_w_out, "td": td, "td0": td0, "IPSCs": IPSCs}
    return W, REC, spk, rs, all_fr, out, params
