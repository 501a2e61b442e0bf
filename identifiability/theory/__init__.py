"""What a setting identifies, up to which equivalence class, and why.

Every function takes explicit arguments (target matrices, view sets, graphs)
and returns an :class:`Identifiability`: a yes/no, the equivalence class
(names from :data:`crl.base.EQUIVALENCES`), a readable reason that cites the
result used, the identifiable blocks and details. :func:`from_problem` reads a
simulated :class:`simulators.Problem` and dispatches; :func:`check_claim`
compares a learner's :class:`crl.base.Claim` with what the theory allows.
Where no theorem in the toolkit's notes covers a setting, the answer is
``identifiable=False`` with a reason that says so, never a guess.

Coarseness order
----------------
``a ≤ b`` ("a is at least as fine as b") means that two models equivalent
under ``a`` are equivalent under ``b``. The order used (reflexive and
transitive closure of these relations; anything else is incomparable):

- ``permutation_scaling ≤ permutation_monotone`` (a scaling is monotone);
- ``permutation_monotone ≤ block`` (componentwise maps identify every block);
- ``permutation_scaling ≤ affine`` (``P D`` is an invertible linear map);
- ``permutation_scaling ≤ ancestors`` (no mixing with ancestors is allowed
  mixing).

``affine`` and ``ancestors`` are incomparable with ``block`` (an affine map
only identifies the trivial full block; ``ancestors`` may be nonlinear) and
with each other. ``mec`` and ``latent_relabeling`` act on graphs, not on
representations, and are incomparable with the representation classes and
with each other. A tuple is the composition of its classes; a tuple ``A`` is
at least as fine as ``B`` when every class in ``A`` is at least as fine as
some class in ``B`` (e.g. ``latent_relabeling ≤ ("mec", "latent_relabeling")``).

Modules
-------
``_core`` (:class:`Identifiability`, the coarseness order, shared checks),
``linear`` (interventional and representation settings), ``views``
(multi-view blocks), ``graphs`` (RLCD, OLC), ``dispatch``
(:func:`from_problem`, :func:`check_claim`). Import from this package.
"""

from identifiability.theory._core import COARSENESS, Identifiability, finer_or_equal
from identifiability.theory.dispatch import check_claim, from_problem
from identifiability.theory.graphs import olc, rlcd
from identifiability.theory.linear import (
    action_latents,
    ivae_segments,
    labels_supervised,
    linear_interventions,
    polynomial_interventions,
)
from identifiability.theory.views import atoms, identifiable_blocks, multiview

__all__ = [
    "Identifiability",
    "COARSENESS",
    "finer_or_equal",
    "linear_interventions",
    "identifiable_blocks",
    "atoms",
    "multiview",
    "rlcd",
    "olc",
    "action_latents",
    "polynomial_interventions",
    "ivae_segments",
    "labels_supervised",
    "from_problem",
    "check_claim",
]
