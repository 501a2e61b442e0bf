import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone

import crl
from crl.base import BaseLearner, Claim, check_is_fitted
from crl.exceptions import CRLError, NotFittedError, UnknownNameError, ValidationError
from crl.validation import check_array, check_choice, check_int, check_random_state


class _Toy(BaseLearner):
    claims = Claim("permutation_scaling", requires={"mixing": "linear", "interventions": ("perfect",)})

    def __init__(self, alpha=0.1, *, n_latents=None):
        self.alpha = alpha
        self.n_latents = n_latents

    def fit(self, X):
        X = check_array(X, "X", min_rows=2)
        self.mean_ = X.mean(0)
        return self


def test_sklearn_contract():
    est = _Toy(alpha=0.3, n_latents=2)
    assert est.get_params() == {"alpha": 0.3, "n_latents": 2}
    twin = clone(est)
    assert twin is not est and twin.get_params() == est.get_params()
    est.set_params(alpha=0.5)
    assert est.alpha == 0.5
    with pytest.raises(NotFittedError, match="fit"):
        check_is_fitted(est, "mean_")
    assert est.fit(np.ones((3, 2))) is est
    check_is_fitted(est, "mean_")


def test_claim_checks_requirements():
    c = _Toy.claims
    assert c.unmet({"mixing": "linear", "interventions": "perfect"}) == []
    problems = c.unmet({"mixing": "mlp"})
    assert len(problems) == 2 and "mixing" in problems[0] and "not stated" in problems[1]
    assert Claim(("mec", "latent_relabeling")).classes == ("mec", "latent_relabeling")
    with pytest.raises(ValidationError, match="equivalence"):
        Claim("rotation")


def test_exceptions_are_value_errors():
    assert issubclass(CRLError, ValueError)
    assert crl.CRLError is CRLError
    with pytest.raises(ValueError):
        check_int(-1, "n", minimum=0)


def test_validators_name_argument_expected_and_received():
    with pytest.raises(ValidationError, match=r"n_samples: expected an int >= 1, got 0"):
        check_int(0, "n_samples", minimum=1)
    with pytest.raises(ValidationError, match="X: expected finite values, got 1 NaN"):
        check_array(np.array([[1.0, np.nan]]))
    with pytest.raises(ValidationError, match=r"X: expected an array with ndim in \(2,\), got shape \(3,\)"):
        check_array(np.ones(3))
    with pytest.raises(UnknownNameError, match=r"expected one of \['a', 'b'\], got 'c'"):
        check_choice("c", "mode", ["a", "b"])
    with pytest.raises(ValidationError, match="random_state"):
        check_random_state("seed")
    g = np.random.default_rng(0)
    assert check_random_state(g) is g
    assert check_random_state(3).random() == np.random.default_rng(3).random()


def test_imports_do_not_load_torch():
    code = "import sys, crl, crl.graphs, simulators, identifiability; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
