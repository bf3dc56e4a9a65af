"""Numba kernel for LIF trials (docs/method.md, "The LIF network"), float64 throughout.

One kernel serves every use: it advances one trial, or several in lockstep (a grid search's
block: the same trials at several lambdas, sharing their noise draws, or several trials at one), and
fills each of the voltage, spike, rate and synaptic-current recordings that the caller passes
with nt rows (``LIF_network_fnc`` wants all four, the dashboard voltages and spikes); an empty
recording (0 rows) is skipped. With all four empty the trials keep only their output traces and
spike counts, so memory does not grow with trial length (for grid searches). The kernel releases
the GIL; callers parallelise over blocks of trials with threads. It imports only the
random-number kernel and the time grid.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from rate2spike.fastrng import fill_normals_trials, next_double
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


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _readout(w_out, r):
    """w_out . r, with the additions free to be reordered so that they run in SIMD lanes (the
    result differs from a plain loop's only at the level of rounding, as any BLAS dot product's
    does; four times faster than a loop that waits for each addition)."""
    total = 0.0
    for k in range(r.shape[0]):
        total += w_out[k] * r[k]
    return total


@njit(nogil=True, cache=True)
def run_lif_trials(
    WT, ext_by_column, td, w_out, dt, nt, v0,
    rng_states, lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags,
    noise, stim_draws,
    stim_sign, stim_units, stim_first, stim_stop,
    voltage, spikes, rate, synaptic_current, out, spike_counts,
):
    """Simulate steps i = 1..nt of K = S x M trials in lockstep, in place: S noise streams (trial
    seeds), each run through M networks that differ only in their weights (a grid search's
    lambdas). Trial k = s*M + g is stream s in network g.

    The trials' unit-level arrays are laid end to end (unit n of trial k at k*N + n), so the
    per-unit updates fill the SIMD lanes. A stream is drawn once per step and shared by its M
    trials: each gets exactly the numbers it would draw alone, so a trial's spikes depend neither
    on K nor on the other trials, and M networks cost one noise draw.

    Inputs: WT (M x N x N, mV) is each network's W transposed, row j = the outgoing weights of
    unit j, so a spike adds a contiguous row; ext_by_column (columns x S*N, mV) the external input
    of every stream's trial (the same in every network), one row per stimulus column; td (N, s) the synaptic decay constants; w_out
    (M x N) each network's readout; dt (s); v0 (K*N, mV). Stream s draws its noise from its lanes
    (``lane_*`` entries s*N .. s*N + N - 1, ``lane_flags`` a whole number of 8-byte words for
    S*N lanes; see ``rate2spike.fastrng.Lanes``) and its scalar stream ``rng_states[s]``.
    ``noise`` (nt x S*N standard normals) and ``stim_draws`` (nt x S uniforms) replace the random
    streams when non-empty; tests use that to feed the kernel and the NumPy reference the same
    numbers. stim_sign is +1 (exc), -1 (inh) or 0; it acts for stim_first <= i < stim_stop.
    Outputs: out[k, i-1] = w_out . r of trial k after step i; spike_counts[k*N + n] counts the
    spikes of unit n from step FIRING_RATE_FIRST_STEP on; the recordings voltage (mV, spikes
    drawn at +30), spikes (bool), rate (r, Hz) and synaptic_current (at the top of the step, mV)
    are nt x K*N with row i-1 holding step i, or 0 x K*N to skip them.
    """
    n_networks, n_units = WT.shape[0], td.shape[0]
    n_streams = rng_states.shape[0]
    n_trials = n_streams * n_networks
    size = n_trials * n_units
    explicit_noise = noise.shape[0] > 0
    record_voltage, record_spikes = voltage.shape[0] > 0, spikes.shape[0] > 0
    record_rate, record_current = rate.shape[0] > 0, synaptic_current.shape[0] > 0
    v = v0.copy()
    current_syn = np.zeros(size)
    h = np.zeros(size)
    r = np.zeros(size)
    hr = np.zeros(size)
    tlast = np.zeros(size)
    jd = np.zeros(size)
    z = np.empty(n_streams * n_units)
    fired_units = np.empty(size, np.int64)  # k*N + n, in order
    fired_in_trial = np.zeros(n_trials, np.int64)
    decay_d = np.empty(size)  # per-unit constants repeated for every trial
    rise_td = np.empty(size)
    for k in range(n_trials):
        for n in range(n_units):
            decay_d[k * n_units + n] = math.exp(-dt / td[n])
            rise_td[k * n_units + n] = TR * td[n]
    decay_r = math.exp(-dt / TR)
    stimulating = stim_sign != 0
    for i in range(1, nt + 1):
        row = i - 1
        col = column_of_step(i)
        now = dt * i
        if explicit_noise:
            z[:] = noise[row]
        else:
            fill_normals_trials(lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags, z, rng_states)
        if record_current:
            synaptic_current[row, :] = current_syn
        ext_now = ext_by_column[col]
        above = 0
        for k in range(n_trials):
            first, stream_first = k * n_units, (k // n_networks) * n_units  # the trial's unit 0, its stream's
            for m in range(n_units):  # branch-free so that it vectorises
                n = first + m
                current = current_syn[n] + BIAS + ext_now[stream_first + m]
                active = 1.0 if now > tlast[n] + TREF else 0.0  # 0 while refractory
                dv = active * (-v[n] + current) * INV_TM
                v[n] = v[n] + dt * dv + z[stream_first + m] * NOISE_SCALE
                above += 1 if v[n] >= VPEAK else 0
        if stimulating and stim_first <= i < stim_stop:
            for stream in range(n_streams):
                draw = stim_draws[row, stream] if explicit_noise else next_double(rng_states[stream])
                if draw < STIM_PROBABILITY:
                    for k in range(stream * n_networks, (stream + 1) * n_networks):
                        for m in range(stim_units.shape[0]):
                            v[k * n_units + stim_units[m]] += stim_sign * STIM_KICK
            above = size  # the kicks may have moved units across the threshold: scan them all
        n_fired = 0
        if above > 0:  # most steps of most trials have no spike: skip the scan
            for n in range(size):
                if v[n] >= VPEAK:
                    fired_units[n_fired] = n
                    n_fired += 1
                    if n_fired == above:
                        break
        f = 0
        while f < n_fired:
            # JD of a trial: the rows of its units that fired, added in unit order; up to four rows
            # go through the trial's jd in one pass (each element sums them in the same order,
            # so the result is the same as row by row, with a quarter of the jd traffic)
            trial = fired_units[f] // n_units
            first = trial * n_units
            weights = WT[trial % n_networks]
            fired_in_trial[trial] = 1
            group = 1
            while group < 4 and f + group < n_fired and fired_units[f + group] < first + n_units:
                group += 1
            a = fired_units[f] - first
            trial_jd = jd[first:first + n_units]
            if group == 4:
                b, c, d = fired_units[f + 1] - first, fired_units[f + 2] - first, fired_units[f + 3] - first
                for m in range(n_units):
                    trial_jd[m] = (((trial_jd[m] + weights[a, m]) + weights[b, m]) + weights[c, m]) + weights[d, m]
            elif group == 3:
                b, c = fired_units[f + 1] - first, fired_units[f + 2] - first
                for m in range(n_units):
                    trial_jd[m] = ((trial_jd[m] + weights[a, m]) + weights[b, m]) + weights[c, m]
            elif group == 2:
                b = fired_units[f + 1] - first
                for m in range(n_units):
                    trial_jd[m] = (trial_jd[m] + weights[a, m]) + weights[b, m]
            else:
                for m in range(n_units):
                    trial_jd[m] += weights[a, m]
            for g in range(group):
                tlast[fired_units[f + g]] = now
            f += group
        # double-exponential synapses; each line uses the values from before this step. A trial
        # without a spike skips the drive JD (zero); jd is cleared as it is read, so it is zero at
        # the top of every step. (Loops run m from 0 with n = first + m: written as
        # range(first, ...) Numba must allow negative indices and the loop runs 25% slower.)
        for k in range(n_trials):
            first = k * n_units
            if fired_in_trial[k]:
                fired_in_trial[k] = 0
                for m in range(n_units):
                    n = first + m
                    new_current = current_syn[n] * decay_d[n] + h[n] * dt
                    h[n] = _decayed(h[n], decay_r) + jd[n] / rise_td[n]
                    current_syn[n] = new_current
                    jd[n] = 0.0
            else:
                for m in range(n_units):
                    n = first + m
                    new_current = current_syn[n] * decay_d[n] + h[n] * dt
                    h[n] = _decayed(h[n], decay_r)
                    current_syn[n] = new_current
        for n in range(size):
            new_r = r[n] * decay_d[n] + hr[n] * dt
            hr[n] = _decayed(hr[n], decay_r)
            r[n] = new_r
        for k in range(n_trials):
            out[k, row] = _readout(w_out[k % n_networks], r[k * n_units:(k + 1) * n_units])
        for f in range(n_fired):
            unit = fired_units[f]
            hr[unit] += 1.0 / rise_td[unit]
            if i >= FIRING_RATE_FIRST_STEP:
                spike_counts[unit] += 1
        if record_rate:
            rate[row, :] = r
        if record_spikes:
            for f in range(n_fired):
                spikes[row, fired_units[f]] = True
        if record_voltage:
            for f in range(n_fired):
                v[fired_units[f]] = SPIKE_DRAWN_AT
            voltage[row, :] = v
        for f in range(n_fired):
            v[fired_units[f]] = VRESET
