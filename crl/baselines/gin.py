"""causal-learn's GIN behind the structure-learner contract, with the column-indexing bug (#271) worked around."""

from __future__ import annotations

import logging
import re
import time
from itertools import combinations

import numpy as np

from crl.base import Claim
from crl.baselines._common import (
    _MIN_ROWS,
    _CausalLearnPeer,
    _check_columns,
    _clusters,
    _jsonable,
    _natural_key,
    _prepare,
    _quiet,
    _relabel,
)
from crl.exceptions import CRLError, ValidationError
from crl.graphs import from_causallearn, latent_names
from crl.validation import check_choice, check_int, check_level, check_random_state

__all__ = ['GINPeer']

logger = logging.getLogger(__name__)

_GIN_INDEX_FIX = (
    "GIN index fix (causal-learn issue #271): upstream GIN.py lines 67-68 and 98-99 test "
    "data[:, [z]] for positions z = 0..len(Z)-1 instead of the variables in Z, so each "
    "independence test uses the first columns of the data (possibly the cluster itself); the "
    "adapter runs a copy of the GIN driver that tests each variable of Z, reusing causal-learn's "
    "cal_e_with_gin, fisher_test, merge_overlaping_cluster, array_split, KCI_UInd and "
    "hsic_test_gamma and building the same GeneralGraph"
)
_GIN_CANONICAL = (
    "canonical column order: columns are passed to causal-learn sorted by node name (digit runs "
    "as numbers), so the first-root-wins choice of the causal order and the halving of clusters "
    "(array_split, find_root's i[0]) do not depend on the column order of X"
)


def _gin_graph(var_set, causal_order, clusters_list):
    """The GeneralGraph upstream GIN builds (GIN.py lines 110-150), verbatim."""
    from causallearn.graph.Edge import Edge
    from causallearn.graph.Endpoint import Endpoint
    from causallearn.graph.GeneralGraph import GeneralGraph
    from causallearn.graph.GraphNode import GraphNode
    from causallearn.graph.NodeType import NodeType

    G = GeneralGraph([])
    for var in var_set:
        G.add_node(GraphNode(f"X{var + 1}"))
    latent_id = 1
    l_nodes = []
    for cluster in causal_order:
        l_node = GraphNode(f"L{latent_id}")
        l_node.set_node_type(NodeType.LATENT)
        G.add_node(l_node)
        for node in l_nodes:
            G.add_directed_edge(node, l_node)
        l_nodes.append(l_node)
        for o in cluster:
            o_node = GraphNode(f"X{o + 1}")
            G.add_node(o_node)
            G.add_directed_edge(l_node, o_node)
        latent_id += 1
    undirected_l_nodes = []
    for cluster in clusters_list:
        l_node = GraphNode(f"L{latent_id}")
        l_node.set_node_type(NodeType.LATENT)
        G.add_node(l_node)
        for node in l_nodes:
            G.add_directed_edge(node, l_node)
        for node in undirected_l_nodes:
            G.add_edge(Edge(node, l_node, Endpoint.TAIL, Endpoint.TAIL))
        undirected_l_nodes.append(l_node)
        for o in cluster:
            o_node = GraphNode(f"X{o + 1}")
            G.add_node(o_node)
            G.add_directed_edge(l_node, o_node)
        latent_id += 1
    return G, causal_order


def _gin_fixed(data: np.ndarray, indep_test_method: str = "kci", alpha: float = 0.05):
    """causal-learn's ``GIN`` (GIN.py lines 22-152) with the index bug fixed.

    Identical to upstream except that each independence test pairs the GIN
    residual ``e`` with the variable ``z`` itself (``data[:, [z]]`` for ``z`` in
    the remaining set), where upstream uses the position ``z`` in
    ``range(len(...))``. Returns ``(GeneralGraph, causal_order)`` as upstream.
    """
    from causallearn.search.FCMBased.lingam.hsic import hsic_test_gamma
    from causallearn.search.HiddenCausal.GIN import GIN as upstream
    from causallearn.utils.KCI.KCI import KCI_UInd

    cov = np.cov(data.T)
    if indep_test_method == "kci":
        kci = KCI_UInd()

        def pvalue(x, y):
            return kci.compute_pvalue(x, y)[0]
    else:

        def pvalue(x, y):
            return hsic_test_gamma(x, y)[1]

    def gin_pvalue(Xs: list, Zs: list) -> float:
        e = upstream.cal_e_with_gin(data, cov, Xs, Zs)
        return upstream.fisher_test([pvalue(data[:, [z]], e[:, None]) for z in Zs])  # the fix: z, not position

    # Phase 1: causal clusters (upstream lines 58-76)
    var_set = set(range(data.shape[1]))
    cluster_size = 2
    clusters_list = []
    while cluster_size < len(var_set):
        found = []
        for cluster in combinations(sorted(var_set), cluster_size):
            remain = sorted(var_set - set(cluster))
            if gin_pvalue(list(cluster), remain) >= alpha:
                found.append(cluster)
        found = upstream.merge_overlaping_cluster(found)
        clusters_list = clusters_list + found
        for cluster in found:
            var_set -= set(cluster)
        cluster_size += 1

    # Phase 2: causal order of the clusters (upstream lines 78-108)
    causal_order = []
    updated = True
    while updated:
        updated = False
        Xs, Zs = [], []
        for cluster_k in causal_order:
            k1, k2 = upstream.array_split(cluster_k, 2)
            Xs += k1
            Zs += k2
        for i, cluster_i in enumerate(clusters_list):
            is_root = True
            i1, i2 = upstream.array_split(cluster_i, 2)
            for j, cluster_j in enumerate(clusters_list):
                if i == j:
                    continue
                j1, _ = upstream.array_split(cluster_j, 2)
                if gin_pvalue(Xs + i1 + j1, Zs + i2) < alpha:
                    is_root = False
                    break
            if is_root:
                causal_order.append(cluster_i)
                clusters_list.remove(cluster_i)
                updated = True
                break
    return _gin_graph(var_set, causal_order, clusters_list)


class GINPeer(_CausalLearnPeer):
    """causal-learn's GIN (``causallearn.search.HiddenCausal.GIN.GIN``): latent clusters and their order.

    GIN (Xie et al., NeurIPS 2020) finds clusters of observed variables that
    share one latent parent and a causal order of those latents, assuming a
    linear non-Gaussian model with at least two pure indicators per latent.
    ``graph_`` has one hidden node per cluster with edges to its members; the
    ordered latents form a complete DAG in GIN's order (never pruned), latents
    it could not order are joined by ``---`` (kind ``"latent_cpdag"``).
    Unclustered columns come out isolated; GIN never outputs X–X or X → L edges.

    Workarounds (``patched=True``, the default)
    -------------------------------------------
    1. **Index bug, causal-learn issue #271** (``variant="GIN"`` only). In
       ``GIN.py`` (0.1.4.8) the cluster search computes the GIN residual ``e``
       from ``cluster`` and ``remain_var_set`` and then tests
       ``data[:, [z]]`` against ``e`` for ``z in range(len(remain_var_set))``
       (lines 67-68); the ordering phase does the same with
       ``range(len(Z + cluster_i2))`` (lines 98-99). ``z`` is a *position*, so
       the tests use the first columns of ``data`` — often the cluster's own
       members — instead of the remaining variables, and the result depends
       on the column order. No input ordering can sidestep this (the cluster
       loop visits every subset), so the adapter runs :func:`_gin_fixed`, a
       copy of the upstream driver whose only change is to test ``data[:, [z]]``
       for each ``z`` in the remaining set. It reuses causal-learn's
       ``cal_e_with_gin``, ``fisher_test``, ``merge_overlaping_cluster``,
       ``array_split``, ``KCI_UInd`` and ``hsic_test_gamma`` and builds the
       same ``GeneralGraph`` (lines 110-150); no causal-learn code is patched.
       ``GIN_MI`` indexes the variables correctly (``data[:, i] for i in Z``,
       line 246-247) and runs upstream.
    2. **Canonical column order** (both variants). Even without the bug the
       result depends on the column order through ties: the first cluster that
       passes the root test wins (line 104), clusters are halved by position
       (``array_split``), and ``GIN_MI``'s ``find_root`` uses each cluster's
       first member (line 273). The adapter passes the columns sorted by node
       name (digit runs as numbers) and maps them back, so permuting the
       columns of a DataFrame gives the same graph by name.

    ``patched=False`` calls causal-learn's ``GIN``/``GIN_MI`` verbatim on the
    columns as given (for parity runs with what a causal-learn user gets).

    Parameters
    ----------
    indep_test : {"kci", "hsic"}
        Independence test of ``GIN`` (``KCI_UInd`` or ``hsic_test_gamma``);
        ignored by ``GIN_MI``, which always uses HSIC statistics.
    alpha : float in (0, 1)
        Significance level of ``GIN``'s Fisher-combined tests; ignored by ``GIN_MI``.
    variant : {"GIN", "GIN_MI"}
        ``GIN``: hypothesis tests with ``indep_test`` and ``alpha``.
        ``GIN_MI``: every variable joins the pair with the smallest HSIC
        statistic (no test, every column ends up in some cluster).
    patched : bool
        Apply the workarounds above (default) or call causal-learn verbatim.
    max_samples : int >= 10 or None
        Fit on a random subset of this many rows (without replacement, row
        order kept), drawn with ``random_state``; ``None`` uses all rows.
        Cost: each kernel test builds n × n Gram matrices (time n² to n³,
        memory n² per test) and GIN runs O(p²) to O(p³) tests. Measured on
        2 cores: 6 columns take about 0.5 s at n = 300 and 1.2 s at n = 500,
        12 columns about 13 s at n = 500 and minutes at n = 2000 (rlcd.md
        §5.2). Subsampling buys time with power: fewer rows merge or miss
        clusters.
    random_state : None, int or numpy Generator
        Seeds the row subsample (only used when ``max_samples`` < n).
    feature_names : sequence of hashable, optional
        Node names (default: DataFrame columns, else ``"X1".."Xp"``).

    Attributes
    ----------
    graph_ : networkx.DiGraph
        Observed nodes (column order), then hidden nodes ``L1..Lm`` in GIN's
        numbering (ordered clusters first); kind ``"latent_dag"`` or
        ``"latent_cpdag"`` (``"dag"`` when no cluster was found).
    adjacency_ : ndarray (p + m, p + m)
        ``to_adjacency(graph_)``.
    n_latents_ : int
    clusters_ : dict
        Hidden node -> tuple of its observed members (column order).
    causal_order_ : list
        The hidden nodes GIN ordered, root first.
    n_samples_used_ : int
        Rows the peer saw (after ``max_samples``).
    peer_info_ : dict
        ``library``, ``version``, ``method``, ``options``, ``workarounds``.

    Notes
    -----
    Claim: clusters and latents are identified up to relabelling of the
    hidden nodes; the latent–latent part is only a causal order, scored
    against the truth's equivalence class, hence ``("mec", "latent_relabeling")``.
    """

    claims = Claim(
        ("mec", "latent_relabeling"),
        requires={"latent_model": "linear", "gaussian": False},
        reference="Xie et al., Generalized Independent Noise Condition, NeurIPS 2020; causal-learn GIN",
    )
    INDEP_TESTS = ("kci", "hsic")
    VARIANTS = ("GIN", "GIN_MI")

    def __init__(
        self,
        indep_test="kci",
        alpha=0.05,
        variant="GIN",
        patched=True,
        max_samples=None,
        random_state=None,
        feature_names=None,
    ):
        self.indep_test = indep_test
        self.alpha = alpha
        self.variant = variant
        self.patched = patched
        self.max_samples = max_samples
        self.random_state = random_state
        self.feature_names = feature_names

    def fit(self, X, y=None):
        """Run GIN on ``X`` (``y`` is ignored). Returns ``self``."""
        variant = check_choice(self.variant, "variant", self.VARIANTS)
        test = check_choice(self.indep_test, "indep_test", self.INDEP_TESTS)
        alpha = check_level(self.alpha)
        if not isinstance(self.patched, (bool, np.bool_)):
            raise ValidationError(f"patched: expected a bool, got {type(self.patched).__name__}")
        patched = bool(self.patched)
        arr, names = _prepare(X, self.feature_names, min_cols=3)
        n, p = arr.shape
        if self.max_samples is not None:
            max_samples = check_int(self.max_samples, "max_samples", minimum=_MIN_ROWS)
            rng = check_random_state(self.random_state)
            if max_samples < n:
                arr = arr[np.sort(rng.choice(n, size=max_samples, replace=False))]
                _check_columns(arr, names, what=f"X (after subsampling to max_samples={max_samples} rows)")
        else:
            max_samples = None
        from causallearn.search.HiddenCausal.GIN import GIN as upstream

        order = sorted(range(p), key=lambda i: _natural_key(names[i])) if patched else list(range(p))
        data = np.ascontiguousarray(arr[:, order])
        t0 = time.perf_counter()
        if variant == "GIN_MI":
            method, options = "causallearn.search.HiddenCausal.GIN.GIN.GIN_MI", {"variant": variant}
            result = _quiet(upstream.GIN_MI, data)
            workarounds = [_GIN_CANONICAL] if patched else []
        else:
            method = "causallearn.search.HiddenCausal.GIN.GIN.GIN"
            options = {"variant": variant, "indep_test": test, "alpha": alpha}
            if patched:
                result = _quiet(_gin_fixed, data, test, alpha)
                workarounds = [_GIN_INDEX_FIX, _GIN_CANONICAL]
            else:
                result = _quiet(upstream.GIN, data, test, alpha)
                workarounds = []
        options.update(
            patched=patched, max_samples=max_samples, random_state=_jsonable(self.random_state)
        )
        G, latents, causal_order = self._decode(result, names, order)
        self.clusters_ = _clusters(G, names, latents)
        self.causal_order_ = causal_order
        self.n_samples_used_ = int(data.shape[0])
        return self._finish(G, names, method=method, options=options, workarounds=workarounds, t0=t0)

    @staticmethod
    def _decode(result, names: list, order: list):
        """Map GIN's ``X<k>`` (k-th passed column) and latent nodes back to our names.

        Latency is the causal-learn node type (``NodeType.LATENT``), which
        :func:`crl.graphs.from_causallearn` reads; GIN names observed nodes
        ``X{position + 1}`` (GIN.py lines 112, 127, 147), the only handle on
        which column a node is.
        """
        cl_graph, cl_order = result
        decoded = from_causallearn(cl_graph)
        cl_latents = [v for v, f in decoded.nodes(data="latent") if f]
        cl_latents.sort(key=_natural_key)  # GIN numbers its latents L1.. in its own order
        latents = latent_names(len(cl_latents), names)
        rename = dict(zip(cl_latents, latents, strict=True))
        for v, f in decoded.nodes(data="latent"):
            if f:
                continue
            match = re.fullmatch(r"X(\d+)", str(v))
            if match is None or not 1 <= int(match.group(1)) <= len(order):
                raise CRLError(f"GIN output: expected observed nodes X1..X{len(order)}, got {v!r}")
            rename[v] = names[order[int(match.group(1)) - 1]]
        G = _relabel(decoded, rename, names, latents)
        by_members = {frozenset(m): L for L, m in _clusters(G, names, latents).items()}
        ordered = [by_members.get(frozenset(names[order[o]] for o in cluster)) for cluster in cl_order]
        return G, latents, [L for L in ordered if L is not None]


# ---------------------------------------------------------------------------
# RLCD port
