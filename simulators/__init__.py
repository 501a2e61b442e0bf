"""Seeded simulators of CRL problems with ground truth (numpy only, no torch).

Every generator takes ``random_state`` and returns a :class:`Problem`, which
separates what a learner may see from the ground truth. Named scenarios
reproduce the papers' settings: ``scenario(name, random_state=..., **overrides)``.
"""

from simulators.actions import action_problem, do_effect
from simulators.dags import causal_order, check_dag, random_dag, sample_weights
from simulators.diagnostics import r2_sortability, sortability, var_sortability
from simulators.interventions import intervene, make_environments, sample_environments
from simulators.io import load_problem, save_problem
from simulators.latent import latent_problem, linear_cd_problem, polynomial_problem
from simulators.mixing import invertible_mlp, linear_mixing, polynomial_mixing
from simulators.multiview import content_sets, multi_view, multiview_problem
from simulators.noise import sample_noise
from simulators.olc import olc_graph, olc_problem
from simulators.partial import oracle_rank, partially_observed_problem, population_covariance
from simulators.pendulum import pendulum_problem, render_counterfactual, render_pendulum
from simulators.problem import Problem, Truth
from simulators.rlcd_families import (
    check_rlcd_conditions,
    random_general_latent_graph,
    random_latent_tree,
    random_measurement_model,
    rlcd_fixture,
    rlcd_problem,
)
from simulators.scenarios import list_scenarios, scenario, scenario_spec
from simulators.scm import linear_scm, nonlinear_scm

__all__ = [
    "Problem",
    "Truth",
    "scenario",
    "list_scenarios",
    "scenario_spec",
    "random_dag",
    "sample_weights",
    "causal_order",
    "check_dag",
    "sample_noise",
    "linear_scm",
    "nonlinear_scm",
    "intervene",
    "make_environments",
    "sample_environments",
    "linear_mixing",
    "invertible_mlp",
    "polynomial_mixing",
    "multi_view",
    "content_sets",
    "latent_problem",
    "linear_cd_problem",
    "polynomial_problem",
    "multiview_problem",
    "action_problem",
    "do_effect",
    "partially_observed_problem",
    "population_covariance",
    "oracle_rank",
    "rlcd_fixture",
    "rlcd_problem",
    "random_latent_tree",
    "random_measurement_model",
    "random_general_latent_graph",
    "check_rlcd_conditions",
    "olc_graph",
    "olc_problem",
    "render_pendulum",
    "render_counterfactual",
    "pendulum_problem",
    "sortability",
    "var_sortability",
    "r2_sortability",
    "save_problem",
    "load_problem",
]
