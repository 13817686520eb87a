"""Review sampling statistics: reproducible draws, single acceptance-sampling plans
against an AQL, and confidence intervals of a defect rate (docs/quality.md, "Review
sampling").

Everything statistical comes from :mod:`scipy.stats` (imported on first use: it takes
about a second, which the server's start need not pay): the hypergeometric distribution
for a finite lot, the binomial one for an unbounded stream, and
``binomtest(...).proportion_ci`` for the Wilson and Clopper-Pearson intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Plan", "acceptance_plan", "draw", "proportion_ci"]

CiMethod = Literal["wilson", "exact"]


def draw(seed: int, *keys: int) -> float:
    """A uniform number in [0, 1) that depends only on ``seed`` and ``keys`` (e.g. a task
    id): the same policy draws the same decision for the same task, on any machine."""
    return float(np.random.default_rng([seed, *keys]).random())


def pick(seed: int, key: int, population: int, size: int) -> list[int]:
    """``size`` distinct positions in ``range(population)``, reproducible from ``seed``
    and ``key`` (e.g. a lot number), in increasing order."""
    rng = np.random.default_rng([seed, key, 1])
    return sorted(int(i) for i in rng.choice(population, size=min(size, population), replace=False))


@dataclass(frozen=True)
class Plan:
    """A single sampling plan: inspect ``n`` items of the lot, accept the lot when at most
    ``c`` of them are defective. ``accept_at_aql`` and ``accept_at_ltpd`` are the
    probabilities of accepting a lot whose defect rate is the AQL (should be at least
    1 - producer's risk) or the LTPD (at most the consumer's risk)."""

    lot_size: int | None
    n: int
    c: int
    accept_at_aql: float
    accept_at_ltpd: float


def _accept(c: np.ndarray, n: int, p: float, lot: int | None) -> np.ndarray:
    """P(at most ``c`` defectives among ``n`` inspected) at defect rate ``p``."""
    from scipy.stats import binom, hypergeom  # scipy.stats costs ~1 s to import: on use only

    if lot is None:
        return np.asarray(binom.cdf(c, n, p), dtype=np.float64)
    defective = int(round(p * lot))
    return np.asarray(hypergeom.cdf(c, lot, defective, n), dtype=np.float64)


def acceptance_plan(
    aql: float,
    ltpd: float,
    *,
    lot_size: int | None = None,
    producer_risk: float = 0.05,
    consumer_risk: float = 0.10,
    max_n: int = 2000,
) -> Plan:
    """The smallest single sampling plan (n, c) that accepts a lot at the AQL with
    probability at least ``1 - producer_risk`` and one at the LTPD (lot tolerance percent
    defective) with probability at most ``consumer_risk``. ``aql`` and ``ltpd`` are
    fractions (0.04 = 4 % defective items), ``aql < ltpd``. A finite ``lot_size`` uses the
    hypergeometric distribution (``round(p * lot_size)`` defectives in the lot); when no
    sample smaller than the lot meets both risks the plan inspects the whole lot
    (``n = lot_size``, ``c`` the AQL's defective count). ``lot_size`` None: the binomial,
    searched up to ``max_n`` items."""
    if not 0 < aql < ltpd < 1:
        raise ValueError("need 0 < aql < ltpd < 1")
    top = max_n if lot_size is None else lot_size
    for n in range(1, top + 1):
        cs = np.arange(n + 1)
        at_ltpd = _accept(cs, n, ltpd, lot_size)
        ok = np.flatnonzero(at_ltpd <= consumer_risk)
        if ok.size == 0:
            continue
        c = int(ok[-1])  # the most lenient c the consumer allows
        at_aql = float(_accept(np.array([c]), n, aql, lot_size)[0])
        if at_aql >= 1 - producer_risk:
            return Plan(lot_size, n, c, at_aql, float(at_ltpd[c]))
    if lot_size is None:
        raise ValueError(f"no plan with n <= {max_n} meets both risks")
    c = int(round(aql * lot_size))
    full = np.array([c])
    return Plan(lot_size, lot_size, c, float(_accept(full, lot_size, aql, lot_size)[0]),
                float(_accept(full, lot_size, ltpd, lot_size)[0]))  # fmt: skip


def proportion_ci(
    k: int, n: int, *, confidence: float = 0.95, method: CiMethod = "wilson"
) -> tuple[float, float] | None:
    """The ``confidence`` interval of a proportion with ``k`` successes in ``n`` trials:
    Wilson's score interval or the exact Clopper-Pearson one (``scipy.stats.binomtest``).
    None when ``n`` is 0."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method=method)
    return float(ci.low), float(ci.high)
