"""A fast, seedable normal/uniform generator usable inside Numba kernels.

Why not NumPy's or Numba's own generators: the LIF simulation draws one normal per unit
per 0.05 ms step (4 million per go-nogo trial), and drawing them is most of the cost of a
trial. xoshiro256++ with Marsaglia & Tsang's 256-layer ziggurat (NumPy's algorithm) is about
twice as fast as ``numba``'s ``np.random.Generator`` here and needs no Python object, so the
kernels can run with the GIL released. The state is four uint64 words in a NumPy array that
the caller owns: one state per trial makes results independent of thread scheduling.
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, uint64

_TAIL_START = 3.6541528853610088  # ziggurat_nor_r: where the 256-layer ziggurat's tail begins
_LAYER_VOLUME = 0.00492867323399  # area of each layer of the ziggurat
_INV_2_53 = 1.0 / 9007199254740992.0
_MANTISSA_MASK = np.uint64(0x000FFFFFFFFFFFFF)


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Marsaglia & Tsang's tables for 52-bit mantissas (the layout NumPy uses)."""
    scale = 2.0**52
    dn = tn = _TAIL_START
    ki = np.zeros(256, np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    q = _LAYER_VOLUME / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * scale))
    wi[0] = q / scale
    wi[255] = dn / scale
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_LAYER_VOLUME / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * scale))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / scale
    return ki, wi, fi


ZIGGURAT_KI, ZIGGURAT_WI, ZIGGURAT_FI = _ziggurat_tables()


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
