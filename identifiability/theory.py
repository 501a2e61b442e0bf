"""What a setting identifies, up to which equivalence class, and why.

Every function takes explicit arguments (target matrices, view sets, graphs)
and returns an :class:`Identifiability`: a yes/no, the equivalence class
(names from :data:`crl.base.EQUIVALENCES`), a readable reason that cites the
result used, the identifiable blocks and details. :func:`from_problem` reads a
simulated :class:`simulators.Problem` and dispatches; :func:`check_claim`
compares a learner's :class:`crl.base.Claim` with what the theory allows.
Where no theorem in the toolkit's notes covers a setting, the answer is
``identifiable=False`` with a reason that says so, never a guess.

Coarseness order
----------------
``a ≤ b`` ("a is at least as fine as b") means that two models equivalent
under ``a`` are equivalent under ``b``. The order used (reflexive and
transitive closure of these relations; anything else is incomparable):

- ``permutation_scaling ≤ permutation_monotone`` (a scaling is monotone);
- ``permutation_monotone ≤ block`` (componentwise maps identify every block);
- ``permutation_scaling ≤ affine`` (``P D`` is an invertible linear map);
- ``permutation_scaling ≤ ancestors`` (no mixing with ancestors is allowed
  mixing).

``affine`` and ``ancestors`` are incomparable with ``block`` (an affine map
only identifies the trivial full block; ``ancestors`` may be nonlinear) and
with each other. ``mec`` and ``latent_relabeling`` act on graphs, not on
representations, and are incomparable with the representation classes and
with each other. A tuple is the composition of its classes; a tuple ``A`` is
at least as fine as ``B`` when every class in ``A`` is at least as fine as
some class in ``B`` (e.g. ``latent_relabeling ≤ ("mec", "latent_relabeling")``).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import networkx as nx
import numpy as np

from crl.base import EQUIVALENCES, Claim
from crl.exceptions import GraphTypeError, ValidationError
from crl.frozen import FrozenDict
from crl.validation import check_choice, check_int

__all__ = [
    "Identifiability",
    "COARSENESS",
    "finer_or_equal",
    "linear_interventions",
    "identifiable_blocks",
    "atoms",
    "multiview",
    "rlcd",
    "olc",
    "action_latents",
    "polynomial_interventions",
    "ivae_segments",
    "labels_supervised",
    "from_problem",
    "check_claim",
]

_INTERVENTION_KINDS = ("perfect", "soft", "scale", "shift")
_NOT_COVERED = "no theorem in the toolkit covers"


@dataclass(frozen=True)
class Identifiability:
    """What a setting identifies and why.

    Attributes
    ----------
    identifiable : bool
        Whether the toolkit's theory identifies the model (or, for block
        results, at least one block) in this setting.
    equivalence : str, tuple of str or None
        Class(es) from :data:`crl.base.EQUIVALENCES` up to which it is
        identified; a tuple is a composition. ``None`` when nothing is claimed.
    reason : str
        Human-readable justification citing the result used.
    blocks : tuple of frozenset
        Identifiable blocks of latent indices, where relevant.
    details : mapping
        Specifics: latents without interventions, jointly identified latents,
        violated graphical conditions, ...
    reference : str
        The note (and section) the reason rests on.
    """

    identifiable: bool
    equivalence: str | tuple[str, ...] | None
    reason: str
    blocks: tuple[frozenset, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""

    def __post_init__(self):
        if self.equivalence is not None:
            names = (self.equivalence,) if isinstance(self.equivalence, str) else tuple(self.equivalence)
            unknown = [n for n in names if n not in EQUIVALENCES]
            if not names or unknown:
                raise ValidationError(
                    f"equivalence: expected names from {list(EQUIVALENCES)} or None, got {self.equivalence!r}"
                )
            object.__setattr__(self, "equivalence", names[0] if len(names) == 1 else names)
        if not isinstance(self.reason, str) or not self.reason.strip():
            raise ValidationError(f"reason: expected a non-empty string, got {self.reason!r}")
        object.__setattr__(self, "identifiable", bool(self.identifiable))
        object.__setattr__(self, "blocks", tuple(frozenset(b) for b in self.blocks))
        object.__setattr__(self, "details", FrozenDict(dict(self.details)))

    @property
    def classes(self) -> tuple[str, ...]:
        """The equivalence class names as a tuple (empty when ``equivalence`` is None)."""
        if self.equivalence is None:
            return ()
        return (self.equivalence,) if isinstance(self.equivalence, str) else self.equivalence

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (blocks as sorted lists) for reports and logs."""
        return {
            "identifiable": self.identifiable,
            "equivalence": self.equivalence,
            "reason": self.reason,
            "blocks": [sorted(b) for b in self.blocks],
            "details": dict(self.details),
            "reference": self.reference,
        }


# --------------------------------------------------------------------------- coarseness

_COARSER_EDGES = (
    ("permutation_scaling", "permutation_monotone"),
    ("permutation_monotone", "block"),
    ("permutation_scaling", "affine"),
    ("permutation_scaling", "ancestors"),
)


def _coarseness() -> Mapping[str, frozenset]:
    order = nx.DiGraph(_COARSER_EDGES)
    order.add_nodes_from(EQUIVALENCES)
    return FrozenDict({c: frozenset(nx.descendants(order, c) | {c}) for c in EQUIVALENCES})


#: Each class mapped to the classes at least as coarse as it (itself included).
COARSENESS: Mapping[str, frozenset] = _coarseness()


def _as_classes(value, name: str) -> tuple[str, ...]:
    names = (value,) if isinstance(value, str) else tuple(value)
    unknown = [n for n in names if n not in EQUIVALENCES]
    if not names or unknown:
        raise ValidationError(f"{name}: expected names from {list(EQUIVALENCES)}, got {value!r}")
    return names


def finer_or_equal(fine, coarse) -> bool:
    """Whether class ``fine`` is at least as fine as class ``coarse`` (see the module docstring).

    Parameters
    ----------
    fine, coarse : str or tuple of str
        Equivalence class names; a tuple is a composition.

    Returns
    -------
    bool
    """
    fine, coarse = _as_classes(fine, "fine"), _as_classes(coarse, "coarse")
    return all(any(c in COARSENESS[f] for c in coarse) for f in fine)


# --------------------------------------------------------------------------- validation


def _check_bool_matrix(targets, name: str = "targets") -> np.ndarray:
    arr = np.asarray(targets)
    if arr.dtype != bool:
        raise ValidationError(
            f"{name}: expected a boolean array of shape (n_envs, d), got dtype {arr.dtype} "
            "(convert 0/1 entries with .astype(bool))"
        )
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValidationError(f"{name}: expected a boolean array of shape (n_envs, d), got shape {arr.shape}")
    return arr


def _check_names(names, d: int) -> tuple[str, ...]:
    if names is None:
        return tuple(f"latent {j}" for j in range(d))
    names = tuple(str(n) for n in names)
    if len(names) != d:
        raise ValidationError(f"names: expected {d} latent names, got {len(names)}")
    return names


def _fmt(idx, names) -> str:
    return ", ".join(names[j] for j in sorted(idx))


def _check_dag_arg(graph, d: int | None, name: str = "graph") -> np.ndarray:
    if isinstance(graph, nx.DiGraph):
        A = nx.to_numpy_array(graph, nodelist=list(graph.nodes), weight=None)
    else:
        A = np.asarray(graph, dtype=float)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or (d is not None and A.shape[0] != d):
        want = f"({d}, {d})" if d is not None else "square"
        raise ValidationError(f"{name}: expected a DiGraph or adjacency of shape {want}, got shape {A.shape}")
    if not nx.is_directed_acyclic_graph(nx.DiGraph(A != 0)):
        raise GraphTypeError(f"{name}: expected a DAG, got a graph with a directed cycle")
    return A != 0


def _check_latent_digraph(graph, name: str = "graph") -> nx.DiGraph:
    if not isinstance(graph, nx.DiGraph):
        raise ValidationError(f"{name}: expected a networkx.DiGraph with 'latent' node flags, got {type(graph).__name__}")
    if not nx.is_directed_acyclic_graph(graph):
        raise GraphTypeError(f"{name}: expected a DAG, got a graph with a directed cycle")
    return graph


# --------------------------------------------------------------------------- LinearCD


def linear_interventions(targets, *, kind: str = "perfect", graph=None, degenerate=(), names=None) -> Identifiability:
    """Linear latent SCM, linear mixing, interventions per context (Squires et al. 2023).

    Parameters
    ----------
    targets : ndarray of shape (n_envs, d), bool
        ``targets[e, j]``: context ``e`` intervenes on latent ``j``. All-False
        rows are observational contexts (row 0 by convention).
    kind : {"perfect", "soft", "scale", "shift"}
        ``"scale"`` (noise scale only) is a soft intervention; ``"shift"``
        (mean only) is invisible to second moments.
    graph : networkx.DiGraph or ndarray of shape (d, d), optional
        The latent DAG (``A[i, j] != 0`` iff ``i -> j``; nodes in column
        order of ``targets``); gives the identified partial order in
        ``details``.
    degenerate : iterable of int
        Latents whose intervention keeps the target's noise scale
        (``lambda = (B0)_jj``), which makes the context invisible to second
        moments (``linear_cd.md`` §3).
    names : sequence of str, optional
        Latent names for messages.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` for one perfect intervention per latent,
        ``ancestors`` for one soft intervention per latent, else not identifiable.
    """
    T = _check_bool_matrix(targets)
    check_choice(kind, "kind", _INTERVENTION_KINDS)
    E, d = T.shape
    names = _check_names(names, d)
    deg = sorted({check_int(j, "degenerate", minimum=0, maximum=d - 1) for j in degenerate})
    A = _check_dag_arg(graph, d) if graph is not None else None
    obs = np.flatnonzero(~T.any(axis=1))
    inter = np.flatnonzero(T.any(axis=1))
    counts = T.sum(axis=0)
    missing = [int(j) for j in np.flatnonzero(counts == 0)]
    multi = [int(e) for e in inter if T[e].sum() > 1]
    dup = [int(j) for j in np.flatnonzero(counts > 1)]
    details: dict[str, Any] = {
        "kind": kind,
        "unintervened_latents": tuple(missing),
        "degenerate_targets": tuple(deg),
        "observational_contexts": tuple(int(e) for e in obs),
        "multi_target_contexts": tuple(multi),
        "repeated_targets": tuple(dup),
    }
    ref = "linear_cd.md §3"

    def no(reason):
        return Identifiability(False, None, reason, details=details, reference=ref)

    if kind == "shift":
        return no(
            f"{_NOT_COVERED} mean-shift interventions for linear causal disentanglement: a shift leaves "
            "the context's covariance unchanged, so every context is invisible to Squires et al.'s "
            "second-moment theorem"
        )
    if missing or deg:
        parts = []
        if missing:
            parts.append(
                f"{_fmt(missing, names)} {'has' if len(missing) == 1 else 'have'} no intervention; "
                "Squires et al. 2023 show that when a latent lacks an intervention there are distinct "
                "models with identical data (worst-case necessity; graph-specific partial "
                "identifiability is not claimed)"
            )
        if deg:
            parts.append(
                f"the intervention on {_fmt(deg, names)} keeps the target's noise scale "
                "(lambda equal to the B0 diagonal): after projecting out the ancestors the context's "
                "precision difference is exactly zero, so the context is invisible to second moments "
                "(degenerate case, linear_cd.md §3 [derived]); the latent effectively lacks an "
                "intervention (whether the theorem excludes this by genericity is unverified)"
            )
        return no("not identifiable: " + "; ".join(parts))
    if obs.size == 0:
        return no(
            f"{_NOT_COVERED} interventional contexts without an observational one: Squires et al. "
            "assume context 0 is observational"
        )
    if multi:
        return no(
            f"{_NOT_COVERED} multi-target interventions: contexts {multi} intervene on several latents, "
            "while Squires et al.'s theorem assumes one single-target intervention per latent"
        )
    if dup:
        return no(
            f"{_NOT_COVERED} repeated targets: {_fmt(dup, names)} {'is' if len(dup) == 1 else 'are'} "
            "intervened in several contexts, while Squires et al.'s theorem assumes exactly one context "
            "per latent (K = d); every latent does have a single-target intervention"
        )
    if A is not None:
        closure = nx.transitive_closure_dag(nx.DiGraph(A))
        details["ancestor_pairs"] = tuple(sorted((int(u), int(v)) for u, v in closure.edges))
    if kind == "perfect":
        return Identifiability(
            True,
            "permutation_scaling",
            "Squires et al. 2023, Thm. 1: one perfect intervention per latent identifies H and B up to "
            "permutation and scaling (sign included), together with the latent DAG and the unknown "
            f"targets of the {len(inter)} interventional contexts",
            details=details,
            reference=ref,
        )
    return Identifiability(
        True,
        "ancestors",
        "ancestors (the project's reading, linear_cd.md §3 [derived]): with one soft intervention per "
        "latent that changes the target's noise scale, step A of the partial-order RQ decomposition still "
        "recovers Q and the ancestor sets, so the transitive closure of the latent DAG is identified and H "
        "only up to mixing each row with its ancestors' rows; Leyes Carreno, Meroni and Seigal (2024) state, "
        "for soft interventions, that only a class of compatible latent graphs is identifiable and that "
        "transitive closures can be recovered (the ICML paper's own wording on soft interventions is unverified)",
        details=details,
        reference=ref + "; Leyes Carreno et al. 2024",
    )


# --------------------------------------------------------------------------- multi-view


def _check_view_sets(view_sets, n_latents=None) -> tuple[tuple[frozenset, ...], int]:
    if isinstance(view_sets, (str, bytes)) or not hasattr(view_sets, "__iter__"):
        raise ValidationError(f"view_sets: expected a sequence of sets of latent indices, got {type(view_sets).__name__}")
    out = []
    for k, s in enumerate(view_sets):
        if isinstance(s, (str, bytes)) or not hasattr(s, "__iter__"):
            raise ValidationError(f"view_sets[{k}]: expected a set of latent indices, got {s!r}")
        items = list(s)
        if not items or any(isinstance(i, bool) or not isinstance(i, numbers.Integral) or i < 0 for i in items):
            raise ValidationError(f"view_sets[{k}]: expected a non-empty set of integers >= 0, got {items!r}")
        out.append(frozenset(int(i) for i in items))
    if not out:
        raise ValidationError("view_sets: expected at least one view, got none")
    top = max(max(s) for s in out)
    if n_latents is None:
        d = top + 1
    else:
        d = check_int(n_latents, "n_latents", minimum=1)
        if top >= d:
            bad = next(k for k, s in enumerate(out) if max(s) >= d)
            raise ValidationError(
                f"view_sets[{bad}]: expected latent indices in [0, {d}), got {sorted(out[bad])}"
            )
    return tuple(out), d


def _atoms_of(sets) -> list[frozenset]:
    """Atoms of the set ring generated by ``sets``: latents grouped by which sets contain them."""
    sig: dict[tuple, set] = {}
    for x in sorted(set().union(*sets)) if sets else []:
        sig.setdefault(tuple(x in s for s in sets), set()).add(x)
    return sorted((frozenset(a) for a in sig.values()), key=lambda a: (len(a), sorted(a)))


def _pairwise_content(view_sets) -> list[frozenset]:
    # every C_V with |V| >= 2 is an intersection of pairwise contents, so these generate the same closure
    return [a & b for a, b in combinations(view_sets, 2) if a & b]


def atoms(view_sets, *, n_latents=None) -> list[frozenset]:
    """Smallest identifiable blocks: each latent's smallest identified block.

    Parameters
    ----------
    view_sets : sequence of sets of int
        ``S_k``, the latents seen by view ``k``.
    n_latents : int, optional
        Number of latents (default: largest index + 1); indices must lie in range.

    Returns
    -------
    list of frozenset
        Disjoint, sorted by size then content; latents seen by fewer than
        two views belong to none.
    """
    sets, _ = _check_view_sets(view_sets, n_latents)
    return _atoms_of(_pairwise_content(sets))


def identifiable_blocks(view_sets, *, n_latents=None, max_blocks: int = 1 << 16) -> list[frozenset]:
    """Blocks identified by multi-view data (Yao et al. 2024's identifiability algebra).

    The content sets ``C_V = ∩_{k∈V} S_k`` (``|V| >= 2``) are closed under
    intersection, difference and union; the closure is every non-empty union
    of the :func:`atoms`.

    Parameters
    ----------
    view_sets : sequence of sets of int
    n_latents : int, optional
    max_blocks : int
        Refuse (ValidationError) when the closure would be larger.

    Returns
    -------
    list of frozenset
        Sorted by size then content.
    """
    at = atoms(view_sets, n_latents=n_latents)
    if (1 << len(at)) - 1 > max_blocks:
        raise ValidationError(
            f"max_blocks: the closure has 2**{len(at)} - 1 blocks, more than max_blocks={max_blocks}; "
            "use atoms() instead"
        )
    blocks = [frozenset().union(*c) for r in range(1, len(at) + 1) for c in combinations(at, r)]
    return sorted(blocks, key=lambda b: (len(b), sorted(b)))


def multiview(view_sets, *, n_latents=None) -> Identifiability:
    """Multi-view setting with partial observability (Yao et al., ICLR 2024).

    Parameters
    ----------
    view_sets : sequence of sets of int
        ``S_k`` for each view.
    n_latents : int, optional
        Number of latents (default: largest index + 1).

    Returns
    -------
    Identifiability
        ``block``, with the atoms as ``blocks``; ``details`` lists the
        latents identified individually, those identified only jointly and
        those not identified (seen by fewer than two views).
    """
    sets, d = _check_view_sets(view_sets, n_latents)
    at = _atoms_of(_pairwise_content(sets))
    seen = [sum(j in s for s in sets) for j in range(d)]
    lonely = tuple(j for j in range(d) if seen[j] < 2)
    joint = tuple(a for a in at if len(a) > 1)
    details = {
        "atoms": tuple(at),
        "individually_identified": tuple(sorted(next(iter(a)) for a in at if len(a) == 1)),
        "jointly_identified": joint,
        "unidentified_latents": lonely,
        "views_per_latent": tuple(seen),
        "content_sets": tuple(sorted(set(_pairwise_content(sets)), key=lambda b: (len(b), sorted(b)))),
        "n_identifiable_blocks": (1 << len(at)) - 1,
    }
    ref = "multiview_and_interventional.md A4"
    if not at:
        return Identifiability(
            False, None,
            "not identifiable: no latent is shared by two views, so there is no content block "
            "(Yao et al. 2024 identify only content shared by at least two views)",
            details=details, reference=ref,
        )
    msg = [
        "Yao et al. 2024 (ICLR): each content block z_{C_V} shared by |V| >= 2 views is identified up to "
        "an invertible map; closing the content sets under intersection, difference and union "
        f"(identifiability algebra) gives {len(at)} atom(s) "
        + ", ".join("{" + ", ".join(map(str, sorted(a))) + "}" for a in at)
        + " and every union of them"
    ]
    if joint:
        msg.append(
            "latents " + "; ".join("{" + ", ".join(map(str, sorted(a))) + "}" for a in joint)
            + " are only jointly identifiable (they appear together in every content set)"
        )
    if lonely:
        msg.append(
            f"latent(s) {', '.join(map(str, lonely))} are seen by at most one view and are not identifiable"
        )
    return Identifiability(True, "block", "; ".join(msg), blocks=tuple(at), details=details, reference=ref)


# --------------------------------------------------------------------------- graphs with hidden nodes


def rlcd(graph) -> Identifiability:
    """Linear SCM with hidden variables anywhere (Dong et al., ICLR 2024).

    Parameters
    ----------
    graph : networkx.DiGraph
        The latent DAG; hidden nodes carry ``latent=True``.

    Returns
    -------
    Identifiability
        ``("mec", "latent_relabeling")`` when the programmatic checks of
        :func:`simulators.rlcd_families.check_rlcd_conditions` pass, else not
        identifiable with the violations in ``details["violations"]``.
    """
    from simulators.rlcd_families import check_rlcd_conditions

    G = _check_latent_digraph(graph)
    violations = tuple(check_rlcd_conditions(G))
    lat = [v for v, f in G.nodes(data="latent", default=False) if f]
    details = {
        "violations": violations,
        "n_latents": len(lat),
        "n_observed": G.number_of_nodes() - len(lat),
        "not_checked": ("Condition 2 (colliders)", "no split into two atomic covers (Def. 5)", "rank faithfulness"),
        "canonical_graph": "O_min(O_s(G))",
    }
    ref = "rlcd.md §1"
    if violations:
        return Identifiability(
            False, None,
            "not identifiable by RLCD's theory: the graph violates its graphical conditions ("
            + "; ".join(violations) + "); Dong et al. 2024, Thm. 12 needs Condition 1 (every latent in an "
            "atomic cover, no latent in a triangle) and Condition 2",
            details=details, reference=ref,
        )
    extra = " (no hidden nodes: RLCD reduces to PC, Corollary 1)" if not lat else ""
    return Identifiability(
        True, ("mec", "latent_relabeling"),
        "Dong et al. 2024, Thm. 12: under Conditions 1-2 and rank faithfulness the rank-based search "
        "returns the Markov equivalence class of the minimal graph O_min(O_s(G)), up to relabelling the "
        f"hidden nodes{extra}; score against that canonical graph. The check is programmatic: Condition 2, "
        "the no-split clause of Def. 5 and rank faithfulness are not checked",
        details=details, reference=ref,
    )


def olc(graph, *, gaussian: bool) -> Identifiability:
    """Linear non-Gaussian model with latent confounders (lvLiNGAM; Cai et al., ICML 2023).

    Parameters
    ----------
    graph : networkx.DiGraph
        The latent DAG; hidden nodes carry ``latent=True``.
    gaussian : bool
        Whether the noise is Gaussian (fourth cumulants vanish).

    Returns
    -------
    Identifiability
        ``latent_relabeling`` when every latent is a root with >= 3 observed
        children and the noise is non-Gaussian; otherwise not identifiable,
        naming the latents and the observed pairs left unresolved.
    """
    G = _check_latent_digraph(graph)
    if not isinstance(gaussian, (bool, np.bool_)):
        raise ValidationError(f"gaussian: expected a bool, got {type(gaussian).__name__} ({gaussian!r})")
    lat = [v for v, f in G.nodes(data="latent", default=False) if f]
    children = {v: sorted((c for c in G.successors(v) if not G.nodes[c].get("latent", False)), key=str) for v in lat}
    non_root = {v: sorted(G.predecessors(v), key=str) for v in lat if G.in_degree(v) > 0}
    few = {v: ch for v, ch in children.items() if len(ch) < 3}
    pairs = tuple(tuple(ch) for ch in few.values() if len(ch) == 2)
    details = {
        "observed_children": {v: len(ch) for v, ch in children.items()},
        "non_root_latents": tuple(non_root),
        "latents_with_few_children": tuple(few),
        "unresolved_pairs": pairs,
        "gaussian": bool(gaussian),
    }
    ref = "cumulant_olc.md §1, §4"
    problems = []
    if gaussian:
        problems.append(
            "the noise is Gaussian: fourth cumulants vanish, so the cumulant identities of Cai et al. carry "
            "no information and the latent structure is not identifiable beyond second moments"
        )
    if non_root:
        problems.append(
            f"{_NOT_COVERED} latents with parents ("
            + "; ".join(f"{v} <- {', '.join(map(str, p))}" for v, p in non_root.items())
            + "): OLC assumes latents are roots (canonical form)"
        )
    for v, ch in few.items():
        if len(ch) == 2:
            problems.append(f"latent {v} has only 2 observed children, so the pair ({ch[0]}, {ch[1]}) stays unresolved (undirected)")
        elif len(ch) == 1:
            problems.append(f"latent {v} has 1 observed child ({ch[0]}) and is absorbed into its noise; it cannot be counted")
        else:
            problems.append(f"latent {v} has no observed child and is invisible")
    if problems:
        return Identifiability(False, None, "not identifiable: " + "; ".join(problems), details=details, reference=ref)
    return Identifiability(
        True, "latent_relabeling",
        "Cai et al. 2023 (ICML): in an lvLiNGAM whose latents are roots with >= 3 observed children and whose "
        "noises have non-zero fourth cumulants, the directed edges among observed variables, the number of "
        "latents and the latent -> observed edges are identified, up to relabelling (and rescaling) the "
        "latents (the paper's exact scope is unverified; cumulant_olc.md §4)",
        details=details, reference=ref,
    )


# --------------------------------------------------------------------------- representation settings


def action_latents(M=None, *, k: int, d: int) -> Identifiability:
    """Exogenous actions moving the latents linearly (Rep4Ex; Saengkyongam et al., ICLR 2024).

    Parameters
    ----------
    M : ndarray of shape (d, k), optional
        The action matrix ``M0`` in ``Z = M0 A + V``; its rank is checked
        when given, assumed full otherwise.
    k : int
        Action dimension.
    d : int
        Latent dimension.

    Returns
    -------
    Identifiability
        ``affine`` when ``M0`` has full row rank (so ``k >= d``), else not identifiable.
    """
    k = check_int(k, "k", minimum=1)
    d = check_int(d, "d", minimum=1)
    details: dict[str, Any] = {"k": k, "d": d, "rank": None}
    ref = "rep4ex.md §1, §2"
    rank_note = " (full row rank of M0 assumed: no M given)"
    if M is not None:
        M = np.asarray(M, dtype=float)
        if M.shape != (d, k) or not np.all(np.isfinite(M)):
            raise ValidationError(f"M: expected a finite array of shape (d, k) = ({d}, {k}), got shape {M.shape}")
        details["rank"] = int(np.linalg.matrix_rank(M))
        rank_note = f" (rank of M0 is {details['rank']})"
    if k < d or (details["rank"] is not None and details["rank"] < d):
        why = f"k = {k} actions for d = {d} latents" if k < d else f"M0 has rank {details['rank']} < d = {d}"
        return Identifiability(
            False, None,
            f"not identifiable: {why}; Saengkyongam et al. 2024 need M0 of full row rank, otherwise the "
            "actions move only a subspace of the latents and the linear invariance constraint cannot pin "
            "down the other directions",
            details=details, reference=ref,
        )
    return Identifiability(
        True, "affine",
        "Saengkyongam et al. 2024 (ICLR), Thm. 6: with Z = M0 A + V, M0 of full row rank" + rank_note
        + ", V with full support and an injective g0, an injective encoder satisfying the linear invariance "
        "constraint identifies g0^-1 up to an invertible affine map, which is all intervention extrapolation needs",
        details=details, reference=ref,
    )


def polynomial_interventions(targets, *, degree: int, kind: str = "do") -> Identifiability:
    """Polynomial decoder with interventional data (Ahuja et al., ICML 2023).

    Parameters
    ----------
    targets : ndarray of shape (n_envs, d), bool
        All-False rows are observational.
    degree : int, >= 1
        Degree of the polynomial decoder.
    kind : str
        ``"do"``: the target is set to a constant (Ahuja et al.'s do); any
        other kind (stochastic perfect, soft, ...) counts as imperfect.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` when every latent has a single-target do
        context, else ``affine`` (with the individually identified latents in
        ``details``).
    """
    T = _check_bool_matrix(targets)
    degree = check_int(degree, "degree", minimum=1)
    if not isinstance(kind, str):
        raise ValidationError(f"kind: expected a string, got {type(kind).__name__}")
    d = T.shape[1]
    single = T[T.sum(axis=1) == 1]
    done = sorted(int(j) for j in np.flatnonzero(single.any(axis=0))) if kind == "do" else []
    details = {"degree": degree, "kind": kind, "individually_identified": tuple(done),
               "not_individually_identified": tuple(j for j in range(d) if j not in done)}
    ref = "multiview_and_interventional.md B3"
    stage1 = (
        f"Ahuja et al. 2023 (ICML): a polynomial decoder of known degree ({degree}) identifies the latents "
        "up to an invertible affine map from the (pooled) data"
    )
    if kind == "do" and len(done) == d:
        return Identifiability(
            True, "permutation_scaling",
            stage1 + "; with a do-intervention (target set to a constant) on every latent, each latent is "
            "identified up to permutation, scaling and shift, with no assumption on the latent distribution or graph",
            details=details, reference=ref,
        )
    if kind != "do":
        tail = (f"; {kind} interventions are not Ahuja et al.'s do (target fixed to a constant); their block-affine "
                "result needs the target's support to become independent of the others, which is not checked "
                "here, so only affine is claimed")
    elif done:
        tail = (f"; do-interventions cover only latents {done} (identified individually up to scaling, as the "
                "do-result is stated per intervened latent), so the rest stays affine")
    else:
        tail = "; there is no do-intervention, so affine is all that is identified"
    return Identifiability(True, "affine", stage1 + tail, details=details, reference=ref)


def ivae_segments(n_segments: int, d: int) -> Identifiability:
    """Conditionally factorial Gaussian prior given a segment index (iVAE; Khemakhem et al., AISTATS 2020).

    Parameters
    ----------
    n_segments : int
        Number of distinct values of the auxiliary variable ``u``.
    d : int
        Latent dimension.

    Returns
    -------
    Identifiability
        ``permutation_scaling`` (with caveats) when ``n_segments >= 2 d + 1``,
        else not identifiable (a warning-level reason).
    """
    n_segments = check_int(n_segments, "n_segments", minimum=1)
    d = check_int(d, "d", minimum=1)
    need = 2 * d + 1
    details = {"n_segments": n_segments, "required_segments": need}
    ref = "multiview_and_interventional.md C2"
    if n_segments < need:
        return Identifiability(
            False, None,
            f"warning: only {n_segments} segments for d = {d} latents; Khemakhem et al. 2020 need at least "
            f"2d + 1 = {need} segments with Gaussian sufficient statistics (z_i, z_i^2), so the iVAE "
            "identifiability result does not apply",
            details=details, reference=ref,
        )
    return Identifiability(
        True, "permutation_scaling",
        f"Khemakhem et al. 2020 (iVAE), as commonly stated: with {n_segments} >= 2d + 1 = {need} segments the "
        "sufficient statistics are identified up to an affine map and, under further conditions, the latents "
        "up to permutation and componentwise maps. Caveat: the invertibility of the natural-parameter "
        "differences and the conditional independence of the latents given u are not checked, and the "
        "theorem's exact conditions are unverified",
        details=details, reference=ref,
    )


def labels_supervised(n_labelled: int, n_latents: int | None = None, *, graph_known: bool = True) -> Identifiability:
    """Weak supervision by labelled causal factors (DEAR; Shen et al., JMLR 2022), e.g. Pendulum.

    Parameters
    ----------
    n_labelled : int
        Number of labelled factors (the first ``n_labelled`` latents).
    n_latents : int, optional
        Total latent dimension (labelled + style); default ``n_labelled``.
    graph_known : bool
        Whether a correct super-graph of the factors is given.

    Returns
    -------
    Identifiability
        ``permutation_monotone`` on the labelled block; no claim on style dims.
    """
    m = check_int(n_labelled, "n_labelled", minimum=1)
    k = m if n_latents is None else check_int(n_latents, "n_latents", minimum=m)
    labelled, style = frozenset(range(m)), tuple(range(m, k))
    details = {"labelled": tuple(range(m)), "style_dims": style, "graph_known": bool(graph_known)}
    reason = (
        "DEAR (Shen et al. 2022), supervised-loss argument (dear.md [derived]): the population minimiser pins each "
        "labelled coordinate to a strictly monotone function of its label (E[y_i | x] for l2 on z-scored labels, "
        "its logit for ce), so the labelled factors are identified up to elementwise monotone maps, their order "
        "fixed by the labels"
    )
    reason += f"; no claim on the {len(style)} style dims" if style else "; there are no style dims"
    reason += (
        "; DEAR's own theorem also needs a correct super-graph (statement unverified)" if graph_known
        else "; no super-graph is given, so DEAR's theorem does not apply, only the supervised-loss argument"
    )
    return Identifiability(True, "permutation_monotone", reason, blocks=(labelled,), details=details, reference="dear.md")


# --------------------------------------------------------------------------- dispatch


def _degenerate_from_truth(truth, T) -> set:
    """Latents whose single-target intervention keeps the noise scale (from the environments' SCMs)."""
    envs = truth.params.get("environments")
    obs = np.flatnonzero(~T.any(axis=1))
    if not envs or len(envs) != len(T) or obs.size == 0:
        return set()
    base = np.asarray(envs[obs[0]].noise_std, dtype=float)
    out = set()
    for e in np.flatnonzero(T.sum(axis=1) == 1):
        j = int(np.flatnonzero(T[e])[0])
        if np.isclose(float(envs[e].noise_std[j]), base[j], rtol=1e-9, atol=0.0):
            out.add(j)
    return out


def _not_covered(problem, what: str, extra: str = "") -> Identifiability:
    s = {k: v for k, v in problem.setting.items() if isinstance(v, (str, bool, int, float))}
    return Identifiability(False, None, f"{_NOT_COVERED} {what}{extra}", details={"setting": s},
                           reference="identifiability.theory")


def from_problem(problem) -> Identifiability:
    """State what a simulated problem's setting identifies.

    Reads ``problem.setting``, ``problem.truth`` (graph, targets, params such
    as ``subsets`` and ``M0``) and the shapes of ``views``, ``actions`` and
    ``labels``, and calls the matching function of this module.

    Parameters
    ----------
    problem : simulators.Problem

    Returns
    -------
    Identifiability
    """
    if not all(hasattr(problem, a) for a in ("setting", "truth", "name")):
        raise ValidationError(f"problem: expected a simulators.Problem, got {type(problem).__name__}")
    s, truth = problem.setting, problem.truth
    d = len(truth.latent_names) or (truth.Z.shape[1] if truth.Z is not None else None)
    names = truth.latent_names or None
    if s.get("graph_family") == "olc" or "latents_are_roots" in s:
        return olc(truth.graph, gaussian=bool(s.get("gaussian", s.get("noise") == "gaussian")))
    if "rlcd_conditions_hold" in s or (s.get("mixing") == "none" and truth.graph is not None):
        return rlcd(truth.graph)
    if problem.views is not None or "subsets" in truth.params:
        return multiview(truth.params["subsets"], n_latents=d)
    if problem.actions is not None or "actions" in s:
        M0 = truth.params.get("M0")
        k = problem.actions.shape[1] if problem.actions is not None else np.shape(M0)[1]
        return action_latents(M0, k=k, d=d if d is not None else np.shape(M0)[0])
    if s.get("supervision") == "labels" and problem.labels is not None:
        return labels_supervised(problem.labels.shape[1], d, graph_known=bool(s.get("graph_known", False)))
    if truth.targets is not None:
        T = np.asarray(truth.targets, dtype=bool)
        kind = s.get("interventions", "perfect")
        if s.get("mixing") == "linear" and s.get("latent_model") == "linear":
            deg = set(s.get("degenerate_targets", ())) | _degenerate_from_truth(truth, T)
            return linear_interventions(T, kind=kind, graph=truth.graph, degenerate=sorted(deg), names=names)
        if s.get("mixing") == "polynomial":
            poly_kind = "do" if kind == "perfect" and "do_value" in s else kind
            return polynomial_interventions(T, degree=s.get("mixing_degree", 2), kind=poly_kind)
        what = (
            f"a latent SCM of kind {s.get('latent_model')!r} with {s.get('mixing')!r} mixing and "
            f"{kind} interventions (one per latent: {bool(s.get('one_per_latent', False))})"
        )
        return _not_covered(
            problem, what,
            "; the nearest results need more than this setting gives (Buchholz et al. 2023: linear Gaussian "
            "latents; von Kuegelgen et al. 2023 and Varici et al. 2024: two interventions per latent; not "
            "checked against the papers here), so no class is claimed",
        )
    return _not_covered(problem, f"the setting of problem {problem.name!r}: {dict(problem.setting)}")


def check_claim(claim, setting, *, theory: Identifiability | None = None) -> list[str]:
    """Check a learner's claim against a setting and the theory.

    Parameters
    ----------
    claim : crl.base.Claim or object with a ``claims`` attribute (a learner)
    setting : simulators.Problem or mapping
        A problem (its setting is checked and :func:`from_problem` gives the
        theory) or a setting mapping (then pass ``theory`` for the class check).
    theory : Identifiability, optional
        Overrides the theory derived from a problem.

    Returns
    -------
    list of str
        One message per problem: unmet requirements (:meth:`Claim.unmet`),
        a setting the theory does not identify, and a claimed class finer than
        (or not comparable with) the theory's class. Empty when all is well.
    """
    if not isinstance(claim, Claim):
        claim = getattr(claim, "claims", None)
        if not isinstance(claim, Claim):
            raise ValidationError(f"claim: expected a crl.base.Claim or a learner with one, got {claim!r}")
    if hasattr(setting, "setting") and hasattr(setting, "truth"):
        mapping = setting.setting
        if theory is None:
            theory = from_problem(setting)
    elif isinstance(setting, Mapping):
        mapping = setting
    else:
        raise ValidationError(f"setting: expected a Problem or a mapping, got {type(setting).__name__}")
    if theory is not None and not isinstance(theory, Identifiability):
        raise ValidationError(f"theory: expected an Identifiability or None, got {type(theory).__name__}")
    out = list(claim.unmet(mapping))
    if theory is None:
        return out
    claimed = claim.classes
    if not theory.identifiable:
        out.append(f"identifiability: the claim {claimed} has no theorem behind it here: {theory.reason}")
    elif theory.classes and not finer_or_equal(theory.classes, claimed):
        rel = "finer than" if finer_or_equal(claimed, theory.classes) else "not comparable with"
        out.append(
            f"equivalence: the claimed class {claimed} is {rel} the class the theory allows {theory.classes} "
            f"({theory.reason})"
        )
    return out
