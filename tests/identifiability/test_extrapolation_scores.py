"""The extrapolation scorer: E[Y | do(A = a*)] errors inside and outside the training support."""

from dataclasses import replace

import numpy as np
import pytest

from crl.base import BaseLearner, Claim
from identifiability import evaluate, extrapolation_scores
from identifiability.extra import SCORER_MODULES, extra_scores
from simulators import scenario


@pytest.fixture(autouse=True)
def one_blas_thread():
    """The evaluator's kernel-ridge readout slows down badly with threads competing for busy cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def problem():
    return scenario("rep4ex", random_state=0, n=400)


class _Predictor(BaseLearner):
    """Encodes X linearly and predicts do-effects as ``truth + offset`` (looked up by the test actions)."""

    claims = Claim("affine")

    def __init__(self, table=None, offset=0.0):
        self.table = table
        self.offset = offset

    def fit(self, X, actions=None, y=None):
        self.n_ = len(X)
        return self

    def transform(self, X):
        return np.asarray(X)[:, :2]

    def predict_do(self, actions_star):
        actions_star = np.asarray(actions_star)
        return np.array([self.table[tuple(a)] for a in actions_star]) + self.offset


def _table(problem):
    p = problem.truth.params
    return {tuple(a): v for a, v in zip(p["test_actions"], p["do_effect"])}


def test_applies_only_to_do_predictors_on_problems_with_do_truth(problem):
    assert "identifiability.extrapolation_scores" in SCORER_MODULES
    assert extrapolation_scores.applies(_Predictor(_table(problem)), problem)
    no_predict = type("NoDo", (), {})()
    assert not extrapolation_scores.applies(no_predict, problem)
    other = scenario("linear_cd", random_state=0, n_per_env=50)
    assert not extrapolation_scores.applies(_Predictor({}), other)


def test_scores_perfect_offset_and_null(problem):
    p = problem.truth.params
    sc, null = extrapolation_scores.scores(_Predictor(_table(problem)), problem, random_state=0)
    assert set(sc) == {"extrapolation_mse", "extrapolation_mse_in", "extrapolation_mse_out"} == set(null)
    assert all(v == 0.0 for v in sc.values())
    sc, _ = extrapolation_scores.scores(_Predictor(_table(problem), offset=0.5), problem, random_state=0)
    assert sc["extrapolation_mse_out"] == pytest.approx(0.25) and sc["extrapolation_mse_in"] == pytest.approx(0.25)
    # the null predicts the mean observed outcome for every action
    level = problem.y.mean()
    out = ~p["in_support"]
    assert null["extrapolation_mse_out"] == pytest.approx(np.mean((p["do_effect"][out] - level) ** 2))
    assert null["extrapolation_mse_in"] == pytest.approx(np.mean((p["do_effect"][~out] - level) ** 2))
    assert null["extrapolation_mse_out"] > null["extrapolation_mse_in"]


def test_empty_group_is_left_out(problem):
    p = dict(problem.truth.params)
    p["in_support"] = np.ones(len(p["do_effect"]), dtype=bool)
    inside = replace(problem, truth=replace(problem.truth, params=p))
    sc, null = extrapolation_scores.scores(_Predictor(_table(problem)), inside, random_state=0)
    assert "extrapolation_mse_out" not in sc and "extrapolation_mse_in" in sc and set(sc) == set(null)


def test_evaluate_adds_model_scores(problem):
    rep = evaluate(_Predictor(_table(problem), offset=1.0), problem, random_state=0)
    assert rep.scores["model.extrapolation_mse_out"] == pytest.approx(1.0)
    assert rep.null["model.extrapolation_mse_out"] > 0
    assert "r2_linear" in rep.scores
    scores, _ = extra_scores(_Predictor(_table(problem)), problem)
    assert scores["model.extrapolation_mse"] == 0.0


def test_nan_predictions_raise(problem):
    with pytest.raises(ValueError, match="do_hat"):
        extrapolation_scores.scores(_Predictor(_table(problem), offset=np.nan), problem, random_state=0)
