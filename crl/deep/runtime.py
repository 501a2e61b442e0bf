"""Runtime helpers for torch learners: seeds, devices, thread caps.

Nothing here touches global state for longer than a ``with`` block:
:func:`seeded` forks torch's random number generators and restores them on
exit, :func:`limit_threads` restores the previous thread count. Library code
never seeds globally (DESIGN.md, "Randomness").
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch

from crl.exceptions import ValidationError
from crl.validation import check_int, check_random_state

__all__ = ["torch_seed", "seeded", "select_device", "default_threads", "limit_threads", "to_tensor"]

#: Environment variable that caps the torch threads of every deep learner (e.g. ``1`` under
#: ``crl bench run --jobs N`` with N processes on N cores).
THREADS_ENV = "CRL_NUM_THREADS"


def torch_seed(random_state) -> int:
    """An int seed for torch drawn from ``random_state`` (None, int, SeedSequence or Generator).

    The same int gives the same seed; a Generator advances by one draw.
    """
    return int(check_random_state(random_state).integers(0, 2**31 - 1))


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str | None = None):
    """Run a block with torch's generators seeded by ``seed``, restoring them afterwards.

    Parameters
    ----------
    seed : int
    device : torch.device or str, optional
        A CUDA device whose generator is forked and seeded as well.
    """
    seed = check_int(seed, "seed", minimum=0)
    devices = []
    if device is not None and torch.device(device).type == "cuda":
        index = torch.device(device).index
        devices = [index if index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def select_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Raises
    ------
    ValidationError
        An unknown name, or CUDA asked for where none is available.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise ValidationError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit()):
        if not torch.cuda.is_available():
            raise ValidationError(f"device: {name!r} was asked for, but torch sees no CUDA device; use 'cpu' or 'auto'")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValidationError(f"device: {name!r} asked for, but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    raise ValidationError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Torch intra-op threads for a fit: ``$CRL_NUM_THREADS`` if set, else 1.

    The toolkit's networks are small (widths of tens to hundreds, batches
    of hundreds): a second thread gains little, and threads competing for
    busy cores lose a lot. On a shared 2-core machine one step of a
    2-64-64-1 MLP took 7 ms with one thread and 95 ms with two. Set
    ``CRL_NUM_THREADS`` (or pass ``n_threads``) on an idle multi-core machine.
    """
    value = os.environ.get(THREADS_ENV)
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValidationError(f"{THREADS_ENV}: expected a positive int, got {value!r}") from None
    return 1


@contextlib.contextmanager
def limit_threads(n_threads: int | None = None):
    """Run a block with at most ``n_threads`` torch threads (default :func:`default_threads`)."""
    n = default_threads() if n_threads is None else check_int(n_threads, "n_threads", minimum=1)
    n = min(n, _available_cores())
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(previous)


def to_tensor(array, device: torch.device | str = "cpu", dtype=torch.float32) -> torch.Tensor:
    """A numpy array (or array-like) as a tensor on ``device`` (float32 by default)."""
    return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)
