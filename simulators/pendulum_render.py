"""The Pendulum scene: its structural equations and a vectorised numpy rasteriser.

Public names are re-exported by :mod:`simulators.pendulum`, the user-facing module.

**Scene.** Data coordinates ``x in [0, 20]``, ``y in [-1, 21]`` of a 1 x 1
inch matplotlib figure (CausalVAE's generator); an image is that figure at
``size`` dots per inch. Painted in order on white: rod (black, 3 pt), ball
(firebrick disk), sun (orange disk, clipped at the top), shadow (black, 3 pt).

**Rasteriser.** Every primitive is a boolean mask on a grid of ``q * size``
sub-pixels per side (centre sampling), painted in order into a label canvas,
then box-filtered to ``size`` (antialiasing). Only the window a primitive can
touch is evaluated (a bounding box of one size per batch).

Geometry follows matplotlib's (see ``shared/reference/pendulum.md`` §2, §7):
the axes box of the default subplot parameters, lines 3 pt wide with butt
ends, and circles grown by half of matplotlib's default 1 pt patch edge
(drawn in the face colour). Matplotlib's pixel snapping of horizontal paths
and its rounding of the clip box to whole pixels are *not* reproduced: they
quantise the shadow to the output grid and, at 32 px, clip the shadow away.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from crl.exceptions import ValidationError
from crl.validation import check_array, check_choice, check_float, check_int

__all__ = [
    "PENDULUM_LAYOUTS",
    "PENDULUM_PALETTE",
    "PENDULUM_STD0",
    "shadow_geometry",
    "pendulum_factors",
    "render_pendulum",
    "iter_render",
]

#: Standard deviations of (length, mid) over the original 7,308-image grid; they scale the noise.
PENDULUM_STD0 = (2.37, 3.43)

#: Layouts. ``"compat"``: the data window sits in matplotlib's default axes box
#: (figure fractions x in [0.125, 0.9], y in [0.11, 0.88]), white margins and
#: non-square data units, as in the published images. ``"full"``: the data
#: window fills the image.
PENDULUM_LAYOUTS = ("compat", "full")

#: Colours (RGB, uint8) of the canvas labels 0..3: background, rod/shadow, ball, sun.
PENDULUM_PALETTE = ((255, 255, 255), (0, 0, 0), (178, 34, 34), (255, 165, 0))

# Axes boxes as figure fractions (left, right, bottom, top).
_BOXES = {"compat": (0.125, 0.9, 0.11, 0.88), "full": (0.0, 1.0, 0.0, 1.0)}
_XLIM = (0.0, 20.0)
_YLIM = (-1.0, 21.0)
_PIVOT = (10.0, 10.5)
_ROD = 8.0
_BALL_RADIUS = 1.5
_SUN_RADIUS = 3.0
_SUN_Y = 20.5
_SHADOW_Y = -0.5
_LINE_PT = 3.0  # rod and shadow: linewidth=3 (points)
# Circles: matplotlib's default patch edge (1 pt, same colour) widens each disk by 0.5 pt.
_EDGE_PT = 1.0
_BLACK, _BALL, _SUN = 1, 2, 3
_HARD_FLOOR = 3.0  # the original generator: s = max(3, |a - b|)


# ---------------------------------------------------------------------------- factors


def _as_vector(value, name: str) -> np.ndarray:
    """A finite scalar or 1-D array as a float array of ndim 1."""
    arr = check_array(value, name, ndim=(0, 1), min_rows=0)
    return np.atleast_1d(arr)


def _broadcast(**arrays) -> list[np.ndarray]:
    """Broadcast named arrays to one shape (contiguous float copies); the error names them."""
    try:
        out = np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise ValidationError(
            f"{', '.join(arrays)}: expected shapes that broadcast together, got {shapes}"
        ) from None
    return [np.ascontiguousarray(a, dtype=float) for a in out]


def _check_light(phi: np.ndarray, name: str = "phi") -> None:
    """Light must come from above the horizon: ``0 < phi < pi``."""
    bad = (phi <= 0.0) | (phi >= np.pi)
    if bad.any():
        raise ValidationError(
            f"{name}: expected light angles in (0, pi) radians (light from above the horizon), "
            f"got {int(bad.sum())} values outside, e.g. {float(phi[bad][0])}"
        )


def shadow_geometry(theta, phi) -> tuple[np.ndarray, np.ndarray]:
    """Where the light projects the pivot and the ball's far edge onto the ground.

    ``a = proj(P)`` and ``b = proj(T)`` on the line ``y = -0.5``, for the pivot
    ``P = (10, 10.5)`` and the tip ``T = (10 + 9.5 sin θ, 10.5 - 9.5 cos θ)``::

        a = 10 - 11 / tan φ,    b = 10 + 9.5 sin θ - (11 - 9.5 cos θ) / tan φ.

    Parameters
    ----------
    theta : float or array_like of shape (n,)
        Pendulum angle in radians (0 = hanging straight down).
    phi : float or array_like of shape (n,)
        Light angle in radians, in ``(0, pi)`` (``pi / 2`` = light from straight above).

    Returns
    -------
    a, b : ndarray of shape (n,)
        Ground abscissae (data units) of the shadows of the pivot and of the tip.

    Raises
    ------
    ValidationError
        Non-finite values, shapes that do not broadcast, or ``phi`` outside ``(0, pi)``.
    """
    theta, phi = _broadcast(theta=_as_vector(theta, "theta"), phi=_as_vector(phi, "phi"))
    _check_light(phi)
    cot = np.cos(phi) / np.sin(phi)
    a = 10.0 - 11.0 * cot
    b = 10.0 + 9.5 * np.sin(theta) - (11.0 - 9.5 * np.cos(theta)) * cot
    return a, b


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v)


def pendulum_factors(
    theta,
    phi,
    eps_s=None,
    eps_m=None,
    *,
    noise_scale: float = 0.0,
    floor: float | None = _HARD_FLOOR,
    std0: tuple[float, float] = PENDULUM_STD0,
) -> tuple[np.ndarray, np.ndarray]:
    """Shadow length and centre caused by (θ, φ), with optional exogenous noise.

    With ``a, b = shadow_geometry(theta, phi)``:

    - ``noise_scale == 0``: ``s = max(floor, |a - b|)`` and ``m = (a + b) / 2``
      (the original generator with ``floor=3.0``; ``eps_s``/``eps_m`` are ignored);
    - ``noise_scale = σ > 0``: ``s = 1 + softplus(|a - b| + σ std0[0] eps_s - 1)``
      (a smooth floor at 1, no point mass) and ``m = (a + b) / 2 + σ std0[1] eps_m``.

    Parameters
    ----------
    theta, phi : float or array_like of shape (n,)
        Pendulum and light angles in radians (``0 < phi < pi``).
    eps_s, eps_m : float or array_like of shape (n,), optional
        Standard-normal exogenous noise of length and mid; required when
        ``noise_scale > 0``.
    noise_scale : float, >= 0
        σ, the noise standard deviation in units of ``std0``.
    floor : float or None
        Hard lower bound of ``s`` in the noise-free mode (None: no floor).
        Not used when ``noise_scale > 0``.
    std0 : (float, float)
        Scales of the noise on (length, mid); default the grid's standard deviations.

    Returns
    -------
    length, mid : ndarray of shape (n,)
        ``s`` and ``m`` in data units.

    Raises
    ------
    ValidationError
        Bad shapes or values, or missing noise when ``noise_scale > 0``.
    """
    noise_scale = check_float(noise_scale, "noise_scale", minimum=0.0)
    if noise_scale == 0.0:
        a, b = shadow_geometry(theta, phi)
        raw_s, raw_m = np.abs(a - b), 0.5 * (a + b)
        if floor is None:
            return raw_s, raw_m
        floor = check_float(floor, "floor", minimum=0.0)
        return np.maximum(floor, raw_s), raw_m
    for name, eps in (("eps_s", eps_s), ("eps_m", eps_m)):
        if eps is None:
            raise ValidationError(
                f"{name}: expected standard-normal noise values when noise_scale > 0, got None"
            )
    if np.ndim(std0) != 1 or len(std0) != 2:
        raise ValidationError(
            f"std0: expected two non-negative numbers (length, mid), got {std0!r}"
        )
    sd_s = check_float(std0[0], "std0[0]", minimum=0.0)
    sd_m = check_float(std0[1], "std0[1]", minimum=0.0)
    theta, phi, e_s, e_m = _broadcast(
        theta=_as_vector(theta, "theta"),
        phi=_as_vector(phi, "phi"),
        eps_s=_as_vector(eps_s, "eps_s"),
        eps_m=_as_vector(eps_m, "eps_m"),
    )
    a, b = shadow_geometry(theta, phi)
    s = 1.0 + _softplus(np.abs(a - b) + noise_scale * sd_s * e_s - 1.0)
    m = 0.5 * (a + b) + noise_scale * sd_m * e_m
    return s, m


# ---------------------------------------------------------------------------- rendering


def _check_render_options(size, layout, supersample, chunk) -> tuple[int, str, int, int]:
    size = check_int(size, "size", minimum=8)
    layout = check_choice(layout, "layout", PENDULUM_LAYOUTS)
    supersample = check_int(supersample, "supersample", minimum=1, maximum=8)
    chunk = check_int(chunk, "chunk", minimum=1)
    return size, layout, supersample, chunk


def _scene(theta, phi, length, mid) -> list[np.ndarray]:
    """Validated, broadcast scene parameters; missing effects come from the noise-free factors."""
    theta, phi = _broadcast(theta=_as_vector(theta, "theta"), phi=_as_vector(phi, "phi"))
    _check_light(phi)
    if length is None or mid is None:
        s0, m0 = pendulum_factors(theta, phi)
        length = s0 if length is None else length
        mid = m0 if mid is None else mid
    theta, phi, length, mid = _broadcast(
        theta=theta, phi=phi, length=_as_vector(length, "length"), mid=_as_vector(mid, "mid")
    )
    if (length < 0).any():
        raise ValidationError(
            f"length: expected shadow lengths >= 0, got minimum {float(length.min())}"
        )
    return [theta, phi, length, mid]


def render_pendulum(
    theta,
    phi,
    length=None,
    mid=None,
    *,
    size: int = 64,
    layout: str = "compat",
    supersample: int = 2,
    chunk: int = 512,
) -> np.ndarray:
    """Render Pendulum images (numpy only), as the original matplotlib generator draws them.

    Painted in order on white: the rod (black, 3 pt), the ball (firebrick disk
    of radius 1.5), the sun (orange disk of radius 3 centred at
    ``(10 + 10 / tan φ, 20.5)``, clipped at the top) and the shadow (black, 3 pt,
    from ``mid - length / 2`` to ``mid + length / 2`` at ``y = -0.5``). Disks
    carry matplotlib's 1 pt patch edge. Same inputs give the same bytes,
    whatever ``chunk``.

    Parameters
    ----------
    theta, phi : float or array_like of shape (n,)
        Pendulum and light angles in radians (``0 < phi < pi``).
    length, mid : float or array_like of shape (n,), optional
        Shadow length (>= 0) and centre in data units. When given they define
        the drawn shadow (noisy factors, counterfactuals); when omitted the
        noise-free factors of :func:`pendulum_factors` are drawn.
    size : int, >= 8
        Image side in pixels (the figure is one inch at ``size`` dpi).
    layout : {"compat", "full"}
        ``"compat"``: matplotlib's default axes box, as in the published
        images (white margins, non-square data units). ``"full"``: the data
        window fills the image (better use of pixels at small sizes; not the
        published look).
    supersample : int, 1 to 8
        Sub-pixels per pixel along each axis (antialiasing by box filter).
    chunk : int, >= 1
        Images rendered per batch (bounds memory).

    Returns
    -------
    images : ndarray of shape (n, size, size, 3), uint8
        RGB images, row 0 at the top.

    Raises
    ------
    ValidationError, UnknownNameError
        Bad values or shapes (the message names the argument), unknown layout.
    """
    size, layout, supersample, chunk = _check_render_options(size, layout, supersample, chunk)
    theta, phi, length, mid = _scene(theta, phi, length, mid)
    out = np.empty((theta.shape[0], size, size, 3), dtype=np.uint8)
    for start, stop, images in iter_render(
        theta, phi, length, mid, size=size, layout=layout, supersample=supersample, chunk=chunk
    ):
        out[start:stop] = images
    return out


def iter_render(
    theta, phi, length, mid, *, size: int, layout: str, supersample: int, chunk: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Render scenes in chunks of rows.

    Parameters
    ----------
    theta, phi, length, mid : ndarray of shape (n,), float
        Pendulum angle and light angle (radians), shadow length and centre
        (data units). Validated by the caller: finite, ``0 < phi < pi``,
        ``length >= 0``.
    size : int
        Output side in pixels.
    layout : {"compat", "full"}
    supersample : int
        Sub-pixels per pixel along each axis (1 to 8).
    chunk : int
        Rows per batch (bounds memory: about ``chunk * (q * size)**2`` bytes
        of canvas plus ``6 * chunk * size**2`` of accumulator).

    Yields
    ------
    start, stop : int
        Rows ``start:stop`` of the input.
    images : ndarray of shape (stop - start, size, size, 3), uint8
    """
    total = theta.shape[0]
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        sl = slice(start, stop)
        yield (
            start,
            stop,
            _render_chunk(theta[sl], phi[sl], length[sl], mid[sl], size, layout, supersample),
        )


# ---------------------------------------------------------------------------- raster internals


@dataclass(frozen=True)
class _Frame:
    """Data-to-sub-pixel map of a ``size`` px image supersampled ``q`` times (row 0 at the top)."""

    size: int
    q: int
    box: tuple[float, float, float, float]

    @property
    def n(self) -> int:
        """Sub-pixels per side."""
        return self.size * self.q

    @property
    def sx(self) -> float:
        """Sub-pixels per data unit along x."""
        return (self.box[1] - self.box[0]) * self.n / (_XLIM[1] - _XLIM[0])

    @property
    def sy(self) -> float:
        """Sub-pixels per data unit along y."""
        return (self.box[3] - self.box[2]) * self.n / (_YLIM[1] - _YLIM[0])

    @property
    def points(self) -> float:
        """Sub-pixels per typographic point (the figure is one inch wide)."""
        return self.n / 72.0

    def px(self, x):
        """Column coordinate (continuous, sub-pixel units) of data abscissa ``x``."""
        return (
            self.box[0]
            + (np.asarray(x) - _XLIM[0]) / (_XLIM[1] - _XLIM[0]) * (self.box[1] - self.box[0])
        ) * self.n

    def py(self, y):
        """Row coordinate (continuous, sub-pixel units, downwards) of data ordinate ``y``."""
        frac = self.box[2] + (np.asarray(y) - _YLIM[0]) / (_YLIM[1] - _YLIM[0]) * (
            self.box[3] - self.box[2]
        )
        return (1.0 - frac) * self.n

    def inside_cols(self) -> np.ndarray:
        """Boolean (n,): sub-pixel columns whose centre lies in the axes box (the clip box)."""
        c = np.arange(self.n) + 0.5
        return (c >= self.box[0] * self.n) & (c <= self.box[1] * self.n)

    def inside_rows(self) -> np.ndarray:
        """Boolean (n,): sub-pixel rows whose centre lies in the axes box (the clip box)."""
        r = np.arange(self.n) + 0.5
        return (r >= (1.0 - self.box[3]) * self.n) & (r <= (1.0 - self.box[2]) * self.n)


def _window(lo, extent: int, n: int) -> np.ndarray:
    """Start indices (B,) of windows of ``extent`` cells from ``floor(lo)``, shifted inside ``[0, n)``."""
    lo = np.clip(np.floor(np.clip(lo, -2.0 * n, 2.0 * n)), 0, n - extent)
    return lo.astype(np.intp)


def _paint(canvas, label: int, rows, cols, mask, clip) -> None:
    """Set ``canvas[b, rows[b, h], cols[b, w]] = label`` where ``mask[b, h, w]`` and inside ``clip``."""
    in_rows, in_cols = clip
    mask &= in_rows[rows][:, :, None] & in_cols[cols][:, None, :]
    b, h, w = np.nonzero(mask)
    canvas[b, rows[b, h], cols[b, w]] = label


def _paint_ellipse(canvas, label: int, cx, cy, rx: float, ry: float, clip) -> None:
    """Paint filled ellipses, centres ``(cx, cy)`` (B,) and radii ``(rx, ry)``, in sub-pixels."""
    n = canvas.shape[1]
    hh, ww = min(int(np.ceil(2 * ry)) + 3, n), min(int(np.ceil(2 * rx)) + 3, n)
    rows = _window(cy - ry - 1.0, hh, n)[:, None] + np.arange(hh)
    cols = _window(cx - rx - 1.0, ww, n)[:, None] + np.arange(ww)
    u = ((cols + 0.5) - cx[:, None]) / rx
    v = ((rows + 0.5) - cy[:, None]) / ry
    _paint(canvas, label, rows, cols, v[:, :, None] ** 2 + u[:, None, :] ** 2 <= 1.0, clip)


def _paint_segment(canvas, label: int, x0, y0, x1, y1, half_width: float, clip) -> None:
    """Paint thick segments with butt ends from ``(x0, y0)`` to ``(x1, y1)``, all (B,), in sub-pixels."""
    n = canvas.shape[1]
    hh = min(int(np.ceil(np.max(np.abs(y1 - y0), initial=0.0) + 2 * half_width)) + 3, n)
    ww = min(int(np.ceil(np.max(np.abs(x1 - x0), initial=0.0) + 2 * half_width)) + 3, n)
    rows = _window(np.minimum(y0, y1) - half_width - 1.0, hh, n)[:, None] + np.arange(hh)
    cols = _window(np.minimum(x0, x1) - half_width - 1.0, ww, n)[:, None] + np.arange(ww)
    dx, dy = (x1 - x0)[:, None, None], (y1 - y0)[:, None, None]
    length2 = dx * dx + dy * dy
    vx = (cols + 0.5 - x0[:, None])[:, None, :]
    vy = (rows + 0.5 - y0[:, None])[:, :, None]
    along = vx * dx + vy * dy  # t |d|^2, t in [0, 1] between the butt ends
    across = vx * dy - vy * dx  # distance to the axis times |d|
    mask = (along >= 0.0) & (along <= length2) & (across * across <= half_width**2 * length2)
    _paint(canvas, label, rows, cols, mask, clip)


def _render_chunk(theta, phi, length, mid, size: int, layout: str, q: int) -> np.ndarray:
    """Render one batch; all inputs are validated float arrays of shape (B,)."""
    f = _Frame(size=size, q=q, box=_BOXES[layout])
    B, n = theta.shape[0], f.n
    clip = (f.inside_rows(), f.inside_cols())
    canvas = np.zeros((B, n, n), dtype=np.uint8)
    half_line = 0.5 * _LINE_PT * f.points
    edge = 0.5 * _EDGE_PT * f.points

    # Rod, from the pivot to the ball centre.
    bx, by = f.px(_PIVOT[0] + _ROD * np.sin(theta)), f.py(_PIVOT[1] - _ROD * np.cos(theta))
    pivot = np.full(B, float(f.px(_PIVOT[0]))), np.full(B, float(f.py(_PIVOT[1])))
    _paint_segment(canvas, _BLACK, *pivot, bx, by, half_line, clip)
    # Ball over the rod.
    rx, ry = _BALL_RADIUS * f.sx + edge, _BALL_RADIUS * f.sy + edge
    _paint_ellipse(canvas, _BALL, bx, by, rx, ry, clip)
    # Sun, where the light ray through the pivot meets y = 20.5.
    sun_x = f.px(_PIVOT[0] + (_SUN_Y - _PIVOT[1]) * np.cos(phi) / np.sin(phi))
    sun_y = np.full(B, float(f.py(_SUN_Y)))
    rx, ry = _SUN_RADIUS * f.sx + edge, _SUN_RADIUS * f.sy + edge
    _paint_ellipse(canvas, _SUN, sun_x, sun_y, rx, ry, clip)
    # Shadow: a horizontal segment; the same band of rows in every image.
    yc = float(f.py(_SHADOW_Y))
    centres = np.arange(n) + 0.5
    band = np.flatnonzero((np.abs(centres - yc) <= half_line) & clip[0])
    if band.size:
        lo, hi = f.px(mid - 0.5 * length), f.px(mid + 0.5 * length)
        on = (centres >= lo[:, None]) & (centres <= hi[:, None]) & clip[1]  # (B, n)
        strip = canvas[:, band[0] : band[-1] + 1, :]
        strip[np.broadcast_to(on[:, None, :], strip.shape)] = _BLACK
    return _downsample(canvas, q)


def _downsample(canvas: np.ndarray, q: int) -> np.ndarray:
    """Box filter of ``q`` x ``q`` sub-pixels: label canvas (B, qS, qS) -> RGB uint8 (B, S, S, 3).

    Counts the sub-pixels of each colour per pixel and mixes the palette with
    exact integer arithmetic (round half up).
    """
    q2 = q * q
    counts = []
    for label in range(1, len(PENDULUM_PALETTE)):
        hit = (canvas == label).view(np.uint8)
        total = hit[:, 0::q, 0::q].astype(np.int16)
        for dy in range(q):
            for dx in range(q):
                if dy or dx:
                    total += hit[:, dy::q, dx::q]
        counts.append(total)
    B, S = canvas.shape[0], canvas.shape[1] // q
    out = np.empty((B, S, S, 3), dtype=np.uint8)
    white = PENDULUM_PALETTE[0]
    for c in range(3):
        value = np.full((B, S, S), white[c] * q2 + q2 // 2, dtype=np.int16)
        for label, total in enumerate(counts, start=1):
            delta = PENDULUM_PALETTE[label][c] - white[c]
            if delta:
                value += total * np.int16(delta)
        out[..., c] = value // q2
    return out
