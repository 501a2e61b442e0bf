"""Exception and warning types of the toolkit.

Every error that bad input can trigger is a :class:`CRLError` (a ``ValueError``),
so ``except ValueError`` keeps working for callers that do not know the toolkit.
Messages name the argument, what was expected and what was received.
"""

__all__ = [
    "CRLError",
    "ValidationError",
    "NotFittedError",
    "NotIdentifiableError",
    "GraphTypeError",
    "CyclicGraphError",
    "UnknownNameError",
    "ConfigError",
    "IdentifiabilityWarning",
    "DegenerateDataWarning",
]


class CRLError(ValueError):
    """Base class of every error raised by the toolkit on bad input or state."""


class ValidationError(CRLError):
    """An argument has the wrong shape, type, range or content (NaN, constant columns, ...)."""


class NotFittedError(CRLError, AttributeError):
    """A fitted attribute or method was used before ``fit``."""


class NotIdentifiableError(CRLError):
    """The setting does not identify what was asked for; the message says why."""


class GraphTypeError(CRLError):
    """A graph is of the wrong kind (e.g. a PAG where a DAG is required) or malformed."""


class CyclicGraphError(GraphTypeError):
    """A graph that must be acyclic contains a directed cycle."""


class UnknownNameError(CRLError):
    """A name (scenario, learner, option) is not known; the message lists the valid ones."""


class ConfigError(CRLError):
    """A configuration file or mapping is invalid; the message names file and key."""


class IdentifiabilityWarning(UserWarning):
    """The assumptions of the identifiability result in use do not (fully) hold."""


class DegenerateDataWarning(UserWarning):
    """The data are close to a degenerate case (near-singular, near-Gaussian, ...)."""
