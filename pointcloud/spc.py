"""Statistical process control of defect rates: p-charts with 3-sigma limits for varying
sample sizes, the Western Electric run rules, and the labelling of a signal as
*individual* (one annotator out of control while the others are in) or *system* (most
annotators shift together, as after a guideline or taxonomy change).

A *sample* is one reviewed task: ``sizes[i]`` objects looked at, ``defects[i]`` of them
found wrong. Its defect rate is ``p_i = defects[i] / sizes[i]`` (a fraction in [0, 1]).
Against a centre line ``p`` (the in-control defect rate) the sample's standard error is
``sigma_i = sqrt(p (1 - p) / sizes[i])``, so the limits widen for small tasks
(Montgomery, *Introduction to Statistical Quality Control*, 7th ed., section 7.2.2). The
run rules are applied to the standardised rate ``z_i = (p_i - p) / sigma_i``.

Pure numpy; no server imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.matching import InvalidLabelsError

__all__ = [
    "RULES",
    "PChart",
    "Signal",
    "Violation",
    "baseline_rate",
    "classify",
    "p_chart",
    "run_rules",
]

RULES: dict[int, str] = {
    1: "one point beyond 3 sigma",
    2: "two of three points in a row beyond 2 sigma, same side",
    3: "four of five points in a row beyond 1 sigma, same side",
    4: "eight points in a row on one side of the centre line",
}
"""The Western Electric rules (Western Electric, *Statistical Quality Control Handbook*,
1956), by number. Each flags the last point of the run that breaks it."""

Kind = Literal["individual", "system"]


@dataclass(frozen=True)
class PChart:
    """A p-chart: per sample its rate, limits and standardised rate (arrays of shape (N,),
    copies)."""

    centre: float
    """The centre line: the in-control defect rate, a fraction."""
    defects: NDArray[np.int64]
    sizes: NDArray[np.int64]
    rate: NDArray[np.float64]
    """``defects / sizes``."""
    lower: NDArray[np.float64]
    """Lower control limit, clipped at 0."""
    upper: NDArray[np.float64]
    """Upper control limit, clipped at 1."""
    z: NDArray[np.float64]
    """``(rate - centre) / sigma``; 0 where sigma is 0 (a centre of exactly 0 or 1)."""


@dataclass(frozen=True)
class Violation:
    """A run rule broken at sample ``index``; ``side`` +1: defect rate above the centre
    (worse), -1: below (better, or a reviewer who stopped looking)."""

    index: int
    rule: int
    side: int


@dataclass(frozen=True)
class Signal:
    """A violation on one series of a family (one annotator among the team), labelled."""

    series: str
    index: int
    x: float
    """The sample's position on the shared time axis (the unit of ``classify``'s ``x``)."""
    rule: int
    side: int
    kind: Kind
    share: float
    """Fraction of the family's series that signalled on the same side within the window."""


def _counts(values: ArrayLike, name: str) -> NDArray[np.int64]:
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)):
        raise InvalidLabelsError(f"{name} must be whole numbers >= 0")
    return arr.astype(np.int64)


def p_chart(
    defects: ArrayLike, sizes: ArrayLike, *, centre: float | None = None, k: float = 3.0
) -> PChart:
    """The p-chart of samples ``defects[i]`` of ``sizes[i]`` (counts, shape (N,)) with
    ``k``-sigma limits. ``centre`` defaults to the pooled rate ``sum(defects) /
    sum(sizes)``; give the in-control rate of a baseline period to judge new samples
    against it (phase II). Raises ``InvalidLabelsError`` for unequal lengths, negative or
    fractional counts, a sample with more defects than objects or an empty sample."""
    d, n = _counts(defects, "defects"), _counts(sizes, "sizes")
    if d.shape != n.shape:
        raise InvalidLabelsError(f"{len(d)} defect counts for {len(n)} sample sizes")
    if np.any(n == 0) or np.any(d > n):
        raise InvalidLabelsError(
            "every sample needs 1 or more objects and at most that many defects"
        )
    p = float(d.sum() / n.sum()) if centre is None else float(centre)
    if not 0.0 <= p <= 1.0 or not math.isfinite(k) or k <= 0:
        raise InvalidLabelsError("the centre must be a fraction in [0, 1] and k > 0")
    rate = d / n
    sigma = np.sqrt(p * (1.0 - p) / n)
    z = np.divide(rate - p, sigma, out=np.zeros_like(rate), where=sigma > 0)
    lower = np.clip(p - k * sigma, 0.0, 1.0)
    upper = np.clip(p + k * sigma, 0.0, 1.0)
    return PChart(centre=p, defects=d, sizes=n, rate=rate, lower=lower, upper=upper, z=z)


def _windows(z: NDArray[np.float64], width: int) -> NDArray[np.float64]:
    """Rows ``z[i - width + 1 : i + 1]`` for ``i >= width - 1``, shape (N - width + 1, width)."""
    return np.lib.stride_tricks.sliding_window_view(z, width)


def run_rules(z: ArrayLike, *, rules: Sequence[int] = (1, 2, 3, 4)) -> list[Violation]:
    """The Western Electric rules broken by the standardised rates ``z`` (shape (N,)), in
    order of index then rule. The flagged point is the last of its run, and for rules 2
    and 3 it is itself beyond the zone (so a signal points at a sample that is off)."""
    zz = np.asarray(z, dtype=np.float64).reshape(-1)
    found: list[Violation] = []
    for side in (1, -1):
        s = zz * side
        hits: dict[int, NDArray[np.bool_]] = {1: s > 3.0}
        for rule, (count, width, level) in {2: (2, 3, 2.0), 3: (4, 5, 1.0), 4: (8, 8, 0.0)}.items():
            flag = np.zeros(len(s), dtype=bool)
            if len(s) >= width:
                w = _windows(s, width)
                flag[width - 1 :] = ((w > level).sum(axis=1) >= count) & (w[:, -1] > level)
            hits[rule] = flag
        for rule in rules:
            if rule not in RULES:
                raise InvalidLabelsError(f"no run rule {rule}; rules are 1 to 4")
            found += [Violation(int(i), rule, side) for i in np.flatnonzero(hits[rule])]
    return sorted(found, key=lambda v: (v.index, v.rule, -v.side))


def baseline_rate(
    defects: Mapping[str, ArrayLike], sizes: Mapping[str, ArrayLike], *, points: int
) -> float:
    """The team's in-control defect rate: the median, over the series, of each series'
    pooled rate over its first ``points`` samples. The median keeps one annotator who is
    off from the start (or a few) from moving the centre line everyone is judged by."""
    if points < 1 or not defects:
        raise InvalidLabelsError("a baseline needs 1 or more series and points >= 1")
    rates = []
    for key, d in defects.items():
        dd, nn = _counts(d, "defects")[:points], _counts(sizes[key], "sizes")[:points]
        if nn.sum() > 0:
            rates.append(dd.sum() / nn.sum())
    if not rates:
        raise InvalidLabelsError("no series has a sample in the baseline")
    return float(np.median(rates))


def classify(
    charts: Mapping[str, tuple[ArrayLike, PChart]],
    *,
    window: float,
    system_share: float = 0.5,
    rules: Sequence[int] = (1, 2, 3, 4),
) -> list[Signal]:
    """Label every violation of a family of charts (one per annotator, each with its
    samples' positions ``x``, shape (N,), on a shared time axis).

    A series' violations on one side form *episodes*: a violation more than ``window``
    after the previous one starts a new episode. An episode is *system* when at least
    ``system_share`` of the family's series have a violation on the same side within
    ``window`` of its onset (the team shifted together), and *individual* otherwise; every
    violation of the episode takes its label. So an annotator who is off from the start
    stays an individual signal when the whole team later shifts, and each annotator's
    first signal after a taxonomy change is labelled system. At the newest samples the
    window only holds the past: the label is what a lead can know at that moment.
    Returns the signals ordered by ``x``, then series."""
    if not charts or window < 0 or not 0.0 < system_share <= 1.0:
        raise InvalidLabelsError("classify needs charts, window >= 0 and 0 < system_share <= 1")
    found: dict[tuple[str, int], list[tuple[float, int, Violation]]] = {}
    for key, (x, chart) in charts.items():
        xs = np.asarray(x, dtype=np.float64).reshape(-1)
        if xs.shape != chart.rate.shape:
            raise InvalidLabelsError(
                f"series {key!r}: {len(xs)} positions for {len(chart.rate)} samples"
            )
        for v in run_rules(chart.z, rules=rules):
            found.setdefault((key, v.side), []).append((float(xs[v.index]), v.index, v))
    signals = []
    for (key, side), hits in found.items():
        hits.sort(key=lambda h: h[0])
        last, share = -math.inf, 0.0
        for x_at, index, v in hits:
            if x_at - last > window:  # a new episode: count who signals around its onset
                share = _share(found, side, x_at, window) / len(charts)
            last = x_at
            kind: Kind = "system" if share >= system_share else "individual"
            signals.append(Signal(key, index, x_at, v.rule, side, kind, share))
    return sorted(signals, key=lambda s: (s.x, s.series, s.rule))


def _share(
    found: Mapping[tuple[str, int], list[tuple[float, int, Violation]]],
    side: int,
    at: float,
    window: float,
) -> int:
    """How many series have a violation on ``side`` within ``window`` of ``at``."""
    return sum(
        1
        for (_, s), hits in found.items()
        if s == side and any(abs(h[0] - at) <= window for h in hits)
    )
