"""Fit an oriented box to the points of one object, and estimate the ground height near a point.

Both work on an (M, 3) point array in metres with z up (scene or sensor
frame, as long as +z is roughly vertical). Boxes come back in the layout of
:mod:`pointcloud.boxes`: float64 ``[cx, cy, cz, length, width, height, yaw]``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.boxes import InvalidGeometryError, as_points, normalize_yaw

__all__ = ["FitError", "fit_box", "grow_to_prior", "ground_height"]

MIN_SIZE = 0.01
"""Metres: the smallest length, width or height ``fit_box`` returns (a flat side seen edge-on)."""
SEARCH_POINTS = 2000
"""At most this many points (an even stride) score each yaw candidate."""
CLOSENESS_FLOOR = 0.02
"""Metres: distances to the rectangle's edge below this count as this (Zhang et al.'s d0)."""
NEIGHBOURS = 3
"""An outlier candidate has its NEIGHBOURS-th nearest neighbour unusually far away."""
OUTLIER_MIN_DISTANCE = 0.15
"""Metres: a point whose NEIGHBOURS-th neighbour is closer than this is never an outlier."""
BELOW_PENALTY = 3
"""RANSAC ground score: inliers minus this many per candidate cell that lies below the plane."""
EDGE_BAND = 0.15
"""Metres: points this close to one side of the coarse rectangle refine that side's direction."""
COMPLETE = 1.0
"""A fitted side at least this share of the class's typical one counts as fully seen (1: grow to at
least the typical size)."""


class FitError(InvalidGeometryError):
    """Too few (finite) points to fit a box to."""

    code = "fit_failed"


def _finite_points(points: ArrayLike, minimum: int) -> NDArray[np.float64]:
    pts = as_points(points).astype(np.float64)
    if not np.isfinite(pts).all():
        raise InvalidGeometryError("points contain a non-finite value")
    if pts.shape[0] < minimum:
        raise FitError(f"need at least {minimum} points, got {pts.shape[0]}")
    return pts


def _outlier_mask(pts: NDArray[np.float64], fraction: float) -> NDArray[np.bool_]:
    """(M,) True for isolated points: at most ``fraction * M`` of them, the most isolated first.

    Isolation is the distance to the NEIGHBOURS-th nearest neighbour (open3d
    k-d tree); a point is a candidate when that exceeds both
    OUTLIER_MIN_DISTANCE and 3x the median of the cloud.
    """
    m = pts.shape[0]
    budget = int(math.floor(fraction * m))
    outlier = np.zeros(m, dtype=np.bool_)
    if budget == 0 or m <= NEIGHBOURS + 1:
        return outlier
    import open3d as o3d

    tensor = o3d.core.Tensor(pts, o3d.core.float64, o3d.core.Device("CPU:0"))
    nns = o3d.core.nns.NearestNeighborSearch(tensor)
    nns.knn_index()
    _, dist2 = nns.knn_search(tensor, NEIGHBOURS + 1)
    isolation = np.sqrt(dist2.numpy()[:, -1].astype(np.float64))
    limit = max(OUTLIER_MIN_DISTANCE, 3.0 * float(np.median(isolation)))
    candidates = np.flatnonzero(isolation > limit)
    worst = candidates[np.argsort(isolation[candidates])[::-1][:budget]]
    outlier[worst] = True
    return outlier


def _support(m: int) -> int:
    """Rank of the order statistic used as a rectangle bound: ignores a few stray points."""
    return 0 if m < 50 else 2 + m // 1000


def _bounds(u: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Robust (lo, hi) of each row of ``u`` (C, M): the k-th smallest and k-th largest values."""
    k = _support(u.shape[-1])
    part = np.partition(u, (k, u.shape[-1] - 1 - k), axis=-1)
    return part[..., k : k + 1], part[..., -1 - k : u.shape[-1] - k]


def _closeness(xy: NDArray[np.float64], thetas: NDArray[np.float64]) -> NDArray[np.float64]:
    """L-shape closeness score of each candidate yaw (C,) for BEV points (M, 2); higher is better.

    For a rectangle aligned with ``theta`` that bounds the points, every point
    scores ``1 / max(d, CLOSENESS_FLOOR)`` where ``d`` is its distance to the
    nearest edge (Zhang et al., "Efficient L-Shape Fitting for Vehicle
    Detection Using Laser Scanners", 2017). Points on two visible sides score
    high only when the rectangle is aligned with those sides.
    """
    c, s = np.cos(thetas)[:, None], np.sin(thetas)[:, None]
    dist = []
    for u in (c * xy[:, 0] + s * xy[:, 1], -s * xy[:, 0] + c * xy[:, 1]):
        lo, hi = _bounds(u)
        dist.append(np.minimum(np.abs(hi - u), np.abs(u - lo)))
    d = np.maximum(np.minimum(dist[0], dist[1]), CLOSENESS_FLOOR)
    return np.asarray((1.0 / d).sum(axis=1), dtype=np.float64)


def _scatter(
    xy: NDArray[np.float64], u: NDArray[np.float64], lo: float, hi: float
) -> NDArray[np.float64]:
    """Summed 2x2 scatter of the points on the line ``u = lo`` and of those on ``u = hi``.

    When the two lines are closer than 2 * EDGE_BAND they are one line (a thin object seen edge-on).
    """
    at_lo = (
        np.abs(u - lo) <= np.abs(u - hi)
        if hi - lo >= 2.0 * EDGE_BAND
        else np.ones(u.shape, np.bool_)
    )
    total = np.zeros((2, 2))
    for part in (xy[at_lo], xy[~at_lo]):
        if part.shape[0] >= 2:
            centred = part - part.mean(axis=0)
            total += centred.T @ centred
    return total


def _near_sides(u: NDArray[np.float64], lo: float, hi: float) -> NDArray[np.bool_]:
    """Points within EDGE_BAND of the side ``u = lo`` or ``u = hi`` (all of them for a thin object)."""
    if hi - lo < 2.0 * EDGE_BAND:
        return np.ones(u.shape, np.bool_)
    return np.asarray(np.minimum(np.abs(u - lo), np.abs(u - hi)) <= EDGE_BAND)


def _refine_yaw(xy: NDArray[np.float64], theta: float) -> float:
    """Total-least-squares refinement of ``theta``: fit the rectangle's sides as perpendicular lines.

    Points within EDGE_BAND of exactly one pair of sides are assigned to it;
    the side normal ``n`` minimising ``n.S_u.n + (R90 n).S_v.(R90 n)`` (S: the
    sides' scatter matrices) is the smallest eigenvector of a 2x2 matrix.
    """
    for _ in range(2):
        c, s = math.cos(theta), math.sin(theta)
        u = xy[:, 0] * c + xy[:, 1] * s
        v = -xy[:, 0] * s + xy[:, 1] * c
        (ulo, uhi), (vlo, vhi) = (tuple(float(b[0]) for b in _bounds(w)) for w in (u, v))
        near_u, near_v = _near_sides(u, ulo, uhi), _near_sides(v, vlo, vhi)
        on_u, on_v = near_u & ~near_v, near_v & ~near_u
        if np.count_nonzero(on_u) + np.count_nonzero(on_v) < 2:
            return theta
        s_u = _scatter(xy[on_u], u[on_u], ulo, uhi)
        s_v = _scatter(xy[on_v], v[on_v], vlo, vhi)
        rotated = np.array([[s_v[1, 1], -s_v[0, 1]], [-s_v[0, 1], s_v[0, 0]]])
        _, vectors = np.linalg.eigh(s_u + rotated)
        normal = vectors[:, 0]
        theta = math.atan2(normal[1], normal[0]) % (math.pi / 2.0)
    return theta


def _search_yaw(xy: NDArray[np.float64]) -> float:
    """The rectangle orientation in [0, pi/2): closeness on a 1 degree grid and 0.1 degree, then TLS."""
    step = math.radians(1.0)
    thetas = np.arange(90, dtype=np.float64) * step
    best = float(thetas[np.argmax(_closeness(xy, thetas))])
    thetas = np.linspace(best - step, best + step, 21, dtype=np.float64)
    best = float(thetas[np.argmax(_closeness(xy, thetas))])
    return _refine_yaw(xy, best % (math.pi / 2.0))


def _pick_heading(
    theta: float, ext: tuple[float, float], yaw_hint: float | None
) -> tuple[float, float, float]:
    """(yaw, length, width) from the rectangle orientation ``theta`` and its extents along / across it."""
    if yaw_hint is None:
        yaw, length, width = (
            (theta, *ext) if ext[0] >= ext[1] else (theta + math.pi / 2.0, ext[1], ext[0])
        )
        yaw = normalize_yaw(yaw)
        if yaw <= -math.pi / 2.0 or yaw > math.pi / 2.0:
            yaw = normalize_yaw(yaw + math.pi)
        return yaw, length, width
    turns = np.arange(4)
    gaps = np.abs(normalize_yaw(theta + turns * (math.pi / 2.0) - yaw_hint))
    k = int(np.argmin(gaps))
    length, width = (ext[0], ext[1]) if k % 2 == 0 else (ext[1], ext[0])
    return normalize_yaw(theta + k * math.pi / 2.0), length, width


def fit_box(
    points: ArrayLike, *, yaw_hint: float | None = None, outlier_fraction: float = 0.05
) -> NDArray[np.float64]:
    """Fit a yaw-only box to an object's points: a new float64 (7,) ``[cx, cy, cz, l, w, h, yaw]``.

    ``points`` is (M, 3) in metres, z up, M >= 3: the object's points only
    (crop the ground away first, or it becomes part of the box).

    1. Up to ``outlier_fraction * M`` isolated points are dropped (see
       :func:`_outlier_mask`); dense points are never trimmed.
    2. The BEV orientation maximises the L-shape closeness criterion over
       0..90 degrees in 1 degree steps, refined to 0.01 degree.
    3. The box is the tightest rectangle of the kept points at that
       orientation, and their z range. With only two sides visible (as lidar
       sees a car) the centre is the centre of the *visible extent*, not of the
       whole object: it lies towards the sensor.

    Heading: without ``yaw_hint`` the length is the longer BEV side and the
    yaw (ambiguous by pi) is returned in (-pi/2, pi/2]. With ``yaw_hint``
    (radians) the yaw is the one of the four rectangle directions closest to
    the hint, and the length is the extent along it (possibly the shorter one).
    Sizes are at least MIN_SIZE. Raises FitError for fewer than 3 points.
    """
    if not 0.0 <= outlier_fraction < 0.5:
        raise InvalidGeometryError(f"outlier_fraction must be in [0, 0.5), got {outlier_fraction}")
    pts = _finite_points(points, 3)
    pts = pts[~_outlier_mask(pts, outlier_fraction)]
    origin = pts.mean(axis=0)
    local = pts - origin
    stride = max(1, local.shape[0] // SEARCH_POINTS)
    theta = _search_yaw(local[::stride, :2])
    c, s = math.cos(theta), math.sin(theta)
    u = local[:, 0] * c + local[:, 1] * s
    v = -local[:, 0] * s + local[:, 1] * c
    (ulo, uhi), (vlo, vhi) = (tuple(float(b[0]) for b in _bounds(w)) for w in (u, v))
    mid_u, mid_v = (ulo + uhi) / 2.0, (vlo + vhi) / 2.0
    ext = (uhi - ulo, vhi - vlo)
    yaw, length, width = _pick_heading(theta, ext, yaw_hint)
    z_lo, z_hi = float(pts[:, 2].min()), float(pts[:, 2].max())
    centre = origin + np.array([mid_u * c - mid_v * s, mid_u * s + mid_v * c, 0.0])
    centre[2] = (z_lo + z_hi) / 2.0
    size = np.maximum([length, width, z_hi - z_lo], MIN_SIZE)
    return np.array([*centre, *size, yaw], dtype=np.float64)


def grow_to_prior(
    box: ArrayLike,
    prior: tuple[float, float, float],
    *,
    sensor: tuple[float, float] = (0.0, 0.0),
    complete: float = COMPLETE,
    bottom: float | None = None,
    height_complete: float = COMPLETE,
) -> NDArray[np.float64]:
    """Grow a fit of a partly seen object to its class's typical size: a new (7,) box.

    ``box`` is ``[cx, cy, cz, l, w, h, yaw]`` (metres, radians) fitted to the
    visible points; ``prior`` the class's typical (length, width, height) in
    metres; ``sensor`` the BEV position (metres, same frame) the object was
    seen from. A length or width shorter than ``complete`` times the prior's
    is taken as partly seen (one face, or a short L): the face nearer the
    sensor stays where it is and the box grows to the prior's size away from
    the sensor. A side that is long enough is kept as measured. A height short
    of ``complete`` times the prior's grows upwards (the bottom stays: the
    caller stands the box on the ground; a far object shows only its lowest
    scan lines).

    With ``bottom`` (metres, the ground height) the box first stands on it,
    and only a height below ``height_complete`` times the prior's grows
    upwards (a far object shows only a few scan lines).
    """
    out = np.array(box, dtype=np.float64).reshape(7)
    yaw = float(out[6])
    axes = (np.array([math.cos(yaw), math.sin(yaw)]), np.array([-math.sin(yaw), math.cos(yaw)]))
    to_sensor = np.asarray(sensor, dtype=np.float64) - out[:2]
    for i, axis in enumerate(axes):
        extent, typical = float(out[3 + i]), float(prior[i])
        if extent >= complete * typical:
            continue
        near = 1.0 if float(to_sensor @ axis) >= 0.0 else -1.0
        out[:2] -= axis * near * (typical - extent) / 2.0
        out[3 + i] = typical
    lo, hi = (out[2] - out[5] / 2.0 if bottom is None else bottom), out[2] + out[5] / 2.0
    if hi - lo < height_complete * prior[2]:
        hi = lo + prior[2]
    out[2], out[5] = (lo + hi) / 2.0, max(hi - lo, MIN_SIZE)
    return out


def _cell_minima(local: NDArray[np.float64], cell: float) -> NDArray[np.float64]:
    """The lowest point of each occupied ``cell`` x ``cell`` BEV grid cell, (C, 3)."""
    keys = np.floor(local[:, :2] / cell).astype(np.int64)
    order = np.lexsort((local[:, 2], keys[:, 1], keys[:, 0]))
    k = keys[order]
    first = np.ones(order.shape[0], dtype=np.bool_)
    first[1:] = (k[1:] != k[:-1]).any(axis=1)
    return local[order[first]]


def _ransac_plane(
    pts: NDArray[np.float64], threshold: float, max_slope: float, iterations: int
) -> NDArray[np.float64] | None:
    """Plane ``z = a x + b y + c`` (as [a, b, c]) with most points within ``threshold``; None if none fits."""
    rng = np.random.default_rng(0)
    tri = pts[rng.integers(0, pts.shape[0], size=(iterations, 3))]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    norm = np.linalg.norm(normal, axis=1)
    ok = np.abs(normal[:, 2]) > math.cos(math.atan(max_slope)) * norm
    if not ok.any():
        return None
    normal, tri = normal[ok], tri[ok]
    a, b = -normal[:, 0] / normal[:, 2], -normal[:, 1] / normal[:, 2]
    c = tri[:, 0, 2] - a * tri[:, 0, 0] - b * tri[:, 0, 1]
    resid = pts[None, :, 2] - (
        a[:, None] * pts[None, :, 0] + b[:, None] * pts[None, :, 1] + c[:, None]
    )
    # Ground has (almost) nothing below it: a plane through car bodies or
    # roofs has the real ground's cells beneath it, and pays for each.
    count = (np.abs(resid) <= threshold).sum(axis=1) - BELOW_PENALTY * (resid < -threshold).sum(
        axis=1
    )
    best = np.flatnonzero(count == count.max())
    k = best[np.argmin(c[best])]  # ties: the lower plane
    return np.array([a[k], b[k], c[k]])


def _refit(
    pts: NDArray[np.float64], plane: NDArray[np.float64], threshold: float
) -> NDArray[np.float64]:
    """Least-squares plane through the points within ``threshold`` of ``plane`` (unchanged if < 3)."""
    resid = pts[:, 2] - (plane[0] * pts[:, 0] + plane[1] * pts[:, 1] + plane[2])
    near = pts[np.abs(resid) <= threshold]
    if near.shape[0] < 3:
        return plane
    design = np.c_[near[:, 0], near[:, 1], np.ones(near.shape[0])]
    solution, *_ = np.linalg.lstsq(design, near[:, 2], rcond=None)
    return np.asarray(solution, dtype=np.float64)


def ground_height(
    points: ArrayLike,
    x: float,
    y: float,
    *,
    radius: float = 3.0,
    cell: float = 0.5,
    threshold: float = 0.1,
    max_slope: float = 0.35,
    min_cells: int = 6,
) -> float | None:
    """Ground z in metres under the BEV point (x, y), or None when too little ground is seen near it.

    Uses the points within ``radius`` metres of (x, y) in BEV. The lowest point
    of each ``cell``-metre grid cell is a ground candidate (objects stand on
    the ground, so their cells' minima are outliers); RANSAC (fixed seed, so
    deterministic) picks the plane with rise/run at most ``max_slope`` that
    scores best: minima within ``threshold`` metres of it, minus BELOW_PENALTY
    for each minimum further below it; the plane is then refit
    by least squares to *all* points near it (minima alone are biased low by
    the noise), twice with a tightening band, and evaluated at (x, y).
    Returns None when fewer than ``min_cells`` cells hold points.
    """
    pts = as_points(points)
    dx, dy = pts[:, 0] - x, pts[:, 1] - y
    near = dx * dx + dy * dy <= radius * radius
    local = np.c_[dx[near], dy[near], pts[near, 2]].astype(np.float64)
    local = local[np.isfinite(local).all(axis=1)]
    if local.shape[0] < 3:
        return None
    minima = _cell_minima(local, cell)
    if minima.shape[0] < max(min_cells, 3):
        return None
    plane = _ransac_plane(minima, threshold, max_slope, iterations=200)
    if plane is None:
        return None
    plane = _refit(local, plane, threshold)
    resid = local[:, 2] - (plane[0] * local[:, 0] + plane[1] * local[:, 1] + plane[2])
    close = np.abs(resid[np.abs(resid) <= threshold])
    if close.size:
        band = float(np.clip(3.0 * 1.4826 * np.median(close), 0.02, threshold))
        plane = _refit(local, plane, band)
    return float(plane[2])
