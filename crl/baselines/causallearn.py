"""Peer adapters: causal-learn's FCI, GIN and RLCD port behind the structure-learner contract.

Each adapter is a scikit-learn estimator like every other structure learner
(``fit(X) -> self``, ``graph_``, ``adjacency_``, ``n_latents_``), so the
benchmark runs peers and our learners on the same data in one run. Every
adapter also records ``peer_info_`` (library, version, method, options and the
workarounds applied), which the benchmark stores with each result row.

Conventions shared by the three adapters
----------------------------------------
- ``X`` is an (n, p) array or DataFrame. Node names: ``feature_names`` if
  given, else the DataFrame's columns, else ``"X1".."Xp"`` (the names that
  :func:`simulators.partially_observed_problem` gives its observed columns).
- causal-learn never sees our names: columns go in as neutral names (or
  positions) and come back by position, so no name can change what a peer
  does (the RLCD port types nodes by name; see :class:`RLCDPeer`).
- ``graph_`` lists the observed nodes in column order, then the hidden nodes
  (``latent=True``, named ``L1..Lm``; ``_L1..`` etc. if a column is already
  called ``L<k>``). ``adjacency_`` is ``crl.graphs.to_adjacency(graph_)``:
  ``A[i, j] != 0`` means the stored edge ``i -> j`` over ``list(graph_.nodes)``
  (symmetric for ``---``, ``<->`` and ``o-o``).
- causal-learn's stdout is captured and sent to ``logging`` at DEBUG level;
  FCI's progress bar is off.

causal-learn is imported inside ``fit`` only.
"""


from crl.baselines.fci import FCIPeer
from crl.baselines.gin import GINPeer
from crl.baselines.rlcd_port import RLCDPeer

__all__ = ["FCIPeer", "GINPeer", "RLCDPeer"]
