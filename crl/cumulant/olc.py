"""OLC: causal discovery with latent confounders from higher-order cumulants (Cai et al., ICML 2023).

cumulant_olc.md. The search (phases 1-3, :mod:`crl.cumulant._engine`) finds
ancestral orientations among observed variables, latent confounders with
their children and orientations inside latent cliques. This module adds
input validation, the Gaussian guard, the final regression-based pruning of
non-parents and the output graph.

Final pruning (pitfall 7). For every observed ``j`` with candidate observed
parents ``P`` (all directed edges into ``j``) and candidate latent parents
``K`` (latents with ``j`` as a child), the direct effects solve the normal
equations of ``x_j`` on ``(x_P, L_K)``. The latents are unobserved, but the
normal equations only need their covariances: ``Var(L) = 1``, latents are
independent roots, and ``cov(x_v, L) = cov(x_v, s) / a_s`` for a child
``s`` of ``L`` that shares nothing but ``L`` with ``x_v`` (a certified
child that is neither ancestor nor descendant of ``v`` nor joined to it by an
unresolved edge), where ``a_s`` is ``s``'s loading from the OLC closed form.
Standard errors come from a delete-a-group jackknife over ``n_jackknife``
contiguous row blocks (deterministic); an edge is kept when
``|coefficient| / se >= z_{1 - alpha/2}``. With a complete candidate set
this removes ancestor-but-not-parent edges of phase 1 and latent edges that
an observed child mediates.
"""

from __future__ import annotations

import logging
import time

import networkx as nx
import numpy as np
from scipy import stats

from crl.base import BaseLearner, Claim, check_is_fitted
from crl.cumulant._engine import Engine
from crl.cumulant.independence import IndependenceTester
from crl.exceptions import DegenerateDataWarning, ValidationError
from crl.graphs import add_marked_edge, latent_names, to_adjacency
from crl.validation import check_array, check_choice, check_float, check_int, check_node_names

__all__ = ["OLC"]

logger = logging.getLogger(__name__)

_MIN_ROWS = 50


def _nongaussian_pvalues(Xs: np.ndarray) -> np.ndarray:
    """Per column: p-value of normality (D'Agostino-Pearson: skewness and kurtosis, χ²₂)."""
    return np.atleast_1d(stats.normaltest(Xs, axis=0).pvalue)


class OLC(BaseLearner):
    """Causal discovery with latent confounders from higher-order cumulants (OLC).

    Linear non-Gaussian acyclic model with latent confounders that are roots
    with at least three observed children (cumulant_olc.md §1). The search
    runs, in a fixed order and until nothing changes:

    1. confounder-free pairwise orientation (full residuals, level ``alpha``);
    2. sink detection (Fisher-combined residual tests, level ``alpha``);
    3. latent detection (the OLC closed form and surrogate tests, level
       ``beta``), edge removal and orientation inside latent cliques;

    after pruning the skeleton by marginal independence, and ends with a
    regression-based pruning of non-parents (module docstring).

    Parameters
    ----------
    alpha : float in (0, 1)
        Level of the marginal, phase-1 and phase-2 tests and of the final pruning.
    beta : float in (0, 1)
        Level of the phase-3 tests.
    test : {"auto", "exact", "rff"}
        HSIC test: O(n²) Gram matrices (``"exact"``), or random Fourier
        features in O(n · n_features²) (``"rff"``); ``"auto"`` uses the exact
        test up to ``max_exact`` rows.
    max_exact : int
    n_features : int, even
        Fourier features per variable of the ``"rff"`` test.
    kappa_threshold : float
        A closed form is used only when ``|κ(x, x, e, e)|`` exceeds this many
        plug-in standard errors (pitfall 9).
    fisher_floor : float
        Floor of each p-value in Fisher's combination (phase 2).
    max_latents : int or None
        Cap on the number of latents (default: the number of columns).
    max_iter : int
        Outer iterations of phases 1-3 at most.
    n_jackknife : int
        Row blocks of the jackknife behind the final pruning.
    screen : {"cumulant", "moment", "cumulant_only"}
        Evidence used next to HSIC. ``"cumulant"`` (default): the
        cross-cumulant test (:func:`crl.cumulant.cross_cumulant_test`, third-
        and fourth-order cross moments, calibrated for the estimated slopes),
        plus the pruning guards it makes possible (see
        :mod:`crl.cumulant._engine`). ``"moment"``: the previous version's
        second-moment screen and phases, for ablations. ``"cumulant_only"``:
        the cross-cumulant test without HSIC in phases 1-3.
    feature_names : sequence, optional
        Node names (default: DataFrame columns, else ``"X1".."Xp"``).

    Attributes
    ----------
    graph_ : networkx.DiGraph
        Observed nodes (column order, ``latent=False``) then latents
        ``L1..Lm`` (``latent=True``); directed edges ``"-->"`` with ``weight``
        (the coefficient on the data's scale); pairs the method cannot orient
        ``"---"``. ``graph["kind"]`` is ``"latent_dag"``, or
        ``"latent_cpdag"`` when some pair is undirected.
    adjacency_ : ndarray (p + m, p + m)
        ``A[i, j] != 0`` means ``i -> j`` over ``list(graph_.nodes)``
        (symmetric for ``"---"``).
    coefficients_ : ndarray (p + m, p + m)
        ``C[i, j]`` is the coefficient of ``i`` in ``j``'s equation, on the
        scale of the input columns: observed -> observed direct effects, and
        latent loadings (latents have unit variance; sign and scale of a
        latent are not identified). Zero where there is no directed edge;
        never NaN.
    n_latents_ : int
    latent_children_ : dict
        Latent name -> tuple of observed children (after pruning).
    feature_names_in_ : tuple
    n_features_in_ : int
    diagnostics_ : dict
        Counts (tests, degenerate tests, LinAlgErrors, closed forms skipped
        by the ``|κ|`` threshold, orientations per phase, edges pruned, ...),
        the test used, per-column normality p-values, the Gaussian flag and
        the runtime.

    Notes
    -----
    Deterministic: the Fourier frequencies are a fixed grid and the
    jackknife blocks are contiguous, so no seed is needed. Gaussian data
    (at most one column departing from normality, D'Agostino-Pearson tests
    at level ``alpha / p``) give a
    :class:`~crl.exceptions.DegenerateDataWarning` and the marginal-dependence
    skeleton with every edge undirected and no latents: cumulant methods
    cannot orient anything there.
    """

    claims = Claim(
        "latent_relabeling",
        requires={"latent_model": "linear", "gaussian": False, "latents_are_roots": True},
        reference="Cai, Huang, Chen, Hao, Zhang, ICML 2023 (cumulant_olc.md §1, §4)",
    )

    def __init__(
        self,
        alpha=0.05,
        beta=0.01,
        test="auto",
        max_exact=500,
        n_features=50,
        kappa_threshold=3.0,
        fisher_floor=1e-5,
        max_latents=None,
        max_iter=50,
        n_jackknife=20,
        screen="cumulant",
        feature_names=None,
    ):
        self.alpha = alpha
        self.beta = beta
        self.test = test
        self.max_exact = max_exact
        self.n_features = n_features
        self.kappa_threshold = kappa_threshold
        self.fisher_floor = fisher_floor
        self.max_latents = max_latents
        self.max_iter = max_iter
        self.n_jackknife = n_jackknife
        self.screen = screen
        self.feature_names = feature_names

    # ------------------------------------------------------------------ fit

    def _check_params(self) -> dict:
        out = {
            "alpha": check_float(self.alpha, "alpha", minimum=0.0, maximum=1.0, strict_min=True),
            "beta": check_float(self.beta, "beta", minimum=0.0, maximum=1.0, strict_min=True),
            "test": check_choice(self.test, "test", ("auto", "exact", "rff")),
            "max_exact": check_int(self.max_exact, "max_exact", minimum=1),
            "n_features": check_int(self.n_features, "n_features", minimum=2),
            "kappa_threshold": check_float(self.kappa_threshold, "kappa_threshold", minimum=0.0),
            "fisher_floor": check_float(self.fisher_floor, "fisher_floor", minimum=0.0, maximum=1.0,
                                        strict_min=True),
            "max_iter": check_int(self.max_iter, "max_iter", minimum=1),
            "n_jackknife": check_int(self.n_jackknife, "n_jackknife", minimum=2),
            "screen": check_choice(self.screen, "screen", ("cumulant", "moment", "cumulant_only")),
        }
        for key in ("alpha", "beta"):
            if out[key] >= 1.0:
                raise ValidationError(f"{key}: expected a number in (0, 1), got {out[key]}")
        if self.max_latents is not None:
            out["max_latents"] = check_int(self.max_latents, "max_latents", minimum=0)
        return out

    def _validate(self, X):
        arr = check_array(X, "X", ndim=2)
        n, p = arr.shape
        if n < _MIN_ROWS:
            raise ValidationError(f"X: expected at least {_MIN_ROWS} rows (samples), got {n}")
        if p < 2:
            raise ValidationError(f"X: expected at least 2 columns, got {p}")
        names = check_node_names(self.feature_names, getattr(X, "columns", None), p, "X")
        sd = arr.std(axis=0)
        const = [names[k] for k in np.flatnonzero(sd <= 1e-12 * (1.0 + np.abs(arr).max(axis=0)))]
        if const:
            raise ValidationError(f"X: expected non-constant columns, got constant columns {const!r}")
        mean = arr.mean(axis=0)
        sd = arr.std(axis=0, ddof=1)
        Xs = (arr - mean) / sd  # a new array: the caller's X is never written to
        return Xs, sd, names

    def fit(self, X, y=None):
        """Learn the graph over observed and latent variables from ``X`` (n, p); ``y`` is ignored.

        Raises
        ------
        ValidationError
            NaN or infinite entries, fewer than 50 rows or 2 columns,
            constant columns, bad hyperparameters.
        """
        import warnings

        params = self._check_params()
        t0 = time.perf_counter()
        Xs, sd, names = self._validate(X)
        n, p = Xs.shape
        tester = IndependenceTester(params["test"], params["max_exact"], params["n_features"])
        engine = Engine(
            Xs, tester, alpha=params["alpha"], beta=params["beta"],
            kappa_threshold=params["kappa_threshold"], fisher_floor=params["fisher_floor"],
            max_latents=params.get("max_latents", p), max_iter=params["max_iter"],
            screen=params["screen"],
        )
        pvals = _nongaussian_pvalues(Xs)
        # Gaussian when at most one column departs from normality (Bonferroni at alpha): a single
        # non-Gaussian column is a sink of its own noise and carries no cumulant information on
        # the rest, and one rejection in p is what chance gives Gaussian data at level alpha
        n_nongaussian = int(np.sum(pvals < params["alpha"] / p))
        gaussian = n_nongaussian <= 1
        if gaussian:
            warnings.warn(
                f"OLC: {p - n_nongaussian} of {p} columns of X are consistent with a Gaussian distribution "
                "(normality p-values "
                f"{np.round(pvals, 3).tolist()}); fourth cumulants vanish, so no direction or latent can "
                "be identified: returning the undirected marginal-dependence skeleton",
                DegenerateDataWarning,
                stacklevel=2,
            )
            engine.marginal_skeleton()
            structure = {"directed": {}, "undirected": engine._pairs(), "latents": []}
            coef = {}
            pruned = 0
        else:
            engine.run()
            structure, coef, pruned = self._prune(engine, params["alpha"], params["n_jackknife"])
        self._build(structure, coef, sd, names)
        d = engine.diag
        self.diagnostics_ = {
            "n_tests": tester.n_tests,
            "n_degenerate_tests": tester.n_degenerate,
            "n_linalg_errors": int(d["linalg_errors"]),
            "n_kappa_skipped": int(d["kappa_skipped"]),
            "n_oriented_phase1": int(d["oriented_phase1"]),
            "n_oriented_phase2": int(d["oriented_phase2"]),
            "n_oriented_phase3": int(d["oriented_phase3"]),
            "n_latents_found": int(d["latents_found"]),
            "n_children_attached": int(d["children_attached"]),
            "n_pairs_removed_marginal": int(d["marginal_pairs_removed"]),
            "n_pairs_removed_latent": int(d["removed_latent_only"] + d["removed_explained_by_latent"]),
            "n_pairs_unresolved": len(structure["undirected"]),
            "n_edges_pruned": int(pruned),
            "n_cycles_broken": int(d["cycles_broken"]),
            "iterations": int(d["iterations"]),
            "max_iter_reached": bool(d["max_iter_reached"]),
            "test": tester.method_used or ("exact" if n <= params["max_exact"] else "rff"),
            "gaussian": gaussian,
            "normality_pvalues": [float(v) for v in pvals],
            "runtime_s": time.perf_counter() - t0,
        }
        logger.info(
            "OLC: %d tests, %d latents, %d directed edges in %.2f s",
            tester.n_tests, self.n_latents_, int(np.count_nonzero(self.coefficients_)),
            self.diagnostics_["runtime_s"],
        )
        return self

    # ------------------------------------------------------------------ pruning

    @staticmethod
    def _relatives(directed, p: int) -> tuple[list[set], list[set]]:
        """Ancestors and (ancestors | descendants) of each observed variable in the directed part."""
        G = nx.DiGraph()
        G.add_nodes_from(range(p))
        G.add_edges_from(directed)
        anc = [nx.ancestors(G, v) for v in range(p)]
        return anc, [anc[v] | nx.descendants(G, v) for v in range(p)]

    def _latent_cov_plan(self, engine: Engine, rel, undirected) -> dict:
        """For each latent k and observed v: the surrogates s used for cov(x_v, L_k) = cov(x_v, s)/a_s."""
        und = {frozenset(e) for e in undirected}
        plan = {}
        for k, L in enumerate(engine.latents):
            for v in range(engine.p):
                ok = []
                for s in L.children:
                    if s == v or s in rel[v] or frozenset((s, v)) in und:
                        continue
                    if v in L.children and frozenset((s, v)) not in L.clean:
                        continue
                    ok.append(s)
                plan[(k, v)] = ok
        return plan

    def _solve(self, engine: Engine, rows, targets, plan, anc):
        """Direct effects of every target on (rows subset); None entries where not computable."""
        Xs, W = engine.Xs[rows], engine.W[rows]
        C = np.cov(Xs, rowvar=False)
        Xc, Wc = Xs - Xs.mean(axis=0), W - W.mean(axis=0)
        m = Xs.shape[0]
        loads = [engine.loadings(k, W) for k in range(len(engine.latents))]
        out = {}
        for j, P, K in targets:
            lat = np.zeros((len(P) + 1, len(K)))
            ok = True
            for b, k in enumerate(K):
                if loads[k] is None:
                    ok = False
                    break
                for a, v in enumerate(list(P) + [j]):
                    S = plan[(k, v)]
                    if not S:  # zero only for a variable upstream of every child (L is a root)
                        upstream = all(s in anc[v] for s in engine.latents[k].children)
                        lat[a, b] = 0.0 if upstream else np.nan
                        continue
                    lat[a, b] = np.mean([Xc[:, v] @ Wc[:, s] / (m - 1) / loads[k][s] for s in S])
            if not ok or not np.all(np.isfinite(lat)):
                out[j] = None
                continue
            q = len(P)
            A = np.zeros((q + len(K), q + len(K)))
            A[:q, :q] = C[np.ix_(P, P)]
            A[:q, q:] = lat[:q]
            A[q:, :q] = lat[:q].T
            A[q:, q:] = np.eye(len(K))
            rhs = np.concatenate([C[P, j], lat[q]])
            try:
                out[j] = np.linalg.solve(A, rhs)
            except np.linalg.LinAlgError:
                engine.diag["linalg_errors"] += 1
                out[j] = np.linalg.lstsq(A, rhs, rcond=None)[0]
        return out

    def _prune(self, engine: Engine, alpha: float, n_blocks: int):
        p = engine.p
        directed = sorted(engine.directed)
        undirected = engine._pairs()
        anc, rel = self._relatives(directed, p)
        plan = self._latent_cov_plan(engine, rel, undirected)
        targets = []
        for j in range(p):
            P = [i for i, jj in directed if jj == j]
            K = engine.latents_of(j)
            if P or K:
                targets.append((j, P, K))
        full = self._solve(engine, np.arange(engine.n), targets, plan, anc)
        blocks = np.array_split(np.arange(engine.n), min(n_blocks, engine.n))
        jack = [
            self._solve(engine, np.setdiff1d(np.arange(engine.n), b), targets, plan, anc) for b in blocks
        ]
        crit = stats.norm.isf(alpha / 2.0)
        edges, coef, pruned = [], {}, 0
        for j, P, K in targets:
            theta = full[j]
            names = [("x", i) for i in P] + [("L", k) for k in K]
            if theta is None:
                # no usable latent covariance: keep every candidate edge (nothing pruned), observed
                # coefficients from least squares on the observed parents, latent ones from the loadings
                engine.diag["pruning_skipped"] += 1
                b = self._ols(engine, j, P)
                for i, c in zip(P, b):
                    edges.append((("x", i), ("x", j), float(c), np.inf))
                for k in K:
                    lk = engine.loadings(k) or {}
                    edges.append((("L", k), ("x", j), float(lk.get(j, 0.0)), np.inf))
                continue
            reps = [r[j] for r in jack if r[j] is not None]
            g = len(reps)
            se = np.sqrt((g - 1) / g * np.sum((np.array(reps) - np.mean(reps, axis=0)) ** 2, axis=0)) if g > 1 \
                else np.full(len(theta), np.inf)
            for name, t, s in zip(names, theta, se):
                z = abs(t) / s if s > 0 else (np.inf if t != 0 else 0.0)
                if z >= crit:
                    edges.append((name, ("x", j), float(t), float(z)))
                else:
                    pruned += 1
        edges = self._break_cycles(edges, engine)
        children = {}
        for u, v, _, _ in edges:
            if u[0] == "L":
                children.setdefault(u[1], []).append(v[1])
        keep = [k for k in range(len(engine.latents)) if len(children.get(k, [])) >= 2]
        renum = {k: r for r, k in enumerate(keep)}
        final = []
        for u, v, t, _ in edges:
            if u[0] == "L":
                if u[1] not in renum:
                    pruned += 1
                    continue
                u = ("L", renum[u[1]])
            final.append((u, v))
            coef[(u, v)] = t
        structure = {"directed": final, "undirected": undirected, "latents": keep}
        return structure, coef, pruned

    @staticmethod
    def _ols(engine: Engine, j: int, P: list[int]) -> np.ndarray:
        if not P:
            return np.zeros(0)
        try:
            return np.linalg.lstsq(engine.Xs[:, P], engine.Xs[:, j], rcond=None)[0]
        except np.linalg.LinAlgError:
            engine.diag["linalg_errors"] += 1
            return np.zeros(len(P))

    @staticmethod
    def _break_cycles(edges, engine: Engine):
        """Drop the weakest edge (smallest |z|) of each directed cycle; counted, never silent."""
        edges = list(edges)
        while True:
            G = nx.DiGraph()
            G.add_edges_from((u, v, {"z": z}) for u, v, _, z in edges)
            try:
                cycle = nx.find_cycle(G)
            except nx.NetworkXNoCycle:
                return edges
            weakest = min(cycle, key=lambda e: G.edges[e[0], e[1]]["z"])
            edges = [e for e in edges if (e[0], e[1]) != (weakest[0], weakest[1])]
            engine.diag["cycles_broken"] += 1
            logger.warning("OLC: broke a directed cycle by dropping %s -> %s", weakest[0], weakest[1])

    # ------------------------------------------------------------------ output

    def _build(self, structure, coef, sd, names) -> None:
        m = len(structure["latents"])
        lat = latent_names(m, names)
        nodes = list(names) + lat
        index = {("x", i): i for i in range(len(names))}
        index.update({("L", k): len(names) + k for k in range(m)})
        G = nx.DiGraph(kind="latent_dag")
        for v in names:
            G.add_node(v, latent=False)
        for v in lat:
            G.add_node(v, latent=True)
        C = np.zeros((len(nodes), len(nodes)))
        for u, v in structure["directed"]:
            j = v[1]
            t = coef[(u, v)]
            # back to the data's scale: x_j = b x_i  <=>  x_j / sd_j = b sd_i / sd_j (x_i / sd_i)
            w = t * sd[j] / sd[u[1]] if u[0] == "x" else t * sd[j]
            w = float(w) if np.isfinite(w) else 0.0
            C[index[u], index[v]] = w
            add_marked_edge(G, nodes[index[u]], nodes[index[v]], "-->", weight=w)
        for i, j in structure["undirected"]:
            if not G.has_edge(names[i], names[j]) and not G.has_edge(names[j], names[i]):
                add_marked_edge(G, names[i], names[j], "---")
        if structure["undirected"]:
            G.graph["kind"] = "latent_cpdag"
        self.graph_ = G
        self.adjacency_ = to_adjacency(G)
        self.coefficients_ = C
        self.n_latents_ = m
        self.latent_children_ = {
            lat[k]: tuple(names[v[1]] for u, v in structure["directed"] if u == ("L", k)) for k in range(m)
        }
        self.feature_names_in_ = tuple(names)
        self.n_features_in_ = len(names)

    def summary(self) -> str:
        """A short text description of the fitted graph."""
        check_is_fitted(self, "graph_")
        parts = [f"OLC: {self.n_features_in_} observed, {self.n_latents_} latent"]
        for u, v, d in self.graph_.edges(data=True):
            if d.get("mark") == "-->":
                parts.append(f"  {u} --> {v} ({d.get('weight', 0.0):+.3f})")
            elif str(u) < str(v):
                parts.append(f"  {u} --- {v}")
        return "\n".join(parts)
