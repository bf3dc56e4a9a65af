"""Statistical checks: the noise generator, and the simulator against the reference with
independent random streams (same distribution of outcomes, not the same numbers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from rate2spike import fastrng
from rate2spike.fastrng import (LANE_LAYER_VOLUME, LANE_LAYERS, LANE_TAIL_START, ZIGGURAT_FI, ZIGGURAT_KI,
                                ZIGGURAT_WI, Lanes, fill_normals, fill_normals_lanes, may_be_outside, next_double,
                                seed_state)
from rate2spike.model import load_model, read_mat
from numpy_reading import reference_lif
from rate2spike.network import convert, make_drive
from rate2spike.simulation import simulate
from rate2spike.sweep import run_sweep


@pytest.fixture(scope="module")
def normals():
    out = np.empty(4_000_000)
    fill_normals(seed_state(123), out, ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI)
    return out


def assert_standard_normal_moments(x):
    """Mean, variance, skewness and excess kurtosis within 5 standard errors of N(0, 1)'s."""
    n = x.size
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(x)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(x)) < 5 * np.sqrt(24 / n)


def assert_standard_normal_shape(x, tail_levels, bins):
    """Tail counts beyond each level within 5 standard errors, a KS test, and a chi-square test
    of a histogram of ``bins`` bins on -4..4 against the normal density."""
    n = x.size
    for level in tail_levels:
        expected = 2 * stats.norm.sf(level) * n
        observed = (np.abs(x) > level).sum()
        assert abs(observed - expected) < 5 * np.sqrt(expected), level
    assert stats.kstest(x[:500_000], "norm").pvalue > 1e-4
    counts, edges = np.histogram(x, bins=bins, range=(-4, 4))
    expected = n * np.diff(stats.norm.cdf(edges))
    assert ((counts - expected) ** 2 / expected).sum() < stats.chi2.ppf(1 - 1e-6, bins - 1)


def test_normal_moments(normals):
    assert_standard_normal_moments(normals)


def test_normal_tails_and_shape(normals):
    # 80 bins: the 256 ziggurat layers are all used, a histogram matches the normal density
    assert_standard_normal_shape(normals, (1.0, 2.0, 3.0, 4.0), bins=80)


def test_uniform_draws():
    state = seed_state(9)
    draws = np.array([next_double(state) for _ in range(200_000)])
    assert draws.min() >= 0 and draws.max() < 1
    assert stats.kstest(draws, "uniform").pvalue > 1e-4


def test_seeds_give_independent_reproducible_streams():
    a, b, c = np.empty(1000), np.empty(1000), np.empty(1000)
    fill_normals(seed_state((1, 2)), a, ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI)
    fill_normals(seed_state((1, 2)), b, ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI)
    fill_normals(seed_state((1, 3)), c, ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI)
    np.testing.assert_array_equal(a, b)
    assert abs(np.corrcoef(a, c)[0, 1]) < 0.15


# --- the per-unit streams the LIF kernel draws from (fill_normals_lanes) ------------------------

LANE_STEPS, LANE_UNITS = 20_000, 200  # a go-nogo trial's draws: 4 million


def lane_draws(seed, units=LANE_UNITS, steps=LANE_STEPS) -> np.ndarray:
    """steps x units normals, one row per simulation step, as the kernel draws them."""
    lanes = Lanes(seed, units)
    scalar, s0, s1, s2, s3, bits, flags = lanes.arrays()
    out = np.empty((steps, units))
    for step in range(steps):
        fill_normals_lanes(s0, s1, s2, s3, bits, flags, out[step], scalar)
    return out


@pytest.fixture(scope="module")
def lane_normals():
    return lane_draws(123)


def test_lane_normals_moments_tails_and_shape(lane_normals):
    x = lane_normals.ravel()
    assert_standard_normal_moments(x)
    # beyond LANE_TAIL_START: the tail, drawn on the slow path; 400 fine bins: a wrong wedge test
    # (the rare path) would show up as a bump in some layer
    assert_standard_normal_shape(x, (1.0, 2.0, 3.0, 4.0, LANE_TAIL_START), bins=400)


def test_lanes_are_independent_of_each_other_and_of_their_past(lane_normals):
    steps = lane_normals.shape[0]
    bound = 6 / np.sqrt(steps)  # 6 standard errors of a correlation, for ~20 000 pairs of lanes
    r = np.corrcoef(lane_normals.T)
    assert np.abs(r[np.triu_indices_from(r, k=1)]).max() < bound
    lag1 = [np.corrcoef(lane_normals[:-1, k], lane_normals[1:, k])[0, 1] for k in range(lane_normals.shape[1])]
    assert np.abs(lag1).max() < bound and abs(np.mean(lag1)) < 5 / np.sqrt(steps * lane_normals.shape[1])


def test_trials_draw_independent_reproducible_noise():
    a, b, again = lane_draws((0, 1), steps=5000), lane_draws((0, 2), steps=5000), lane_draws((0, 1), steps=5000)
    np.testing.assert_array_equal(a, again)  # the same trial, the same noise
    r = [np.corrcoef(a[:, k], b[:, k])[0, 1] for k in range(a.shape[1])]  # unit k in trials 1 and 2
    assert np.abs(r).max() < 6 / np.sqrt(5000)
    assert (Lanes((0, 1), 10).scalar == seed_state((0, 1))).all()  # initial voltages as before the lanes


class PlainXoshiro:
    """xoshiro256++ on Python integers, one output at a time."""

    MASK = (1 << 64) - 1

    def __init__(self, words):
        self.s = [int(w) for w in words]

    def next(self) -> int:
        s, mask = self.s, self.MASK
        total = (s[0] + s[3]) & mask
        result = ((((total << 23) | (total >> 41)) & mask) + s[0]) & mask
        t = (s[1] << 17) & mask
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = ((s[3] << 45) | (s[3] >> 19)) & mask
        return result

    def uniform(self) -> float:
        return (self.next() >> 11) / 2.0**53


def plain_lane_normals(seed, units, steps) -> np.ndarray:
    """The lanes' normals read plainly from docs/method.md: each step, lane n's next output through
    the 1024-layer ziggurat (10 bits layer, 1 sign, 52 magnitude); a draw outside its rectangle is
    finished in lane order on the scalar stream (wedge test, Marsaglia's tail, or start over)."""
    lanes = Lanes(seed, units)
    scalar = PlainXoshiro(lanes.scalar)
    streams = [PlainXoshiro((lanes.s0[n], lanes.s1[n], lanes.s2[n], lanes.s3[n])) for n in range(units)]
    ki, wi, fi = fastrng._LANE_KI, fastrng._LANE_WI, fastrng._LANE_FI
    r = LANE_TAIL_START

    def ziggurat(word):
        layer, sign, magnitude = word & 1023, (word >> 10) & 1, (word >> 11) & ((1 << 52) - 1)
        x = float(magnitude) * wi[layer]
        return layer, (-1.0 if sign else 1.0), x, magnitude < int(ki[layer])

    out = np.empty((steps, units))
    for step in range(steps):
        drawn = [ziggurat(stream.next()) for stream in streams]
        for n, (layer, sign, x, inside) in enumerate(drawn):
            while not inside:
                if layer == 0:
                    while True:
                        xx = -math.log1p(-scalar.uniform()) / r
                        yy = -math.log1p(-scalar.uniform())
                        if yy + yy > xx * xx:
                            break
                    x, inside = r + xx, True
                elif (fi[layer - 1] - fi[layer]) * scalar.uniform() + fi[layer] < math.exp(-0.5 * x * x):
                    inside = True
                else:
                    layer, sign, x, inside = ziggurat(scalar.next())
            out[step, n] = sign * x
    return out


def test_lanes_draw_exactly_the_plain_ziggurat():
    """Same seed, same numbers: the vectorised lanes (with their table-free test for draws that
    may lie outside a rectangle) against a plain reading, over ~400 draws that leave a rectangle."""
    steps, units = 300, 200
    np.testing.assert_array_equal(lane_draws(5, units, steps), plain_lane_normals(5, units, steps))


def test_the_rectangle_bound_flags_every_draw_outside_its_rectangle():
    """The kernel's test ``may_be_outside`` is true for every draw outside its layer's rectangle
    (magnitude >= ki), checked at each layer's edge and on random magnitudes, and flags < 0.8%."""
    ki = fastrng._LANE_KI.astype(np.int64)
    top = (1 << 52) - 1
    for layer in range(LANE_LAYERS):
        edge = int(ki[layer])
        assert may_be_outside(np.int64(layer), np.int64(min(edge, top))), layer
        assert may_be_outside(np.int64(layer), np.int64(top)), layer
    rng = np.random.default_rng(0)
    layers = rng.integers(0, LANE_LAYERS, 200_000)
    magnitudes = rng.integers(0, 1 << 52, 200_000)
    flagged = np.array([may_be_outside(np.int64(j), np.int64(m)) for j, m in zip(layers, magnitudes)])
    outside = magnitudes >= ki[layers]
    assert flagged[outside].all()
    assert flagged.mean() < 0.008 and outside.mean() == pytest.approx(0.0043, abs=0.001)


def test_the_ziggurat_tables_close():
    """Each layer has the same area v, the base layer with its tail included, and the top layer
    ends at x = 0: the equations r and v solve (NumPy's constants for 256 layers, ours for 1024)."""
    for layers, r, v in ((256, 3.6541528853610088, 0.00492867323399), (LANE_LAYERS, LANE_TAIL_START, LANE_LAYER_VOLUME)):
        def f(x):
            return np.exp(-0.5 * x * x)

        tail = np.sqrt(2 * np.pi) * stats.norm.sf(r)  # the integral of f beyond r
        assert v == pytest.approx(r * f(r) + tail, rel=1e-9)  # the base layer: a rectangle and the tail
        edge = r
        for _ in range(layers - 2):
            edge = np.sqrt(-2 * np.log(v / edge + f(edge)))
        assert v / edge + f(edge) == pytest.approx(1.0, abs=1e-9)  # the top layer's area is v too


def test_firing_rates_match_reference_in_distribution(model_file):
    """With our own noise stream and NumPy's, mean firing rates agree within sampling error."""
    model = load_model(model_file)
    variables = read_mat(model_file)
    u = np.zeros((1, 41))
    network = convert(model, 20.0)
    drive = make_drive(network, u)
    ours = np.array([simulate(network, drive, (0, k)).spike_counts.sum() for k in range(30)], dtype=float)
    rng = np.random.default_rng(0)
    theirs = np.array([reference_lif(variables, 20.0, u, {"mode": "none"}, rng=rng)[2][:, 9:].sum() for _ in range(30)])
    assert ours.mean() > 50
    pooled = np.sqrt(ours.var(ddof=1) / 30 + theirs.var(ddof=1) / 30)
    assert abs(ours.mean() - theirs.mean()) < 4 * pooled + 1e-9


def test_membrane_noise_has_the_reference_size(model_file):
    """A unit held in its refractory period only moves by the noise: increments are N(0, 0.1^2)."""
    model = load_model(model_file)
    network = convert(model, 1e9)  # no recurrent drive
    drive = make_drive(network, np.zeros((1, 21)))
    trial = simulate(network, drive, 4, record=("voltage", "spikes"))
    steps = np.diff(trial.voltage, axis=0)
    spikes = trial.spikes
    # steps within 2 ms after a spike (refractory, not spiking again): only noise moves v
    refractory = np.zeros_like(spikes)
    for lag in range(2, int(0.002 / drive.dt)):
        refractory[lag:] |= spikes[:-lag]
    pick = refractory[1:] & ~spikes[1:] & ~spikes[:-1]
    increments = steps[pick]
    assert increments.size > 1000
    assert abs(increments.std() - 0.1) < 0.005
    assert abs(increments.mean()) < 0.005


def test_sweep_results_do_not_depend_on_thread_count(model_file):
    model = load_model(model_file)
    one = run_sweep(model, "go-nogo", [20, 40], 6, seed=3, n_threads=1)
    two = run_sweep(model, "go-nogo", [20, 40], 6, seed=3, n_threads=2)
    assert one.outcomes == two.outcomes
    np.testing.assert_array_equal(one.spike_totals, two.spike_totals)
