"""A small training loop: mini-batches, Adam, early stopping on a validation split.

The loop knows nothing about the model: it takes the module whose parameters
it optimises and a ``loss_fn(batch) -> scalar tensor`` on a tuple of tensors
that share their first dimension. The best state on the validation loss is
restored at the end.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from crl.exceptions import CRLError, ValidationError
from crl.validation import check_float, check_int, check_random_state

__all__ = ["TrainHistory", "train", "train_val_split", "batches", "TrainingDivergedError"]

logger = logging.getLogger(__name__)


class TrainingDivergedError(CRLError):
    """The training loss became NaN or infinite (lower the learning rate or rescale the data)."""


@dataclass
class TrainHistory:
    """What happened during :func:`train` (all losses are per-epoch means)."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    best_val: float = math.inf
    epochs_run: int = 0
    stopped_early: bool = False
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def train_val_split(n: int, validation_fraction: float, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled row indices ``(train, val)``; ``val`` is empty when ``validation_fraction`` is 0."""
    n = check_int(n, "n", minimum=1)
    frac = check_float(validation_fraction, "validation_fraction", minimum=0.0, maximum=0.9)
    perm = check_random_state(random_state).permutation(n)
    n_val = int(round(frac * n))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def batches(n: int, batch_size: int, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """Row indices split into ``max(1, n // batch_size)`` nearly equal chunks (shuffled with ``generator``).

    No batch is smaller than ``batch_size`` (when ``n >= batch_size``): a
    ragged last batch would hurt batch statistics such as the per-batch OLS
    of the Rep4Ex penalty.
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(torch.tensor_split(order, max(1, n // batch_size)))


def _mean_loss(loss_fn, data, chunks) -> float:
    total, count = 0.0, 0
    for idx in chunks:
        batch = tuple(t[idx.to(t.device)] for t in data)
        total += float(loss_fn(batch)) * len(idx)
        count += len(idx)
    return total / max(count, 1)


def train(
    module: torch.nn.Module,
    loss_fn: Callable[[tuple[torch.Tensor, ...]], torch.Tensor],
    train_data: Sequence[torch.Tensor],
    val_data: Sequence[torch.Tensor] | None = None,
    *,
    epochs: int = 100,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = 20,
    min_delta: float = 0.0,
    seed: int = 0,
    val_loss_fn: Callable[[tuple[torch.Tensor, ...]], torch.Tensor] | None = None,
    val_batch_size: int | None = None,
    parameters=None,
    progress: bool = False,
    desc: str = "train",
) -> TrainHistory:
    """Optimise ``module`` with Adam on mini-batches; stop early on the validation loss.

    Parameters
    ----------
    module : torch.nn.Module
        Put in train mode for steps and eval mode for validation; its best
        state (lowest validation loss) is restored at the end.
    loss_fn : callable
        ``loss_fn(batch)`` with ``batch`` a tuple of row-subsets of ``train_data``.
    train_data, val_data : sequence of tensors
        Tensors with the same number of rows, already on the module's device.
        Without ``val_data`` there is no early stopping and the last state is kept.
    epochs : int
        Maximum number of passes over ``train_data``.
    batch_size : int
        Target batch size (batches are nearly equal, none smaller than this).
    lr, weight_decay : float
        Adam settings.
    patience : int or None
        Stop after this many epochs without a validation improvement larger
        than ``min_delta``; None disables early stopping.
    seed : int
        Seeds the batch shuffling (torch's global generators are not used here).
    val_loss_fn : callable, optional
        Loss used on the validation split (default ``loss_fn``), computed
        under ``torch.no_grad``.
    val_batch_size : int, optional
        Batch size on the validation split (default ``batch_size``). Larger
        batches give a less noisy criterion for batch statistics such as a
        kernel penalty.
    parameters : iterable of tensors, optional
        What to optimise (default ``module.parameters()``).
    progress : bool
        A tqdm bar over epochs.
    desc : str
        Label of the bar and of log messages.

    Returns
    -------
    TrainHistory

    Raises
    ------
    TrainingDivergedError
        The training loss became NaN or infinite.
    """
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_float(lr, "lr", minimum=0.0, strict_min=True)
    if patience is not None:
        patience = check_int(patience, "patience", minimum=1)
    train_data = tuple(train_data)
    n = len(train_data[0])
    if any(len(t) != n for t in train_data):
        raise ValidationError(f"train_data: expected tensors with {n} rows each, got {[len(t) for t in train_data]}")
    val_data = tuple(val_data) if val_data is not None and len(val_data[0]) > 0 else None
    val_loss_fn = val_loss_fn or loss_fn
    params = list(parameters) if parameters is not None else list(module.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(int(seed))
    val_batch = batch_size if val_batch_size is None else check_int(val_batch_size, "val_batch_size", minimum=1)
    val_chunks = batches(len(val_data[0]), val_batch) if val_data is not None else None
    history = TrainHistory()
    best_state = None
    since_best = 0
    start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=False)
    try:
        for epoch in range(epochs):
            module.train()
            total = 0.0
            for idx in batches(n, batch_size, generator):
                batch = tuple(t[idx.to(t.device)] for t in train_data)
                loss = loss_fn(batch)
                if not torch.isfinite(loss):
                    raise TrainingDivergedError(
                        f"{desc}: the training loss became {float(loss.detach())} at epoch {epoch}; "
                        "lower lr or check the input scale"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * len(idx)
            history.train_loss.append(total / n)
            history.epochs_run = epoch + 1
            if val_data is not None:
                module.eval()
                with torch.no_grad():
                    val = _mean_loss(val_loss_fn, val_data, val_chunks)
                history.val_loss.append(val)
                if val < history.best_val - min_delta:
                    history.best_val, history.best_epoch, since_best = val, epoch, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    since_best += 1
            logger.debug("%s epoch %d: train %.5g val %s", desc, epoch, history.train_loss[-1],
                         f"{history.val_loss[-1]:.5g}" if history.val_loss else "-")
            if bar is not None:
                bar.update(1)
                bar.set_postfix(train=f"{history.train_loss[-1]:.4g}",
                                val=f"{history.val_loss[-1]:.4g}" if history.val_loss else "-")
            if patience is not None and val_data is not None and since_best >= patience:
                history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar.close()
    if best_state is not None:
        module.load_state_dict(best_state)
    else:
        history.best_epoch = history.epochs_run - 1
    module.eval()
    history.seconds = time.perf_counter() - start
    logger.info("%s: %d epochs in %.1f s (best epoch %d, val %.5g%s)", desc, history.epochs_run, history.seconds,
                history.best_epoch, history.best_val, ", stopped early" if history.stopped_early else "")
    return history
