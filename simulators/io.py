"""Save and load problems as ``.npz`` files (arrays and JSON only, never pickle).

What survives a round trip: everything a learner may see (``X``, ``views``,
``env``, ``actions``, ``labels``, ``y``, ``statistics`` arrays,
``feature_names``), the setting, the diagnostics, and the array parts of the
truth (``Z``, ``targets``, the graph as adjacency with node names and latent
flags, a matrix mixing, row-indexed noise). Callable mixings and other
Python objects in ``truth.params`` are not stored; the loaded truth says so in
``params["dropped"]``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from crl.exceptions import ValidationError
from crl.graphs import from_adjacency
from simulators.problem import Problem, Truth

__all__ = ["save_problem", "load_problem"]

_FORMAT = "crl-problem-v1"


def _jsonable(mapping):
    out, dropped = {}, []
    for k, v in mapping.items():
        if isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, tuple):
            v = list(v)
        try:
            json.dumps(v)
        except TypeError:
            dropped.append(k)
            continue
        out[k] = v
    return out, dropped


def save_problem(problem: Problem, path) -> Path:
    """Write ``problem`` to ``path`` (``.npz``, compressed). Returns the path."""
    path = Path(path)
    arrays = {}
    for name in ("X", "env", "actions", "labels", "y"):
        value = getattr(problem, name)
        if value is not None:
            arrays[name] = np.asarray(value)
    for k, view in enumerate(problem.views or ()):
        arrays[f"view_{k}"] = np.asarray(view)
    t = problem.truth
    if t.Z is not None:
        arrays["truth_Z"] = t.Z
    if t.targets is not None:
        arrays["truth_targets"] = t.targets
    if isinstance(t.mixing, np.ndarray):
        arrays["truth_mixing"] = t.mixing
    for k, v in t.noise.items():
        arrays[f"truth_noise_{k}"] = np.asarray(v)
    graph_meta = None
    if t.graph is not None:
        nodes = list(t.graph.nodes)
        A = np.zeros((len(nodes), len(nodes)))
        index = {v: i for i, v in enumerate(nodes)}
        for u, v, data in t.graph.edges(data=True):
            A[index[u], index[v]] = data.get("weight", 1.0)
        arrays["truth_graph"] = A
        graph_meta = {
            "nodes": [str(v) for v in nodes],
            "latent": [bool(t.graph.nodes[v].get("latent", False)) for v in nodes],
            "kind": t.graph.graph.get("kind", "dag"),
        }
    stats_meta = {}
    for k, v in problem.statistics.items():
        if isinstance(v, np.ndarray):
            arrays[f"stat_{k}"] = v
        else:
            stats_meta[k] = v
    setting, _ = _jsonable(problem.setting)
    diagnostics, _ = _jsonable(problem.diagnostics)
    params, dropped = _jsonable(t.params)
    meta = {
        "format": _FORMAT,
        "name": problem.name,
        "feature_names": list(problem.feature_names),
        "latent_names": list(t.latent_names),
        "setting": setting,
        "diagnostics": diagnostics,
        "statistics": stats_meta,
        "graph": graph_meta,
        "params": params,
        "dropped": dropped + (["mixing"] if t.mixing is not None and not isinstance(t.mixing, np.ndarray) else []),
    }
    arrays["meta"] = np.array(json.dumps(meta))
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)
    return path


def load_problem(path) -> Problem:
    """Read a problem written by :func:`save_problem`."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"path: expected an existing .npz file, got {str(path)!r}")
    try:
        data = np.load(path, allow_pickle=False)
        meta = json.loads(str(data["meta"]))
    except (OSError, ValueError, KeyError) as exc:
        raise ValidationError(f"path: {str(path)!r} is not a problem file written by save_problem ({exc})") from None
    if meta.get("format") != _FORMAT:
        raise ValidationError(f"path: expected format {_FORMAT!r}, got {meta.get('format')!r}")
    get = lambda k: data[k] if k in data.files else None  # noqa: E731
    graph = None
    if meta["graph"] is not None:
        g = meta["graph"]
        graph = from_adjacency(data["truth_graph"], g["nodes"], latent=g["latent"], kind=g["kind"])
    views = sorted((k for k in data.files if k.startswith("view_")), key=lambda k: int(k.split("_")[1]))
    truth = Truth(
        Z=get("truth_Z"),
        graph=graph,
        targets=get("truth_targets"),
        mixing=get("truth_mixing"),
        latent_names=meta["latent_names"],
        noise={k[len("truth_noise_"):]: data[k] for k in data.files if k.startswith("truth_noise_")},
        params={**meta["params"], "dropped": meta["dropped"]},
    )
    statistics = {**meta["statistics"], **{k[5:]: data[k] for k in data.files if k.startswith("stat_")}}
    return Problem(
        X=get("X"),
        env=data["env"],
        views=[data[k] for k in views] or None,
        actions=get("actions"),
        labels=get("labels"),
        y=get("y"),
        truth=truth,
        # JSON turns tuples into lists; settings hold tuples (hashable) by convention
        setting={k: tuple(v) if isinstance(v, list) else v for k, v in meta["setting"].items()},
        name=meta["name"],
        feature_names=meta["feature_names"],
        diagnostics=meta["diagnostics"],
        statistics=statistics,
    )
