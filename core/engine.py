"""Where a search's trials run: this process's threads, or the workers of a Dask cluster.

The unit of work is a **block**: one model, a few lambdas and a few trial indices, every lambda
on every trial. ``score_block`` runs a block wherever it lands (a thread here, a worker process
there) and returns one ``TrialScore`` per trial; the engines only differ in how blocks reach it.
A Dask worker receives a model's base spec once (scattered to every worker) and keeps the rate
network's output per trial in a process-wide cache, so neither the weights nor the rate
simulation travel or repeat per block. Results do not depend on the engine: trial k at lambda j
is the same simulation everywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np

from rate2spike.fidelity import Fidelity, output_fidelities
from rate2spike.tasks import Outcome
from rate2spike.trial import RateResponseCache, TrialSpec, run_trials_at

# A block's lambdas run together on each of its trials and share the trial's noise draws (most of a
# trial's cost): 12 lambdas of a go-nogo trial cost about what 5 trials at one lambda cost.
THREAD_BLOCK_TRIALS = 12  # trials per block on threads (one block ~ 0.1 s: cancel and progress stay prompt)
DASK_BLOCK_TRIALS = 24  # trials per block on Dask (~0.2 s of work against ~2 ms of scheduling: about 1%)
LOCKSTEP_WEIGHT_BYTES = 64 * 2**20  # at most this much of stacked weights in one kernel call (N = 1000: 8 lambdas)


@dataclass(frozen=True)
class Block:
    """One model's search: every scaling factor of ``scaling_factors`` on every trial of ``trials``."""

    scaling_factors: tuple[float, ...]
    trials: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.scaling_factors) * len(self.trials)


@dataclass(frozen=True)
class TrialScore:
    """One scored LIF trial of a search: its verdict, spike count and output fidelity."""

    scaling_factor: float
    trial: int
    outcome: Outcome
    spikes: int
    fidelity: Fidelity


_RATE_OUTPUTS: OrderedDict[str, RateResponseCache] = OrderedDict()  # per search key, in this process
_RATE_OUTPUTS_KEPT = 128  # searches whose rate outputs a process keeps (a folder's models in flight; ~0.2 MB each)
_RATE_OUTPUTS_LOCK = threading.Lock()


def rate_outputs_for(key: str) -> RateResponseCache:
    """This process's cache of the rate outputs of the search ``key`` (created on first use; every
    trial's output kept until the search is among the oldest of ``_RATE_OUTPUTS_KEPT``)."""
    with _RATE_OUTPUTS_LOCK:
        cache = _RATE_OUTPUTS.get(key)
        if cache is None:
            cache = _RATE_OUTPUTS[key] = RateResponseCache(capacity=None, outputs_only=True)
            while len(_RATE_OUTPUTS) > _RATE_OUTPUTS_KEPT:
                _RATE_OUTPUTS.popitem(last=False)
        else:
            _RATE_OUTPUTS.move_to_end(key)
        return cache


def score_block(base: TrialSpec, key: str, block: Block, stop: threading.Event | None = None) -> list[TrialScore]:
    """Simulate and score the trials of ``block`` (stopping early, with fewer scores, if ``stop``
    is set): its lambdas in lockstep on one trial at a time, sharing the trial's noise. ``key``
    names the search, for the rate-output cache."""
    rate_outputs = rate_outputs_for(key)
    per_call = max(1, LOCKSTEP_WEIGHT_BYTES // (np.dtype(base.precision).itemsize * base.model.N ** 2))
    scores = []
    for k_trial in block.trials:
        for start in range(0, len(block.scaling_factors), per_call):
            if stop is not None and stop.is_set():
                return scores
            factors = block.scaling_factors[start:start + per_call]
            trials = run_trials_at([base.replace(index=k_trial)], factors)[0]
            fidelities = output_fidelities(np.stack([trial.recording.out for trial in trials]),
                                           rate_outputs.output(trials[0].spec, trials[0].stimulus), base.downsample)
            for factor, trial, fidelity in zip(factors, trials, fidelities):
                scores.append(TrialScore(factor, k_trial, trial.outcome, int(trial.recording.spike_counts.sum()), fidelity))
    return scores


def make_blocks(jobs: Iterable[tuple[float, int]], block_trials: int) -> list[Block]:
    """(lambda, trial) jobs grouped into blocks of about ``block_trials`` trials: trials that ask
    for the same lambdas go together, each block as many of those lambdas as fit (they share
    noise) on as many of the trials as then fit, trial by trial in the order the jobs came."""
    by_trial: dict[int, list[float]] = {}
    for scaling_factor, k_trial in jobs:
        by_trial.setdefault(int(k_trial), []).append(float(scaling_factor))
    trials_asking: dict[tuple[float, ...], list[int]] = {}
    for k_trial, factors in by_trial.items():
        trials_asking.setdefault(tuple(factors), []).append(k_trial)
    blocks = []
    for factors, trials in trials_asking.items():
        parts = -(-len(factors) // block_trials)  # lambdas split evenly: no block of one stray lambda
        width = -(-len(factors) // parts)
        depth = max(1, block_trials // width)
        for i in range(0, len(trials), depth):
            blocks.extend(Block(factors[j:j + width], tuple(trials[i:i + depth])) for j in range(0, len(factors), width))
    return blocks


OnScores = Callable[[list[TrialScore]], None]


class ThreadEngine:
    """Blocks on a pool of this process's threads (the kernel releases the GIL)."""

    block_trials = THREAD_BLOCK_TRIALS

    def __init__(self, n_threads: int):
        self.n_threads = int(n_threads)
        self._pool = ThreadPoolExecutor(max_workers=self.n_threads, thread_name_prefix="lif-sweep")
        self._stop = threading.Event()

    def prepare(self, base: TrialSpec) -> TrialSpec:
        """What the blocks of a search of ``base`` are given: the spec itself (threads share memory)."""
        return base

    def run(self, handle, key: str, blocks: Sequence[Block], on_scores: OnScores, cancelled: Callable[[], bool]) -> bool:
        """Run ``blocks``, calling ``on_scores`` in this thread as each finishes; False once cancelled."""
        return _run_bounded(lambda block: self._pool.submit(score_block, handle, key, block, self._stop),
                            blocks, 2 * self.n_threads, on_scores, cancelled, self._stop.set,
                            lambda pending: wait(pending, return_when=FIRST_COMPLETED),
                            lambda future: future.result(), lambda pending: None)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class DaskEngine:
    """Blocks as tasks of a Dask cluster. Each search's base spec is scattered to every worker once;
    a worker that dies has its blocks retried elsewhere by Dask."""

    block_trials = DASK_BLOCK_TRIALS

    def __init__(self, client):
        self.client = client

    @property
    def n_threads(self) -> int:
        return max(1, sum(self.client.nthreads().values()))

    def prepare(self, base: TrialSpec):
        """What the blocks of a search of ``base`` are given: the spec scattered to every worker once."""
        return self.client.scatter(base, broadcast=True, hash=False)

    def run(self, handle, key: str, blocks: Sequence[Block], on_scores: OnScores, cancelled: Callable[[], bool]) -> bool:
        from distributed import wait as dask_wait

        def submit(block):
            return self.client.submit(score_block, handle, key, block, pure=False, retries=2)

        def wait_some(pending):
            done, not_done = dask_wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(not_done)

        return _run_bounded(submit, blocks, 2 * self.n_threads, on_scores, cancelled, lambda: None,
                            wait_some, lambda future: future.result(), self.client.cancel)

    def close(self) -> None:
        pass


def _run_bounded(submit, blocks, in_flight: int, on_scores: OnScores, cancelled, stop, wait_some, result_of,
                 cancel_pending) -> bool:
    """Keep at most ``in_flight`` blocks submitted (so a cancel takes effect quickly), hand each
    finished block's scores to ``on_scores``; on cancel stop submitting, drop what is pending."""
    queue = iter(blocks)
    pending = set()

    def top_up():
        for block in queue:
            pending.add(submit(block))
            if len(pending) >= in_flight:
                break

    top_up()
    while pending:
        finished, pending = wait_some(pending)
        for future in finished:
            on_scores(result_of(future))
        if cancelled():
            stop()
            if pending:
                cancel_pending(list(pending))
            return False
        top_up()
    return True
