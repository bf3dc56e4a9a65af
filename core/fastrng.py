"""A fast, seedable normal/uniform generator usable inside Numba kernels (docs/method.md,
"The noise generator").

Why not NumPy's or Numba's own generators: the LIF simulation draws one normal per unit
per 0.05 ms step (4 million per go-nogo trial), and drawing them is most of the cost of a
trial. xoshiro256++ with Marsaglia & Tsang's ziggurat needs no Python object, so the kernels
run with the GIL released. A state is four uint64 words in a NumPy array that the caller owns:
one state per trial makes results independent of thread scheduling.

Two ways to draw:

- ``fill_normals``: one stream, one draw after another, through NumPy's 256-layer ziggurat
  (about 2 ns per normal here). Each draw waits for the previous one's state update.
- ``fill_normals_lanes`` (what the LIF kernel uses): one xoshiro256++ stream per unit
  (``Lanes``), all advanced in one loop that the compiler turns into SIMD instructions, through a
  1024-layer ziggurat whose fast path (99.6% of draws) is branch-free in the same loop; the rare
  rest finish on the trial's scalar stream. The tables are module-level
  constants: Numba then compiles them into the kernel, which is what lets the table lookups
  vectorise (passed as arguments they might alias the output, and LLVM gives up).
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, uint64

_TAIL_START = 3.6541528853610088  # ziggurat_nor_r: where the 256-layer ziggurat's tail begins
_LAYER_VOLUME = 0.00492867323399  # area of each layer of the ziggurat
_INV_2_53 = 1.0 / 9007199254740992.0
_MANTISSA_MASK = np.uint64(0x000FFFFFFFFFFFFF)


def ziggurat_tables(layers: int = 256, tail_start: float = _TAIL_START,
                    layer_volume: float = _LAYER_VOLUME) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marsaglia & Tsang's tables for 52-bit mantissas (the layout NumPy uses): ``ki`` (the
    magnitude below which a draw in a layer is inside its rectangle), ``wi`` (magnitude -> x),
    ``fi`` (the density at each layer's edge). ``tail_start`` (r) and ``layer_volume`` (v) are
    the ziggurat's two constants for that many layers (for 256, NumPy's)."""
    scale = 2.0**52
    last = layers - 1
    dn = tn = tail_start
    ki = np.zeros(layers, np.uint64)
    wi = np.zeros(layers)
    fi = np.zeros(layers)
    q = layer_volume / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * scale))
    wi[0] = q / scale
    wi[last] = dn / scale
    fi[0] = 1.0
    fi[last] = math.exp(-0.5 * dn * dn)
    for i in range(last - 1, 0, -1):
        dn = math.sqrt(-2.0 * math.log(layer_volume / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * scale))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / scale
    return ki, wi, fi


ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI = ziggurat_tables()

# The 1024-layer ziggurat of the lanes: 4x fewer draws leave the rectangles (0.43% against 1.5%).
# r and v solve the ziggurat's equations for 1024 layers (every layer, the base with its tail
# included, has area v, and the top layer closes at x = 0; tests/test_statistics.py checks it).
LANE_LAYERS = 1024
LANE_TAIL_START = 4.038849846109504
LANE_LAYER_VOLUME = 0.0012263246463530893
_LANE_KI, _LANE_WI, _LANE_FI = ziggurat_tables(LANE_LAYERS, LANE_TAIL_START, LANE_LAYER_VOLUME)
_LANE_LAYER_MASK = np.uint64(LANE_LAYERS - 1)
_LANE_LAYER_BITS = np.uint64(10)


def rectangle_bound(ki: np.ndarray, top: int, offset: int) -> int:
    """The constant ``bottom`` of a table-free test that a draw may lie outside its layer's
    rectangle. With e = 2**52 - magnitude, a draw in layer j >= 2 is a *candidate* when
    e * j <= top or e * (layers + offset - j) <= bottom (layers 0 and 1 always are). ``bottom`` is
    the smallest value for which every draw outside its rectangle (magnitude >= ki[j]) is a
    candidate: both products grow with e, so it is enough that the largest such e is one.
    Integer arithmetic throughout (every product < 2**63), so the test is exact."""
    layers, full = len(ki), 1 << 52
    bottom = 0
    for j in range(2, layers):
        largest_outside = full - int(ki[j])
        if largest_outside * j > top:
            bottom = max(bottom, largest_outside * (layers + offset - j))
    return bottom


# The lanes' fast path tests "maybe outside the rectangle" without looking up ki (on this machine
# a table lookup per lane is a gather, the dearest instruction of the loop): 1 - ki[j] / 2**52,
# the share of a layer outside its rectangle, is about 0.36 / j for the upper layers and grows
# again for the last ones, next to the tail. The bound flags 0.73% of draws (0.43% are outside);
# the flagged ones are checked against ki exactly after the loop, so the numbers do not change.
_BOUND_TOP = 2501388953190400  # about 0.555 * 2**52
_BOUND_OFFSET = 12
_BOUND_BOTTOM = rectangle_bound(_LANE_KI, _BOUND_TOP, _BOUND_OFFSET)
_FULL_MAGNITUDE = 1 << 52


@njit(inline="always", nogil=True, cache=True)
def may_be_outside(layer, magnitude):
    """True for every draw (layer, 52-bit magnitude, both int64) outside its layer's rectangle
    of the 1024-layer ziggurat, and for 0.3% of the draws inside (``rectangle_bound``)."""
    e = _FULL_MAGNITUDE - magnitude
    return (layer < 2) | (e * layer <= _BOUND_TOP) | (e * (LANE_LAYERS + _BOUND_OFFSET - layer) <= _BOUND_BOTTOM)


def seed_state(seed) -> np.ndarray:
    """Four well-mixed uint64 words from any seed NumPy's SeedSequence accepts (int or tuple)."""
    entropy = list(seed) if isinstance(seed, (tuple, list)) else seed
    state = np.random.SeedSequence(entropy).generate_state(4, np.uint64)
    if not state.any():  # xoshiro's one forbidden state; SeedSequence never gives it in practice
        state[0] = 1
    return state


@njit(inline="always", nogil=True, cache=True)
def _step(s0, s1, s2, s3):
    """xoshiro256++ on a state held in registers: (output, new state...)."""
    total = s0 + s3
    result = ((total << uint64(23)) | (total >> uint64(41))) + s0
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = (s3 << uint64(45)) | (s3 >> uint64(19))
    return result, s0, s1, s2, s3


@njit(inline="always", nogil=True, cache=True)
def next_uint64(state):
    """One xoshiro256++ output; advances ``state`` (four uint64 words) in place."""
    result, state[0], state[1], state[2], state[3] = _step(state[0], state[1], state[2], state[3])
    return result


@njit(inline="always", nogil=True, cache=True)
def next_double(state):
    """Uniform on [0, 1) with 53 random bits."""
    return float(int64(next_uint64(state) >> uint64(11))) * _INV_2_53


@njit(inline="always", nogil=True, cache=True)
def _to_double(bits):
    return float(int64(bits >> uint64(11))) * _INV_2_53


@njit(nogil=True, cache=True)
def fill_normals(state, out, ki, wi, fi):
    """Fill ``out`` with standard normal draws (ziggurat; ~1% of draws take the slow path).

    The state is copied into locals for the loop (so it stays in registers) and written
    back at the end; the stream is the same as calling ``next_uint64`` draw by draw.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    n = 0
    size = out.shape[0]
    while n < size:
        bits, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        layer = int64(bits & uint64(0xFF))
        bits >>= uint64(8)
        negative = (bits & uint64(1)) != uint64(0)
        magnitude = (bits >> uint64(1)) & _MANTISSA_MASK
        x = float(int64(magnitude)) * wi[layer]
        if negative:
            x = -x
        if magnitude < ki[layer]:
            out[n] = x
            n += 1
        elif layer == 0:
            while True:  # the tail beyond _TAIL_START, sampled by Marsaglia's method
                b1, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
                b2, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
                xx = -math.log1p(-_to_double(b1)) / _TAIL_START
                yy = -math.log1p(-_to_double(b2))
                if yy + yy > xx * xx:
                    break
            out[n] = -(_TAIL_START + xx) if negative else _TAIL_START + xx
            n += 1
        else:
            b1, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
            if (fi[layer - 1] - fi[layer]) * _to_double(b1) + fi[layer] < math.exp(-0.5 * x * x):
                out[n] = x
                n += 1
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


# --- one stream per unit ----------------------------------------------------------------------

class Lanes:
    """The random streams of one trial: a scalar xoshiro256++ state (initial voltages,
    stimulation draws and the ziggurat's rare slow cases) and one xoshiro256++ stream per lane
    (one lane per unit): ``s0``..``s3`` hold the four state words of every lane, each a contiguous
    uint64 array, so the lanes advance together in SIMD registers. ``bits`` and ``flags`` are
    scratch space for one draw per lane.

    Every word comes from the seed through NumPy's SeedSequence: the scalar state is the first
    four words (the same as ``seed_state(seed)``), the lanes the next 4 x ``n_lanes``.
    """

    def __init__(self, seed, n_lanes: int):
        entropy = list(seed) if isinstance(seed, (tuple, list)) else seed
        words = np.random.SeedSequence(entropy).generate_state(4 + 4 * n_lanes, np.uint64)
        self.scalar = words[:4].copy()
        if not self.scalar.any():
            self.scalar[0] = 1
        lanes = words[4:].reshape(n_lanes, 4)
        lanes[~lanes.any(axis=1), 0] = 1  # xoshiro's one forbidden state (probability 2**-256)
        self.s0, self.s1, self.s2, self.s3 = (np.ascontiguousarray(lanes[:, k]) for k in range(4))
        self.bits = np.empty(n_lanes, np.uint64)
        self.flags = np.zeros(-(-n_lanes // 8) * 8, np.uint8)  # whole 8-byte words, scanned 8 at a time

    def arrays(self) -> tuple:
        """(scalar, s0, s1, s2, s3, bits, flags): what the kernels take."""
        return self.scalar, self.s0, self.s1, self.s2, self.s3, self.bits, self.flags


@njit(nogil=True, cache=True)
def fill_normals_lanes(s0, s1, s2, s3, bits, flags, out, state):
    """One trial's lanes: ``fill_normals_trials`` with one scalar ``state`` (four words)."""
    fill_normals_trials(s0, s1, s2, s3, bits, flags, out, state.reshape(1, 4))


@njit(nogil=True, cache=True)
def fill_normals_trials(s0, s1, s2, s3, bits, flags, out, states):
    """Fill ``out`` (one value per lane) with standard normals: each lane's next xoshiro256++
    output through the 1024-layer ziggurat. The lanes belong to len(states) trials, an equal
    number each, end to end. The loop is branch-free so that it vectorises; a draw that may lie
    outside its layer's rectangle (``rectangle_bound``) is flagged and checked after the loop:
    one outside is finished by the ziggurat's wedge or tail test on uniforms from its trial's
    scalar stream ``states[trial]``, in lane order (when the wedge rejects, the ziggurat starts
    over on that stream: a fresh draw is the same as starting over). ``flags`` holds at least
    len(out) bytes, a multiple of 8."""
    n = out.shape[0]
    lanes_per_trial = n // states.shape[0]
    flagged = 0
    for k in range(n):
        word, s0[k], s1[k], s2[k], s3[k] = _step(s0[k], s1[k], s2[k], s3[k])  # lane k's stream
        bits[k] = word
        layer = int64(word & _LANE_LAYER_MASK)
        word >>= _LANE_LAYER_BITS
        magnitude = int64((word >> uint64(1)) & _MANTISSA_MASK)
        x = float(magnitude) * _LANE_WI[layer]
        out[k] = -x if (word & uint64(1)) else x
        maybe_outside = may_be_outside(layer, magnitude)
        flags[k] = 1 if maybe_outside else 0
        flagged += 1 if maybe_outside else 0
    if flagged:
        words = flags.view(np.uint64)
        for w in range(words.shape[0]):
            if words[w]:
                for k in range(8 * w, min(8 * w + 8, n)):
                    if flags[k]:
                        word = bits[k] >> _LANE_LAYER_BITS
                        layer = int64(bits[k] & _LANE_LAYER_MASK)
                        magnitude = (word >> uint64(1)) & _MANTISSA_MASK
                        if magnitude >= _LANE_KI[layer]:  # outside the rectangle after all
                            out[k] = _lane_slow_normal(states[k // lanes_per_trial], layer, (word & uint64(1)) != uint64(0),
                                                       float(int64(magnitude)) * _LANE_WI[layer])


@njit(nogil=True, cache=True)
def _lane_slow_normal(state, layer, negative, x):
    """The 1024-layer ziggurat's rare cases for a draw in ``layer`` with magnitude ``x``: the
    tail or the wedge test on uniforms from ``state``; after a wedge rejection it starts over on
    ``state``."""
    while True:
        if layer == 0:
            while True:  # the tail beyond LANE_TAIL_START, sampled by Marsaglia's method
                xx = -math.log1p(-next_double(state)) / LANE_TAIL_START
                yy = -math.log1p(-next_double(state))
                if yy + yy > xx * xx:
                    break
            return -(LANE_TAIL_START + xx) if negative else LANE_TAIL_START + xx
        if (_LANE_FI[layer - 1] - _LANE_FI[layer]) * next_double(state) + _LANE_FI[layer] < math.exp(-0.5 * x * x):
            return -x if negative else x
        word = next_uint64(state)  # start over
        layer = int64(word & _LANE_LAYER_MASK)
        word >>= _LANE_LAYER_BITS
        negative = (word & uint64(1)) != uint64(0)
        magnitude = (word >> uint64(1)) & _MANTISSA_MASK
        x = float(int64(magnitude)) * _LANE_WI[layer]
        if magnitude < _LANE_KI[layer]:
            return -x if negative else x
