"""Evaluators: score learners up to the equivalence class the theory allows.

Metrics, equivalence classes, the theory module and ``evaluate`` are built in
the evaluator issue; this package exists so that the distribution's layout
is complete. It must import without torch.
"""

__all__: list[str] = []
