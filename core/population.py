"""Training a population of models, one per seed: in this process, or on a Dask cluster.

``train_population(task, seeds, client=...)`` runs ``rate2spike.train.train_model`` once per
seed with the same options. With a ``distributed.Client`` every seed is one Dask task (on the
workers of a ``distributed.LocalCluster`` or of a running scheduler; ``rate2spike.cluster``
makes either); without one the seeds train one after another here. A seed that raises is
reported with its error and the others finish. With ``batch_size`` 1 (the default) a seed trains
to the same weights, bit for bit, here or on a worker of the same machine; with larger batches
only with the same number of BLAS threads (workers use one; see ``train_model``).

Every file goes under ``out_dir`` as ``train_model`` names it (with the seed; never
overwritten). On a cluster the workers write the files themselves, so ``out_dir`` must be
reachable from them at the same path (it is made absolute here): a shared file system when the
scheduler is on other machines.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from rate2spike.progress import is_cancelled
from rate2spike.tasks import get_task
from rate2spike.train import TrainingResult, check_network_options, train_model

CANCEL_CHECK_SECONDS = 1.0  # how often a seed on a worker asks the scheduler whether to stop
POLL_SECONDS = 0.1  # how often the gathering loop looks at ``cancel``
CANCEL_GRACE_SECONDS = 10.0  # after a cancel, how long seeds already running get to stop (without saving)


@dataclass(frozen=True)
class SeedOutcome:
    """One seed's end: its ``TrainingResult`` (``result.path`` is the file; None if the seed was
    cancelled), or the error that stopped it (``error``, "ValueError: ...")."""

    seed: int
    result: TrainingResult | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def cancelled(self) -> bool:
        return self.result is not None and self.result.cancelled


@dataclass(frozen=True)
class PopulationProgress:
    """What ``progress`` receives each time a seed ends."""

    outcome: SeedOutcome
    done: int  # seeds ended so far (trained, failed or cancelled)
    total: int


@dataclass(frozen=True)
class PopulationTraining:
    """The outcome of ``train_population``: one ``SeedOutcome`` per seed that ended, in seed order."""

    task: str
    seeds: tuple[int, ...]
    outcomes: tuple[SeedOutcome, ...]
    elapsed_seconds: float
    cancelled: bool

    @property
    def results(self) -> dict[int, TrainingResult]:
        """The seeds that trained and saved a file, with their results (path, eval accuracy,
        trials, elapsed_seconds, converged, the network)."""
        return {o.seed: o.result for o in self.outcomes if o.result is not None and not o.result.cancelled}

    @property
    def failures(self) -> dict[int, str]:
        """The seeds that raised, with their error messages."""
        return {o.seed: o.error for o in self.outcomes if o.failed}

    @property
    def unfinished(self) -> tuple[int, ...]:
        """Seeds that neither saved a file nor failed (cancelled, or never started)."""
        ended = set(self.results) | set(self.failures)
        return tuple(s for s in self.seeds if s not in ended)


def train_population(task, seeds: Iterable[int], client=None, out_dir=".",
                     progress: Callable[[PopulationProgress], None] | None = None,
                     cancel: Callable[[], bool] | threading.Event | None = None,
                     **train_options) -> PopulationTraining:
    """Train one model per seed of ``seeds`` with the same ``train_options`` (those of
    ``train_model``: N, taus, activation, n_trials, ...), saved under ``out_dir``.

    ``client``: a ``distributed.Client`` (one task per seed), or None (one seed after another
    in this process). ``progress`` gets a ``PopulationProgress`` each time a seed ends.
    ``cancel`` (a callable returning True, or a threading.Event) stops the population: seeds
    not started do not start, and seeds in training stop without saving (on a cluster within
    about ``CANCEL_CHECK_SECONDS``; a file being written as the cancel comes is kept and
    reported). Ctrl-C (KeyboardInterrupt, or the CLI's SystemExit on SIGTERM) is raised again
    after the seeds on a cluster are told to stop the same way; here, the seed in training
    stops without saving. Result paths are absolute.
    """
    task_name = get_task(task).name
    seeds = tuple(seeds)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"each seed may appear once, got {list(seeds)}")
    for name in ("seed", "progress", "cancel"):
        if name in train_options:
            raise TypeError(f"train_population sets {name!r} of train_model itself")
    check_network_options(**{k: v for k, v in train_options.items() if k in ("N", "taus", "P_inh", "gain")})
    out_dir = os.path.abspath(out_dir)
    started = time.perf_counter()
    outcomes: dict[int, SeedOutcome] = {}

    def ended(outcome: SeedOutcome) -> None:
        outcomes[outcome.seed] = outcome
        if progress is not None:
            progress(PopulationProgress(outcome, len(outcomes), len(seeds)))

    if client is None:
        cancelled = _train_here(task_name, seeds, out_dir, cancel, train_options, ended)
    else:
        cancelled = _train_on_cluster(client, task_name, seeds, out_dir, cancel, train_options, ended)
    return PopulationTraining(
        task=task_name, seeds=seeds, outcomes=tuple(outcomes[s] for s in seeds if s in outcomes),
        elapsed_seconds=time.perf_counter() - started, cancelled=cancelled,
    )


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _train_here(task_name, seeds, out_dir, cancel, options, ended) -> bool:
    """One seed after another in this process; True when cancelled."""
    for seed in seeds:
        if is_cancelled(cancel):
            return True
        try:
            result = train_model(task_name, seed=seed, out_dir=out_dir, cancel=cancel, **options)
        except Exception as exc:  # reported; the other seeds go on (Ctrl-C is not an Exception)
            ended(SeedOutcome(seed, error=_error_text(exc)))
            continue
        ended(SeedOutcome(seed, result=result))
        if result.cancelled:
            return True
    return False


class _ClusterCancel:
    """The cancel check of a seed on a worker: asks the scheduler whether the population's
    ``distributed.Event`` is set, at most every ``CANCEL_CHECK_SECONDS`` (the first call asks)."""

    def __init__(self, event_name: str):
        self.event_name = event_name
        self.event = None
        self.next_check = 0.0

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self.next_check:
            return False
        self.next_check = now + CANCEL_CHECK_SECONDS
        if self.event is None:
            from distributed import Event

            self.event = Event(self.event_name)
        return self.event.is_set()


def _train_seed_on_worker(task_name: str, seed: int, out_dir: str, cancel_event: str, options: dict) -> TrainingResult:
    """The Dask task of one seed."""
    return train_model(task_name, seed=seed, out_dir=out_dir, cancel=_ClusterCancel(cancel_event), **options)


def _train_on_cluster(client, task_name, seeds, out_dir, cancel, options, ended) -> bool:
    """One Dask task per seed, gathered as they finish; True when cancelled."""
    from distributed import Event, as_completed

    run = uuid.uuid4().hex[:12]
    stop = Event(f"rate2spike-train-{run}-cancel", client=client)
    futures = {client.submit(_train_seed_on_worker, task_name, seed, out_dir, stop.name, options,
                             key=f"train-{task_name}-seed-{seed}-{run}", pure=False): seed
               for seed in seeds}
    pending = as_completed(futures)

    def collect(future) -> None:
        seed = futures[future]
        try:
            ended(SeedOutcome(seed, result=future.result()))
        except Exception as exc:  # the seed's own error, or the cluster's (a worker that died, KilledWorker)
            ended(SeedOutcome(seed, error=_error_text(exc)))

    cancelled = False
    try:
        while not pending.is_empty():
            if not cancelled and is_cancelled(cancel):
                cancelled = True
                stop.set()  # seeds in training stop at their next check, seeds not started stop at once
                deadline = time.monotonic() + CANCEL_GRACE_SECONDS
            if cancelled and time.monotonic() > deadline:
                break
            batch = pending.next_batch(block=False)
            for future in batch:
                collect(future)
            if not batch:
                time.sleep(POLL_SECONDS)
    except BaseException:  # Ctrl-C, SIGTERM: stop the seeds on the cluster too, then go
        try:
            stop.set()
        finally:
            client.cancel(list(futures))
        raise
    if cancelled:  # seeds that did not answer within the grace (not started on a busy cluster): dropped
        client.cancel([f for f in futures if not f.done()])
    return cancelled
