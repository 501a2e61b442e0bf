"""crl.deep: network builder, training loop, seeding, devices, threads, checkpoints."""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from crl.deep import (  # noqa: E402
    TrainingDivergedError,
    batches,
    default_threads,
    hidden_layers,
    limit_threads,
    load_checkpoint,
    mlp,
    save_checkpoint,
    seeded,
    select_device,
    torch_seed,
    train,
    train_val_split,
)
from crl.exceptions import CRLError, UnknownNameError, ValidationError  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """The tests' tensors live outside the learners' thread cap; extra threads on busy shared cores cost a lot."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_mlp_shapes_and_hidden_specs():
    net = mlp(5, 3, hidden=(16, 8), activation="elu")
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 16), (16, 8), (8, 3)]
    assert net(torch.zeros(7, 5)).shape == (7, 3)
    assert hidden_layers(32) == (32, 32) and hidden_layers([4, 5, 6]) == (4, 5, 6) and hidden_layers(()) == ()
    assert len([m for m in mlp(2, 1, hidden=()) if isinstance(m, torch.nn.Linear)]) == 1
    with pytest.raises(UnknownNameError, match="activation"):
        mlp(2, 1, activation="swish2")
    with pytest.raises(ValidationError, match="hidden"):
        hidden_layers("wide")
    with pytest.raises(ValidationError, match="hidden\\[1\\]"):
        hidden_layers([4, 0])


def test_seeded_is_reproducible_and_restores_the_global_generator():
    before = torch.random.get_rng_state()
    with seeded(7):
        a = mlp(3, 2, 8)[0].weight.detach().clone()
    assert torch.equal(torch.random.get_rng_state(), before)
    with seeded(7):
        b = mlp(3, 2, 8)[0].weight.detach().clone()
    with seeded(8):
        c = mlp(3, 2, 8)[0].weight.detach().clone()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch_seed(3) == torch_seed(3) and torch_seed(3) != torch_seed(4)
    rng = np.random.default_rng(0)
    assert torch_seed(rng) != torch_seed(rng)  # a Generator advances


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValidationError, match="device"):
        select_device("tpu")
    with pytest.raises(ValidationError, match="device"):
        select_device(3)
    if not torch.cuda.is_available():
        with pytest.raises(ValidationError, match="CUDA"):
            select_device("cuda")


def test_limit_threads_restores_and_reads_the_environment(monkeypatch):
    torch.set_num_threads(2)
    with limit_threads(1) as n:
        assert n == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    monkeypatch.setenv("CRL_NUM_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("CRL_NUM_THREADS", "many")
    with pytest.raises(ValidationError, match="CRL_NUM_THREADS"):
        default_threads()
    monkeypatch.delenv("CRL_NUM_THREADS")
    assert default_threads() == 1
    with pytest.raises(ValidationError, match="n_threads"):
        with limit_threads(0):
            pass


def test_split_and_batches():
    tr, va = train_val_split(100, 0.2, random_state=0)
    assert len(tr) == 80 and len(va) == 20 and not set(tr) & set(va)
    assert len(train_val_split(10, 0.0)[1]) == 0
    chunks = batches(1000, 256, torch.Generator().manual_seed(0))
    assert len(chunks) == 3 and min(len(c) for c in chunks) >= 256
    assert sorted(torch.cat(chunks).tolist()) == list(range(1000))
    assert len(batches(10, 256)) == 1


def _regression_data(seed=0, n=600):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(n, generator=g)
    return x, y


def _fit(seed, **kw):
    x, y = _regression_data()
    with seeded(seed):
        net = mlp(3, 1, hidden=(16,))
    hist = train(net, lambda b: torch.mean((net(b[0]).squeeze(-1) - b[1]) ** 2), (x[:500], y[:500]),
                 (x[500:], y[500:]), epochs=kw.pop("epochs", 60), batch_size=64, lr=1e-2, seed=seed, **kw)
    return net, hist


def test_train_fits_and_restores_the_best_state():
    net, hist = _fit(0)
    x, y = _regression_data()
    with torch.no_grad():
        val = float(torch.mean((net(x[500:]).squeeze(-1) - y[500:]) ** 2))
    assert hist.best_val < 0.05 and val == pytest.approx(hist.best_val, rel=1e-5)
    assert hist.val_loss[hist.best_epoch] == min(hist.val_loss)
    assert not net.training


def test_train_early_stopping_and_determinism():
    _, hist = _fit(0, epochs=500, patience=3, min_delta=1e-2)
    assert hist.stopped_early and hist.epochs_run < 500
    assert hist.epochs_run - 1 - hist.best_epoch == 3
    a, _ = _fit(1, epochs=5)
    b, _ = _fit(1, epochs=5)
    c, _ = _fit(2, epochs=5)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_train_raises_on_divergence():
    net = mlp(1, 1, hidden=())
    data = (torch.zeros(10, 1),)
    with pytest.raises(TrainingDivergedError, match="epoch 0"):
        train(net, lambda b: net(b[0]).sum() * float("nan"), data, epochs=2, batch_size=5)
    assert issubclass(TrainingDivergedError, CRLError)
    with pytest.raises(ValidationError, match="train_data"):
        train(net, lambda b: net(b[0]).sum(), (torch.zeros(10, 1), torch.zeros(9)), epochs=1)


def test_checkpoint_round_trip_uses_weights_only(tmp_path, monkeypatch):
    with seeded(0):
        net = mlp(4, 2, 8)
    path = tmp_path / "ck.pt"
    meta = {"name": "x", "sizes": (4, 2), "nested": {"lr": 1e-3, "flag": True, "none": None}}
    save_checkpoint(path, modules={"net": net}, arrays={"mean": np.arange(4.0)}, meta=meta)
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    with seeded(1):
        other = mlp(4, 2, 8)
    ck = load_checkpoint(path, modules={"net": other})
    assert calls == [True]
    x = torch.randn(5, 4)
    assert torch.equal(net(x), other(x))
    np.testing.assert_array_equal(ck.arrays["mean"], np.arange(4.0))
    assert ck.meta == {"name": "x", "sizes": (4, 2), "nested": {"lr": 1e-3, "flag": True, "none": None}}
    with pytest.raises(ValidationError, match="meta.bad"):
        save_checkpoint(tmp_path / "bad.pt", meta={"bad": object()})
    with pytest.raises(ValidationError, match="no module"):
        load_checkpoint(path, modules={"missing": other})
    torch.save({"something": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValidationError, match="not a crl.deep.checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_torch_only_in_deep_packages():
    code = ("import sys, crl, crl.rep4ex, simulators, identifiability, identifiability.extrapolation_scores;"
            "crl.Rep4Ex; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    out = subprocess.run([sys.executable, "-c", "import sys, crl.deep; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
