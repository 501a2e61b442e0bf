"""Named scenarios that reproduce the settings of the papers.

``scenario(name, random_state=..., **overrides)`` builds a :class:`Problem`;
overrides must be parameters of the scenario's builder (unknown keys raise
:class:`crl.exceptions.UnknownNameError` listing the valid ones).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from crl.exceptions import UnknownNameError
from crl.frozen import FrozenDict
from crl.validation import check_random_state
from simulators.actions import action_problem
from simulators.latent import latent_problem, linear_cd_problem, polynomial_problem
from simulators.multiview import multiview_problem
from simulators.olc import olc_problem
from simulators.pendulum import pendulum_problem
from simulators.problem import Problem
from simulators.rlcd_families import rlcd_problem
from simulators.scm import nonlinear_scm

__all__ = ["ScenarioSpec", "scenario", "list_scenarios", "scenario_spec", "register_scenario"]


@dataclass(frozen=True)
class ScenarioSpec:
    """A named scenario: a builder, its defaults and where the setting comes from."""

    name: str
    description: str
    builder: Callable[..., Problem]
    defaults: Mapping = field(default_factory=dict)
    reference: str = ""

    def parameters(self) -> dict:
        """Every overridable parameter with its effective default."""
        sig = inspect.signature(self.builder)
        params = {
            k: (v.default if v.default is not inspect.Parameter.empty else None)
            for k, v in sig.parameters.items()
            if k != "random_state" and v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)
        }
        params.update(self.defaults)
        return params


_REGISTRY: dict[str, ScenarioSpec] = {}


def register_scenario(name: str, description: str, *, defaults: Mapping | None = None, reference: str = ""):
    """Decorator registering ``builder(**params, random_state=None) -> Problem`` under ``name``."""

    def wrap(builder):
        _REGISTRY[name] = ScenarioSpec(name, description, builder, FrozenDict(dict(defaults or {})), reference)
        return builder

    return wrap


def scenario_spec(name: str) -> ScenarioSpec:
    """The :class:`ScenarioSpec` of ``name``."""
    if name not in _REGISTRY:
        raise UnknownNameError(f"scenario: expected one of {sorted(_REGISTRY)}, got {name!r}")
    return _REGISTRY[name]


def list_scenarios() -> dict[str, str]:
    """Scenario names mapped to one-line descriptions, sorted by name."""
    return {name: _REGISTRY[name].description for name in sorted(_REGISTRY)}


def scenario(name: str, *, random_state=None, **overrides) -> Problem:
    """Build the named scenario.

    Parameters
    ----------
    name : str
        One of :func:`list_scenarios`.
    random_state : None, int or Generator
    **overrides
        Parameters of the scenario's builder (see ``scenario_spec(name).parameters()``).

    Returns
    -------
    Problem
    """
    spec = scenario_spec(name)
    valid = spec.parameters()
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise UnknownNameError(
            f"scenario {name!r}: unknown parameter(s) {unknown}; valid parameters are {sorted(valid)}"
        )
    kwargs = {**spec.defaults, **overrides}
    problem = spec.builder(random_state=random_state, **kwargs)
    # record which scenario produced the problem (builders name problems after their graph, e.g. "mm_a")
    return replace(problem, setting={**problem.setting, "scenario": name})


# --- the scenarios -----------------------------------------------------------------------------


register_scenario(
    "linear_cd",
    "Linear latent SCM, linear mixing, one perfect intervention per latent (Squires et al. 2023): d=5, p=10",
    reference="linear_cd.md §6",
)(linear_cd_problem)


def _rlcd(family, default_graph):
    def build(
        graph: str = default_graph,
        n: int = 5000,
        noise: str = "gaussian",
        weight_range=(1.0, 5.0),
        noise_var=(0.1, 1.0),
        standardize: bool = True,
        options=None,
        random_state=None,
    ):
        # graph="random" draws from this scenario's family; any fixture name or DiGraph also works
        return rlcd_problem(
            family if graph == "random" else graph,
            n,
            noise=noise,
            weight_range=weight_range,
            noise_var=noise_var,
            standardize=standardize,
            options=options,
            random_state=random_state,
        )

    build.__doc__ = f"RLCD {family} family; see :func:`simulators.rlcd_families.rlcd_problem`."
    return build


register_scenario(
    "rlcd_tree",
    "Latent tree, linear SCM over 13 observed + 4 hidden (RLCD fixture tree_a; graph='random' draws one)",
    reference="rlcd.md §6.2",
)(_rlcd("tree", "tree_a"))
register_scenario(
    "rlcd_measurement",
    "Latent measurement model, 12 observed + 4 hidden in a diamond (RLCD fixture mm_a; graph='random' draws one)",
    reference="rlcd.md §6.2",
)(_rlcd("measurement", "mm_a"))
register_scenario(
    "rlcd_general",
    "General latent graph: X->L, X-X edges, a 2-latent cover; 14 observed + 4 hidden (RLCD fixture gen_a)",
    reference="rlcd.md §6.2",
)(_rlcd("general", "gen_a"))


register_scenario(
    "olc",
    "Linear non-Gaussian model with latent confounders, each latent a root with >= 3 observed children",
    reference="cumulant_olc.md §5 (project default)",
)(olc_problem)


register_scenario(
    "rep4ex",
    "Actions -> latents -> injective MLP features; confounded outcome; test actions outside the support",
    reference="rep4ex.md §5 (project default)",
)(action_problem)


register_scenario(
    "interventional_polynomial",
    "Polynomial mixing (degree 2, p=200) of 6 latents with one do(z_j = 2) environment per latent (Ahuja et al.)",
    reference="multiview_and_interventional.md B1",
)(polynomial_problem)


register_scenario(
    "multiview_numerical",
    "Four views of six latents, each view an invertible MLP of its subset (Yao et al. 2024)",
    reference="multiview_and_interventional.md A1",
)(multiview_problem)


@register_scenario(
    "interventional_mlp",
    "Additive nonlinear latent SCM, invertible MLP mixing, one perfect intervention per latent",
)
def _interventional_mlp(
    d: int = 5,
    p: int = 10,
    n_per_env: int = 2000,
    expected_degree: float = 2.0,
    kind: str = "perfect",
    noise: str = "gaussian",
    n_layers: int = 3,
    random_state=None,
):
    rng = check_random_state(random_state)
    scm = nonlinear_scm(d, expected_degree=min(expected_degree, d - 1), noise=noise, random_state=rng)
    intervention_kw = {"noise_std": (1.5, 2.5)} if kind == "soft" else {}
    return latent_problem(
        scm, n_per_env=n_per_env, mixing="mlp", p=p, kind=kind, n_layers=n_layers, name="interventional_mlp",
        random_state=rng, **intervention_kw,
    )


register_scenario(
    "pendulum",
    "Pendulum images (angle, light -> shadow length, position) rendered in numpy, with labels and noise",
    reference="pendulum.md",
)(pendulum_problem)
