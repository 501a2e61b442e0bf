"""Seeded simulators of CRL problems with ground truth (numpy only, no torch)."""

from simulators.problem import Problem, Truth

__all__ = ["Problem", "Truth"]
