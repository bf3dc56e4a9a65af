"""``rate2spike bench``: time the simulator against the NumPy reference on one model.

Everything runs in one process on the same model and the same trials, so the ratios are
what the reader should look at (absolute times depend on the machine). Each figure is the
best of several repetitions, which is the least disturbed by other work on the machine.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from rate2spike.model import load_model, read_mat
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.reference import reference_lif
from rate2spike.tasks import infer_task
from rate2spike.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS, default_threads, run_grid
from rate2spike.trial import TRIAL_RECORDINGS, TrialSpec, run_trial

TARGET_SPEEDUP = 30.0  # one output-only trial vs the NumPy reference, one core
TARGET_GRID_SECONDS = 60.0  # default grid search of one go-nogo N = 200 model
TARGET_RECORDED_MS = 150.0  # one fully recorded go-nogo trial


@dataclass
class BenchFigures:
    reference_s: float
    output_one_core_s: float
    output_all_cores_s: float  # wall time per trial with all cores busy
    recorded_s: float
    threads: int
    grid_s: float | None = None
    grid_trials: int = 0


def _best(fn, repeats: int) -> float:
    times = []
    for k in range(repeats):
        start = time.perf_counter()
        fn(k)
        times.append(time.perf_counter() - start)
    return min(times)


def default_bench_model():
    paths = find_model_files(shipped_model_dir("go-nogo")) if shipped_model_dir("go-nogo").is_dir() else []
    if not paths:
        raise FileNotFoundError("no shipped go-nogo model found; pass --model PATH")
    return paths[0]


def run_bench(model_path=None, repeats: int = 5, grid: bool = True, threads: int | None = None, say=print) -> BenchFigures:
    """Measure and print the benchmark figures; returns them."""
    model_path = model_path or default_bench_model()
    model = load_model(model_path)
    spec = TrialSpec(model, condition=infer_task(model).conditions()[0].name)  # lambda: the stored optimum
    first = run_trial(spec, TRIAL_RECORDINGS)  # compiles the kernels (cached after the first run)
    drive, task, scaling = first.recording.drive, spec.task, spec.scaling_factor
    threads = threads or default_threads()
    say(f"model {model.name}: {task.name}, N = {model.N}, {drive.nt} steps of {drive.dt * 1e3:g} ms, "
        f"lambda = {scaling:g}, {threads} thread(s)")

    variables = read_mat(model_path)
    ref = _best(lambda k: reference_lif(variables, scaling, first.stimulus.u, {"mode": "none"},
                                        rng=np.random.default_rng(k)), max(2, repeats // 2))
    one = _best(lambda k: run_trial(spec.replace(index=k)), repeats * 2)
    batch = 8 * threads
    everyone = _best(lambda k: run_grid(spec.replace(seed=k, condition=None), [scaling], batch, n_threads=threads),
                     2) / batch
    recorded = _best(lambda k: run_trial(spec.replace(index=k), TRIAL_RECORDINGS[:4]), repeats)
    figures = BenchFigures(ref, one, everyone, recorded, threads)

    say("")
    say(f"{'what':<46}{'time':>12}{'vs reference':>16}")
    say(f"{'NumPy reference, one trial':<46}{ref * 1e3:>10.1f}ms{1.0:>15.1f}x")
    say(f"{'Numba output-only, one trial, one core':<46}{one * 1e3:>10.1f}ms{ref / one:>15.1f}x")
    say(f"{f'Numba output-only, per trial, {threads} threads':<46}{everyone * 1e3:>10.1f}ms{ref / everyone:>15.1f}x")
    say(f"{'Numba full recording, one trial':<46}{recorded * 1e3:>10.1f}ms{ref / recorded:>15.1f}x")
    say(f"parallel speed-up over one core: {one / everyone:.2f}x on {threads} threads")
    if grid:
        n = len(DEFAULT_SCALING_FACTORS) * DEFAULT_N_TRIALS
        start = time.perf_counter()
        run_grid(spec.replace(condition=None), DEFAULT_SCALING_FACTORS, DEFAULT_N_TRIALS, n_threads=threads)
        figures.grid_s = time.perf_counter() - start
        figures.grid_trials = n
        say(f"default grid search ({len(DEFAULT_SCALING_FACTORS)} lambdas x {DEFAULT_N_TRIALS} trials = {n} trials): "
            f"{figures.grid_s:.1f} s")
    say("")
    say("targets (go-nogo, N = 200):")
    _verdict(say, f"one trial >= {TARGET_SPEEDUP:g}x faster than the reference", ref / one, ref / one >= TARGET_SPEEDUP, "x")
    _verdict(say, f"full-recording trial < {TARGET_RECORDED_MS:g} ms", recorded * 1e3, recorded * 1e3 < TARGET_RECORDED_MS, " ms")
    if figures.grid_s is not None:
        _verdict(say, f"default grid search < {TARGET_GRID_SECONDS:g} s", figures.grid_s, figures.grid_s < TARGET_GRID_SECONDS, " s")
    return figures


def _verdict(say, text, value, ok, unit):
    say(f"  {'met ' if ok else 'MISSED'}  {text}: {value:.1f}{unit}")


def run_train_bench(say=print, seed: int = 0) -> float:
    """Time the training of a go-nogo N = 200 model pinned to one core."""
    import tempfile

    from rate2spike.train import train_model

    pinned = hasattr(os, "sched_setaffinity")
    cores = os.sched_getaffinity(0) if pinned else None
    try:
        if pinned:
            os.sched_setaffinity(0, {min(cores)})
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            result = train_model("go-nogo", N=200, seed=seed, out_dir=tmp)
            elapsed = time.perf_counter() - start
    finally:
        if pinned:
            os.sched_setaffinity(0, cores)
    say(f"training go-nogo N = 200 on {'one core' if pinned else 'this machine'}: {elapsed:.1f} s, "
        f"{result.trials} trials, eval accuracy {result.eval_accuracy:.3f}, eval loss {result.eval_loss:.2f}")
    _verdict(say, "training < 300 s", elapsed, elapsed < 300, " s")
    return elapsed
