import itertools

import networkx as nx
import numpy as np
import pytest

from crl.base import EQUIVALENCES, Claim
from crl.exceptions import CRLError, ValidationError
from identifiability.theory import (
    COARSENESS,
    Identifiability,
    action_latents,
    atoms,
    check_claim,
    finer_or_equal,
    from_problem,
    identifiable_blocks,
    ivae_segments,
    labels_supervised,
    linear_interventions,
    multiview,
    olc,
    polynomial_interventions,
    rlcd,
)
from simulators import list_scenarios, scenario
from simulators.actions import action_problem
from simulators.latent import latent_problem, linear_cd_problem
from simulators.multiview import YAO_SUBSETS
from simulators.olc import olc_graph, olc_problem
from simulators.partial import build_latent_dag
from simulators.rlcd_families import RLCD_FIXTURES, rlcd_fixture
from simulators.scm import linear_scm

SMALL = {
    "linear_cd": {"n_per_env": 50},
    "rlcd_tree": {"n": 100},
    "rlcd_measurement": {"n": 100},
    "rlcd_general": {"n": 100},
    "olc": {"n": 100},
    "rep4ex": {"n": 100},
    "interventional_polynomial": {"n_obs": 50, "n_per_target": 10},
    "multiview_numerical": {"n": 50},
    "interventional_mlp": {"n_per_env": 20},
    "pendulum": {"n": 4, "size": 32},
}
EXPECTED = {
    "linear_cd": "permutation_scaling",
    "rlcd_tree": ("mec", "latent_relabeling"),
    "rlcd_measurement": ("mec", "latent_relabeling"),
    "rlcd_general": ("mec", "latent_relabeling"),
    "olc": "latent_relabeling",
    "rep4ex": "affine",
    "interventional_polynomial": "permutation_scaling",
    "multiview_numerical": "block",
    "interventional_mlp": None,
    "pendulum": "permutation_monotone",
}


def _fs(*sets):
    return [frozenset(s) for s in sets]


# --------------------------------------------------------------------------- multi-view


def test_yao_example_atoms_and_joint_block():
    assert atoms(YAO_SUBSETS) == _fs({2}, {3}, {4}, {5}, {0, 1})
    res = multiview(YAO_SUBSETS)
    assert res.identifiable and res.equivalence == "block"
    assert list(res.blocks) == _fs({2}, {3}, {4}, {5}, {0, 1})
    assert res.details["jointly_identified"] == (frozenset({0, 1}),)
    assert res.details["individually_identified"] == (2, 3, 4, 5)
    assert res.details["unidentified_latents"] == ()
    assert "only jointly" in res.reason and "{0, 1}" in res.reason
    blocks = identifiable_blocks(YAO_SUBSETS)
    assert len(blocks) == 31 == res.details["n_identifiable_blocks"]
    # C_123 = {0,1,2} and C_1234 = {0,1} are content sets, and {2} = C_123 \ C_1234
    assert frozenset({0, 1, 2}) in blocks and frozenset({0, 1}) in blocks and frozenset({2}) in blocks


def test_latent_seen_by_one_view_is_not_identifiable():
    res = multiview([{0, 1, 2}, {0, 1, 3}], n_latents=5)
    assert res.identifiable and list(res.blocks) == _fs({0, 1})
    assert res.details["unidentified_latents"] == (2, 3, 4)
    assert "at most one view" in res.reason and "2, 3, 4" in res.reason
    none = multiview([{0}, {1}])
    assert not none.identifiable and none.equivalence is None and none.blocks == ()


def _brute_closure(view_sets):
    sets = [set(s) for s in view_sets]
    content = set()
    for r in range(2, len(sets) + 1):
        for V in itertools.combinations(range(len(sets)), r):
            c = frozenset(set.intersection(*(sets[k] for k in V)))
            if c:
                content.add(c)
    closure = set(content)
    while True:
        new = {op(a, b) for a in closure for b in closure for op in (frozenset.__and__, frozenset.__sub__, frozenset.__or__)}
        new = {c for c in new if c} - closure
        if not new:
            return closure
        closure |= new


@pytest.mark.parametrize("seed", range(12))
def test_blocks_match_brute_force_closure(seed):
    rng = np.random.default_rng(seed)
    d, K = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    views = [set(rng.choice(d, size=int(rng.integers(1, d + 1)), replace=False).tolist()) for _ in range(K)]
    blocks = identifiable_blocks(views, n_latents=d)
    assert set(blocks) == _brute_closure(views)
    assert len(set(blocks)) == len(blocks)
    bset = set(blocks)
    for a, b in itertools.product(blocks, repeat=2):
        for c in (a & b, a - b, a | b):
            assert not c or c in bset
    at = atoms(views, n_latents=d)
    # atoms: disjoint, the minimal blocks, and every block is a union of atoms
    assert sum(map(len, at)) == len(frozenset().union(*at)) if at else True
    assert set(at) == {b for b in blocks if not any(c < b for c in blocks)}
    for b in blocks:
        assert b == frozenset().union(*(a for a in at if a <= b))


@pytest.mark.parametrize(
    "views, kw, match",
    [
        ([{0, 1}, {0, -1}], {}, r"view_sets\[1\]: expected a non-empty set of integers >= 0"),
        ([{0, 1}, {0, 7}], {"n_latents": 3}, r"view_sets\[1\]: expected latent indices in \[0, 3\), got \[0, 7\]"),
        ([{0, 1}, set()], {}, r"view_sets\[1\]"),
        ([{0, 1}, {0, 1.5}], {}, r"view_sets\[1\]"),
        ([], {}, "view_sets: expected at least one view"),
        ("abc", {}, "view_sets"),
    ],
)
def test_view_set_validation(views, kw, match):
    with pytest.raises(ValidationError, match=match):
        multiview(views, **kw)


# --------------------------------------------------------------------------- LinearCD


def test_linear_cd_scenario_is_permutation_scaling():
    res = from_problem(linear_cd_problem(n_per_env=50, random_state=0))
    assert res.identifiable and res.equivalence == "permutation_scaling"
    assert "Squires" in res.reason


def test_missing_target_is_not_identifiable_and_named():
    P = linear_cd_problem(n_per_env=50, missing_targets=1, random_state=3)
    missing = int(np.flatnonzero(~P.truth.targets.any(axis=0))[0])
    res = from_problem(P)
    assert not res.identifiable and res.equivalence is None
    assert res.details["unintervened_latents"] == (missing,)
    assert f"Z{missing}" in res.reason and "no intervention" in res.reason


def test_soft_interventions_give_ancestors():
    P = linear_cd_problem(n_per_env=50, interventions="soft", random_state=0)
    res = from_problem(P)
    assert res.identifiable and res.equivalence == "ancestors"
    assert "project's reading" in res.reason and "Leyes Carreno" in res.reason
    closure = nx.transitive_closure_dag(P.truth.graph)
    names = list(P.truth.graph.nodes)
    assert set(res.details["ancestor_pairs"]) == {(names.index(u), names.index(v)) for u, v in closure.edges}


def test_degenerate_target_is_flagged():
    P = linear_cd_problem(n_per_env=50, degenerate_target=2, random_state=0)
    res = from_problem(P)
    assert not res.identifiable
    assert res.details["degenerate_targets"] == (2,)
    assert "invisible to second moments" in res.reason and "Z2" in res.reason
    # the same detection from the environments when the setting does not say so
    P2 = latent_problem(linear_scm(4, expected_degree=1.5, random_state=0), n_per_env=20, mixing="linear",
                        random_state=0)
    assert "degenerate_targets" not in P2.setting
    res2 = from_problem(P2)
    assert not res2.identifiable and res2.details["degenerate_targets"] == (0, 1, 2, 3)
    P3 = latent_problem(linear_scm(4, expected_degree=1.5, random_state=0), n_per_env=20, mixing="linear",
                        noise_std=(2.0, 3.0), random_state=0)
    assert from_problem(P3).equivalence == "permutation_scaling"


def test_target_patterns():
    rng = np.random.default_rng(0)
    d = 4
    T = np.vstack([np.zeros(d, bool), np.eye(d, dtype=bool)[rng.permutation(d)]])
    assert linear_interventions(T).equivalence == "permutation_scaling"
    multi = T.copy()
    multi[1, :2] = True
    res = linear_interventions(multi)
    assert not res.identifiable and "no theorem in the toolkit covers multi-target" in res.reason
    dup = np.vstack([T, T[1:2]])
    res = linear_interventions(dup)
    assert not res.identifiable and "repeated targets" in res.reason and res.details["repeated_targets"]
    res = linear_interventions(T[1:])
    assert not res.identifiable and "observational" in res.reason
    res = linear_interventions(T, kind="shift")
    assert not res.identifiable and "shift" in res.reason
    res = linear_interventions(T[:-1], names=["a", "b", "c", "d"])
    assert not res.identifiable and res.details["unintervened_latents"] == (int(np.flatnonzero(T[-1])[0]),)
    assert linear_interventions(T, kind="scale").equivalence == "ancestors"


def test_target_validation():
    with pytest.raises(ValidationError, match=r"targets: expected a boolean array.*got dtype int"):
        linear_interventions(np.eye(3, dtype=int))
    with pytest.raises(ValidationError, match=r"targets: .*got shape \(3,\)"):
        linear_interventions(np.ones(3, dtype=bool))
    with pytest.raises(CRLError, match="kind"):
        linear_interventions(np.eye(3, dtype=bool), kind="hard")
    with pytest.raises(ValidationError, match=r"graph: expected .*\(3, 3\)"):
        linear_interventions(np.vstack([np.zeros(3, bool), np.eye(3, dtype=bool)]), graph=np.zeros((2, 2)))


# --------------------------------------------------------------------------- graphs with hidden nodes


@pytest.mark.parametrize("name", RLCD_FIXTURES)
def test_rlcd_fixtures_identify_mec_up_to_relabelling(name):
    res = rlcd(rlcd_fixture(name))
    assert res.identifiable and res.equivalence == ("mec", "latent_relabeling")
    assert "Thm. 12" in res.reason and res.details["violations"] == ()


def test_latent_in_triangle_is_not_identifiable():
    G = build_latent_dag(
        [("L1", "X1"), ("L1", "X2"), ("L1", "X3"), ("L1", "X4"), ("X1", "X2"), ("X3", "X5")], ["L1"]
    )
    res = rlcd(G)
    assert not res.identifiable and res.equivalence is None
    tri = [v for v in res.details["violations"] if "triangle" in v]
    assert tri and "L1" in tri[0] and tri[0] in res.reason


def test_olc_conditions():
    assert olc(olc_graph("olc_2latent"), gaussian=False).equivalence == "latent_relabeling"
    res = from_problem(olc_problem("olc_2latent", n=100, noise="gaussian", random_state=0))
    assert not res.identifiable and "Gaussian" in res.reason
    G = build_latent_dag([("L1", "X1"), ("L1", "X2"), ("L2", "X3"), ("L2", "X4"), ("L2", "X5"), ("X1", "X3")],
                         ["L1", "L2"])
    res = olc(G, gaussian=False)
    assert not res.identifiable and res.details["unresolved_pairs"] == (("X1", "X2"),)
    assert "(X1, X2) stays unresolved" in res.reason
    G.add_edge("X5", "L1", mark="-->")
    res = olc(G, gaussian=False)
    assert "no theorem in the toolkit covers latents with parents" in res.reason
    with pytest.raises(ValidationError, match="gaussian: expected a bool"):
        olc(G, gaussian="no")
    with pytest.raises(ValidationError, match="graph: expected a networkx.DiGraph"):
        olc(np.zeros((3, 3)), gaussian=False)


# --------------------------------------------------------------------------- representation settings


def test_action_rank():
    assert action_latents(k=3, d=2).equivalence == "affine"
    res = action_latents(k=1, d=2)
    assert not res.identifiable and "k = 1 actions for d = 2 latents" in res.reason
    res = action_latents(np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]]), k=3, d=2)
    assert not res.identifiable and res.details["rank"] == 1
    with pytest.raises(ValidationError, match=r"M: expected .*\(2, 3\)"):
        action_latents(np.ones((3, 2)), k=3, d=2)
    P = action_problem(n=100, d=2, k=3, random_state=0)
    res = from_problem(P)
    assert res.identifiable and res.equivalence == "affine" and res.details["k"] == 3


def test_polynomial_interventions():
    d = 3
    obs = np.zeros((1, d), bool)
    full = np.vstack([obs, np.eye(d, dtype=bool)])
    assert polynomial_interventions(obs, degree=2).equivalence == "affine"
    assert polynomial_interventions(full, degree=2).equivalence == "permutation_scaling"
    part = polynomial_interventions(full[:2], degree=3)
    assert part.equivalence == "affine" and part.details["individually_identified"] == (0,)
    assert polynomial_interventions(full, degree=2, kind="soft").equivalence == "affine"
    with pytest.raises(ValidationError, match="degree"):
        polynomial_interventions(full, degree=0)


def test_ivae_and_labels():
    ok = ivae_segments(7, 3)
    assert ok.identifiable and ok.equivalence == "permutation_scaling" and "Caveat" in ok.reason
    bad = ivae_segments(6, 3)
    assert not bad.identifiable and bad.reason.startswith("warning") and bad.details["required_segments"] == 7
    lab = labels_supervised(4, 6)
    assert lab.equivalence == "permutation_monotone" and lab.blocks == (frozenset(range(4)),)
    assert lab.details["style_dims"] == (4, 5) and "no claim on the 2 style dims" in lab.reason


# --------------------------------------------------------------------------- dispatcher and claims


@pytest.mark.parametrize("name", sorted(list_scenarios()))
def test_from_problem_covers_every_scenario(name):
    res = from_problem(scenario(name, random_state=0, **SMALL.get(name, {})))
    assert isinstance(res, Identifiability) and res.reason.strip()
    assert res.equivalence == EXPECTED[name]
    assert res.identifiable == (EXPECTED[name] is not None)
    if EXPECTED[name] is None:
        assert "no theorem in the toolkit covers" in res.reason


def test_coarseness_order():
    for c in EQUIVALENCES:
        assert finer_or_equal(c, c) and c in COARSENESS[c]
    assert finer_or_equal("permutation_scaling", "affine")
    assert finer_or_equal("permutation_scaling", "block")  # via permutation_monotone
    assert not finer_or_equal("affine", "permutation_scaling")
    assert not finer_or_equal("ancestors", "permutation_scaling")
    assert not finer_or_equal("affine", "permutation_monotone") and not finer_or_equal("permutation_monotone", "affine")
    assert finer_or_equal("latent_relabeling", ("mec", "latent_relabeling"))
    assert not finer_or_equal(("mec", "latent_relabeling"), "latent_relabeling")
    # antisymmetric
    for a, b in itertools.permutations(EQUIVALENCES, 2):
        assert not (finer_or_equal(a, b) and finer_or_equal(b, a))


def test_check_claim_flags_too_fine_claims():
    soft = linear_cd_problem(n_per_env=50, interventions="soft", random_state=0)
    claim = Claim("permutation_scaling", requires={"mixing": "linear", "interventions": ("perfect", "soft")})
    msgs = check_claim(claim, soft)
    assert len(msgs) == 1 and "finer than" in msgs[0] and "ancestors" in msgs[0]
    perfect = linear_cd_problem(n_per_env=50, random_state=0)
    assert check_claim(claim, perfect) == []
    assert check_claim(Claim("affine"), perfect) == []  # coarser than the theory: fine

    class Learner:
        claims = Claim("latent_relabeling", requires={"latent_model": "linear"})

    rl = rlcd_fixture("mm_a")
    theory = rlcd(rl)
    msgs = check_claim(Learner(), {"latent_model": "linear"}, theory=theory)
    assert len(msgs) == 1 and "finer than" in msgs[0]
    assert check_claim(Claim(("mec", "latent_relabeling")), {}, theory=theory) == []
    msgs = check_claim(Claim("block"), {}, theory=theory)
    assert "not comparable" in msgs[0]
    msgs = check_claim(claim, linear_cd_problem(n_per_env=50, missing_targets=1, random_state=0))
    assert any("no theorem behind it" in m for m in msgs)
    msgs = check_claim(claim, {"mixing": "mlp"})
    assert len(msgs) == 2 and "interventions" in msgs[1]
    with pytest.raises(ValidationError, match="claim"):
        check_claim("permutation_scaling", {})


def test_identifiability_validates_and_is_frozen():
    with pytest.raises(ValidationError, match="equivalence"):
        Identifiability(True, "rotation", "x")
    with pytest.raises(ValidationError, match="reason"):
        Identifiability(True, "affine", " ")
    res = Identifiability(True, ("affine",), "r", blocks=[{1, 0}], details={"a": 1})
    assert res.equivalence == "affine" and res.blocks == (frozenset({0, 1}),)
    assert res.to_dict()["blocks"] == [[0, 1]]
    with pytest.raises(TypeError):
        res.details["b"] = 2
