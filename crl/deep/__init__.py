"""Shared torch pieces for the deep learners.

- :func:`mlp` builds fully connected networks;
- :func:`train` runs mini-batch Adam with early stopping on a validation split;
- :func:`seeded`, :func:`torch_seed` make training reproducible on CPU for a seed
  without touching torch's global generators outside a ``with`` block;
- :func:`select_device` resolves ``"auto"`` / ``"cpu"`` / ``"cuda"``;
- :func:`limit_threads` caps torch's threads during a fit (``$CRL_NUM_THREADS``);
- :func:`save_checkpoint` / :func:`load_checkpoint` write and read plain-data
  checkpoints that load with ``torch.load(..., weights_only=True)``.

This package imports torch; ``import crl`` does not import it.
"""

from crl.deep.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from crl.deep.nets import ACTIVATIONS, hidden_layers, mlp
from crl.deep.runtime import (
    default_threads,
    limit_threads,
    seeded,
    select_device,
    to_tensor,
    torch_seed,
)
from crl.deep.training import TrainHistory, TrainingDivergedError, batches, train, train_val_split

__all__ = [
    "ACTIVATIONS",
    "Checkpoint",
    "TrainHistory",
    "TrainingDivergedError",
    "batches",
    "default_threads",
    "hidden_layers",
    "limit_threads",
    "load_checkpoint",
    "mlp",
    "save_checkpoint",
    "seeded",
    "select_device",
    "to_tensor",
    "torch_seed",
    "train",
    "train_val_split",
]
