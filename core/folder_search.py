"""Searching every model file of a folder for its scaling factor, and saving what each search found.

What ``rate2spike sweep DIR`` and ``lambda_grid_search`` run: under the folder's lock
(``rate2spike.journal``), each model is searched (``rate2spike.sweep.run_grid``, journaled so a
killed search resumes) on threads, one model after another, or on a Dask cluster, all at once; each
result is saved into the file it was computed from, with its verdict (``rate2spike.verdict``); a
model that cannot be searched or saved is reported and the others go on. Lines go above one
progress bar over all models.

A failed conversion (no lambda converts the model) stores its verdict and curve but no
``opt_scaling_factor`` unless ``save_failed`` (``--save-failed``): its first maximum is not a result.
``lambda_grid_search`` passes ``save_failed=True``, so its files hold the reference's fields as the
reference writes them.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from rate2spike.journal import FolderLock, Journal, search_key
from rate2spike.model import ModelFileError, NotAModelFile, check_unchanged, check_writable, load_model, save_results
from rate2spike.paths import find_model_files
from rate2spike.progress import ProgressBar, is_cancelled
from rate2spike.search import SearchOptions
from rate2spike.sweep import run_grid, sweep_base
from rate2spike.text import printable


# How messages name the options that change what is searched and saved: as the Python API's
# arguments (``lambda_grid_search``) or as the command line's options (``rate2spike sweep``).
API_OPTION_NAMES = {"force": "force=True", "save_failed": "save_failed=True"}
CLI_OPTION_NAMES = {"force": "--force", "save_failed": "--save-failed"}


def search_folder(model_dir, task_name=None, n_trials: int = 100, scaling_factors=None, *, force=False, seed=0,
                  downsample=1, use_initial_weights=False, task_options=None, options: SearchOptions | None = None,
                  save_failed=False, progress=None, cancel=None, verbose=True, n_threads=None, client=None,
                  resume=True, block_trials=None, precision="float64", initial_decay=False,
                  option_names: dict | None = None) -> "GridSearchResults":
    """Search every .mat file under ``model_dir`` (or the one file it names) for its best scaling
    factor and save the result into the file; what ``rate2spike sweep`` and ``lambda_grid_search`` run.

    For each file: score ``n_trials`` random trials at each scaling factor (the same trials at every
    lambda, fixed by ``seed``), print each lambda's accuracy, and store ``opt_scaling_factor`` (the
    first maximum in the order given), ``all_perfs`` and ``scaling_factors`` (in the order given),
    atomically, keeping every other variable; beside the reference's three, the lambda band (lambdas
    not significantly below the best), the accuracy per condition and the verdict (``search_verdict``:
    converted, below goal or failed, ``rate2spike.verdict``). A failed conversion stores no
    ``opt_scaling_factor`` unless ``save_failed``. Files that already hold a search (a number in
    ``opt_scaling_factor``, or ``search_verdict``) are skipped unless ``force``; one holding NaN (an
    interrupted reference search) is searched. ``task_name`` is inferred from each file when not given.

    ``use_initial_weights`` and ``initial_decay`` as in ``LIF_network_fnc``; ``task_options`` (e.g.
    {'evidence_strength': 0.8} for mante) change the stimuli; ``progress``/``cancel`` follow and stop
    the search; ``options`` (``SearchOptions``: ``extend``, ``refine``, ``race`` and ``alpha``, the
    family-wise error rate) grow the grid past an edge optimum, add a finer step around it, or drop
    clearly worse lambdas early (``rate2spike.search``). ``precision='float32'`` runs the spiking
    networks in single precision: faster, with accuracies that agree within their intervals but not
    spike for spike (docs/method.md, "Single precision").

    Scale and resume: with a Dask ``client`` (``distributed.Client``) the trials run on its workers
    and all the folder's models are in flight at once; without one, on ``n_threads`` threads, one
    model after another, in blocks of about ``block_trials`` trials, several lambdas on each
    (``rate2spike.engine``'s default by engine). The results are the same. Finished trials are
    journaled next to each model (``model.mat.journal``, ``rate2spike.journal``) and, with
    ``resume``, a second run of the same search after a crash or Ctrl-C continues from there; the
    folder is locked while it is searched. A file that cannot be read, fits no task or cannot be
    written is reported on stderr and skipped; the others are searched. In a folder, a MAT file that
    holds no rate network (a saved trial) is skipped with a note (``GridSearchResults.skipped``).
    ``option_names`` (``API_OPTION_NAMES``, the default, or ``CLI_OPTION_NAMES``) is how the
    printed lines name ``force`` and ``save_failed``.

    Returns a ``GridSearchResults``: ``{path: SweepResult}`` for the files searched, with
    ``failures`` ({path: message}) for the others.
    """
    from rate2spike.sweep import DEFAULT_SCALING_FACTORS

    factors = list(DEFAULT_SCALING_FACTORS if scaling_factors is None else scaling_factors)
    options = options or SearchOptions()
    names = option_names or API_OPTION_NAMES
    paths = find_model_files(model_dir)
    if not paths:
        raise FileNotFoundError(f"{model_dir}: no .mat model files found")
    results = GridSearchResults()
    todo = _models_to_search(paths, results, force, verbose, lambda model: sweep_base(
        model, task_name, seed, downsample, use_initial_weights, task_options=task_options, precision=precision,
        initial_decay=initial_decay), names, skip_other_data=Path(model_dir).is_dir())
    if results.skipped and len(results.skipped) == len(paths):
        raise FileNotFoundError(f"{model_dir}: no model files found, only other .mat files (none holds w, w_in "
                                "or w_out)")
    if not todo:
        return results
    folder = Path(model_dir) if Path(model_dir).is_dir() else Path(model_dir).parent
    with FolderLock(folder), ProgressBar(total=len(todo) * len(factors) * n_trials, desc="lambda search",
                                         enabled=verbose) as bar:
        search = _FolderSearch(results, bar, todo, factors, n_trials, options, verbose=verbose, progress=progress,
                               cancel=cancel, resume=resume, save_failed=save_failed, option_names=names,
                               run_options=dict(n_threads=n_threads, client=client, block_trials=block_trials))
        search.run(client)
    return results


def _failed(results: "GridSearchResults", verbose: bool, path, exc) -> None:
    """A model that cannot be searched or saved: one line on stderr naming it; the others go on."""
    results.failures[path] = str(exc)
    if verbose:
        print(f"rate2spike: error: {printable(exc)}; skipped", file=sys.stderr)


def _models_to_search(paths, results, force: bool, verbose: bool, make_base, names: dict,
                      skip_other_data: bool) -> list:
    """(path, base spec) of the files to search: loaded (their bytes' digest binds the results to
    them), checked writable before the work; files already searched are skipped unless ``force``,
    and with ``skip_other_data`` (a folder's search) files that are not models, with a note."""
    todo = []
    for path in paths:
        try:
            model = load_model(path, stored_results=not force)
        except NotAModelFile as exc:
            if not skip_other_data:
                _failed(results, verbose, path, exc)
                continue
            results.skipped[path] = str(exc)
            if verbose:
                print(printable(f"{path.name}: not a model file (none of w, w_in, w_out: a saved trial or other "
                                "data?); skipped"))
            continue
        except (ModelFileError, ValueError, OSError) as exc:
            _failed(results, verbose, path, exc)
            continue
        try:
            if model.unfinished_search and verbose:
                print(printable(f"{path.name}: opt_scaling_factor is NaN (a reference grid search was interrupted); "
                                "searching it"))
            if model.opt_scaling_factor is not None or model.search_verdict:
                if verbose:
                    done = (f"opt_scaling_factor = {model.opt_scaling_factor:g}" if model.opt_scaling_factor is not None
                            else f"search_verdict '{model.search_verdict}'")
                    print(printable(f"{path.name}: already has {done}; skipped ({names['force']} redoes it)"))
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
                 save_failed, run_options, option_names):
        self.results, self.todo, self.factors, self.n_trials, self.options = results, todo, factors, n_trials, options
        self.save_failed, self.names = save_failed, option_names
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
                    self.tell(f"  {path.name[:30]} {p.result.accuracy_line(int(k))}" if len(self.todo) > 1
                              else f"  {p.result.accuracy_line(int(k))}")

        try:
            result = run_grid(base, self.factors, self.n_trials, progress=report, options=self.options,
                              cancel=lambda: self.stop.is_set() or is_cancelled(self.cancel), journal=journal,
                              **self.run_options)
        finally:
            if journal is not None:
                journal.close()
        return result, journal

    def finish(self, path, base, result, journal) -> None:
        """Save a finished search into its file, if that still holds the bytes searched: the verdict
        first, then what was saved and why."""
        self.results[path] = result
        if result.cancelled:
            kept = f"; {journal.path.name} keeps the finished trials, run the same command to continue" \
                if journal is not None else ""
            self.tell(f"{path.name}: cancelled; nothing saved{kept}")
            return
        verdict = result.verdict()
        save_optimum = verdict is None or not verdict.failed or self.save_failed
        try:
            save_results(path, result.file_variables(save_optimum), expected_sha256=base.model.content_sha256)
        except (ModelFileError, OSError) as exc:
            _failed(self.results, self.verbose, path, exc)
            return
        if journal is not None:
            journal.remove()
        lines = result.summary()  # the result's one formatter: verdict first, then optimum, band, closest output
        if lines:
            self.tell(f"{path.name}: {lines[0]}")
        for note in result.notes:
            self.tell("note: " + self._line(path, note))
        for line in lines[1:]:
            self.tell(f"  {line}")
        best_lambda = result.optimum[0]
        self.tell(f"{path.name}: saved the verdict, the curve and opt_scaling_factor {best_lambda:g}" if save_optimum
                  else f"{path.name}: saved the verdict and the curve, no opt_scaling_factor (its first maximum, "
                       f"{best_lambda:g}, is not a result; {self.names['save_failed']} stores it anyway)")
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
    the files that could not be searched or saved (reported and skipped; the others go on), and
    ``skipped``: ``{path: why}`` for the files of a folder that are not models (a saved trial)."""

    def __init__(self):
        super().__init__()
        self.failures: dict = {}
        self.skipped: dict = {}
