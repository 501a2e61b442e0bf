"""The ``crl`` command.

Subcommands: ``scenarios``, ``simulate``, ``learners``, ``fit``,
``evaluate``, ``bench run``, ``bench report``, ``bench suites``. Errors in
arguments and configs are reported as one line naming the file or argument,
the key and the valid choices, with exit status 2, before any work starts.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import tomllib

from crl.exceptions import CRLError

__all__ = ["main", "build_parser"]


def _parse_param(text: str):
    """``KEY=VALUE`` with VALUE read as a TOML value (``3``, ``0.5``, ``[1, 5]``, ``"er"``), else a string."""
    if "=" not in text:
        raise CRLError(f"--param: expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    key = key.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    if isinstance(value, list):
        value = tuple(value)
    return key, value


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _print_table(rows: dict) -> None:
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"  {key:<{width}}  {_format_value(value)}")


def _sizes(problem) -> str:
    s = problem.summary()
    parts = [f"n={s['n_samples']}"]
    for key, label in (("n_features", "p"), ("view_dims", "views"), ("n_latents", "d"), ("hidden_nodes", "hidden")):
        if key in s:
            parts.append(f"{label}={s[key]}")
    if problem.n_envs > 1:
        parts.append(f"envs={problem.n_envs}")
    return " ".join(parts)


def cmd_scenarios(args) -> int:
    from simulators import list_scenarios, scenario, scenario_spec

    if args.time:
        print("| scenario | sizes at the defaults | seconds (median of 3, seeds 0-2) |")
        print("|---|---|---|")
    for name, description in list_scenarios().items():
        if args.time:
            times = []
            for seed in range(3):
                start = time.perf_counter()
                problem = scenario(name, random_state=seed)
                times.append(time.perf_counter() - start)
            print(f"| {name} | {_sizes(problem)} | {sorted(times)[1]:.2f} |")
            continue
        print(f"{name:<28} {description}")
        if args.verbose:
            params = ", ".join(f"{k}={v!r}" for k, v in scenario_spec(name).parameters().items())
            print(f"{'':<28} parameters: {params}")
    return 0


def cmd_simulate(args) -> int:
    from simulators import scenario
    from simulators.io import save_problem

    overrides = dict(_parse_param(p) for p in args.param)
    start = time.perf_counter()
    problem = scenario(args.scenario, random_state=args.seed, **overrides)
    elapsed = time.perf_counter() - start
    print(f"scenario {args.scenario!r} (seed {args.seed}) generated in {elapsed:.2f} s")
    _print_table(problem.summary())
    if args.out:
        path = save_problem(problem, args.out)
        print(f"wrote {path}")
    return 0


def cmd_learners(args) -> int:
    from benchmarks.learners import learner_class, learner_parameters, list_learners

    for name in list_learners():
        cls = learner_class(name)
        claim = cls.claims if not isinstance(cls.__dict__.get("claims"), property) else None
        eq = "+".join(claim.classes) if claim is not None else "(per instance)"
        print(f"{name:<16} claims {eq:<28} parameters: {', '.join(learner_parameters(name))}")
    return 0


def _learner_from_args(args, problem):
    from benchmarks.learners import make_learner

    return make_learner(args.learner, dict(_parse_param(p) for p in args.param), problem)


def cmd_fit(args) -> int:
    from identifiability.evaluate import fit_on_problem
    from simulators.io import load_problem

    problem = load_problem(args.data)
    learner = _learner_from_args(args, problem)
    start = time.perf_counter()
    fit_on_problem(learner, problem)
    print(f"fitted {type(learner).__name__} on {args.data} in {time.perf_counter() - start:.2f} s")
    fitted = {k: v for k, v in vars(learner).items() if k.endswith("_") and not k.startswith("_")}
    for key, value in fitted.items():
        shape = getattr(value, "shape", None)
        text = f"array{tuple(shape)}" if shape is not None else type(value).__name__
        if hasattr(value, "number_of_nodes"):
            text = f"graph with {value.number_of_nodes()} nodes, {value.number_of_edges()} edges"
        print(f"  {key:<20} {text}")
    return 0


def cmd_evaluate(args) -> int:
    from identifiability import evaluate
    from simulators.io import load_problem

    problem = load_problem(args.data)
    learner = _learner_from_args(args, problem)
    report = evaluate(learner, problem, split=args.split, random_state=args.seed)
    print(report)
    return 0


def cmd_bench_suites(args) -> int:
    from benchmarks.suites import list_suites, load_suite

    for name in list_suites():
        suite = load_suite(name)
        print(f"{name:<16} {len(suite.tasks):>5} tasks  {suite.description}")
    return 0


def cmd_bench_run(args) -> int:
    from benchmarks.report import markdown_table, summarise
    from benchmarks.runner import parse_shard, run_suite
    from benchmarks.store import ResultsStore
    from benchmarks.suites import load_suite

    suite = load_suite(args.suite)  # validates the whole config before any work
    shard = parse_shard(args.shard)
    if args.jobs < 1:
        raise CRLError(f"--jobs: expected a positive int, got {args.jobs}")
    start = time.perf_counter()
    with ResultsStore(args.store) as store:
        counts = run_suite(
            suite, store, engine=args.engine, jobs=args.jobs, scheduler=args.scheduler, shard=shard,
            timeout=args.timeout, progress=not args.quiet,
        )
        elapsed = time.perf_counter() - start
        print(
            f"suite {suite.name!r}: {counts['total']} tasks, {counts['skipped']} already done, "
            f"{counts['ran']} run ({counts['ok']} ok, {counts['failed']} failed) in {elapsed:.1f} s; store {args.store}"
        )
        print()
        print(markdown_table(summarise(store, suite=suite.name)))
    return 0


def cmd_bench_report(args) -> int:
    from benchmarks.report import write_report
    from benchmarks.store import ResultsStore

    with ResultsStore(args.store, readonly=True) as store:
        metrics = set(args.metrics.split(",")) if args.metrics else None
        out = write_report(store, args.out, suite=args.suite, figures=not args.no_figures, metrics=metrics)
    print(out["markdown"])
    print()
    print("wrote " + ", ".join(str(p) for p in out["files"]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crl", description="Causal representation learning toolkit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress and diagnostics")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("scenarios", help="list the named scenarios")
    p.add_argument("--verbose", "-v", action="store_true", help="also list each scenario's parameters")
    p.add_argument("--time", action="store_true", help="generate each scenario at its defaults and print a timing table")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("simulate", help="generate a scenario and print its summary")
    p.add_argument("scenario", help="scenario name (see `crl scenarios`)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--param", "-p", action="append", default=[], metavar="KEY=VALUE",
        help="override a scenario parameter; VALUE is read as TOML (e.g. -p n=2000 -p 'weight_range=[1, 5]')",
    )
    p.add_argument("--out", help="write the problem to this .npz file")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("learners", help="list the available learners, peers and evaluation baselines")
    p.set_defaults(func=cmd_learners)

    for name, func, helptext in (
        ("fit", cmd_fit, "fit a learner on a problem file written by `crl simulate --out`"),
        ("evaluate", cmd_evaluate, "fit a learner on a problem file and print its identifiability report"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("learner", help="learner name (see `crl learners`)")
        p.add_argument("data", help="problem file (.npz)")
        p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                       help="learner hyperparameter; VALUE is read as TOML")
        if name == "evaluate":
            p.add_argument("--split", default="held_out", choices=["held_out", "in_sample"])
            p.add_argument("--seed", type=int, default=0, help="seed of the split and the null baseline")
        p.set_defaults(func=func)

    bench = sub.add_parser("bench", help="benchmark suites: run, report, list")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("run", help="run a suite (resumes: finished tasks are skipped)")
    p.add_argument("suite", help="a shipped suite name (see `crl bench suites`) or a path to a .toml file")
    p.add_argument("--store", default="results/crl.sqlite", help="SQLite results file (default results/crl.sqlite)")
    p.add_argument("--engine", default="local", choices=["local", "dask"])
    p.add_argument("--jobs", type=int, default=1, help="concurrent tasks (default 1)")
    p.add_argument("--scheduler", help="address of a running Dask scheduler (with --engine dask)")
    p.add_argument("--shard", help="run only slice i of N, written i/N (0-based)")
    p.add_argument("--timeout", type=float, help="seconds per task (overrides the suite's timeout)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench_run)
    p = bsub.add_parser("report", help="Markdown table and figures from a results store")
    p.add_argument("store", help="SQLite results file")
    p.add_argument("--out", default="results/report", help="output folder (default results/report)")
    p.add_argument("--suite", help="only rows of this suite")
    p.add_argument("--no-figures", action="store_true", help="write the table only")
    p.add_argument("--metrics", help="comma-separated metrics to show in the table (default all)")
    p.set_defaults(func=cmd_bench_report)
    p = bsub.add_parser("suites", help="list the shipped suites")
    p.set_defaults(func=cmd_bench_suites)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except CRLError as exc:
        print(f"crl {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
