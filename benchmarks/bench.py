"""``python -m benchmarks``: time the simulator against the NumPy reference on one model.

Everything runs in one process on the same model and the same trials, so the ratios are
what the reader should look at (absolute times depend on the machine). Each figure is the
best of several repetitions, which is the least disturbed by other work on the machine.

The NumPy reading of the method that the ratios compare with is kept in tests/ beside the
tests that check the simulator against it (tests/numpy_reading.py): the benchmarks, like the
tests, run from a source checkout (developer tooling, not part of the installed package).
"""

from __future__ import annotations

import importlib.util
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rate2spike.model import RateModel, load_model, read_mat
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.tasks import infer_task
from rate2spike.search import SearchOptions
from rate2spike.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS, default_threads, format_band, run_grid
from rate2spike.trial import TRIAL_RECORDINGS, TrialSpec, run_trial, run_trials_at

# Targets the project set itself (the simulator issue's, #13, for go-nogo N = 200 on this 2-core machine)
TARGET_SPEEDUP = 80.0  # one output-only trial vs the NumPy reference, one core
TARGET_OUTPUT_MS = 6.0  # one output-only trial, one core
TARGET_RECORDED_MS = 15.0  # one fully recorded trial
TARGET_GRID_SECONDS = 4.0  # default full-grid search (12 lambdas x 100 trials), 2 cores
TARGET_RACE_SECONDS = 3.0  # default go-nogo search with racing, 2 cores (the search issue's, #11)
TARGET_N1000_MS = 50.0  # one output-only trial of a synthetic N = 1000 network, one core (--sizes)
SEARCHES = (("full grid (the reference's search)", SearchOptions(), "float64"),
            ("race", SearchOptions(race=True), "float64"),
            ("race + edge extension (sweep --race)", SearchOptions(race=True, extend=True), "float64"),
            ("full grid in float32 (sweep --float32)", SearchOptions(), "float32"),
            ("race in float32", SearchOptions(race=True), "float32"))


NUMPY_READING = Path(__file__).resolve().parent.parent / "tests" / "numpy_reading.py"


def numpy_reading():
    """``reference_lif`` from the source checkout's tests/numpy_reading.py, or None when the
    package runs from an installation without the checkout."""
    if not NUMPY_READING.is_file():
        return None
    spec = importlib.util.spec_from_file_location("rate2spike_numpy_reading", NUMPY_READING)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reference_lif


@dataclass
class BenchFigures:
    reference_s: float | None  # None: no source checkout, so no NumPy reading to time
    output_one_core_s: float
    output_all_cores_s: float  # wall time per trial with all cores busy, each trial at the default grid's lambdas
    recorded_s: float
    threads: int
    grid_s: float | None = None
    grid_trials: int = 0
    race_s: float | None = None
    race_trials: int = 0
    lockstep_s: float | None = None  # per trial, one trial at the default grid's lambdas together, one core
    lockstep_float32_s: float | None = None  # the same in single precision


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

    reference_lif = numpy_reading()
    ref = None
    if reference_lif is not None:
        variables = read_mat(model_path)
        ref = _best(lambda k: reference_lif(variables, scaling, first.stimulus.u, {"mode": "none"},
                                            rng=np.random.default_rng(k)), max(2, repeats // 2))
    one = _best(lambda k: run_trial(spec.replace(index=k)), repeats * 2)
    lockstep, lockstep32 = (_best(lambda k: run_trials_at([spec.replace(index=k, precision=precision)],
                                                          DEFAULT_SCALING_FACTORS), repeats) / len(DEFAULT_SCALING_FACTORS)
                            for precision in ("float64", "float32"))
    batch = 4 * threads  # trials, each at the default grid's lambdas: four blocks per thread

    def grid_per_trial(n_threads: int) -> float:
        return _best(lambda k: run_grid(spec.replace(seed=k, condition=None), DEFAULT_SCALING_FACTORS, batch,
                                        n_threads=n_threads), 2) / (batch * len(DEFAULT_SCALING_FACTORS))

    everyone, one_thread = grid_per_trial(threads), grid_per_trial(1)
    recorded = _best(lambda k: run_trial(spec.replace(index=k), TRIAL_RECORDINGS[:4]), repeats)
    figures = BenchFigures(ref, one, everyone, recorded, threads, lockstep_s=lockstep, lockstep_float32_s=lockstep32)

    def ratio(seconds: float) -> str:
        return f"{ref / seconds:>15.1f}x" if ref is not None else f"{'-':>16}"

    say("")
    say(f"{'what':<46}{'time':>12}{'vs reference':>16}")
    if ref is not None:
        say(f"{'NumPy reference, one trial':<46}{ref * 1e3:>10.1f}ms{1.0:>15.1f}x")
    else:
        say(f"NumPy reference: not timed, {NUMPY_READING} is not here (it lives in the source checkout's tests/)")
    say(f"{'Numba output-only, one trial, one core':<46}{one * 1e3:>10.1f}ms{ratio(one)}")
    say(f"{f'Numba output-only, per trial, {len(DEFAULT_SCALING_FACTORS)} lambdas at once':<46}"
        f"{lockstep * 1e3:>10.1f}ms{ratio(lockstep)}")
    say(f"{'  the same in float32 (sweep --float32)':<46}{lockstep32 * 1e3:>10.1f}ms{ratio(lockstep32)}")
    say(f"{f'  the same on {threads} threads (wall time per trial)':<46}{everyone * 1e3:>10.1f}ms{ratio(everyone)}")
    say(f"{'Numba full recording, one trial':<46}{recorded * 1e3:>10.1f}ms{ratio(recorded)}")
    say(f"parallel speed-up of a search over one core: {one_thread / everyone:.2f}x on {threads} threads")
    if grid:
        say("")
        say(f"default search ({len(DEFAULT_SCALING_FACTORS)} lambdas x {DEFAULT_N_TRIALS} trials, seed 0), "
            f"{threads} thread(s):")
        say(f"  {'procedure':<40}{'time':>9}{'trials':>8}{'optimum':>9}  band")
        searches = {}
        for label, options, precision in SEARCHES:
            searches[label] = _timed_search(spec.replace(condition=None, precision=precision), options, threads)
            say(f"  {label:<40}{_search_row(*searches[label])}")
        (figures.grid_s, full), (figures.race_s, race) = searches[SEARCHES[0][0]], searches[SEARCHES[1][0]]
        figures.grid_trials, figures.race_trials = int(full.n_done.sum()), int(race.n_done.sum())
        say(f"  {_race_comparison(figures.grid_s, full, figures.race_s, race)}")
        single_s, single = searches[SEARCHES[3][0]]
        say(f"  full grid in float32: {single_s / figures.grid_s:.2f} of float64's time, optimum "
            f"{'the same' if single.optimum[0] == full.optimum[0] else f'{single.optimum[0]:g} (float64: {full.optimum[0]:g})'}, "
            f"largest accuracy difference {np.nanmax(np.abs(single.accuracy - full.accuracy)):.3f}")
    say("")
    say("targets (go-nogo, N = 200):")
    if ref is not None:
        _verdict(say, f"one trial >= {TARGET_SPEEDUP:g}x faster than the reference", ref / one, ref / one >= TARGET_SPEEDUP, "x")
    _verdict(say, f"output-only trial <= {TARGET_OUTPUT_MS:g} ms", one * 1e3, one * 1e3 <= TARGET_OUTPUT_MS, " ms")
    _verdict(say, f"full-recording trial <= {TARGET_RECORDED_MS:g} ms", recorded * 1e3, recorded * 1e3 <= TARGET_RECORDED_MS, " ms")
    if figures.grid_s is not None:
        _verdict(say, f"default full-grid search <= {TARGET_GRID_SECONDS:g} s", figures.grid_s, figures.grid_s <= TARGET_GRID_SECONDS, " s")
        _verdict(say, f"default race <= {TARGET_RACE_SECONDS:g} s", figures.race_s, figures.race_s <= TARGET_RACE_SECONDS, " s")
    return figures


def _timed_search(base: TrialSpec, options: SearchOptions, threads: int):
    """(seconds, SweepResult) of the default grid search of ``base`` with these options."""
    start = time.perf_counter()
    result = run_grid(base, DEFAULT_SCALING_FACTORS, DEFAULT_N_TRIALS, n_threads=threads, options=options)
    return time.perf_counter() - start, result


def _search_row(seconds: float, result) -> str:
    return f"{seconds:>8.1f}s{int(result.n_done.sum()):>8}{result.optimum[0]:>9g}  {format_band(result.band)}"


def _race_comparison(full_s: float, full, race_s: float, race) -> str:
    """'race: 0.70 of the full grid's time, 28% fewer trials, optimum the same'."""
    from rate2spike.validation import optimum_agrees

    same = race.optimum[0] == full.optimum[0]
    verdict = "the same" if same else "within a step or in the band" if optimum_agrees(full.table, race.table) \
        else "DIFFERENT"
    return (f"race: {race_s / full_s:.2f} of the full grid's time, "
            f"{1 - race.n_done.sum() / full.n_done.sum():.0%} fewer trials, optimum {verdict}")


def run_search_bench(say=print, threads: int | None = None, tasks=("go-nogo", "xor", "mante")) -> dict:
    """Full grid against racing: agreement and trials saved on constructed curves (20 x 5 seeds),
    then time, trials, optimum and band of both on each shipped model (default grid, 100 trials)."""
    from rate2spike.validation import race_agreement

    threads = threads or default_threads()
    found = race_agreement(DEFAULT_SCALING_FACTORS, DEFAULT_N_TRIALS, n_curves=20, seeds=5)
    say(f"constructed curves ({found['runs']} races: 20 curves x 5 seeds, {len(DEFAULT_SCALING_FACTORS)} lambdas x "
        f"{DEFAULT_N_TRIALS} trials): race agrees with the full grid in {found['agreement']:.0%} "
        f"(within one step or inside its band), {found['trials_saved']:.0%} fewer trials")
    say("")
    say(f"shipped models, {threads} thread(s), seed 0:")
    say(f"  {'model':<9}{'procedure':<12}{'time':>9}{'trials':>8}{'optimum':>9}  band")
    rows = {}
    for task in tasks:
        paths = find_model_files(shipped_model_dir(task))
        if not paths:
            continue
        model = load_model(paths[0], stored_results=False)
        base = TrialSpec(model)
        run_trial(base)  # compiled before timing
        for label, options in (("full grid", SearchOptions()), ("race", SearchOptions(race=True))):
            rows[task, label] = _timed_search(base, options, threads)
            say(f"  {task:<9}{label:<12}{_search_row(*rows[task, label])}")
        say(f"  {'':<9}{_race_comparison(*rows[task, 'full grid'], *rows[task, 'race'])}")
    return {"constructed": found, "shipped": rows}


SIZES = (100, 200, 500, 1000, 2000)  # units of the synthetic networks timed by --sizes


def synthetic_model(n_units: int, seed: int = 0) -> RateModel:
    """An untrained go-nogo network of ``n_units`` units as the trainer initialises it (Dale's
    principle, 20% inhibitory, sparse chaotic recurrent weights): a stand-in of any size."""
    from rate2spike.train import initialise_network

    net = initialise_network(1, n_units, (4, 20), np.random.default_rng(seed))
    return RateModel(N=n_units, w=net.w, m=net.m, som_m=net.som_m, w_in=net.w_in, w_out=net.w_out,
                     b_out=float(net.b_out), exc=net.exc, taus=net.taus, taus_gaus=net.taus_gaus,
                     activation=net.activation)


def run_size_bench(say=print, sizes=SIZES, repeats: int = 3, scaling_factor: float = 50.0) -> dict:
    """One output-only go-nogo trial of synthetic networks of each size, one core: the time per
    trial and per unit-step, and the spikes (firing rates rise with N in untrained networks)."""
    say(f"synthetic go-nogo networks (untrained, seed 0), lambda = {scaling_factor:g}, one core, best of {repeats}:")
    say(f"  {'N':>6}{'ms per trial':>14}{'ns per unit-step':>18}{'spikes per trial':>18}{'Hz per unit':>13}"
        f"{'float32 ms':>12}")
    figures = {}
    for n_units in sizes:
        spec = TrialSpec(synthetic_model(n_units), "go-nogo", scaling_factor, condition="Go")
        trial = run_trial(spec)  # compiled before timing
        seconds = _best(lambda k: run_trial(spec.replace(index=k)), repeats)
        single = spec.replace(precision="float32")
        run_trial(single)
        single_s = _best(lambda k: run_trial(single.replace(index=k)), repeats)
        steps = trial.recording.drive.nt
        spikes = int(trial.recording.spike_counts.sum())
        figures[n_units] = seconds
        say(f"  {n_units:>6}{seconds * 1e3:>14.1f}{seconds / (n_units * steps) * 1e9:>18.2f}{spikes:>18}"
            f"{spikes / (n_units * spec.duration):>13.1f}{single_s * 1e3:>12.1f}")
    if 1000 in figures:
        _verdict(say, f"N = 1000 trial <= {TARGET_N1000_MS:g} ms", figures[1000] * 1e3,
                 figures[1000] * 1e3 <= TARGET_N1000_MS, " ms")
    return figures


def _verdict(say, text, value, ok, unit):
    say(f"  {'met ' if ok else 'MISSED'}  {text}: {value:.3g}{unit}")  # 3 digits: 4.04 s is not shown as 4.0


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


SCALE_FACTORS = (15, 20, 25, 30, 35, 40)  # lambdas of the --scale benchmark's search
SCALE_TRIALS = 40  # trials per lambda


def _timed_block(base, key, block):
    """score_block and the seconds it took on the worker (to separate compute from scheduling)."""
    from rate2spike.engine import score_block

    start = time.perf_counter()
    scores = score_block(base, key, block)
    return len(scores), time.perf_counter() - start


def _dask_blocks(client, base: TrialSpec, blocks) -> tuple[float, float]:
    """(wall seconds, summed compute seconds) of ``blocks`` on the cluster, all submitted at once."""
    handle = client.scatter(base, broadcast=True, hash=False)
    key = f"bench-{time.perf_counter_ns()}"
    start = time.perf_counter()
    futures = [client.submit(_timed_block, handle, key, block, pure=False) for block in blocks]
    done = client.gather(futures)
    return time.perf_counter() - start, sum(seconds for _, seconds in done)


def run_scale_bench(say=print, model=None, worker_counts=(1, 2)) -> dict:
    """Trials per second of one search on the threaded engine and on local Dask clusters of 1 and
    2 worker processes, and Dask's scheduling cost per block (docs/scaling.md)."""
    from rate2spike.cluster import dask_client
    from rate2spike.engine import DASK_BLOCK_TRIALS, make_blocks

    model = load_model(model or default_bench_model(), stored_results=False)
    base = TrialSpec(model)
    n_trials = len(SCALE_FACTORS) * SCALE_TRIALS
    threads = default_threads()
    run_trial(base)  # compiled before timing
    say(f"{model.name} (N = {model.N}): {len(SCALE_FACTORS)} lambdas x {SCALE_TRIALS} trials = {n_trials} trials; "
        f"best of 2 runs")
    say(f"  {'engine':<28}{'trials/s':>10}{'vs threads':>12}{'overhead per block':>20}")
    rows = {}
    seconds = _best(lambda k: run_grid(base.replace(seed=k), SCALE_FACTORS, SCALE_TRIALS, n_threads=threads), 2)
    rows["threads"] = n_trials / seconds
    say(f"  {f'threads ({threads})':<28}{rows['threads']:>10.1f}{1:>11.2f}x")
    jobs = [(lam, k) for lam in SCALE_FACTORS for k in range(SCALE_TRIALS)]
    blocks = make_blocks(jobs, DASK_BLOCK_TRIALS)
    for workers in worker_counts:
        with dask_client(workers=workers, say=lambda line: None) as client:
            _dask_blocks(client, base.replace(seed=99), make_blocks(jobs[:4 * DASK_BLOCK_TRIALS], DASK_BLOCK_TRIALS))
            runs = [_dask_blocks(client, base.replace(seed=k), blocks) for k in range(2)]
            wall, compute = min(runs)
            search_s = _best(lambda k: run_grid(base.replace(seed=k), SCALE_FACTORS, SCALE_TRIALS, client=client), 2)
        per_block = (wall * workers - compute) / len(blocks)  # worker time not spent simulating
        rows[workers] = {"trials_per_s": n_trials / search_s, "overhead_s": per_block,
                         "block_s": compute / len(blocks)}
        label = f"Dask, {workers} worker{'s' if workers > 1 else ''}"
        say(f"  {label:<28}{n_trials / search_s:>10.1f}{n_trials / search_s / rows['threads']:>11.2f}x"
            f"{per_block * 1e3:>12.1f} ms ({per_block / (compute / len(blocks)):.1%} of a "
            f"{compute / len(blocks) * 1e3:.0f} ms block of {DASK_BLOCK_TRIALS} trials)")
    return rows
