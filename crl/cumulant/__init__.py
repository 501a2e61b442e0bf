"""Higher-order cumulant methods: joint k-statistics, the OLC closed form, HSIC tests, and OLC.

``crl.OLC`` (Cai et al., ICML 2023) learns a linear non-Gaussian model with
latent confounders; :mod:`crl.cumulant.cumulants` and
:mod:`crl.cumulant.independence` are its building blocks and usable alone.
"""

from crl.cumulant.cumulants import (
    CumulantCache,
    OLCLoadings,
    cumulant_tensor,
    joint_cumulant,
    k4_standard_error,
    kstat,
    olc_loadings,
    surrogate,
    surrogate_weights,
)
from crl.cumulant.independence import (
    CumulantTestResult,
    HSICResult,
    IndependenceTester,
    cross_cumulant_test,
    fisher_combine,
    hsic_test,
    median_bandwidth,
)
from crl.cumulant.olc import OLC

__all__ = [
    "OLC",
    "CumulantCache",
    "CumulantTestResult",
    "HSICResult",
    "IndependenceTester",
    "OLCLoadings",
    "cross_cumulant_test",
    "cumulant_tensor",
    "fisher_combine",
    "hsic_test",
    "joint_cumulant",
    "k4_standard_error",
    "kstat",
    "median_bandwidth",
    "olc_loadings",
    "surrogate",
    "surrogate_weights",
]
