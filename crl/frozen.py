"""A read-only dict that pickles and deep-copies (``MappingProxyType`` does neither)."""

from __future__ import annotations

__all__ = ["FrozenDict"]


class FrozenDict(dict):
    """A ``dict`` whose mutating methods raise ``TypeError``.

    Used for the mapping fields of frozen dataclasses (``Problem.setting``,
    ``Report.scores``, ...) so that those objects can travel to worker
    processes and through :func:`sklearn.base.clone`.
    """

    __slots__ = ()

    def _readonly(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} is read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly
    __ior__ = _readonly

    def __reduce__(self):
        return (type(self), (dict(self),))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        import copy

        return type(self)({copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()})

    def __repr__(self) -> str:
        return f"FrozenDict({dict.__repr__(self)})"
