"""Checkpoints that load with ``torch.load(..., weights_only=True)``.

A checkpoint is a dict of plain data: module state dicts, numpy arrays (as
tensors), and a ``meta`` mapping of str, int, float, bool, None, lists,
tuples and dicts. Nothing is pickled, so loading an untrusted file cannot
run code.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from crl.exceptions import ValidationError

__all__ = ["save_checkpoint", "load_checkpoint", "Checkpoint", "FORMAT"]

FORMAT = "crl.deep.checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: numpy ``arrays``, plain ``meta`` and module ``states`` (state dicts by name)."""

    arrays: dict
    meta: dict
    states: dict


def _plain(value, where: str):
    """Check that ``value`` is plain data that ``weights_only`` loading accepts."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Mapping):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    raise ValidationError(
        f"{where}: checkpoint metadata must be plain data (str, number, bool, None, list, tuple, dict), "
        f"got {type(value).__name__}"
    )


def save_checkpoint(path, *, modules: Mapping[str, torch.nn.Module] | None = None,
                    arrays: Mapping[str, np.ndarray] | None = None, meta: Mapping | None = None) -> None:
    """Write modules' state dicts, numpy arrays and plain metadata to ``path`` (``torch.save``)."""
    payload = {
        "format": FORMAT,
        "modules": {name: {k: v.detach().cpu() for k, v in m.state_dict().items()}
                    for name, m in (modules or {}).items()},
        "arrays": {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in (arrays or {}).items()},
        "meta": _plain(dict(meta or {}), "meta"),
    }
    tmp = f"{os.fspath(path)}.tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, *, modules: Mapping[str, torch.nn.Module] | None = None,
                    map_location="cpu") -> Checkpoint:
    """Read a checkpoint with ``weights_only=True``; load the state dicts into ``modules`` by name.

    Parameters
    ----------
    path : str or path-like
    modules : mapping of str to torch.nn.Module, optional
        Modules to restore now (the others stay in ``Checkpoint.states``).
    map_location : str or torch.device

    Returns
    -------
    Checkpoint
    """
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValidationError(f"path: {os.fspath(path)!r} is not a {FORMAT} checkpoint")
    for name, module in (modules or {}).items():
        if name not in payload["modules"]:
            raise ValidationError(f"modules: the checkpoint has no module {name!r} (has {sorted(payload['modules'])})")
        module.load_state_dict(payload["modules"][name])
    arrays = {name: t.numpy() for name, t in payload["arrays"].items()}
    return Checkpoint(arrays=arrays, meta=payload["meta"], states=payload["modules"])
