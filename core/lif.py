"""Numba kernel for LIF trials (docs/method.md, "The LIF network").

One kernel serves every use: it advances one trial, or several in lockstep (a grid search's
block: the same trials at several lambdas, sharing their noise draws, or several trials at one), and
fills each of the voltage, spike, rate and synaptic-current recordings that the caller passes
with nt rows (``LIF_network_fnc`` wants all four, the dashboard voltages and spikes); an empty
recording (0 rows) is skipped. With all four empty the trials keep only their output traces and
spike counts, so memory does not grow with trial length (for grid searches). The kernel releases
the GIL; callers parallelise over blocks of trials with threads. The method's constants arrive as
arguments (``kernel_constants`` of a ``LIFParameters``), never as module globals, which Numba would
freeze into the compiled code: one compiled kernel runs the reference and any variant. It imports only
the random-number kernel, the time grid and the parameters (and, at the end, makes Numba's cache notice
when the code it inlines changes).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from rate2spike import fastrng, kernel_cache, timegrid
from rate2spike.fastrng import fill_normals_trials, next_double
from rate2spike.parameters import DEFAULT_PARAMETERS, LIFParameters
from rate2spike.timegrid import column_of_step


class KernelConstants(NamedTuple):
    """The method's constants as the kernel takes them (``kernel_constants``): float64 scalars and
    one whole number, passed as arguments, so one compiled kernel runs any ``LIFParameters``.
    Defined here, beside the kernel, so that Numba's cache (which checks this file) sees its layout."""

    t_ref: float  # s
    inv_tau_m: float  # 1/s: the kernel multiplies by 1/tau_m where the reference divides by tau_m
    v_reset: float  # mV
    v_threshold: float  # mV
    bias: float  # mV
    v_spike_drawn: float  # mV
    tau_rise: float  # s
    noise_scale: float  # mV per standard normal and step
    stim_kick: float  # mV
    stim_probability: float
    first_counted_step: int  # spikes count towards the mean firing rate from this step on


def kernel_constants(params: LIFParameters = DEFAULT_PARAMETERS) -> KernelConstants:
    """``params`` as the kernel's arguments. The kernel multiplies by reciprocals instead of dividing
    (twice as fast on the hot loop; results differ from the reference's divisions by at most one
    rounding step): 1/tau_m, and the noise's standard deviation (the reference's 1/10)."""
    return KernelConstants(
        float(params.t_ref), 1.0 / float(params.tau_m), float(params.v_reset), float(params.v_threshold),
        float(params.bias), float(params.v_spike_drawn), float(params.tau_rise), float(params.noise_sd),
        float(params.stim_kick), float(params.stim_probability), int(params.firing_rate_first_step))


# The rise variables h and hr decay by exp(-dt/tr) = 0.975 per step; about 28 000 steps after a
# unit's input stops they reach subnormal numbers, whose arithmetic is a hundred times slower on
# x86 (a 50 000-step mante trial ran 2.5x slower in its second half). They are set to 0 below
# this magnitude instead: a change of at most 1e-250 in a current, far below any spike.
FLUSH_BELOW = 1e-250
# In single precision (a float32 sweep) subnormals begin at 1.2e-38; the same flush at 1e-30
# changes a current by at most 1e-30 mV.
FLUSH_BELOW_SINGLE = 1e-30


@njit(nogil=True, cache=True, inline="always")
def _decayed(value, decay, flush_below, zero):
    """value * decay, or 0 once it is too small to matter (no subnormal arithmetic). ``zero``
    is 0 in the state's precision, so a float32 state stays float32."""
    new = value * decay
    return new if abs(new) > flush_below else zero


@njit(nogil=True, cache=True, inline="always")
def release_step(spike_step, dt, t_ref):
    """The first step at which a unit that spiked at step ``spike_step`` integrates again: the
    first i with dt*i > dt*spike_step + t_ref (s) in float64, the reference's refractory test (``now >
    tlast + tref``) solved once per spike. The membrane loop then compares whole step numbers, which
    any precision holds exactly: evaluated in float32 the reference's test ends the 2 ms period a
    step early on 24% of spikes instead of 0.7%, and fast-firing units fire measurably more."""
    spiked_at = dt * spike_step
    i = spike_step + max(0, int(t_ref / dt) - 1)  # at least one step short of the end
    while not dt * i > spiked_at + t_ref:
        i += 1
    return i


@njit(nogil=True, cache=True)
def initial_voltages(rng_state, n_units, low, high):
    """The reference's random initial state, drawn first from the trial's stream: uniform on
    [low, high] mV (``LIFParameters.v_initial_low``, ``v_initial_high``)."""
    v = np.empty(n_units)
    for n in range(n_units):
        v[n] = low + (high - low) * next_double(rng_state)
    return v


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _readout(w_out, r):
    """w_out . r, with the additions free to be reordered so that they run in SIMD lanes (the
    result differs from a plain loop's only at the level of rounding, as any BLAS dot product's
    does; four times faster than a loop that waits for each addition)."""
    total = r.dtype.type(0.0)
    for k in range(r.shape[0]):
        total += w_out[k] * r[k]
    return total


@njit(nogil=True, cache=True)
def run_lif_trials(
    WT, ext_by_column, td, w_out, dt, nt, constants, v0,
    rng_states, lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags,
    noise, stim_draws,
    stim_sign, stim_units, stim_first, stim_stop,
    voltage, spikes, rate, synaptic_current, out, spike_counts,
):
    """Simulate steps i = 1..nt of K = S x M trials in lockstep, in place: S noise streams (trial
    seeds), each run through M networks that differ only in their weights (a grid search's
    lambdas). Trial k = s*M + g is stream s in network g.

    The trials' unit-level arrays are laid end to end (unit n of trial k at k*N + n). Each step
    draws every stream once; then each trial takes its whole step in turn (membrane, spikes,
    synapses, rates, readout) while its arrays are in the nearest cache: walking all K trials
    through each update instead made the arrays of 12 trials spill out of it, 1.5x slower. A
    stream's numbers are shared by its M trials: each gets exactly what it would draw alone, so a
    trial's spikes depend neither on K nor on the other trials, and M networks cost one noise draw.

    Inputs: WT (M x N x N, mV) is each network's W transposed, row j = the outgoing weights of
    unit j, so a spike adds a contiguous row; ext_by_column (columns x S*N, mV) the external input
    of every stream's trial (the same in every network), one row per stimulus column; td (N, s) the synaptic decay constants; w_out
    (M x N) each network's readout; dt (s); ``constants`` the method's constants (``KernelConstants``);
    v0 (K*N, mV). Stream s draws its noise from its lanes
    (``lane_*`` entries s*N .. s*N + N - 1, ``lane_flags`` a whole number of 8-byte words for
    S*N lanes; see ``rate2spike.fastrng.Lanes``) and its scalar stream ``rng_states[s]``.
    ``noise`` (nt x S*N standard normals) and ``stim_draws`` (nt x S uniforms) replace the random
    streams when non-empty; tests use that to feed the kernel and the NumPy reference the same
    numbers. stim_sign is +1 (exc), -1 (inh) or 0; it acts for stim_first <= i < stim_stop.
    Outputs: out[k, i-1] = w_out . r of trial k after step i; spike_counts[k*N + n] counts the
    spikes of unit n from step ``constants.first_counted_step`` on; the recordings voltage (mV,
    spikes drawn at ``constants.v_spike_drawn``), spikes (bool), rate (r, Hz) and synaptic_current
    (at the top of the step, mV) are nt x K*N with row i-1 holding step i, or 0 x K*N to skip them.
    The state's precision is v0's dtype (float64, or float32 for a single-precision sweep); WT,
    ext_by_column, w_out and the float recordings are in the same precision (Numba compiles one
    kernel for each).
    """
    n_networks, n_units = WT.shape[0], td.shape[0]
    n_streams = rng_states.shape[0]
    n_trials = n_streams * n_networks
    size = n_trials * n_units
    explicit_noise = noise.shape[0] > 0
    record_voltage, record_spikes = voltage.shape[0] > 0, spikes.shape[0] > 0
    record_rate, record_current = rate.shape[0] > 0, synaptic_current.shape[0] > 0
    # The state's precision is v0's (float64, or float32 in a single-precision sweep); every
    # constant is cast to it, so that a float32 run does not widen to float64 mid-expression.
    real = v0.dtype.type
    state = v0.dtype
    one, zero = real(1.0), real(0.0)
    bias, inv_tm, noise_scale = real(constants.bias), real(constants.inv_tau_m), real(constants.noise_scale)
    v_peak, v_reset = real(constants.v_threshold), real(constants.v_reset)
    spike_drawn_at = real(constants.v_spike_drawn)
    t_ref, tau_rise, step = constants.t_ref, constants.tau_rise, real(dt)
    stim_probability, first_counted = constants.stim_probability, constants.first_counted_step
    flush_below = real(FLUSH_BELOW if v0.itemsize == 8 else FLUSH_BELOW_SINGLE)
    kick = real(stim_sign * constants.stim_kick)
    v = v0.copy()
    current_syn = np.zeros(size, state)
    h = np.zeros(size, state)
    r = np.zeros(size, state)
    hr = np.zeros(size, state)
    release = np.full(size, release_step(0, dt, t_ref), state)  # refractory until then, as if spiked at t = 0
    jd = np.zeros(size, state)
    z = np.empty(n_streams * n_units, state)
    fired = np.empty(n_units, np.int64)  # the units of one trial that fired this step, in order
    decay_d = np.empty(n_units, state)
    rise_td = np.empty(n_units, state)
    for n in range(n_units):
        decay_d[n] = math.exp(-dt / td[n])
        rise_td[n] = tau_rise * td[n]
    decay_r = real(math.exp(-dt / tau_rise))
    stimulating = stim_sign != 0
    for i in range(1, nt + 1):
        row = i - 1
        col = column_of_step(i)
        step_number = real(i)
        released_now = real(release_step(i, dt, t_ref))  # the release step of this step's spikes
        if explicit_noise:
            z[:] = noise[row]
        else:
            fill_normals_trials(lane_s0, lane_s1, lane_s2, lane_s3, lane_bits, lane_flags, z, rng_states)
        if record_current:
            synaptic_current[row, :] = current_syn
        ext_now = ext_by_column[col]
        for stream in range(n_streams):
            kicked = False
            if stimulating and stim_first <= i < stim_stop:
                draw = stim_draws[row, stream] if explicit_noise else next_double(rng_states[stream])
                kicked = draw < stim_probability
            stream_first = stream * n_units
            # the stream's trials one after another, each a whole step while its arrays are in cache
            for network in range(n_networks):
                k = stream * n_networks + network
                first = k * n_units
                above = 0
                for m in range(n_units):  # branch-free so that it vectorises
                    n = first + m
                    current = current_syn[n] + bias + ext_now[stream_first + m]
                    active = one if step_number >= release[n] else zero  # 0 while refractory
                    dv = active * (-v[n] + current) * inv_tm
                    v[n] = v[n] + step * dv + z[stream_first + m] * noise_scale
                    above += 1 if v[n] >= v_peak else 0
                if kicked:
                    for m in range(stim_units.shape[0]):
                        v[first + stim_units[m]] += kick
                    above = n_units  # the kicks may have moved units across the threshold: scan them all
                n_fired = 0
                if above > 0:  # most steps of most trials have no spike: skip the scan
                    for m in range(n_units):
                        if v[first + m] >= v_peak:
                            fired[n_fired] = m
                            n_fired += 1
                            if n_fired == above:
                                break
                _run_synapses(WT[network], fired, n_fired, jd, current_syn, h, release, first, released_now,
                              decay_d, rise_td, decay_r, step, flush_below, zero)
                for m in range(n_units):
                    n = first + m
                    new_r = r[n] * decay_d[m] + hr[n] * step
                    hr[n] = _decayed(hr[n], decay_r, flush_below, zero)
                    r[n] = new_r
                out[k, row] = _readout(w_out[network], r[first:first + n_units])
                for f in range(n_fired):
                    unit = first + fired[f]
                    hr[unit] += one / rise_td[fired[f]]
                    if i >= first_counted:
                        spike_counts[unit] += 1
                    if record_spikes:
                        spikes[row, unit] = True
                    if record_voltage:
                        v[unit] = spike_drawn_at
                if record_voltage:
                    voltage[row, first:first + n_units] = v[first:first + n_units]
                for f in range(n_fired):
                    v[first + fired[f]] = v_reset
        if record_rate:
            rate[row, :] = r


@njit(nogil=True, cache=True, inline="always")
def _run_synapses(weights, fired, n_fired, jd, current_syn, h, release, first, released_now, decay_d, rise_td, decay_r, dt,
                  flush_below, zero):
    """One trial's spikes of this step into its synaptic drive JD, then its double-exponential
    synapses (units first .. first + N - 1 of the trial arrays; each line uses the values from
    before this step). JD is the rows of ``weights`` of the units that fired, added in unit
    order; up to four rows go through jd in one pass (each element sums them in the same order,
    so the result is the same as row by row, with a quarter of the jd traffic). A trial without
    a spike skips JD (zero); jd is cleared as it is read, so it is zero at the top of every step.
    (Loops run m from 0 with n = first + m: written as range(first, ...) Numba must allow
    negative indices and the loop runs 25% slower.)"""
    n_units = decay_d.shape[0]
    f = 0
    while f < n_fired:
        group = min(4, n_fired - f)
        a = fired[f]
        if group == 4:
            b, c, d = fired[f + 1], fired[f + 2], fired[f + 3]
            for m in range(n_units):
                jd[first + m] = (((jd[first + m] + weights[a, m]) + weights[b, m]) + weights[c, m]) + weights[d, m]
        elif group == 3:
            b, c = fired[f + 1], fired[f + 2]
            for m in range(n_units):
                jd[first + m] = ((jd[first + m] + weights[a, m]) + weights[b, m]) + weights[c, m]
        elif group == 2:
            b = fired[f + 1]
            for m in range(n_units):
                jd[first + m] = (jd[first + m] + weights[a, m]) + weights[b, m]
        else:
            for m in range(n_units):
                jd[first + m] += weights[a, m]
        for g in range(group):
            release[first + fired[f + g]] = released_now
        f += group
    if n_fired:
        for m in range(n_units):
            n = first + m
            new_current = current_syn[n] * decay_d[m] + h[n] * dt
            h[n] = _decayed(h[n], decay_r, flush_below, zero) + jd[n] / rise_td[m]
            current_syn[n] = new_current
            jd[n] = zero
    else:
        for m in range(n_units):
            n = first + m
            new_current = current_syn[n] * decay_d[m] + h[n] * dt
            h[n] = _decayed(h[n], decay_r, flush_below, zero)
            current_syn[n] = new_current


# Numba's cache checks only this file; the kernels above inline fastrng and timegrid.
kernel_cache.forget_if_changed([run_lif_trials, initial_voltages, _readout], [fastrng, timegrid])
