"""Numba kernel for one LIF trial (docs/method.md, "The LIF network"), float64 throughout.

One loop serves every use: it fills each of the voltage, spike, rate and synaptic-current
recordings that the caller passes with nt rows (``LIF_network_fnc`` wants all four, the
dashboard voltages and spikes); an empty recording (0 rows) is skipped. With all four empty
the trial keeps only its output trace and spike counts, so memory does not grow with trial
length (for grid searches). The kernel releases the GIL; callers parallelise over trials
with threads. It imports only the random-number kernel and the time grid.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rate2spike.fastrng import fill_normals_lanes, next_double
from rate2spike.timegrid import column_of_step

# LIF constants of the reference (seconds and millivolts).
TREF = 0.002  # refractory period
TM = 0.010  # membrane time constant
VRESET = -65.0  # reset voltage
VPEAK = -40.0  # spike threshold
BIAS = VPEAK  # constant bias current, equal to the threshold in the reference
SPIKE_DRAWN_AT = 30.0  # voltage recorded at the step of a spike
TR = 0.002  # synaptic rise constant
NOISE_DIVISOR = 10.0  # membrane noise is randn / 10 per step
# The kernel multiplies by reciprocals instead of dividing (twice as fast on the hot loop;
# results differ from the reference's divisions by at most one rounding step).
INV_TM = 1.0 / TM
NOISE_SCALE = 1.0 / NOISE_DIVISOR
STIM_KICK = 0.5  # mV added (exc) or removed (inh) by artificial stimulation
STIM_PROBABILITY = 0.5  # chance per step that the stimulation kick is applied
V0_LOW, V0_HIGH = VRESET, SPIKE_DRAWN_AT  # initial voltages are uniform on this range
FIRING_RATE_FIRST_STEP = 10  # mean firing rates count spikes from step 10 on (the reference's all_fr)
# The rise variables h and hr decay by exp(-dt/tr) = 0.975 per step; about 28 000 steps after a
# unit's input stops they reach subnormal numbers, whose arithmetic is a hundred times slower on
# x86 (a 50 000-step mante trial ran 2.5x slower in its second half). They are set to 0 below
# this magnitude instead: a change of at most 1e-250 in a current, far below any spike.
FLUSH_BELOW = 1e-250


@njit(nogil=True, cache=True, inline="always")
def _decayed(value, decay):
    """value * decay, or 0 once it is too small to matter (no subnormal arithmetic)."""
    new = value * decay
    return new if abs(new) > FLUSH_BELOW else 0.0


@njit(nogil=True, cache=True)
def initial_voltages(rng_state, n_units):
    """The reference's random initial state, drawn first from the trial's stream."""
    v = np.empty(n_units)
    for n in range(n_units):
        v[n] = V0_LOW + (V0_HIGH - V0_LOW) * next_double(rng_state)
    return v


@njit(nogil=True, cache=True, inline="always")
def _readout(w_out, r):
    """w_out . r with four partial sums, so the additions pipeline (order differs from a
    plain loop only at the level of rounding, as any BLAS dot product does)."""
    n = r.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    k = 0
    while k + 4 <= n:
        s0 += w_out[k] * r[k]
        s1 += w_out[k + 1] * r[k + 1]
        s2 += w_out[k + 2] * r[k + 2]
        s3 += w_out[k + 3] * r[k + 3]
        k += 4
    while k < n:
        s0 += w_out[k] * r[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


@njit(nogil=True, cache=True)
def run_lif_trial(
    WT, ext, td, w_out, dt, nt, v0,
    rng_state, lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags,
    noise, stim_draws,
    stim_sign, stim_units, stim_first, stim_stop,
    voltage, spikes, rate, synaptic_current, out, spike_counts,
):
    """Simulate steps i = 1..nt in place.

    Inputs: WT (N x N, mV) is W transposed, row j = the outgoing weights of unit j, so a
    spike adds a contiguous row; ext (N x columns, mV) the external input; td (N, s) the
    synaptic decay constants; w_out (N) the readout divided by lambda; dt (s); v0 (N, mV).
    The noise is drawn from one stream per unit (``lane_*``, ``rate2spike.fastrng.Lanes``) and
    the trial's scalar stream ``rng_state``. ``noise`` (nt x N standard normals) and ``stim_draws`` (nt uniforms) replace the random
    stream when non-empty; tests use that to feed the kernel and the NumPy reference the same
    numbers. stim_sign is +1 (exc), -1 (inh) or 0; it acts for stim_first <= i < stim_stop.
    Outputs: out[i-1] = w_out . r after step i; spike_counts[n] counts the spikes of unit n
    from step FIRING_RATE_FIRST_STEP on; the recordings voltage (mV, spikes drawn at +30),
    spikes (bool), rate (r, Hz) and synaptic_current (at the top of the step, mV) are nt x N
    with row i-1 holding step i, or 0 x N to skip them.
    """
    n_units = v0.shape[0]
    explicit_noise = noise.shape[0] > 0
    record_voltage, record_spikes = voltage.shape[0] > 0, spikes.shape[0] > 0
    record_rate, record_current = rate.shape[0] > 0, synaptic_current.shape[0] > 0
    v = v0.copy()
    current_syn = np.zeros(n_units)
    h = np.zeros(n_units)
    r = np.zeros(n_units)
    hr = np.zeros(n_units)
    tlast = np.zeros(n_units)
    jd = np.zeros(n_units)
    ext_by_column = np.ascontiguousarray(ext.T)  # one contiguous row per stimulus column
    z = np.empty(n_units)
    fired_units = np.empty(n_units, np.int64)
    decay_d = np.exp(-dt / td)
    decay_r = math.exp(-dt / TR)
    rise_td = TR * td
    for i in range(1, nt + 1):
        row = i - 1
        col = column_of_step(i)
        now = dt * i
        if explicit_noise:
            z[:] = noise[row]
        else:
            fill_normals_lanes(lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags, z, rng_state)
        if record_current:
            synaptic_current[row, :] = current_syn
        ext_now = ext_by_column[col]
        for n in range(n_units):  # branch-free so that it vectorises
            current = current_syn[n] + BIAS + ext_now[n]
            active = 1.0 if now > tlast[n] + TREF else 0.0  # 0 while refractory
            dv = active * (-v[n] + current) * INV_TM
            v[n] = v[n] + dt * dv + z[n] * NOISE_SCALE
        if stim_sign != 0 and stim_first <= i < stim_stop:
            draw = stim_draws[row] if explicit_noise else next_double(rng_state)
            if draw < STIM_PROBABILITY:
                for k in range(stim_units.shape[0]):
                    v[stim_units[k]] += stim_sign * STIM_KICK
        n_fired = 0
        for n in range(n_units):
            if v[n] >= VPEAK:
                fired_units[n_fired] = n
                n_fired += 1
        if n_fired > 0:
            jd[:] = 0.0
            for k in range(n_fired):
                unit = fired_units[k]
                tlast[unit] = now
                for m in range(n_units):
                    jd[m] += WT[unit, m]
        # double-exponential synapses; each line uses the values from before this step
        if n_fired > 0:
            for n in range(n_units):
                new_current = current_syn[n] * decay_d[n] + h[n] * dt
                h[n] = _decayed(h[n], decay_r) + jd[n] / rise_td[n]
                current_syn[n] = new_current
        else:
            for n in range(n_units):
                new_current = current_syn[n] * decay_d[n] + h[n] * dt
                h[n] = _decayed(h[n], decay_r)
                current_syn[n] = new_current
        for n in range(n_units):
            new_r = r[n] * decay_d[n] + hr[n] * dt
            hr[n] = _decayed(hr[n], decay_r)
            r[n] = new_r
        out[row] = _readout(w_out, r)
        for k in range(n_fired):
            unit = fired_units[k]
            hr[unit] += 1.0 / rise_td[unit]
            if i >= FIRING_RATE_FIRST_STEP:
                spike_counts[unit] += 1
        if record_rate:
            rate[row, :] = r
        if record_spikes:
            for k in range(n_fired):
                spikes[row, fired_units[k]] = True
        if record_voltage:
            for k in range(n_fired):
                v[fired_units[k]] = SPIKE_DRAWN_AT
            voltage[row, :] = v
        for k in range(n_fired):
            v[fired_units[k]] = VRESET
