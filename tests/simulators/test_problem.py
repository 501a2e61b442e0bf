import dataclasses

import numpy as np
import pytest

from crl.exceptions import CRLError
from simulators.io import load_problem, save_problem
from simulators.latent import linear_cd_problem
from simulators.problem import Problem, Truth


def _problem(n=100):
    rng = np.random.default_rng(0)
    return Problem(
        X=rng.normal(size=(n, 3)),
        env=np.repeat([0, 1], n // 2),
        y=np.arange(n, dtype=float),
        truth=Truth(Z=np.arange(n, dtype=float)[:, None], noise={"eps": np.arange(n)}),
        setting={"mixing": "linear"},
    )


def test_split_keeps_rows_aligned_and_stratifies():
    P = _problem(200)
    train, test = P.split(0.25, random_state=0)
    assert train.n_samples == 150 and test.n_samples == 50
    for part in (train, test):
        assert np.array_equal(part.y, part.truth.Z[:, 0]) and np.array_equal(part.y, part.truth.noise["eps"])
        assert np.array_equal(np.bincount(part.env), [part.n_samples // 2] * 2)
    assert not set(train.y) & set(test.y)
    assert set(train.y) | set(test.y) == set(P.y)
    same = P.split(0.25, random_state=0)[1]
    assert np.array_equal(same.y, test.y)


def test_problem_is_frozen_and_validated():
    P = _problem()
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.X = None
    with pytest.raises(TypeError):
        P.setting["mixing"] = "mlp"
    with pytest.raises(CRLError, match="y: expected 100 rows, got 3"):
        dataclasses.replace(P, y=np.ones(3))
    with pytest.raises(CRLError, match="test_size"):
        P.split(1.5)


def test_learner_inputs_hide_the_truth():
    inputs = _problem().learner_inputs()
    assert set(inputs) == {"X", "env", "y"}


@pytest.mark.parametrize("sampling", ["raw", "wishart"])
def test_npz_round_trip(tmp_path, sampling):
    P = linear_cd_problem(d=3, p=4, n_per_env=50, sampling=sampling, random_state=0)
    Q = load_problem(save_problem(P, tmp_path / "p.npz"))
    for name in ("X", "env"):
        a, b = getattr(P, name), getattr(Q, name)
        assert (a is None and b is None) or np.array_equal(a, b)
    assert np.array_equal(P.truth.targets, Q.truth.targets)
    assert np.array_equal(P.truth.mixing, Q.truth.mixing)
    assert dict(P.setting) == dict(Q.setting)
    assert set(P.truth.graph.edges) == set(Q.truth.graph.edges)
    for u, v, w in P.truth.graph.edges(data="weight"):
        assert Q.truth.graph[u][v]["weight"] == pytest.approx(w)
    if sampling == "wishart":
        assert np.array_equal(P.statistics["precisions"], Q.statistics["precisions"])
    assert "scm" in Q.truth.params["dropped"]


def test_load_rejects_foreign_files(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones(2))
    with pytest.raises(CRLError, match="path"):
        load_problem(bad)
    with pytest.raises(CRLError, match="path"):
        load_problem(tmp_path / "missing.npz")
