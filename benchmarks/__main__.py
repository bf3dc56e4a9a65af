"""``python -m benchmarks [options]`` from the checkout's root: the benchmarks' command line."""

from __future__ import annotations

import argparse
import sys

from rate2spike.cli import whole_number
from rate2spike.text import printable


def build_parser() -> argparse.ArgumentParser:
    """The options: one model's trial and search timings by default, or one of the other benchmarks."""
    p = argparse.ArgumentParser(prog="python -m benchmarks",
                                description="Time the simulator against the NumPy reference (from a source checkout).")
    p.add_argument("--model", help="default: the shipped go-nogo model")
    p.add_argument("--repeats", type=whole_number(1), default=5)
    p.add_argument("--threads", type=whole_number(1), default=None)
    p.add_argument("--no-grid", action="store_true", help="skip timing the default grid search")
    p.add_argument("--train", action="store_true", help="also time training a go-nogo model on one core")
    p.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dashboard", action="store_true",
                   help="instead: time λ slider release -> redrawn trial in the dashboard (headless Chromium)")
    p.add_argument("--changes", type=whole_number(1), default=15, help="λ changes timed per model (--dashboard)")
    p.add_argument("--sizes", action="store_true",
                   help="instead: one trial of synthetic networks of N = 100 ... 2000 units (how cost grows with N)")
    p.add_argument("--scale", action="store_true",
                   help="instead: trials per second on threads and on 1 and 2 local Dask workers, and Dask's cost per block")
    p.add_argument("--search", action="store_true",
                   help="instead: full grid against racing (agreement on constructed curves; the shipped models)")
    p.add_argument("--classroom", type=whole_number(1), metavar="N", default=None,
                   help="instead: N concurrent sessions on one served dashboard (λ latency, shared sweeps, memory)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of λ moves (--classroom)")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between one session's λ releases (--classroom)")
    p.add_argument("--distinct", type=whole_number(0), default=4,
                   help="sessions that then each run a sweep of their own (--classroom)")
    p.add_argument("--churn", type=whole_number(0), default=0,
                   help="sessions that then open and close, for the server's memory (--classroom)")
    p.add_argument("--procs", type=whole_number(1), default=1, help="server processes (panel serve --num-procs)")
    p.add_argument("--allocator", choices=["malloc", "pymalloc"], default="malloc",
                   help="the server's PYTHONMALLOC (--classroom; default malloc, as `rate2spike explore` serves; "
                        "pymalloc, Python's own, as a plain `panel serve explorer`)")
    return p


def main(argv=None) -> int:
    """Run the benchmark the options choose; 2 with one line on stderr when it cannot run."""
    from benchmarks.bench import run_bench, run_scale_bench, run_search_bench, run_size_bench, run_train_bench

    args = build_parser().parse_args(argv)
    say = lambda line: print(printable(line))  # noqa: E731 - model names may hold any text
    try:
        if args.classroom:
            from benchmarks.classroom import run_classroom_bench

            run_classroom_bench(args.classroom, args.duration, args.interval, args.distinct, args.churn, args.procs,
                                allocator=args.allocator, say=say)
        elif args.sizes:
            run_size_bench(say=say)
        elif args.scale:
            run_scale_bench(model=args.model, say=say)
        elif args.search:
            run_search_bench(say=say, threads=args.threads)
        elif args.dashboard:
            from benchmarks.latency import run_dashboard_bench

            run_dashboard_bench(changes=args.changes, say=say)
        else:
            if not args.train_only:
                run_bench(args.model, repeats=args.repeats, grid=not args.no_grid, threads=args.threads, say=say)
            if args.train or args.train_only:
                run_train_bench(say=say)
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"python -m benchmarks: error: {printable(exc)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
