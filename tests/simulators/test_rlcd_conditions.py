"""Condition 2 (colliders between atomic covers) of simulators.rlcd_conditions."""

import networkx as nx

from simulators.partial import build_latent_dag
from simulators.rlcd_families import (
    check_rlcd_conditions,
    random_general_latent_graph,
    rlcd_fixture,
)


def _condition2(G):
    return [v for v in check_rlcd_conditions(G) if "Condition 2" in v]


def test_collider_below_a_two_latent_cover_violates_condition_2():
    # gen_a plus X2 -> X10: X10 is a common child of the cover {L3, L4} and of {X2}, which X7 (or
    # L2) separates, so |C| + |A| = 1 + 1 < |{L3, L4}| + |{X2}| = 3.
    G = rlcd_fixture("gen_a")
    G.add_edge("X2", "X10", mark="-->")
    out = check_rlcd_conditions(G)
    assert len(out) == 1 and "Condition 2" in out[0]
    assert "{X10}" in out[0] and "{L3, L4}" in out[0] and "{X2}" in out[0]


def test_colliders_that_meet_the_bound_pass():
    # mm_a: L4 between {L2} and {L3}, separator {L1}; gen_b: X11 between {L3} and {X9},
    # separator {L2}; both have |C| + |A| = 2 = |V1| + |V2|.
    for name in ("mm_a", "gen_b"):
        assert _condition2(rlcd_fixture(name)) == []
    # two common children of {L3, L4} and {X2} meet the bound 2 + 1 >= 3
    G = rlcd_fixture("gen_a")
    G.add_edges_from([("X2", "X10"), ("X2", "X11")], mark="-->")
    assert _condition2(G) == []


def test_condition_2_needs_a_latent():
    # an ordinary v-structure among observed nodes (separator {}) is PC's business, not a violation
    G = build_latent_dag([("L1", x) for x in ("X1", "X2", "X3", "X4")] + [("X5", "X6"), ("X7", "X6")], ["L1"])
    assert _condition2(G) == []
    assert check_rlcd_conditions(G) == []


def test_general_generator_resamples_condition_2_violations_deterministically():
    # seed 1000 drew a graph violating Condition 2 before the check existed
    G = random_general_latent_graph(random_state=1000)
    assert check_rlcd_conditions(G) == []
    again = random_general_latent_graph(random_state=1000)
    assert set(G.edges) == set(again.edges)
    assert nx.get_node_attributes(G, "latent") == nx.get_node_attributes(again, "latent")
