"""The ``crl`` command.

Subcommands so far: ``crl scenarios``, ``crl simulate``, ``crl learners``.
Errors in arguments are reported as one line naming the argument and the
valid choices, with exit status 2.
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
    import crl

    names = crl.available_learners()
    if not names:
        print("no learners are installed yet")
    for name in names:
        learner = getattr(crl, name)
        claim = learner.claims
        print(f"{name:<16} claims {claim.equivalence if claim else '-'}")
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

    p = sub.add_parser("learners", help="list the available learners")
    p.set_defaults(func=cmd_learners)
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
