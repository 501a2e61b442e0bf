"""Helpers shared by the causal-learn peer adapters: input checks, naming, decoding, quiet calls."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import numbers
import re
import time
from collections.abc import Mapping

import networkx as nx
import numpy as np

from crl._graph_marks import kind_for_marks
from crl.base import BaseLearner
from crl.exceptions import CRLError, ValidationError
from crl.graphs import to_adjacency
from crl.validation import check_array, check_node_names

__all__ = []

logger = logging.getLogger(__name__)

_LIBRARY = "causal-learn"
_MIN_ROWS = 10


# ---------------------------------------------------------------------------
# shared helpers


def _library_version() -> str:
    try:
        return importlib.metadata.version(_LIBRARY)
    except importlib.metadata.PackageNotFoundError:
        raise CRLError(
            f"{_LIBRARY}: expected the package to be installed for the peer adapters, got none"
        ) from None


def _natural_key(name):
    """Sort key on ``str(name)`` where digit runs compare as integers ("X2" < "X10")."""
    parts = re.split(r"(\d+)", str(name))
    return tuple((0, int(s), "") if s.isdigit() else (1, 0, s) for s in parts)


def _check_columns(arr: np.ndarray, names: list, what: str = "X") -> None:
    """Reject constant columns and linearly dependent columns (singular covariance)."""
    constant = np.flatnonzero(np.ptp(arr, axis=0) == 0)
    if constant.size:
        raise ValidationError(
            f"{what}: expected non-constant columns, got constant columns {[names[k] for k in constant]}"
        )
    rank = int(np.linalg.matrix_rank(arr - arr.mean(axis=0)))
    if rank < arr.shape[1]:
        raise ValidationError(
            f"{what}: expected linearly independent columns (a non-singular covariance), "
            f"got rank {rank} for {arr.shape[1]} columns"
        )


def _prepare(X, feature_names, *, min_cols: int = 2) -> tuple[np.ndarray, list]:
    """Validate ``X`` and return it as a float array with its node names."""
    columns = getattr(X, "columns", None)
    arr = check_array(X, "X", min_rows=_MIN_ROWS)
    n, p = arr.shape
    if p < min_cols:
        raise ValidationError(f"X: expected at least {min_cols} columns (variables), got {p}")
    names = check_node_names(feature_names, columns, p, "X")
    _check_columns(arr, names)
    return arr, names


def _relabel(decoded: nx.DiGraph, rename: Mapping, observed: list, latents: list) -> nx.DiGraph:
    """Copy ``decoded`` under ``rename``: observed nodes (column order), then hidden ones.

    Latency comes from ``latents`` (the caller's bookkeeping), never from names
    or from the flags of ``decoded``.
    """
    unknown = [v for v in decoded if v not in rename]
    if unknown:
        raise CRLError(f"peer output: expected only nodes the adapter passed in or was told of, got {unknown!r}")
    G = nx.DiGraph()
    G.add_nodes_from(observed, latent=False)
    G.add_nodes_from(latents, latent=True)
    for u, v, data in decoded.edges(data=True):
        G.add_edge(rename[u], rename[v], **data)
    marks = {data.get("mark", "-->") for _, _, data in G.edges(data=True)}
    G.graph["kind"] = kind_for_marks(marks, bool(latents))
    return G


def _quiet(fn, *args, **kwargs):
    """Call ``fn`` with stdout captured; what it printed goes to the log at DEBUG level."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        out = fn(*args, **kwargs)
    if buffer.getvalue():
        logger.debug("%s printed:\n%s", getattr(fn, "__name__", fn), buffer.getvalue())
    return out


def _jsonable(value):
    """``random_state`` as stored in ``peer_info_`` (ints and None as is, else the type name)."""
    if value is None or isinstance(value, (bool, numbers.Integral)):
        return None if value is None else int(value)
    return f"<{type(value).__name__}>"


def _clusters(G: nx.DiGraph, observed: list, latents: list) -> dict:
    """Observed children of each hidden node, in column order."""
    return {L: tuple(v for v in observed if G.has_edge(L, v)) for L in latents}


class _CausalLearnPeer(BaseLearner):
    """Common fitted state of the causal-learn adapters."""

    def _finish(self, G: nx.DiGraph, names: list, *, method: str, options: dict, workarounds: list, t0: float):
        self.graph_ = G
        self.adjacency_ = to_adjacency(G)
        self.n_latents_ = sum(1 for _, f in G.nodes(data="latent") if f)
        self.feature_names_in_ = tuple(names)
        self.n_features_in_ = len(names)
        self.peer_info_ = {
            "library": _LIBRARY,
            "version": _library_version(),
            "method": method,
            "options": options,
            "workarounds": list(workarounds),
        }
        logger.info("%s: %s finished in %.2f s", type(self).__name__, method, time.perf_counter() - t0)
        return self


# ---------------------------------------------------------------------------
# FCI
