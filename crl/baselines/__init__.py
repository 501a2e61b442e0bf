"""Peers: other implementations behind the toolkit's structure-learner contract.

``FCIPeer``, ``GINPeer`` and ``RLCDPeer`` run causal-learn's FCI, GIN and
RLCD port on the same data as our learners, with the workarounds for known
causal-learn bugs documented on each class and recorded in ``peer_info_``.
causal-learn itself is imported only when a peer is fitted.
"""

from crl.baselines.causallearn import FCIPeer, GINPeer, RLCDPeer

__all__ = ["FCIPeer", "GINPeer", "RLCDPeer"]
