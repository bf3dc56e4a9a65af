"""The ``rate2spike`` command line: simulate, sweep, evaluate, train, explore, diagnose, report, export.

Options shared by several commands are declared once (parent parsers below) and take their
defaults from the library. Every command builds trial specs and prints what comes back; errors
print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from rate2spike.cluster import check_local_workers
from rate2spike.conversion import FRESH_SEED  # `evaluate` scores trials no grid search (seed 0) has seen
from rate2spike.limits import (LAMBDA_RULE, MAX_UNITS, MIN_TAU_STEPS, check_gain, check_inhibitory_share,
                              check_scaling_factor, check_scaling_factors, check_tau, check_units, grid_count)
from rate2spike.search import DEFAULT_ALPHA
from rate2spike.sweep import DEFAULT_N_TRIALS, DEFAULT_SCALING_FACTORS
from rate2spike.tasks import TASKS, condition_examples, option_examples, task_names_text
from rate2spike.text import printable
from rate2spike.train import DEFAULT_BATCH_SIZE, REFERENCE_MAX_EVAL_LOSS, REFERENCE_MIN_EVAL_ACCURACY
from rate2spike.trial import DEFAULT_SCALING_FACTOR

EXIT_USAGE = 2  # bad input: a file, field, shape or option (one line names it)
EXIT_NOT_CONVERTED = 3  # `sweep`: every file searched, but no lambda converts at least one model (its verdict says why)


def _limited(check, text: str, value, joint: str = ": "):
    """``check(value)``, its ValueError as argparse's error naming the text given."""
    try:
        return check(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}'{joint}{exc}") from None


def parse_scaling_factors(text: str) -> list[float]:
    """'20:75:5' (start:stop:step, stop included) or '20,30,45': at most MAX_GRID_LAMBDAS lambdas,
    each at least MIN_LAMBDA (``rate2spike.limits``), counted before any value is made."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
        else:
            values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not START:STOP:STEP or a comma-separated list") from None
    if ":" in text:
        _limited(lambda bounds: grid_count(*bounds), text, (start, stop, step), joint=" ")
        values = np.arange(start, stop + step / 2, step)
    return [float(v) for v in _limited(lambda grid: check_scaling_factors(grid, "the grid"), text, values)]


def parse_window(text: str) -> tuple[float, float]:
    """'START:STOP' in seconds from the trial's start, as the dashboard's link (stim_window=0.5:0.75);
    within the trial is checked once the task is known (``stimulation_window``)."""
    try:
        start, stop = (float(x) for x in text.split(":"))
        if not 0 <= start <= stop < float("inf"):
            raise ValueError
        return start, stop
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not START:STOP in seconds with 0 <= START <= STOP "
                                         "(e.g. 0.5:0.75, as the dashboard's link)") from None


def stimulation_window(window: tuple[float, float] | None, duration: float) -> tuple[float, float]:
    """The --stim-window in seconds within a trial of ``duration`` seconds (default: the dashboard's,
    its third quarter). A window past the trial's end is refused, naming the old form in simulation
    steps that such values usually are (they are no longer read as steps)."""
    if window is None:
        return duration / 2, duration * 3 / 4
    start, stop = window
    if stop > duration:
        raise ValueError(f"--stim-window {start:g}:{stop:g} ends after the trial's {duration:g} s: it is START:STOP in "
                         f"seconds (e.g. {duration / 2:g}:{duration * 3 / 4:g}); simulation steps FIRST:STOP are no "
                         "longer read (step i of 0.05 ms is i x 0.00005 s)")
    return start, stop


def whole_number(low: int):
    """An argparse type: a whole number of at least ``low`` (named by argparse on failure)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"'{text}' must be {low} or more")
        return value
    return parse


def lambda_value(text: str) -> float:
    """One lambda: a finite number of at least MIN_LAMBDA (``rate2spike.limits.check_scaling_factor``)."""
    try:
        return check_scaling_factor(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a {LAMBDA_RULE}") from None


def checked(parse, check):
    """An argparse type: ``parse`` the text (int or float), then ``check`` the value (a
    ``rate2spike.limits`` or ``rate2spike.cluster`` check); either failure names the text given."""
    def convert(text: str):
        try:
            value = parse(text)
        except ValueError:
            kind = "a whole number" if parse is int else "a number"
            raise argparse.ArgumentTypeError(f"'{text}' is not {kind}") from None
        return _limited(check, text, value)
    return convert


MAX_PORT = 65535


def port_number(text: str) -> int:
    """A TCP port to listen on: 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port number (1-{MAX_PORT})")
    return value


def probability(text: str) -> float:
    """A number strictly between 0 and 1 (an error rate)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number between 0 and 1")
    return value


def parse_option(text: str) -> tuple[str, float]:
    """'NAME=VALUE' for a task option (e.g. evidence_strength=0.8)."""
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not NAME=VALUE (e.g. evidence_strength=0.8)") from None


def task_help() -> str:
    """The --task option's help, from the tasks there are."""
    return f"{task_names_text()} (default: inferred from each model's file name or inputs; needed when that is ambiguous)"


def _say(line) -> None:
    """Print a line that may hold text from a file (a name, a note), shown safely."""
    print(printable(line))


def _say_notes(model) -> None:
    for note in model.notes:
        _say(note)


def cmd_simulate(args) -> int:
    from rate2spike.export import save_trial
    from rate2spike.model import load_model
    from rate2spike.network import Stimulation, parse_units
    from rate2spike.trial import TRIAL_RECORDINGS, TrialSpec, run_trial

    model = load_model(args.model)
    _say_notes(model)
    spec = TrialSpec(model, args.task, args.scaling_factor, seed=args.seed, condition=args.condition,
                     task_options=tuple(args.option), downsample=args.downsample,
                     use_initial_weights=args.initial_weights, initial_decay=args.initial_decay)
    if args.stim != "none":
        window = stimulation_window(args.stim_window, spec.task.duration())
        spec = spec.replace(stimulation=Stimulation.over_window(
            args.stim, parse_units(args.stim_units or "", model.exc), window, spec.dt))
    trial = run_trial(spec, TRIAL_RECORDINGS[:4] if args.save else ("spikes",))
    run, outcome = trial.recording, trial.outcome
    rates = run.firing_rates
    print(f"{printable(model.name)}: {spec.task.name}, condition {trial.stimulus.condition.name}, "
          f"lambda = {spec.scaling_factor:g}, seed {spec.seed}")
    print(f"  {run.drive.nt} steps of {run.drive.dt * 1e3:g} ms ({run.drive.T:g} s), {int(run.spikes.sum())} spikes")
    means = [f"{kind} {rates[mask].mean():.1f} Hz" if mask.any() else f"no {kind} units"
             for kind, mask in (("excitatory", model.exc), ("inhibitory", ~model.exc))]
    print(f"  mean firing rate: {', '.join(means)}; silent units {int((run.spike_counts == 0).sum())}")
    print(f"  verdict: {'correct' if outcome.correct else 'incorrect'} ({'min' if outcome.label < 0 else 'max'} "
          f"{outcome.extreme:.3f} in the decision window from {spec.task.decision_start:g} s, against {outcome.level:g})")
    if args.save:
        save_trial(args.save, trial)
        print(f"  trial saved to {printable(args.save)}")
    return 0


def cmd_sweep(args) -> int:
    from rate2spike.cluster import dask_client
    from rate2spike.folder_search import CLI_OPTION_NAMES, search_folder
    from rate2spike.search import SearchOptions
    from rate2spike.sweep import check_csv_target

    if args.csv:
        check_csv_target(args.csv)  # before the search, not after it
    try:
        with dask_client(args.workers, args.scheduler) as client:
            options = SearchOptions(extend=args.extend, refine=args.refine, race=args.race, alpha=args.alpha)
            results = search_folder(args.path, args.task, args.n_trials, args.scaling_factors, force=args.force,
                                    seed=args.seed, downsample=args.downsample,
                                    use_initial_weights=args.initial_weights, task_options=dict(args.option),
                                    options=options, save_failed=args.save_failed, n_threads=args.threads,
                                    client=client, resume=args.resume, block_trials=args.block_trials,
                                    precision=args.precision, initial_decay=args.initial_decay,
                                    option_names=CLI_OPTION_NAMES)
    except KeyboardInterrupt:
        print("rate2spike: interrupted; the finished trials are kept in each model's .journal file: "
              "run the same command again to continue", file=sys.stderr)
        return 130
    if args.csv:
        root = Path(args.path)
        for path, result in results.items():
            target = Path(args.csv)
            if len(results) > 1:  # one file per model, named by its place under PATH (unique)
                where = path.relative_to(root).with_suffix("") if root.is_dir() else Path(path.stem)
                target = target.with_name(f"{target.stem}_{'_'.join(where.parts)}{target.suffix}")
            result.to_csv(target)
            print(f"wrote {printable(target)}")
    if results.failures:
        print(f"rate2spike: {len(results.failures)} model file(s) failed (see the errors above)", file=sys.stderr)
        return EXIT_USAGE
    failed = [path for path, result in results.items() if result.verdict() is not None and result.verdict().failed]
    if failed:
        print(f"rate2spike: no lambda converts {len(failed)} of the {len(results)} model(s) searched (see their "
              "verdicts above)", file=sys.stderr)
        return EXIT_NOT_CONVERTED
    return 0


def cmd_evaluate(args) -> int:
    from rate2spike.conversion import conversion_check
    from rate2spike.model import load_model
    from rate2spike.progress import ProgressBar
    from rate2spike.train import evaluate
    from rate2spike.trial import TrialSpec

    model = load_model(args.model)
    _say_notes(model)
    if args.scaling_factor is None and model.opt_scaling_factor is None and model.recommended_scaling_factor is None \
            and args.n_trials:
        raise ValueError(f"{model.name} holds no opt_scaling_factor; pass --lambda or run `rate2spike sweep` first")
    spec = TrialSpec(model, args.task, args.scaling_factor, seed=args.seed)
    print(f"{printable(model.name)}: {spec.task.name}, N = {model.N}")
    if args.rate_trials:
        accuracy = evaluate(model, spec.task, np.random.default_rng(args.seed), args.rate_trials).accuracy
        print(f"  rate network: accuracy {accuracy:.3f} on {args.rate_trials} fresh trials")
    if args.n_trials:
        with ProgressBar(total=args.n_trials, desc="LIF trials") as bar:
            check = conversion_check(model, spec.scaling_factor, args.n_trials, args.seed, spec.task,
                                     n_threads=args.threads, progress=lambda done, total: bar.update_to(done))
        for line in check.lines():
            print(f"  {line}")
    return 0


def parse_seeds(text: str) -> list[int]:
    """'A:B' (A to B - 1, like a Python range) or '0,3,7': distinct whole numbers, 0 or more."""
    try:
        if ":" in text:
            start, stop = (int(x) for x in text.split(":"))
            seeds = list(range(start, stop))
        else:
            seeds = [int(x) for x in text.split(",") if x.strip()]
        if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
            raise ValueError
        return seeds
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not START:STOP (START included, STOP not, START < STOP) "
                                         "or a comma-separated list of distinct seeds, all 0 or more") from None


def _train_options(args) -> dict:
    return dict(N=args.N, taus=tuple(args.taus), activation=args.act, P_inh=args.P_inh, gain=args.gain,
                n_trials=args.n_trials, batch_size=args.batch_size, max_eval_loss=args.max_eval_loss,
                min_eval_accuracy=args.min_eval_accuracy)


def _training_verdict(result) -> str:
    return ("met the stopping criteria" if result.converged
            else "reached the trial limit WITHOUT meeting the stopping criteria")


def cmd_train(args) -> int:
    from rate2spike.train import check_network_options

    check_network_options(args.N, args.taus, args.P_inh, args.gain)  # before a cluster starts or a file is made
    if args.seeds is not None or args.workers or args.scheduler:
        return _train_population(args)
    from rate2spike.progress import ProgressBar
    from rate2spike.train import train_model

    taus = tuple(args.taus)
    print(f"training {args.task}: N = {args.N}, taus = {taus} (x 5 ms), seed {args.seed}, up to {args.n_trials} trials")
    with ProgressBar(total=args.n_trials, desc=args.task) as bar:
        def progress(info):
            bar.update_to(min(info.trials, args.n_trials))
            bar.write(f"  trial {info.trials}: training loss {info.train_loss:.2f}, eval loss {info.eval_loss:.2f}, "
                      f"eval accuracy {info.eval_accuracy:.2f}")

        result = train_model(args.task, seed=args.seed, out_dir=args.out, progress=progress, **_train_options(args))
    print(f"{_training_verdict(result)} after {result.trials} trials ({result.elapsed_seconds:.0f} s): eval accuracy "
          f"{result.eval_accuracy:.3f}, eval loss {result.eval_loss:.2f}")
    print(f"model written to {printable(result.path)}")
    return 0


def _train_population(args) -> int:
    """``train --seeds``: one model per seed, here or on a Dask cluster; a line per seed as it ends."""
    import os

    from rate2spike.cluster import dask_client
    from rate2spike.population import train_population
    from rate2spike.progress import ProgressBar

    seeds = args.seeds if args.seeds is not None else [args.seed]
    shown = f"{seeds[0]}-{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 else \
        ",".join(map(str, seeds))
    print(f"training {args.task}: N = {args.N}, taus = {tuple(args.taus)} (x 5 ms), {len(seeds)} seed(s) ({shown}), "
          f"up to {args.n_trials} trials each")
    where = (lambda path: path) if os.path.isabs(args.out) else os.path.relpath
    ended = []
    try:
        with dask_client(args.workers, args.scheduler) as client:
            if client is None:
                print("one seed after another in this process (--workers N trains N at once)")
            with ProgressBar(total=len(seeds), desc=args.task, unit="seed") as bar:
                def progress(info):
                    outcome = info.outcome
                    ended.append(outcome)
                    bar.update_to(info.done)
                    if outcome.failed:
                        bar.write(f"seed {outcome.seed}: FAILED: {printable(outcome.error)}")
                    elif not outcome.cancelled:
                        r = outcome.result
                        bar.write(f"seed {outcome.seed}: {_training_verdict(r)} after {r.trials} trials "
                                  f"({r.elapsed_seconds:.0f} s): eval accuracy {r.eval_accuracy:.3f}, eval loss "
                                  f"{r.eval_loss:.2f} -> {printable(where(r.path))}")

                population = train_population(args.task, seeds, client=client, out_dir=args.out, progress=progress,
                                              **_train_options(args))
    except KeyboardInterrupt:
        saved = sum(1 for o in ended if o.result is not None and not o.cancelled)
        print(f"rate2spike: interrupted; {saved} model(s) saved (listed above), the seeds still training were "
              "stopped without saving", file=sys.stderr)
        return 130
    results, failures = population.results, population.failures
    converged = sum(1 for r in results.values() if r.converged)
    print(f"{len(seeds)} seed(s) in {population.elapsed_seconds:.0f} s: {converged} met the stopping criteria, "
          f"{len(results) - converged} reached the trial limit, {len(failures)} failed")
    if failures:
        print(f"rate2spike: {len(failures)} of {len(seeds)} seed(s) failed ({', '.join(map(str, failures))}; "
              "see the errors above); the others finished", file=sys.stderr)
        return EXIT_USAGE
    return 0


def cmd_explore(args) -> int:
    from rate2spike.explorer.launch import launch

    return launch(models=args.models, port=args.port, show=not args.no_browser, allow_save=args.allow_save,
                  host=args.host, origins=args.origins, procs=args.procs, release_memory=args.release_memory)


def cmd_diagnose(args) -> int:
    from rate2spike.diagnose import diagnose
    from rate2spike.model import load_model
    from rate2spike.progress import ProgressBar

    model = load_model(args.model)
    _say_notes(model)
    steps: list[str] = []
    with ProgressBar(total=3, desc="diagnosis", unit="step") as bar:
        def progress(text: str) -> None:
            steps.append(text)
            bar.update_to(len(steps))
            bar.write(f"measuring {text}")

        diagnosis = diagnose(model, args.scaling_factor, args.task, seed=args.seed, progress=progress,
                             **({"ladder": args.lambdas} if args.lambdas else {}), n_trials=args.n_trials)
    print(printable(f"{model.name}: {diagnosis.task}, N = {model.N}, spiking network examined at lambda = "
                    f"{diagnosis.measures['scaling_factor']:g}"))
    if model.search_verdict:
        print(printable(f"stored verdict: {model.search_verdict}"))
    for line in diagnosis.lines():
        print(printable(line))
    return 0


def cmd_report(args) -> int:
    from rate2spike.report import check_output, collect, write_report

    check_output(args.output)
    population = collect(args.path)
    print(f"{len(population.rows)} model file(s) under {printable(args.path)}: {printable(population.counts())}")
    for row in population.failed:
        print(f"  could not read {printable(row.path)}: {printable(row.error)}")
    path = write_report(args.path, args.output, population=population)
    print(f"report written to {printable(path)}")
    return 0


def cmd_export(args) -> int:
    from rate2spike.interop import check_extras, export
    from rate2spike.interop.to_nir import COST_TRIALS
    from rate2spike.model import load_model
    from rate2spike.progress import ProgressBar

    check_extras(args.to)  # a missing extra is one line, before the model is read or a bar drawn
    model = load_model(args.model)
    _say_notes(model)
    if args.to == "nir":  # the cost is measured on trials: a bar shows them
        with ProgressBar(total=2 * (args.cost_trials or COST_TRIALS), desc="NIR cost (trials)") as bar:
            result = export(model, args.to, args.output, args.scaling_factor, args.task, seed=args.seed,
                            cost_trials=args.cost_trials, progress=lambda done, total: bar.update_to(done))
    else:
        result = export(model, args.to, args.output, args.scaling_factor, args.task, seed=args.seed,
                        n_trials=args.n_trials)
    for line in result.lines:
        _say(line)
    return 0


def _add_export(sub) -> None:
    """The ``export`` command: the converted network to Brian2, NEST, NIR, NWB or Neo."""
    from rate2spike.interop import DEFAULT_TRIALS, TARGETS

    p = sub.add_parser("export", help="write the converted network for Brian2, NEST or NIR, or its trials' spikes "
                                      "as NWB or Neo (docs/interop.md)",
                       description="Write the converted network at one lambda: a Brian2 or NEST script, a NIR graph "
                                   "(with the accuracy it costs), or spiking trials as an NWB or Neo file.")
    p.add_argument("model", help="spikeRNN model file (.mat)")
    p.add_argument("--to", required=True, choices=TARGETS)
    p.add_argument("--lambda", dest="scaling_factor", type=lambda_value,
                   help="default: the stored recommended lambda, else the stored optimum (the output says which)")
    p.add_argument("-o", "--output", help="the file to write (default: <model>_lambda<L>_<target>.<suffix> here)")
    p.add_argument("--task", help=task_help())
    p.add_argument("--seed", type=whole_number(0), default=0, help="the trials' seed (default 0)")
    p.add_argument("--n-trials", type=whole_number(1),
                   help="trials written (nwb, neo) or run by the script (brian2, nest); default "
                        + ", ".join(f"{t} {n}" for t, n in DEFAULT_TRIALS.items() if n))
    p.add_argument("--cost-trials", type=whole_number(1),
                   help="nir: trials on which the accuracy without what NIR drops is measured (default 100)")
    p.set_defaults(func=cmd_export)


def _shared_options() -> dict[str, argparse.ArgumentParser]:
    """Options several commands take, declared once."""
    task = argparse.ArgumentParser(add_help=False)
    task.add_argument("--task", help=task_help())
    task.add_argument("--option", action="append", type=parse_option, default=[], metavar="NAME=VALUE",
                      help=f"a task option ({option_examples()}; repeatable)")
    conversion = argparse.ArgumentParser(add_help=False)
    conversion.add_argument("--downsample", type=whole_number(1), default=1, help="LIF step = 0.05 ms x this (default 1)")
    conversion.add_argument("--initial-weights", action="store_true",
                            help="use w0 instead of the trained weights, with the trained decay constants td "
                                 "(as the reference)")
    conversion.add_argument("--initial-decay", action="store_true",
                            help="with --initial-weights: also the initial decay constants td0 (the fully "
                                 "untrained network)")
    grid = argparse.ArgumentParser(add_help=False)
    grid.add_argument("--n-trials", type=whole_number(1), default=DEFAULT_N_TRIALS,
                      help=f"trials per lambda (default {DEFAULT_N_TRIALS})")
    grid.add_argument("--scaling-factors", type=parse_scaling_factors, default=list(DEFAULT_SCALING_FACTORS),
                      help=f"START:STOP:STEP or a,b,c (default {DEFAULT_SCALING_FACTORS[0]}:"
                           f"{DEFAULT_SCALING_FACTORS[-1]}:{DEFAULT_SCALING_FACTORS[1] - DEFAULT_SCALING_FACTORS[0]})")
    grid.add_argument("--threads", type=whole_number(1), default=None, help="default: all cores")
    cluster = argparse.ArgumentParser(add_help=False)
    where = cluster.add_mutually_exclusive_group()
    where.add_argument("--workers", type=checked(int, check_local_workers),
                       help="run on a local Dask cluster of this many worker processes (several models or seeds at "
                            "once), at most one per core (default: none, in this process)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster of this scheduler (e.g. tcp://host:8786); `train` workers "
                            "write their files under OUT, which they must reach at the same path (default: none)")
    return {"task": task, "conversion": conversion, "grid": grid, "cluster": cluster}


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose one-line errors show what was typed safely (a pasted file name
    may hold terminal escapes or newlines: ``rate2spike.text.printable``)."""

    def error(self, message):
        super().error(printable(message))


def _add_sweep(sub, shared) -> None:
    """The ``sweep`` command and its options."""
    p = sub.add_parser("sweep", parents=[shared["task"], shared["grid"], shared["conversion"], shared["cluster"]],
                       help="search the scaling factor of every model in PATH and save it (with its band)",
                       description="Search the scaling factor of every model in PATH and save it, with its verdict "
                                   "(converted, below goal or failed) as the first result line.",
                       epilog="exit status: 0 every model searched (converted or below goal); 2 a file, field or "
                              "option could not be used (named on stderr; the other files were searched); 3 every "
                              "file searched, but no lambda converts at least one model (its verdict says why).")
    p.add_argument("path", help="a model file or a directory of them")
    p.add_argument("--seed", type=whole_number(0), default=0, help="the trials' seed (default 0)")
    p.add_argument("--force", action="store_true",
                   help="redo files that already hold opt_scaling_factor (a NaN there, an interrupted search, is redone "
                        "anyway)")
    p.add_argument("--csv", help="also write the per-lambda results to this CSV file")
    p.add_argument("--no-extend", dest="extend", action="store_false",
                   help="do not extend the grid when the optimum is on its edge (extension is on by default)")
    p.add_argument("--refine", action="store_true", help="then score a step of 1/5 of the grid's around the optimum")
    p.add_argument("--race", action="store_true",
                   help="score lambdas in rounds and drop those shown worse than the leader (fewer trials)")
    p.add_argument("--alpha", type=probability, default=DEFAULT_ALPHA,
                   help=f"family-wise error rate of the race and the lambda band (default {DEFAULT_ALPHA:g})")
    p.add_argument("--block-trials", type=whole_number(1),
                   help="trials per task, several lambdas on each trial (default 12 on threads, 24 on Dask; larger on big clusters)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="ignore the journal of an interrupted run of this search and start afresh")
    p.add_argument("--save-failed", action="store_true",
                   help="store opt_scaling_factor even when no lambda converts the model (its verdict 'failed' is "
                        "stored either way; without this option a failed search stores no optimum)")
    p.add_argument("--float32", dest="precision", action="store_const", const="float32", default="float64",
                   help="simulate in single precision: faster; accuracies agree with double precision within "
                        "their intervals, spikes do not match one for one (docs/method.md)")
    p.set_defaults(func=cmd_sweep)


def _add_explore(sub) -> None:
    """`rate2spike explore`: serve the dashboard (explorer/launch.py)."""
    p = sub.add_parser("explore", help="start the dashboard and open it in a browser")
    p.add_argument("--models", help="also offer the .mat files under this folder")
    p.add_argument("--port", type=port_number, default=5006, help="1-65535 (default 5006)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1: this machine only). Another opens the dashboard "
                        "to a network, with no log-in: whoever reaches the port can run simulations, and with "
                        "--allow-save write the files of --models DIR")
    p.add_argument("--allow-websocket-origin", dest="origins", action="append", default=[], metavar="HOST:PORT",
                   help="a name under which browsers reach the dashboard (repeatable; needed with --host 0.0.0.0)")
    p.add_argument("--no-browser", action="store_true")
    p.add_argument("--procs", type=whole_number(1), default=1, metavar="N",
                   help="serve from N processes (panel serve --num-procs N): for a class of more than about 40 "
                        "students on a machine with more than 2 cores; see docs/performance.md")
    p.add_argument("--release-memory", action=argparse.BooleanOptionalAction, default=True,
                   help="serve with the C allocator (PYTHONMALLOC=malloc; the default): what closed pages held goes "
                        "back to the system, so a server stays small after a class and while students come and go. "
                        "--no-release-memory serves with Python's own allocator: pages open a little faster, but the "
                        "server keeps a class's peak memory (1.3 GB after 40 pages); see docs/performance.md")
    p.add_argument("--allow-save", action="store_true",
                   help="let pages write grid-search results into the files of --models DIR (never shipped models)")
    p.set_defaults(func=cmd_explore)


def _add_train(sub, shared) -> None:
    """The ``train`` command and its options (a test checks that each one's help gives its default)."""
    p = sub.add_parser("train", parents=[shared["cluster"]],
                       help="train a rate RNN on a task and save a spikeRNN model file",
                       description="Train a rate RNN (Dale's principle) on a task with Adam, as the reference, and "
                                   "save it as a spikeRNN model file; every option's default is in its help.")
    p.add_argument("--task", required=True, choices=tuple(TASKS),
                   help=f"the task to learn (required): {task_names_text()}")
    p.add_argument("--N", type=checked(int, check_units), default=200, help=f"units, 1 to {MAX_UNITS} (default 200)")
    p.add_argument("--taus", type=checked(float, check_tau), nargs="+", default=[4.0, 20.0],
                   help=f"min max decay in 5 ms steps, or one value (default 4 20); each at least {MIN_TAU_STEPS:g} "
                        "(5 ms): below, the rate network's Euler step (1 - 1/tau) flips the state's sign every step")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=whole_number(0), default=0, help="the model's seed (default 0)")
    seeds.add_argument("--seeds", type=parse_seeds,
                       help="train one model per seed: START:STOP (STOP not included, like a Python range) or 0,3,7 "
                            "(default: one model, of --seed)")
    p.add_argument("--out", default=".", help="output folder; the model goes under OUT/models/<task>/... (default: "
                                              "the current folder)")
    p.add_argument("--act", default="sigmoid", choices=("sigmoid", "clipped_relu", "softplus"),
                   help="the rate units' activation function (default sigmoid, as the shipped models)")
    p.add_argument("--P-inh", dest="P_inh", type=checked(float, check_inhibitory_share), default=0.2,
                   help="share of inhibitory units, 0 to 1 (default 0.2)")
    p.add_argument("--gain", type=checked(float, check_gain), default=1.5,
                   help="initial weights' gain, above 0 (default 1.5: the chaotic regime)")
    p.add_argument("--n-trials", type=whole_number(1), default=6000,
                   help="trial limit (default 6000; xor often needs ~10000)")
    p.add_argument("--batch-size", type=whole_number(1), default=DEFAULT_BATCH_SIZE,
                   help=f"trials per Adam step (default {DEFAULT_BATCH_SIZE}, as the reference: learns fastest)")
    p.add_argument("--max-eval-loss", type=float, default=REFERENCE_MAX_EVAL_LOSS,
                   help=f"stop when the mean eval loss is below this (default {REFERENCE_MAX_EVAL_LOSS:g}, as the "
                        "reference) ...")
    p.add_argument("--min-eval-accuracy", type=float, default=REFERENCE_MIN_EVAL_ACCURACY,
                   help=f"... and the eval accuracy above this (default {REFERENCE_MIN_EVAL_ACCURACY:g}, as the "
                        "reference)")
    p.set_defaults(func=cmd_train)


def build_parser() -> argparse.ArgumentParser:
    """The command line: one sub-command per job, options shared by several declared once."""
    shared = _shared_options()
    parser = Parser(prog="rate2spike", description="Convert trained rate RNNs into LIF spiking networks.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", parents=[shared["task"], shared["conversion"]],
                       help="simulate one LIF trial of a model and print a summary")
    p.add_argument("model", help="spikeRNN model file (.mat)")
    p.add_argument("--lambda", dest="scaling_factor", type=lambda_value,
                   help=f"scaling factor (default: the stored recommended lambda, else the stored optimum, else "
                        f"{DEFAULT_SCALING_FACTOR:g})")
    p.add_argument("--condition", help=f"a condition of the task, e.g. {condition_examples()} (default: drawn from the seed)")
    p.add_argument("--seed", type=whole_number(0), default=0, help="fixes the condition, stimulus and noise (default 0)")
    p.add_argument("--stim", choices=("none", "exc", "inh"), default="none", help="artificial stimulation")
    p.add_argument("--stim-units", help="units to stimulate: '0,3,10-19', 'exc', 'inh' or 'all'")
    p.add_argument("--stim-window", type=parse_window, metavar="START:STOP",
                   help="stimulation window in seconds from the trial's start, as the dashboard's link (default: "
                        "its third quarter, 0.5:0.75 for a 1 s trial)")
    p.add_argument("--save", help="write the trial to a .npz or .mat file")
    p.set_defaults(func=cmd_simulate)

    _add_sweep(sub, shared)

    p = sub.add_parser("evaluate", help="accuracy on fresh trials: the rate network and its LIF conversion")
    p.add_argument("model", help="spikeRNN model file (.mat)")
    p.add_argument("--lambda", dest="scaling_factor", type=lambda_value, help="default: the stored recommended lambda, else the stored optimum")
    p.add_argument("--task", help=task_help())
    p.add_argument("--n-trials", type=whole_number(0), default=200, help="LIF trials (0 skips; default 200)")
    p.add_argument("--rate-trials", type=whole_number(0), default=500, help="rate-network trials (0 skips; default 500)")
    p.add_argument("--seed", type=whole_number(0), default=FRESH_SEED, help=f"trial seed (default {FRESH_SEED}; sweeps use 0)")
    p.add_argument("--threads", type=whole_number(1), help="threads for the LIF trials (default: every core)")
    p.set_defaults(func=cmd_evaluate)

    _add_train(sub, shared)

    _add_explore(sub)

    p = sub.add_parser("diagnose", help="why a conversion works or fails: ranked findings with their evidence",
                       description="Measure the file, the rate network on fresh trials and the spiking network at a "
                                   "ladder of lambda, and print ranked findings, most important first, each with its "
                                   "evidence and what to try (docs/method.md, 'Diagnosis').")
    p.add_argument("model", help="spikeRNN model file (.mat)")
    p.add_argument("--lambda", dest="scaling_factor", type=lambda_value,
                   help="the lambda to examine closely (default: the stored recommended lambda, else the stored "
                        f"optimum, else {DEFAULT_SCALING_FACTOR:g})")
    p.add_argument("--task", help=task_help())
    p.add_argument("--lambdas", type=parse_scaling_factors,
                   help="the other lambda the spiking network is scored at: START:STOP:STEP or a,b,c "
                        "(default 2.5, 5, 10, 20, 40, 80, 150)")
    p.add_argument("--n-trials", type=whole_number(4), default=20, help="trials per lambda (default 20)")
    p.add_argument("--seed", type=whole_number(0), default=0, help="the trials' seed (default 0)")
    p.set_defaults(func=cmd_diagnose)

    _add_export(sub)

    p = sub.add_parser("report", help="write one standalone HTML report on the searched models under DIR: "
                                      "accuracy against lambda, optima, per-condition accuracy, warnings")
    p.add_argument("path", metavar="DIR", help="a folder of model files (searched recursively)")
    p.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    p.set_defaults(func=cmd_report)
    return parser


def _terminate(signum, _frame) -> None:
    """SIGTERM ends the command like Ctrl-C: through the code's cleanup (temporary files go)."""
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("rate2spike: interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, OSError, ImportError) as exc:  # ImportError: a missing extra, one line
        print(f"rate2spike: error: {printable(exc)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
