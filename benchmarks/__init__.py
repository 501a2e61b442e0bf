"""Benchmark suites, the resumable results store, engines and reports.

Built in the benchmark-harness issue; this package exists so that the
distribution's layout is complete.
"""

__all__: list[str] = []
