import numpy as np
import pytest

from crl.exceptions import UnknownNameError
from simulators import list_scenarios, scenario, scenario_spec

SMALL = {
    "linear_cd": {"n_per_env": 200},
    "rlcd_tree": {"n": 300},
    "rlcd_measurement": {"n": 300},
    "rlcd_general": {"n": 300},
    "olc": {"n": 300},
    "rep4ex": {"n": 300},
    "interventional_polynomial": {"n_obs": 200, "n_per_target": 50},
    "multiview_numerical": {"n": 300},
    "interventional_mlp": {"n_per_env": 100},
    "pendulum": {"n": 12, "size": 32},
}

REQUIRED = {
    "linear_cd", "rlcd_tree", "rlcd_measurement", "rlcd_general", "olc", "rep4ex",
    "interventional_polynomial", "multiview_numerical", "pendulum",
}


def _arrays(P):
    out = [P.env, P.truth.Z]
    out += [a for a in (P.X, P.actions, P.labels, P.y) if a is not None]
    out += list(P.views or ())
    return [a for a in out if a is not None]


def test_required_scenarios_are_listed_with_descriptions():
    listed = list_scenarios()
    assert REQUIRED <= set(listed)
    assert set(SMALL) == set(listed), "every scenario needs a small configuration in this test"
    assert all(isinstance(d, str) and len(d) > 20 for d in listed.values())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_scenario_is_seeded(name):
    a = scenario(name, random_state=1, **SMALL[name])
    b = scenario(name, random_state=1, **SMALL[name])
    c = scenario(name, random_state=2, **SMALL[name])
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert np.array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(_arrays(a), _arrays(c), strict=True) if x.shape == y.shape)
    # the learner-visible part never carries the truth, and the setting is stated
    assert "truth" not in a.learner_inputs()
    assert a.setting and a.name
    for arr in _arrays(a):
        assert np.all(np.isfinite(arr))


def test_unknown_scenario_lists_valid_names():
    with pytest.raises(UnknownNameError, match="linear_cd") as info:
        scenario("linear-cd")
    assert "rlcd_tree" in str(info.value)


def test_unknown_parameter_lists_valid_parameters():
    with pytest.raises(UnknownNameError, match="n_per_env"):
        scenario("linear_cd", n=5)
    params = scenario_spec("linear_cd").parameters()
    assert params["d"] == 5 and params["p"] == 10 and params["density"] == 0.75


def test_rlcd_scenario_graph_options():
    P = scenario("rlcd_measurement", graph="random", n=200, random_state=0)
    assert P.truth.graph.graph["family"] == "measurement"
    P = scenario("rlcd_tree", graph="tree_b", n=200, random_state=0)
    assert sum(d["latent"] for _, d in P.truth.graph.nodes(data=True)) == 3
    with pytest.raises(UnknownNameError, match="tree_a"):
        scenario("rlcd_tree", graph="tree_z")
