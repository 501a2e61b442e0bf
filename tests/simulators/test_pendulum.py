"""Tests of the Pendulum generator: fidelity to the original, factor SCM, problem contract,
counterfactuals and input validation."""

from __future__ import annotations

import io
import logging
import math

import numpy as np
import pytest

from crl.exceptions import CRLError, UnknownNameError
from simulators.pendulum import (
    PENDULUM_ADJACENCY,
    PENDULUM_FACTORS,
    PENDULUM_STD0,
    check_nondegenerate,
    pendulum_factors,
    pendulum_problem,
    render_counterfactual,
    render_pendulum,
    shadow_geometry,
)
from simulators.problem import Problem

STEP = math.pi / 200.0  # grid index -> radians
ORANGE_G_MINUS_B = 82  # orange over white at half coverage: G - B = 165 / 2

# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def grid0():
    """The original grid, noise-free (tiny images: these tests are about the factors)."""
    return pendulum_problem(mode="grid", size=8, noise_scale=0.0, random_state=0)


@pytest.fixture(scope="module")
def grid_noisy():
    return pendulum_problem(mode="grid", size=8, noise_scale=0.15, random_state=0)


@pytest.fixture(scope="module")
def noisy():
    return pendulum_problem(n=48, size=32, noise_scale=0.15, random_state=1)


def _features(images):
    """uint8 (m, S, S, 3) -> the default X format (channels first, flattened, float32)."""
    return (images.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255.0)).reshape(
        len(images), -1
    )


# ---------------------------------------------------------------------------- fidelity to matplotlib


def _matplotlib_pendulum(theta: float, phi: float) -> np.ndarray:
    """The original generator's figure (CausalVAE ``causal_data/pendulum.py``) as RGB at 96 dpi."""
    from matplotlib import style
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # the Agg backend, no pyplot state
    from matplotlib.figure import Figure
    from matplotlib.patches import Circle, Polygon

    def proj(x, y, base=-0.5):
        return x - (y - base) / math.tan(phi)

    with style.context("default"):
        fig = Figure(figsize=(1.0, 1.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        x, y = 10 + 8 * math.sin(theta), 10.5 - 8 * math.cos(theta)
        tip_x, tip_y = 10 + 9.5 * math.sin(theta), 10.5 - 9.5 * math.cos(theta)
        mid = (proj(10.0, 10.5) + proj(tip_x, tip_y)) / 2
        shade = max(3, abs(proj(10.0, 10.5) - proj(tip_x, tip_y)))
        ax.add_artist(Polygon(([10, 10.5], [x, y]), color="black", linewidth=3))
        ax.add_artist(Circle((x, y), 1.5, color="firebrick"))
        ax.add_artist(Circle((proj(10, 10.5, 20.5), 20.5), 3, color="orange"))
        ax.add_artist(
            Polygon(([mid - shade / 2, -0.5], [mid + shade / 2, -0.5]), color="black", linewidth=3)
        )
        ax.set_xlim((0, 20))
        ax.set_ylim((-1, 21))
        ax.axis("off")
        buf = io.BytesIO()
        fig.savefig(buf, format="rgba", dpi=96)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8).reshape(96, 96, 4)[..., :3]


def _colour_masks(img):
    """Black, firebrick and orange masks: pixels more than half covered by the colour.

    For a blend of a colour with white (the antialiased edges), "more than half"
    is ``max(RGB) < 128`` for black, ``R - G > 72`` for firebrick (178, 34, 34)
    and ``G - B > 82`` for orange (255, 165, 0). ``ties`` marks the pixels
    covered exactly half (our 2 x 2 supersampling gives many), which a 50%
    threshold cannot decide.
    """
    img = img.astype(int)
    r, g, b = img[..., 0], img[..., 1], img[..., 2]
    masks = {
        "black": img.max(-1) < 128,
        "firebrick": (r - g > 72) & (g - b < 40),
        "orange": g - b > ORANGE_G_MINUS_B,
    }
    ties = (img.max(-1) == 128) | (r - g == 72) | (g - b == ORANGE_G_MINUS_B)
    return masks, ties


FIDELITY_PAIRS = [  # (angle index i, light index j) on the original grid, extremes included
    (-40, 60), (-40, 147), (-30, 140), (-25, 99), (-10, 60), (-10, 120), (0, 75), (0, 101),
    (2, 115), (5, 80), (12, 101), (20, 130), (30, 60), (30, 147), (43, 60), (43, 120),
]  # fmt: skip


def _iou(a, b, keep):
    union = ((a | b) & keep).sum()
    return 1.0 if union == 0 else float((a & b & keep).sum() / union)


@pytest.mark.parametrize("supersample", [2, 3])
def test_render_matches_matplotlib_original(supersample):
    """IoU >= 0.9 per colour mask against the original matplotlib figure at 96 px.

    With the default 2 x 2 supersampling, pixels our renderer covers exactly
    half are left out (undecidable at a 50% threshold); with 3 x 3 there are
    no such pixels and every pixel counts.
    """
    pytest.importorskip("matplotlib")
    worst = {}
    for i, j in FIDELITY_PAIRS:
        theta, phi = i * STEP, j * STEP
        ref, _ = _colour_masks(_matplotlib_pendulum(theta, phi))
        ours, ties = _colour_masks(render_pendulum(theta, phi, size=96, supersample=supersample)[0])
        keep = ~ties if supersample % 2 == 0 else np.ones_like(ties)
        for name in ref:
            assert ref[name].sum() > 20, (i, j, name)  # every element is visible
            worst[name] = min(worst.get(name, 1.0), _iou(ref[name], ours[name], keep))
    assert min(worst.values()) >= 0.9, worst


# ---------------------------------------------------------------------------- factors


def test_shadow_geometry_is_the_original_projection():
    theta = np.array([-0.6, -0.1, 0.0, 0.3, 0.6])
    phi = np.array([0.95, 1.3, 1.6, 1.9, 2.3])

    def proj(x, y, base=-0.5):  # the original code's form
        intercept = y - x * np.tan(phi)
        return (base - intercept) / np.tan(phi)

    a, b = shadow_geometry(theta, phi)
    np.testing.assert_allclose(a, proj(10.0, 10.5), rtol=1e-12)
    np.testing.assert_allclose(
        b, proj(10 + 9.5 * np.sin(theta), 10.5 - 9.5 * np.cos(theta)), rtol=1e-12
    )
    s, m = pendulum_factors(theta, phi)
    np.testing.assert_allclose(s, np.maximum(3.0, np.abs(a - b)))
    np.testing.assert_allclose(m, (a + b) / 2)
    # Regular at vertical light (the original's formula divides by tan(pi/2) there).
    a, b = shadow_geometry(0.2, math.pi / 2)
    assert np.isfinite(a).all() and np.isfinite(b).all()


def test_noisy_factors_use_the_smooth_floor_and_scaled_noise():
    theta, phi = np.zeros(4), np.full(4, 1.2)
    eps = np.array([-3.0, -1.0, 0.0, 2.0])
    s0, m0 = pendulum_factors(theta, phi, floor=None)
    s, m = pendulum_factors(theta, phi, eps, eps, noise_scale=0.2)
    v = s0 + 0.2 * PENDULUM_STD0[0] * eps
    np.testing.assert_allclose(s, 1.0 + np.log1p(np.exp(v - 1.0)))
    np.testing.assert_allclose(m, m0 + 0.2 * PENDULUM_STD0[1] * eps)
    assert (s > 1.0).all() and (np.diff(s) > 0).all()  # smooth, strictly increasing in eps
    # noise_scale = 0 ignores eps and applies the hard floor.
    s_hard, _ = pendulum_factors(theta, phi, eps, eps, noise_scale=0.0)
    np.testing.assert_array_equal(s_hard, np.maximum(3.0, s0))


def test_grid_factor_ranges_match_the_reference_table(grid0):
    theta, phi, s, m = grid0.truth.Z.T
    assert (round(s.min(), 2), round(s.max(), 2)) == (3.0, 12.58)
    assert (round(m.min(), 2), round(m.max(), 2)) == (2.01, 19.61)
    assert abs(s.mean() - 4.97) < 0.01 and abs(s.std() - PENDULUM_STD0[0]) < 0.01
    assert abs(m.mean() - 10.54) < 0.01 and abs(m.std() - PENDULUM_STD0[1]) < 0.01
    assert abs(np.mean(s == 3.0) - 0.396) < 0.001  # the point mass at the floor
    assert abs(np.rad2deg(theta).mean() - 1.35) < 1e-9
    sun_x = 10 + 10 / np.tan(phi)
    assert (round(sun_x.min(), 2), round(sun_x.max(), 2)) == (0.9, 17.27)


# ---------------------------------------------------------------------------- problem


def test_grid_mode_reproduces_the_original_grid_and_split(grid0):
    assert grid0.n_samples == 7308
    test_rows = grid0.truth.params["test_rows"]
    assert len(test_rows) == 1826 and len(test_rows) + 5482 == 7308
    np.testing.assert_array_equal(test_rows, np.arange(4, 7308, 4))  # 5th image, then every 4th
    i = np.rint(grid0.truth.Z[:, 0] / STEP).astype(int)
    j = np.rint(grid0.truth.Z[:, 1] / STEP).astype(int)
    np.testing.assert_array_equal(i[:87], -40)  # i-major, j-minor
    np.testing.assert_array_equal(j[:87], [k for k in range(60, 148) if k != 100])
    assert (i.min(), i.max(), j.min(), j.max()) == (-40, 43, 60, 147)
    assert not np.any(j == 100)
    assert grid0.truth.params["mode"] == "grid"


def test_problem_contract(noisy):
    p = noisy
    assert isinstance(p, Problem) and p.name == "pendulum"
    assert p.X.shape == (48, 3 * 32 * 32) and p.X.dtype == np.float32
    assert p.X.min() >= 0.0 and p.X.max() <= 1.0
    np.testing.assert_array_equal(p.labels, p.truth.Z)
    assert p.truth.Z.shape == (48, 4) and p.truth.latent_names == PENDULUM_FACTORS
    assert set(p.truth.noise) == {"eps_s", "eps_m"}
    assert all(v.shape == (48,) for v in p.truth.noise.values())
    np.testing.assert_array_equal(p.env, 0)
    g = p.truth.graph
    assert g.graph["kind"] == "dag" and list(g.nodes) == list(PENDULUM_FACTORS)
    assert all(d["latent"] for _, d in g.nodes(data=True))
    assert set(g.edges) == {(a, b) for a in ("angle", "light") for b in ("length", "mid")}
    assert PENDULUM_ADJACENCY.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert dict(p.setting) == {
        "latent_model": "nonlinear",
        "mixing": "render",
        "supervision": "labels",
        "graph_known": True,
        "interventions": "none",
    }
    params = p.truth.params
    assert params["noise_scale"] == 0.15 and params["size"] == 32 and params["layout"] == "compat"
    assert params["mode"] == "continuous" and tuple(params["std0"]) == PENDULUM_STD0
    assert set(p.diagnostics) == {"var_sortability", "r2_sortability"}
    np.testing.assert_array_equal(p.truth.mixing(p.truth.Z), p.X)  # the mixing renders X


@pytest.mark.parametrize("channels_first", [True, False])
@pytest.mark.parametrize("flatten", [True, False])
def test_observation_layouts_hold_the_same_pixels(channels_first, flatten):
    p = pendulum_problem(
        n=5, size=16, channels_first=channels_first, flatten=flatten, random_state=2
    )
    images = render_pendulum(*p.labels.T, size=16)
    x = images.transpose(0, 3, 1, 2) if channels_first else images
    x = x.astype(np.float32) / np.float32(255.0)
    expected = x.reshape(5, -1) if flatten else x
    assert p.X.shape == expected.shape
    np.testing.assert_array_equal(p.X, expected)
    np.testing.assert_array_equal(p.truth.mixing(p.labels), p.X)


def test_same_seed_same_problem_different_seed_differs():
    kwargs = dict(n=24, size=16, noise_scale=0.15)
    a, b = pendulum_problem(**kwargs, random_state=7), pendulum_problem(**kwargs, random_state=7)
    c = pendulum_problem(**kwargs, random_state=8)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.truth.noise["eps_s"], b.truth.noise["eps_s"])
    assert not np.array_equal(a.labels, c.labels) and not np.array_equal(a.X, c.X)
    # A Generator is accepted and advanced.
    rng = np.random.default_rng(7)
    assert not np.array_equal(
        pendulum_problem(**kwargs, random_state=rng).labels,
        pendulum_problem(**kwargs, random_state=rng).labels,
    )


def test_continuous_roots_cover_the_grid_ranges_without_vertical_light():
    p = pendulum_problem(n=4000, size=8, noise_scale=0.0, random_state=3)
    theta, phi = np.rad2deg(p.truth.Z[:, 0]), np.rad2deg(p.truth.Z[:, 1])
    assert theta.min() >= -36.0 and theta.max() <= 38.7
    assert phi.min() >= 54.0 and phi.max() <= 132.3
    assert np.abs(phi - 90.0).min() >= 0.5
    assert theta.min() < -35 and theta.max() > 37.7 and phi.min() < 55 and phi.max() > 131.3
    assert 0.4 < np.mean(phi < 90) < 0.5  # (89.5 - 54) / 77.3 = 0.459
    assert abs(np.corrcoef(theta, phi)[0, 1]) < 0.05  # independent roots


def test_noisy_mode_draws_what_it_labels(noisy):
    # Re-rendering from the stored labels reproduces X exactly...
    np.testing.assert_array_equal(_features(render_pendulum(*noisy.labels.T, size=32)), noisy.X)
    # ...and the labels are not the noise-free factors: the drawn shadows moved with them.
    theta, phi, s, m = noisy.labels.T
    s0, m0 = pendulum_factors(theta, phi)
    assert np.abs(m - m0).max() > 0.3 and np.abs(s - s0).max() > 0.3
    clean = _features(render_pendulum(theta, phi, size=32))
    assert np.mean(np.any(clean != noisy.X, axis=1)) > 0.5


def test_check_nondegenerate_separates_deterministic_and_noisy_effects(grid0, grid_noisy):
    assert check_nondegenerate(grid0) > 0.995
    r2 = check_nondegenerate(grid_noisy)
    assert 0.9 < r2 < 0.995
    s = grid_noisy.truth.Z[:, 2]
    assert s.min() > 1.0 and np.mean(s == 3.0) == 0.0  # the point mass is gone


# ---------------------------------------------------------------------------- renderer


def test_render_shapes_chunks_and_margins():
    theta = np.linspace(-0.6, 0.65, 11)
    phi = np.linspace(0.95, 2.3, 11)
    images = render_pendulum(theta, phi, size=64)
    assert images.shape == (11, 64, 64, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(render_pendulum(theta, phi, size=64, chunk=4), images)
    assert render_pendulum(0.1, 1.2, size=16).shape == (1, 16, 16, 3)
    # Compat layout: white outside the axes box (x in [8, 57.6], y in [7.68, 56.96] px at 64 px).
    white = np.all(images == 255, axis=-1)
    assert white[:, :, :8].all() and white[:, :, 58:].all()
    assert white[:, :7, :].all() and white[:, 57:, :].all()
    full = render_pendulum(theta, phi, size=64, layout="full")
    assert not np.array_equal(full, images)
    assert not np.all(full[:, :, :4] == 255)  # the data window reaches the border


def test_render_scene_cues():
    # The sun moves right to left as the light angle grows (the visible cue for light).
    phi = np.deg2rad([60.0, 75.0, 105.0, 120.0])
    images = render_pendulum(np.zeros(4), phi, size=64).astype(int)
    orange = (images[..., 1] - images[..., 2]) > ORANGE_G_MINUS_B
    cols = np.arange(64)
    sun_x = [(o.sum(0) * cols).sum() / o.sum() for o in orange]
    assert np.all(np.diff(sun_x) < -1)
    # Ball over the rod: the ball centre is firebrick.
    theta = np.deg2rad(30.0)
    img = render_pendulum(theta, math.pi / 3, size=96)[0]
    c = int(12 + (10 + 8 * math.sin(theta)) * 0.775 * 96 / 20)
    r = int(96 - (0.11 + (10.5 - 8 * math.cos(theta) + 1) / 22 * 0.77) * 96)
    np.testing.assert_array_equal(img[r, c], (178, 34, 34))
    # The shadow falls on the far side from the sun: sun on the right, shadow left of the pivot.
    _, m = pendulum_factors(0.0, math.pi / 3)
    assert m[0] < 10.0 < 10 + 10 / math.tan(math.pi / 3)


def test_explicit_shadow_is_drawn():
    base = render_pendulum(0.0, 1.2, size=64)
    longer = render_pendulum(0.0, 1.2, length=10.0, size=64)
    s, m = pendulum_factors(0.0, 1.2)
    np.testing.assert_array_equal(render_pendulum(0.0, 1.2, s, m, size=64), base)
    changed = np.flatnonzero(np.any(base != longer, axis=(0, 2, 3)))
    assert changed.size and changed.min() >= 50  # only the ground band changes
    dark = lambda img: (img[0].max(-1) < 128).sum()  # noqa: E731
    assert dark(longer) > dark(base)


# ---------------------------------------------------------------------------- counterfactuals


def test_counterfactual_with_factual_angle_reproduces_the_image(noisy):
    images, factors = render_counterfactual(noisy, {"angle": noisy.truth.Z[:, 0]})
    assert images.shape == (48, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(factors, noisy.truth.Z)
    np.testing.assert_array_equal(_features(images), noisy.X)


@pytest.mark.parametrize("noise_scale", [0.0, 0.15])
@pytest.mark.parametrize("root", ["angle", "light"])
def test_do_root_recomputes_effects_with_the_same_noise(root, noise_scale):
    p = pendulum_problem(n=16, size=32, noise_scale=noise_scale, random_state=4)
    theta, phi = p.truth.Z[:, 0], p.truth.Z[:, 1]
    rows = np.array([1, 3, 5, 7])
    value = 0.3 if root == "angle" else np.deg2rad([60.0, 70.0, 110.0, 120.0])
    images, f = render_counterfactual(p, {root: value}, rows=rows)
    new_theta = np.full(4, 0.3) if root == "angle" else theta[rows]
    new_phi = phi[rows] if root == "angle" else value
    np.testing.assert_array_equal(f[:, 0], new_theta)
    np.testing.assert_array_equal(f[:, 1], new_phi)
    s, m = pendulum_factors(
        new_theta,
        new_phi,
        p.truth.noise["eps_s"][rows],
        p.truth.noise["eps_m"][rows],
        noise_scale=noise_scale,
    )
    np.testing.assert_allclose(f[:, 2], s, rtol=1e-12)
    np.testing.assert_allclose(f[:, 3], m, rtol=1e-12)
    assert np.all(np.abs(f[:, 3] - p.truth.Z[rows, 3]) > 1e-6)
    np.testing.assert_array_equal(images, render_pendulum(*f.T, size=32))


def test_do_length_sets_only_length_and_flags_off_manifold(noisy, caplog):
    rows = np.arange(10)
    with caplog.at_level(logging.WARNING, logger="simulators.pendulum"):
        images, f = render_counterfactual(noisy, {"length": 9.0}, rows=rows)
    assert any(
        "off the data manifold" in r.getMessage() or "low-density" in r.getMessage()
        for r in caplog.records
    )
    z = noisy.truth.Z[rows]
    np.testing.assert_array_equal(f[:, [0, 1, 3]], z[:, [0, 1, 3]])
    np.testing.assert_array_equal(f[:, 2], 9.0)
    factual = noisy.X[rows].reshape(10, 3, 32, 32).transpose(0, 2, 3, 1)
    cf = images.astype(np.float32) / np.float32(255.0)
    np.testing.assert_array_equal(cf[:, :26], factual[:, :26])  # rod, ball and sun unchanged
    assert np.any(cf != factual)


def test_do_mid_and_roots_together_with_per_row_values(noisy):
    rows = [0, 2, 4]
    images, f = render_counterfactual(noisy, {"mid": [5.0, 10.0, 15.0], "angle": 0.1}, rows=rows)
    np.testing.assert_array_equal(f[:, 3], [5.0, 10.0, 15.0])
    s, _ = pendulum_factors(
        np.full(3, 0.1),
        noisy.truth.Z[rows, 1],
        noisy.truth.noise["eps_s"][rows],
        noisy.truth.noise["eps_m"][rows],
        noise_scale=0.15,
    )
    np.testing.assert_allclose(f[:, 2], s, rtol=1e-12)
    assert images.shape == (3, 32, 32, 3)


def test_counterfactual_on_a_split_uses_that_split_noise(noisy):
    _, test = noisy.split(0.25, random_state=0)
    images, f = render_counterfactual(test, {"angle": test.truth.Z[:, 0]})
    np.testing.assert_array_equal(_features(images), test.X)


def test_counterfactual_rejects_unknown_names_and_bad_values(noisy):
    with pytest.raises(UnknownNameError, match=r"angle.*light.*length.*mid.*'shadow'"):
        render_counterfactual(noisy, {"shadow": 1.0})
    with pytest.raises(CRLError, match=r"do\['angle'\]"):
        render_counterfactual(noisy, {"angle": [0.1, 0.2]}, rows=[0, 1, 2])
    with pytest.raises(CRLError, match=r"do\['length'\]"):
        render_counterfactual(noisy, {"length": -1.0})
    with pytest.raises(CRLError, match=r"do\['light'\]"):
        render_counterfactual(noisy, {"light": 0.0})
    with pytest.raises(CRLError, match=r"^rows:"):
        render_counterfactual(noisy, {"angle": 0.0}, rows=[100])
    with pytest.raises(CRLError, match=r"^problem:"):
        render_counterfactual("not a problem", {"angle": 0.0})


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: pendulum_problem(size=7), "size"),
        (lambda: pendulum_problem(layout="square"), "layout"),
        (lambda: pendulum_problem(noise_scale=-0.1), "noise_scale"),
        (lambda: pendulum_problem(n=0), "n"),
        (lambda: pendulum_problem(mode="lattice"), "mode"),
        (lambda: pendulum_problem(flatten="yes"), "flatten"),
        (lambda: pendulum_problem(random_state="seed"), "random_state"),
        (lambda: render_pendulum(0.1, 1.0, size=4), "size"),
        (lambda: render_pendulum(0.1, 1.0, layout="tight"), "layout"),
        (lambda: render_pendulum(0.1, 1.0, supersample=0), "supersample"),
        (lambda: render_pendulum(0.1, 0.0), "phi"),
        (lambda: render_pendulum(np.nan, 1.0), "theta"),
        (lambda: render_pendulum(0.1, 1.0, length=-2.0), "length"),
        (lambda: render_pendulum([0.1, 0.2], [1.0, 1.1, 1.2]), "theta, phi"),
        (lambda: pendulum_factors(0.1, 1.0, noise_scale=0.1), "eps_s"),
        (lambda: pendulum_factors(0.1, 1.0, noise_scale=-1.0), "noise_scale"),
        (lambda: shadow_geometry(0.1, 3.5), "phi"),
    ],
)
def test_bad_input_raises_a_crl_error_naming_the_argument(call, argument):
    with pytest.raises(CRLError, match=rf"^{argument}: expected"):
        call()
