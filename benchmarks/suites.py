"""Benchmark suites: TOML files of scenarios × learners × parameter grids × seeds.

Format (``benchmarks/suites/*.toml``)::

    [suite]
    name = "quick"
    description = "..."
    seeds = [0, 1, 2]            # or an int n, meaning seeds 0..n-1
    test_size = 0.25             # evaluator options (optional)
    timeout = 300                # seconds per task (optional)

    [[scenarios]]
    name = "linear_cd"
    params = { n_per_env = [1000, 5000], d = 5 }

    [[learners]]
    name = "RandomEncoder"
    params = { n_components = 5 }
    scenarios = ["linear_cd"]    # optional: the scenarios this learner runs on (default all)

Every list in ``params`` is a grid axis (the Cartesian product is taken).
A parameter whose value is itself a pair, such as ``weight_range``, is
written as a list of pairs: ``weight_range = [[1, 5]]`` (one grid point) or
``[[1, 5], [0.5, 2]]`` (two). Unknown keys, unknown scenarios or learners and
parameters that the scenario's builder does not take are reported with the
file, the key and the valid choices, before any work starts.
"""

from __future__ import annotations

import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crl.exceptions import ConfigError

__all__ = ["Suite", "load_suite", "suite_path", "list_suites", "expand", "SUITES_DIR"]

SUITES_DIR = Path(__file__).parent / "suites"

_SUITE_KEYS = {"name", "description", "seeds", "test_size", "timeout", "split"}
_SCENARIO_KEYS = {"name", "params", "label"}
_LEARNER_KEYS = {"name", "params", "scenarios", "label"}


@dataclass(frozen=True)
class Suite:
    """A parsed suite; ``tasks`` is the expanded list of task configs."""

    name: str
    path: str
    description: str
    seeds: tuple[int, ...]
    options: Mapping[str, Any]
    scenarios: tuple[Mapping[str, Any], ...]
    learners: tuple[Mapping[str, Any], ...]
    tasks: tuple[Mapping[str, Any], ...] = field(default=())


def list_suites() -> list[str]:
    """Names of the suites shipped in :data:`SUITES_DIR`."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def suite_path(name_or_path) -> Path:
    """Resolve a shipped suite name (``"quick"``) or a path to a ``.toml`` file."""
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise ConfigError(f"suite: no such file {str(p)!r}")
        return p
    candidate = SUITES_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        raise ConfigError(f"suite: expected a shipped suite {list_suites()} or a .toml path, got {name_or_path!r}")
    return candidate


def _grid(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys = sorted(params)
    axes = [params[k] if isinstance(params[k], list) else [params[k]] for k in keys]
    return [dict(zip(keys, combo)) for combo in itertools.product(*axes)]


def _tuples(value):
    """TOML arrays inside one grid point become tuples (hashable, like simulator defaults)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _check_keys(table: Mapping, allowed: set[str], where: str, path: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown} in {where}; valid keys are {sorted(allowed)}")


def _check_params(name: str, params: Mapping, valid: Mapping | list, where: str, path: str) -> None:
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ConfigError(
            f"{path}: {where} {name!r} has unknown parameter(s) {unknown}; valid parameters are {sorted(valid)}"
        )


def load_suite(name_or_path) -> Suite:
    """Parse, validate and expand a suite.

    Raises
    ------
    ConfigError
        Malformed TOML, unknown keys, scenarios, learners or parameters,
        wrong types; the message names the file and the key.
    """
    from benchmarks.learners import learner_parameters, list_learners
    from simulators import list_scenarios, scenario_spec

    path = suite_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML ({exc})") from None
    _check_keys(data, {"suite", "scenarios", "learners"}, "the top level", str(path))
    head = data.get("suite", {})
    _check_keys(head, _SUITE_KEYS, "[suite]", str(path))
    seeds = head.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = list(range(seeds))
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and s >= 0 for s in seeds)):
        raise ConfigError(f"{path}: [suite] seeds must be a positive int or a list of non-negative ints, got {seeds!r}")
    for key, kind in (("test_size", float), ("timeout", (int, float))):
        if key in head and (not isinstance(head[key], kind) or isinstance(head[key], bool)):
            raise ConfigError(f"{path}: [suite] {key} must be a number, got {head[key]!r}")
    scenarios = data.get("scenarios", [])
    learners = data.get("learners", [])
    if not scenarios or not learners:
        raise ConfigError(f"{path}: expected at least one [[scenarios]] and one [[learners]] entry")
    valid_scenarios = list_scenarios()
    for k, sc in enumerate(scenarios):
        _check_keys(sc, _SCENARIO_KEYS, f"[[scenarios]] #{k + 1}", str(path))
        if sc.get("name") not in valid_scenarios:
            raise ConfigError(
                f"{path}: [[scenarios]] #{k + 1} name: expected one of {sorted(valid_scenarios)}, got {sc.get('name')!r}"
            )
        _check_params(sc["name"], sc.get("params", {}), scenario_spec(sc["name"]).parameters(), "scenario", str(path))
    valid_learners = list_learners()
    names = [sc["name"] for sc in scenarios]
    for k, le in enumerate(learners):
        _check_keys(le, _LEARNER_KEYS, f"[[learners]] #{k + 1}", str(path))
        if le.get("name") not in valid_learners:
            raise ConfigError(
                f"{path}: [[learners]] #{k + 1} name: expected one of {valid_learners}, got {le.get('name')!r}"
            )
        _check_params(le["name"], le.get("params", {}), learner_parameters(le["name"]), "learner", str(path))
        bad = sorted(set(le.get("scenarios", names)) - set(names))
        if bad:
            raise ConfigError(
                f"{path}: [[learners]] {le['name']!r} scenarios {bad} are not scenarios of this suite {names}"
            )
    suite_name = head.get("name", path.stem)
    options = {k: head[k] for k in ("test_size", "timeout", "split") if k in head}
    suite = Suite(
        name=suite_name,
        path=str(path),
        description=head.get("description", ""),
        seeds=tuple(seeds),
        options=options,
        scenarios=tuple(scenarios),
        learners=tuple(learners),
    )
    return Suite(**{**suite.__dict__, "tasks": tuple(expand(suite))})


def expand(suite: Suite) -> list[dict[str, Any]]:
    """The task configs of ``suite``: scenario grid × applicable learners × learner grid × seeds.

    Each config is plain data (JSON-able) and fully determines the task:
    ``suite``, ``scenario``, ``scenario_label``, ``scenario_params``,
    ``learner``, ``learner_label``, ``learner_params``, ``seed``, ``evaluate``.
    """
    tasks = []
    evaluate_options = {k: v for k, v in suite.options.items() if k in ("test_size", "split")}
    for sc in suite.scenarios:
        for sp in _grid(sc.get("params", {})):
            for le in suite.learners:
                if sc["name"] not in le.get("scenarios", [s["name"] for s in suite.scenarios]):
                    continue
                for lp in _grid(le.get("params", {})):
                    for seed in suite.seeds:
                        tasks.append(
                            {
                                "suite": suite.name,
                                "scenario": sc["name"],
                                "scenario_label": sc.get("label", sc["name"]),
                                "scenario_params": {k: _tuples(v) for k, v in sp.items()},
                                "learner": le["name"],
                                "learner_label": le.get("label", le["name"]),
                                "learner_params": {k: _tuples(v) for k, v in lp.items()},
                                "seed": int(seed),
                                "evaluate": dict(evaluate_options),
                            }
                        )
    return tasks

