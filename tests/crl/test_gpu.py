"""Deep learners on a CUDA device. Skipped where torch sees no GPU (CI has none).

Run on a GPU machine with ``pytest tests/crl/test_gpu.py``; see the closing notes of
the Rep4Ex issue for the last run.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

from crl.deep import mlp, seeded, select_device, train  # noqa: E402
from crl.rep4ex import Rep4Ex  # noqa: E402
from simulators import scenario  # noqa: E402

KW = dict(hidden=32, epochs=15, batch_size=256)


@pytest.fixture(scope="module")
def problem():
    return scenario("rep4ex", n=4000, random_state=1000)


def _fit(problem, device, seed=0):
    return Rep4Ex(problem.truth.Z.shape[1], device=device, random_state=seed, **KW).fit(
        problem.X, problem.actions, problem.y
    )


def test_auto_selects_cuda():
    assert select_device("auto").type == "cuda"


def test_rep4ex_trains_on_cuda(problem):
    model = _fit(problem, "cuda")
    assert next(model.model_.parameters()).device.type == "cuda"
    Z_hat = model.transform(problem.X)
    assert isinstance(Z_hat, np.ndarray) and Z_hat.shape == problem.truth.Z.shape
    assert np.isfinite(Z_hat).all()
    # the representation is informative: a linear readout of the true latents from it
    design = np.column_stack([Z_hat, np.ones(len(Z_hat))])
    coef, *_ = np.linalg.lstsq(design, problem.truth.Z, rcond=None)
    resid = problem.truth.Z - design @ coef
    r2 = 1 - resid.var(axis=0) / problem.truth.Z.var(axis=0)
    assert r2.min() > 0.5
    a_star = problem.truth.params["test_actions"]
    pred = model.predict_do(a_star)
    assert np.isfinite(pred).all() and pred.shape == (len(a_star),)


def test_cuda_training_is_reproducible_for_a_seed(problem):
    a = _fit(problem, "cuda", seed=3).transform(problem.X)
    b = _fit(problem, "cuda", seed=3).transform(problem.X)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_checkpoint_written_on_cuda_is_plain_cpu_data(problem, tmp_path):
    model = _fit(problem, "cuda")
    path = tmp_path / "rep4ex.pt"
    model.save(path)
    # stored tensors are on the CPU, so a machine without a GPU can read the file
    raw = torch.load(path, map_location=None, weights_only=True)
    assert all(t.device.type == "cpu" for m in raw["modules"].values() for t in m.values())
    again = Rep4Ex.load(path)
    np.testing.assert_allclose(again.transform(problem.X), model.transform(problem.X), atol=1e-5)
    a_star = problem.truth.params["test_actions"]
    np.testing.assert_allclose(again.predict_do(a_star), model.predict_do(a_star), rtol=1e-4, atol=1e-4)


def test_train_loop_on_cuda_reduces_loss():
    with seeded(0, "cuda"):
        net = mlp(3, 1, hidden=(16,)).to("cuda")
        X = torch.randn(2000, 3, device="cuda")
        y = X @ torch.tensor([[1.0], [-2.0], [0.5]], device="cuda")
        history = train(net, lambda batch: ((net(batch[0]) - batch[1]) ** 2).mean(), (X, y),
                        epochs=30, batch_size=128, lr=1e-2)
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
