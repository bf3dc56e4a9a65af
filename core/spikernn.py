"""The spikeRNN API: ``LIF_network_fnc``, ``lambda_grid_search``, ``evaluate_single_trial``.

Same arguments, defaults and results as the spikeRNN Python package, on top of rate2spike.
The MATLAB code is the reference (docs/method.md, "The reference"). Differences ("Differences from
the reference"): ``REC`` is steps x N and ``out`` a flat vector of nt values (the spikeRNN docs give
both so, and their example indexes ``out[-1]`` as a number); ``spk`` and ``rs`` are N x steps; each
function takes an optional ``seed`` and ``initial_decay`` (with ``use_initial_weights``: the fully
untrained network, w0 with td0; the reference runs w0 with the trained td).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from rate2spike.model import (ModelFileError, as_model, check_unchanged, check_writable, load_model,
                             save_grid_search)
from rate2spike.network import Stimulation, check_initial_decay, convert, make_drive
from rate2spike.journal import FolderLock, Journal, search_key
from rate2spike.paths import find_model_files, shipped_model_dir
from rate2spike.progress import ProgressBar, is_cancelled
from rate2spike.search import DEFAULT_ALPHA, SearchOptions
from rate2spike.simulation import RECORDINGS, simulate
from rate2spike.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS, run_grid, sweep_base
from rate2spike.text import printable
from rate2spike.trial import TrialSpec, run_trial


def _random_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**63))


def LIF_network_fnc(model_path, scaling_factor, u, stims=None, downsample=1, use_initial_weights=False, seed=None,
                    *, initial_decay=False):
    """Convert a trained rate RNN to a LIF network and simulate it on the stimulus ``u``.

    ``model_path`` is a .mat file or a loaded ``RateModel``; ``u`` is n_inputs x columns (5 ms
    each); ``stims`` the artificial stimulation ({'mode': 'none' | 'exc' | 'inh', 'dur': [first,
    stop] in steps, 'units': [...]}). ``use_initial_weights`` runs w0 with the trained decay
    constants td, as the reference; ``initial_decay`` (not in spikeRNN, with it) also takes td0.
    ``seed`` (not in spikeRNN) makes the run reproducible; by
    default every call draws fresh noise, as the reference does. The stimulus is yours, not a
    task's, so this calls the simulator directly (the same ``simulate`` that ``run_trial`` calls).
    Returns ``(W, REC, spk, rs, all_fr, out, params)``: W (N x N, W_rate / lambda), REC (nt x N,
    mV), spk (N x nt, 0/1), rs (N x nt, Hz), all_fr (N x 1, Hz), out (nt,), params (dt and T in s,
    nt, w_out as in the file (1 x N, not divided by lambda), td (s, the decay constants simulated) and
    td0 (s, the initial ones), IPSCs (N x nt, mV), scaling_factor, downsample, v0 in mV).
    """
    model = as_model(model_path)
    for note in model.notes:
        print(printable(note))
    network = convert(model, scaling_factor, use_initial_weights, initial_decay=initial_decay)
    drive = make_drive(network, u, downsample)
    run = simulate(network, drive, _random_seed() if seed is None else seed,
                   Stimulation.from_stims(stims, model.N), record=RECORDINGS)
    params = {
        "dt": drive.dt, "T": drive.T, "nt": drive.nt, "w_out": model.w_out.reshape(1, -1),
        "td": network.td, "td0": network.td0, "IPSCs": run.synaptic_current.T,
        "scaling_factor": network.scaling_factor, "downsample": drive.downsample, "v0": run.v0,
    }
    return (np.ascontiguousarray(network.W), run.voltage, run.spikes.T.astype(np.float64), run.rate.T,
            run.firing_rates.reshape(-1, 1), run.out, params)


def evaluate_single_trial(curr_full, scaling_factor, task_name=None, use_initial_weights=False, down_sample=1,
                          seed=None, *, initial_decay=False):
    """Run one random trial of the task at one scaling factor: 1 if correct, else 0.

    ``task_name`` defaults to the model's task; ``seed`` (not in spikeRNN) fixes the trial
    (trial 0 of that seed, as in a grid search); by default each call draws a new one;
    ``initial_decay`` as in ``LIF_network_fnc``.
    """
    spec = TrialSpec(as_model(curr_full), task_name, scaling_factor, seed=_random_seed() if seed is None else seed,
                     downsample=down_sample, use_initial_weights=use_initial_weights, initial_decay=initial_decay)
    return int(run_trial(spec).outcome.correct)


def accuracy_line(result, k: int) -> str:
    """'lambda = 20: accuracy 0.950 (balanced 0.940; Go 0.900, NoGo 1.000)', with the trial count
    when a search scored lambdas on different numbers of trials, and 'dropped' for raced-out ones."""
    groups = ", ".join(f"{group} {values[k]:.3f}" for group, values in result.group_accuracy().items())
    trials = "" if result.n_done[k] == result.n_trials else f" on {result.n_done[k]} trials"
    dropped = "; dropped by the race" if result.dropped[k] else ""
    return (f"lambda = {result.scaling_factors[k]:g}: accuracy {result.accuracy[k]:.3f}{trials} "
            f"(balanced {result.balanced_accuracy()[k]:.3f}; {groups}){dropped}")


def lambda_grid_search(model_dir=None, task_name=None, n_trials=DEFAULT_N_TRIALS, scaling_factors=None, *,
                       force=False, seed=0, downsample=1, use_initial_weights=False, task_options=None,
                       progress=None, cancel=None, verbose=True, n_threads=None, extend=False, refine=False,
                       race=False, alpha=DEFAULT_ALPHA, client=None, resume=True,
                       block_trials=None, precision="float64", initial_decay=False):
    """Find the best scaling factor for every model file in ``model_dir`` and save it there.

    For each ``.mat`` file: score ``n_trials`` random trials at each scaling factor (the
    same trials at every lambda), print each lambda's accuracy, and store
    ``opt_scaling_factor`` (the first maximum in the order given), ``all_perfs`` and
    ``scaling_factors`` (in the order given) in the file (atomically, keeping every other
    variable). Files that already hold a number in ``opt_scaling_factor`` are skipped unless
    ``force``; one holding NaN (a reference search that was interrupted) is searched.
    ``task_name`` is inferred from each file when not given. ``use_initial_weights`` and
    ``initial_decay`` as in ``LIF_network_fnc``.
    Beyond spikeRNN: ``seed`` fixes the trials, ``task_options`` (e.g. {'evidence_strength':
    0.8} for mante) change the stimuli, ``progress``/``cancel`` follow and stop the search;
    ``extend``, ``refine`` and ``race`` (off by default, so results are the reference's) grow the
    grid past an edge optimum, add a finer step around it, or drop clearly worse lambdas early
    (``rate2spike.search``, family-wise error rate ``alpha``). The lambda band (lambdas not
    significantly below the best) and the accuracy per condition are stored beside the reference's three.
    ``precision='float32'`` runs the spiking networks in single precision: faster, with accuracies that
    agree within their intervals but not spike for spike (docs/method.md, "Single precision").

    Scale and resume: with a Dask ``client`` (``distributed.Client``) the trials run on its workers and
    all the folder's models are in flight at once; without one, on ``n_threads`` threads, one model
    after another, in blocks of about ``block_trials`` trials, several lambdas on each (``rate2spike.engine``'s default
    by engine). The results are the same. Finished trials are journaled next to each model
    (``model.mat.journal``, ``rate2spike.journal``) and, with ``resume``, a second run of the same
    search after a crash or Ctrl-C continues from there; the folder is locked while it is searched.
    A file that cannot be read, fits no task or cannot be written is reported on stderr and
    skipped; the others are searched. Returns a ``GridSearchResults``: ``{path: SweepResult}``
    for the files searched, with ``failures`` for the others.
    """
    check_initial_decay(use_initial_weights, initial_decay)  # before any file is read
    model_dir = shipped_model_dir("go-nogo") if model_dir is None else model_dir
    factors = DEFAULT_SCALING_FACTORS if scaling_factors is None else list(scaling_factors)
    options = SearchOptions(extend=extend, refine=refine, race=race, alpha=alpha)
    paths = find_model_files(model_dir)
    if not paths:
        raise FileNotFoundError(f"{model_dir}: no .mat model files found")
    results = GridSearchResults()
    todo = _models_to_search(paths, results, force, verbose, lambda model: sweep_base(
        model, task_name, seed, downsample, use_initial_weights, task_options=task_options, precision=precision,
        initial_decay=initial_decay))
    if not todo:
        return results
    folder = Path(model_dir) if Path(model_dir).is_dir() else Path(model_dir).parent
    with FolderLock(folder), ProgressBar(total=len(todo) * len(factors) * n_trials, desc="lambda search",
                                         enabled=verbose) as bar:
        search = _FolderSearch(results, bar, todo, factors, n_trials, options, verbose=verbose, progress=progress,
                               cancel=cancel, resume=resume,
                               run_options=dict(n_threads=n_threads, client=client, block_trials=block_trials))
        search.run(client)
    return results


def _failed(results: "GridSearchResults", verbose: bool, path, exc) -> None:
    """A model that cannot be searched or saved: one line on stderr naming it; the others go on."""
    results.failures[path] = str(exc)
    if verbose:
        print(f"rate2spike: error: {printable(exc)}; skipped", file=sys.stderr)


def _models_to_search(paths, results, force: bool, verbose: bool, make_base) -> list:
    """(path, base spec) of the files to search: loaded (their bytes' digest binds the results to
    them), checked writable before the work; files already searched are skipped unless ``force``."""
    todo = []
    for path in paths:
        try:
            model = load_model(path, stored_results=not force)
            if model.unfinished_search and verbose:
                print(printable(f"{path.name}: opt_scaling_factor is NaN (a reference grid search was interrupted); "
                                "searching it"))
            if model.opt_scaling_factor is not None:
                if verbose:
                    print(printable(f"{path.name}: already has opt_scaling_factor = {model.opt_scaling_factor:g}; "
                                    "skipped (force=True redoes it)"))
                continue
            check_writable(path)  # before the work, not after it
            todo.append((path, make_base(model)))
        except (ModelFileError, ValueError, OSError) as exc:
            _failed(results, verbose, path, exc)
    return todo


class _FolderSearch:
    """The search of a folder's models under its lock: each model searched (journaled) and its
    results saved into the file they were computed from, or reported as failed, the others going
    on. Lines go above the one progress bar over all models."""

    def __init__(self, results, bar, todo, factors, n_trials, options, *, verbose, progress, cancel, resume,
                 run_options):
        self.results, self.todo, self.factors, self.n_trials, self.options = results, todo, factors, n_trials, options
        self.verbose, self.progress, self.cancel, self.resume, self.run_options = (verbose, progress, cancel, resume,
                                                                                   run_options)
        self.tell = lambda line: bar.write(printable(line))  # above the bar, not through it; names shown safely
        self.pace = _SharedProgress(bar, [path for path, _ in todo], len(factors) * n_trials)
        self.stop = threading.Event()

    def _line(self, path, text: str) -> str:
        return f"{path.name}: {text}" if len(self.todo) > 1 else text

    def search_one(self, path, base):
        """Search one model: (SweepResult, Journal or None), if its file is still the one read."""
        check_unchanged(path, base.model.content_sha256)  # removed or replaced while waiting its turn
        self.tell(f"{path.name}: {base.task.name}, N = {base.model.N}, {len(self.factors)} scaling factors x "
                  f"{self.n_trials} trials" + (f" ({self.options.describe()})" if self.options.beyond_reference else "")
                  + (f", in {base.precision}" if base.precision != "float64" else ""))
        journal = Journal.open(path, search_key(base, self.factors, self.n_trials, self.options), self.tell,
                               file_sha256=base.model.content_sha256, base=base) if self.resume else None
        printed = set()

        def report(p):
            self.pace.update(path, p.done, p.total)
            if self.progress is not None:
                self.progress(p)
            for k in np.flatnonzero(p.result.complete):  # each lambda once, when its trials are in
                lam = float(p.result.scaling_factors[k])
                if lam not in printed:
                    printed.add(lam)
                    self.tell(f"  {path.name[:30]} {accuracy_line(p.result, int(k))}" if len(self.todo) > 1
                              else f"  {accuracy_line(p.result, int(k))}")

        try:
            result = run_grid(base, self.factors, self.n_trials, progress=report, options=self.options,
                              cancel=lambda: self.stop.is_set() or is_cancelled(self.cancel), journal=journal,
                              **self.run_options)
        finally:
            if journal is not None:
                journal.close()
        return result, journal

    def finish(self, path, base, result, journal) -> None:
        """Save a finished search into its file, if that still holds the bytes searched."""
        self.results[path] = result
        if result.cancelled:
            kept = f"; {journal.path.name} keeps the finished trials, run the same command to continue" \
                if journal is not None else ""
            self.tell(f"{path.name}: cancelled; nothing saved{kept}")
            return
        best_lambda, best_acc = result.optimum
        try:
            save_grid_search(path, result.scaling_factors, result.accuracy, best_lambda, result.band,
                             result.group_accuracy(), expected_sha256=base.model.content_sha256)
        except (ModelFileError, OSError) as exc:
            _failed(self.results, self.verbose, path, exc)
            return
        if journal is not None:
            journal.remove()
        for note in result.notes:
            self.tell("note: " + self._line(path, note))
        self.tell(f"{path.name}: optimal scaling factor {best_lambda:g} (accuracy {best_acc:.3f}); saved")
        for line in result.summary()[1:]:
            self.tell(f"  {line}")
        for note in result.warnings():
            self.tell("warning: " + self._line(path, note))

    def run(self, client) -> None:
        """Every model: one after another on threads, or all in flight at once on a Dask ``client``
        (the cluster never idles between models). Ctrl-C or SIGTERM stops the searches between
        blocks; the journals stay for the next run."""
        try:
            if client is None:
                for path, base in self.todo:
                    self._search_and_save(path, base, lambda: self.search_one(path, base))
                    if path in self.results and self.results[path].cancelled:
                        break
            else:
                with ThreadPoolExecutor(max_workers=len(self.todo), thread_name_prefix="search-driver") as drivers:
                    futures = {drivers.submit(self.search_one, path, base): (path, base) for path, base in self.todo}
                    try:
                        for future in as_completed(futures):
                            self._search_and_save(*futures[future], future.result)
                    except BaseException:
                        self.stop.set()  # before the pool's exit waits for the drivers: they stop between blocks
                        raise
        except BaseException:
            self.stop.set()
            raise

    def _search_and_save(self, path, base, searched) -> None:
        """``searched()`` gives the search's (result, journal); a model whose search or save fails
        (its file or journal path unusable, removed or replaced) is reported and the others go on."""
        try:
            self.finish(path, base, *searched())
        except (ModelFileError, ValueError, OSError) as exc:
            _failed(self.results, self.verbose, path, exc)


class _SharedProgress:
    """One progress bar over the trials of all models being searched (a model's planned total
    shrinks when a race drops lambdas and grows when the grid is extended)."""

    def __init__(self, bar: ProgressBar, models, trials_per_model: int):
        self.bar = bar
        self.planned = {model: trials_per_model for model in models}
        self.done = {model: 0 for model in models}
        self.lock = threading.Lock()

    def update(self, model, done: int, total: int) -> None:
        with self.lock:
            self.done[model], self.planned[model] = done, total
            self.bar.update_to(sum(self.done.values()), sum(self.planned.values()))


class GridSearchResults(dict):
    """``{path: SweepResult}`` for the files searched, and ``failures``: ``{path: message}`` for
    the files that could not be searched or saved (reported and skipped; the others go on)."""

    def __init__(self):
        super().__init__()
        self.failures: dict = {}
