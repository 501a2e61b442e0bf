"""Network builders shared by the deep learners."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from torch import nn

from crl.exceptions import ValidationError
from crl.validation import check_choice, check_int

__all__ = ["ACTIVATIONS", "mlp", "hidden_layers"]

#: Activation name -> module factory.
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}


def hidden_layers(hidden, name: str = "hidden", *, depth: int = 2) -> tuple[int, ...]:
    """Normalise a hidden-layer spec: an int ``w`` means ``depth`` layers of width ``w``; a sequence is kept.

    ``()`` (or ``[]``) means no hidden layer (a linear map).
    """
    if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
        return (check_int(hidden, name, minimum=1),) * depth
    if isinstance(hidden, Sequence) and not isinstance(hidden, str):
        return tuple(check_int(h, f"{name}[{i}]", minimum=1) for i, h in enumerate(hidden))
    raise ValidationError(f"{name}: expected an int width or a sequence of widths, got {hidden!r}")


def mlp(
    in_dim: int,
    out_dim: int,
    hidden=(64, 64),
    *,
    activation: str = "leaky_relu",
    out_activation: str | None = None,
    batch_norm: bool = False,
) -> nn.Sequential:
    """A fully connected network ``in_dim -> hidden... -> out_dim``.

    Parameters
    ----------
    in_dim, out_dim : int
    hidden : int or sequence of int
        Hidden widths (an int ``w`` gives two layers of width ``w``).
    activation : str
        One of :data:`ACTIVATIONS`, after every hidden layer.
    out_activation : str, optional
        Activation after the output layer (none by default).
    batch_norm : bool
        Batch normalisation before each hidden activation.

    Returns
    -------
    torch.nn.Sequential
        Initialised by torch's defaults, i.e. from torch's global generator:
        build it inside :func:`crl.deep.seeded` for reproducible weights.
    """
    in_dim = check_int(in_dim, "in_dim", minimum=1)
    out_dim = check_int(out_dim, "out_dim", minimum=1)
    widths = hidden_layers(hidden)
    check_choice(activation, "activation", ACTIVATIONS)
    layers: list[nn.Module] = []
    prev = in_dim
    for w in widths:
        layers.append(nn.Linear(prev, w))
        if batch_norm:
            layers.append(nn.BatchNorm1d(w))
        layers.append(ACTIVATIONS[activation]())
        prev = w
    layers.append(nn.Linear(prev, out_dim))
    if out_activation is not None:
        check_choice(out_activation, "out_activation", ACTIVATIONS)
        layers.append(ACTIVATIONS[out_activation]())
    return nn.Sequential(*layers)
