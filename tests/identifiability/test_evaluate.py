"""evaluate() end to end: oracle estimates score near perfect, null estimates near chance, on every scenario."""

import pytest

from crl.exceptions import CRLError
from identifiability import Report, evaluate
from identifiability.baselines import EmptyGraph, OracleEncoder, OracleGraph, RandomEncoder
from simulators import scenario

REPRESENTATION = {
    "linear_cd": {"n_per_env": 300},
    "rep4ex": {"n": 1500},
    "interventional_polynomial": {"n_obs": 600, "n_per_target": 150},
    "multiview_numerical": {"n": 1500},
    "interventional_mlp": {"n_per_env": 300},
    "pendulum": {"n": 400, "size": 32},
}
STRUCTURE = {
    "rlcd_tree": {"n": 200},
    "rlcd_measurement": {"n": 200},
    "rlcd_general": {"n": 200},
    "olc": {"n": 200},
}


@pytest.mark.parametrize("name", sorted(REPRESENTATION))
def test_oracle_and_random_encoders_separate(name):
    P = scenario(name, random_state=0, **REPRESENTATION[name])
    oracle = evaluate(OracleEncoder(P, random_state=1), P, random_state=0)
    rand = evaluate(RandomEncoder(P.truth.Z.shape[1], random_state=1), P, random_state=0)
    assert isinstance(oracle, Report) and oracle.equivalence == "permutation_scaling"
    assert oracle.scores["mcc"] > 0.999
    assert oracle.null["mcc"] < 0.2  # noise codes under the signed held-out protocol
    assert rand.scores["mcc"] < oracle.scores["mcc"] - 0.2
    assert oracle.conventions["split"] == "held_out"
    d = oracle.to_dict()
    assert d["scores"]["mcc"] == pytest.approx(oracle.scores["mcc"])


@pytest.mark.parametrize("distortion", ["permutation_monotone", "affine"])
def test_oracle_distortions_are_scored_in_their_class(distortion):
    P = scenario("interventional_mlp", random_state=0, n_per_env=300)
    rep = evaluate(OracleEncoder(P, distortion=distortion, random_state=2), P)
    assert rep.equivalence == distortion
    key = "mcc" if distortion == "permutation_monotone" else "weak_mcc"
    assert rep.scores[key] > 0.99
    assert rep.scores[key] > rep.null[key] + 0.5


@pytest.mark.parametrize("name", sorted(STRUCTURE))
def test_oracle_and_empty_graphs_separate(name):
    P = scenario(name, random_state=0, **STRUCTURE[name])
    oracle = evaluate(OracleGraph(P.truth.graph, random_state=3), P)
    empty = evaluate(EmptyGraph(P.feature_names), P)
    assert oracle.scores["f1_all"] == 1.0 and oracle.scores["shd"] == 0.0
    assert oracle.null["f1_all"] < 0.6
    assert empty.scores["f1_all"] == 0.0 and empty.scores["n_hidden_error"] > 0


def test_non_identifiable_setting_is_reported():
    P = scenario("linear_cd", random_state=0, n_per_env=200, missing_targets=1)
    rep = evaluate(OracleEncoder(P), P)
    assert rep.identifiable is False
    assert any("not identifiable" in w for w in rep.warnings)


def test_bad_arguments_are_rejected():
    P = scenario("olc", random_state=0, n=50)
    with pytest.raises(CRLError, match="split"):
        evaluate(EmptyGraph(P.feature_names), P, split="bogus")

    class Mute(EmptyGraph):
        def fit(self, X, **kwargs):
            return self

    with pytest.raises(CRLError, match="learner"):
        evaluate(Mute(), P)


def test_in_sample_split_is_labelled():
    P = scenario("linear_cd", random_state=0, n_per_env=100)
    rep = evaluate(OracleEncoder(P), P, split="in_sample")
    assert rep.conventions["split"] == "in_sample" and rep.scores["mcc"] > 0.999
