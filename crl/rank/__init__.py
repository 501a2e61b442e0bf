"""Rank tests on cross-covariance blocks and RLCD (rank-based latent causal discovery).

- :class:`RLCD`: Dong et al., ICLR 2024 — a linear causal model over observed
  and hidden variables (hidden causes, mediators and effects of observed
  ones) up to its Markov equivalence class and relabelling of hidden nodes.
- Rank tests: :class:`RankTest` (χ² tests from canonical correlations,
  Bartlett or Bartlett–Lawley statistic, cached and batched),
  :class:`OracleRankTest` (exact ranks from a population covariance),
  :func:`canonical_correlations`, :func:`rank_statistic`, :func:`numerical_rank`.
"""

from crl.rank.ranktest import (
    STATISTICS,
    OracleRankTest,
    RankTest,
    canonical_correlations,
    numerical_rank,
    rank_statistic,
)
from crl.rank.rlcd import RLCD

__all__ = [
    "RLCD",
    "RankTest",
    "OracleRankTest",
    "canonical_correlations",
    "rank_statistic",
    "numerical_rank",
    "STATISTICS",
]
