"""Graphs with hidden nodes: RLCD (Dong et al., ICLR 2024) and OLC (Cai et al., ICML 2023).

Returns an :class:`~identifiability.theory.Identifiability` (see :mod:`identifiability.theory`).
"""

from __future__ import annotations

import numpy as np

from crl.exceptions import ValidationError
from identifiability.theory._core import _NOT_COVERED, Identifiability, _check_latent_digraph

__all__ = ["rlcd", "olc"]

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
