"""Control charts (pointcloud/spc.py): p-chart limits, the Western Electric rules, and the
simulation of issue 12: one annotator boxes 15 % short throughout, and from task 120 the
whole team mis-tags one class after a taxonomy change."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from pointcloud.matching import InvalidLabelsError
from pointcloud.spc import PChart, Signal, baseline_rate, classify, p_chart, run_rules

CLASSES = ("Car", "Pedestrian", "Cyclist", "Van")
SHARES = (0.6, 0.2, 0.1, 0.1)
CHANGE, TASKS, TEAM, BASELINE, WINDOW = 120, 200, 10, 40, 5
SIZE_NOISE, SIZE_TOLERANCE, WRONG_CLASS, MISTAG = 0.06, 0.12, 0.01, 0.6


def test_limits_widen_for_small_samples_and_use_the_given_centre() -> None:
    chart = p_chart([5, 5], [100, 25], centre=0.1)
    sigma = np.sqrt(0.1 * 0.9 / np.array([100, 25]))
    assert np.allclose(chart.upper, 0.1 + 3 * sigma)
    assert np.allclose(chart.lower, np.clip(0.1 - 3 * sigma, 0, 1))
    assert chart.lower[1] == 0.0  # clipped: a rate cannot go below 0
    assert np.allclose(chart.z, (np.array([0.05, 0.2]) - 0.1) / sigma)
    assert p_chart([1, 3], [10, 10]).centre == pytest.approx(0.2)  # pooled by default


@pytest.mark.parametrize(
    ("defects", "sizes"),
    [([1, 2], [10]), ([1], [0]), ([11], [10]), ([-1], [10]), ([0.5], [10]), ([math.nan], [10])],
)
def test_bad_samples_are_refused(defects: list[float], sizes: list[int]) -> None:
    with pytest.raises(InvalidLabelsError):
        p_chart(defects, sizes)


def test_each_run_rule_flags_the_last_point_of_its_run() -> None:
    assert [(v.index, v.rule, v.side) for v in run_rules([0, 3.5, 0, -3.2])] == [
        (1, 1, 1),
        (3, 1, -1),
    ]
    assert [(v.index, v.rule) for v in run_rules([2.5, 0, 2.5, 0])] == [(2, 2)]
    assert [(v.index, v.rule) for v in run_rules([1.5, 1.5, 0, 1.5, 1.5, 0])] == [(4, 3)]
    assert [(v.index, v.rule) for v in run_rules([-0.5] * 9)] == [(7, 4), (8, 4)]
    assert run_rules([0.5, -0.5] * 10) == []  # alternating round the centre: in control


@dataclass
class Team:
    """Per annotator, per task: objects reviewed and defects found; per class, pooled."""

    defects: dict[str, np.ndarray]
    sizes: dict[str, np.ndarray]
    class_defects: dict[str, np.ndarray]
    class_sizes: dict[str, np.ndarray]
    p_in_control: float


def simulate(seed: int = 12) -> Team:
    """10 annotators each label tasks 0..199 (150-300 boxes a task). A box is a defect when
    its length is off by more than 12 % (each annotator's length error is N(bias, 6 %);
    annotator a0's bias is -15 %) or its class is wrong (1 %; from task 120 every
    annotator tags 60 % of the Vans as something else)."""
    rng = np.random.default_rng(seed)
    team = Team({}, {}, {c: np.zeros(TASKS, int) for c in CLASSES},
                {c: np.zeros(TASKS, int) for c in CLASSES}, 0.0)  # fmt: skip
    for a in range(TEAM):
        bias = -0.15 if a == 0 else 0.0
        d, n = np.zeros(TASKS, int), np.zeros(TASKS, int)
        for t in range(TASKS):
            size = int(rng.integers(150, 301))
            cls = rng.choice(len(CLASSES), size=size, p=SHARES)
            short = np.abs(rng.normal(bias, SIZE_NOISE, size)) > SIZE_TOLERANCE
            wrong_p = np.where((cls == 3) & (t >= CHANGE), MISTAG, WRONG_CLASS)
            bad = short | (rng.random(size) < wrong_p)
            d[t], n[t] = bad.sum(), size
            for c, name in enumerate(CLASSES):
                team.class_defects[name][t] += bad[cls == c].sum()
                team.class_sizes[name][t] += (cls == c).sum()
        team.defects[f"a{a}"], team.sizes[f"a{a}"] = d, n
    p_short = 2 * stats.norm.sf(SIZE_TOLERANCE / SIZE_NOISE)
    team.p_in_control = 1 - (1 - p_short) * (1 - WRONG_CLASS)
    return team


@pytest.fixture(scope="module")
def team() -> Team:
    return simulate()


def _charts(team: Team) -> dict[str, tuple[np.ndarray, PChart]]:
    centre = baseline_rate(team.defects, team.sizes, points=BASELINE)
    x = np.arange(TASKS)
    return {k: (x, p_chart(team.defects[k], team.sizes[k], centre=centre)) for k in team.defects}


def _of(signals: list[Signal], series: str) -> list[Signal]:
    return [s for s in signals if s.series == series]


def test_the_short_boxing_annotator_is_an_individual_signal_from_the_start(team: Team) -> None:
    signals = classify(_charts(team), window=WINDOW)
    mine = _of(signals, "a0")
    assert mine[0].x <= 2 and mine[0].side == 1 and mine[0].kind == "individual"
    before = [s for s in mine if s.x < CHANGE]
    assert len(before) >= 0.9 * CHANGE  # out of control nearly every task
    assert all(s.kind == "individual" for s in before)


def test_the_taxonomy_shift_is_a_system_signal_within_a_few_tasks(team: Team) -> None:
    signals = classify(_charts(team), window=WINDOW)
    system = [s for s in signals if s.kind == "system"]
    assert system and min(s.x for s in system) >= CHANGE - WINDOW
    for k in sorted(team.defects)[1:]:
        after = [s for s in _of(signals, k) if s.x >= CHANGE and s.side == 1]
        assert after[0].x <= CHANGE + 4, k
        assert after[0].kind == "system", k
    late = [s for s in signals if s.x >= CHANGE + WINDOW and s.series != "a0" and s.side == 1]
    assert sum(s.kind == "system" for s in late) >= 0.9 * len(late)


def test_the_class_charts_put_the_shift_on_the_mis_tagged_class(team: Team) -> None:
    x = np.arange(TASKS)
    firsts = {}
    for name in CLASSES:
        d, n = team.class_defects[name], team.class_sizes[name]
        centre = baseline_rate({name: d}, {name: n}, points=BASELINE)
        hits = [v for v in run_rules(p_chart(d, n, centre=centre).z) if v.side == 1]
        firsts[name] = [int(x[v.index]) for v in hits if v.index >= CHANGE][:1]
    assert firsts["Van"] and firsts["Van"][0] <= CHANGE + 1


def test_false_signals_on_the_in_control_stretch_stay_within_what_3_sigma_implies(
    team: Team,
) -> None:
    """9 in-control annotators x 120 tasks. Rule 1 alone: each point's exact false-alarm
    probability under the binomial (the true in-control rate against the chart's limits);
    all four rules: the per-point rates of the rules under normality, summed (a union
    bound), against the episodes (runs of signals) the classification counts."""
    charts = _charts(team)
    alpha, rule1, episodes = 0.0, 0, 0
    p = team.p_in_control
    for k, (_, chart) in charts.items():
        if k == "a0":
            continue
        n = chart.sizes[:CHANGE]
        hi = stats.binom.sf(np.floor(chart.upper[:CHANGE] * n), n, p)
        lo = stats.binom.cdf(np.ceil(chart.lower[:CHANGE] * n) - 1, n, p)
        alpha += float(hi.sum() + lo.sum())
        hits = [v for v in run_rules(chart.z[:CHANGE])]
        rule1 += len({v.index for v in hits if v.rule == 1})
        idx = sorted({v.index for v in hits})
        episodes += sum(1 for i, j in enumerate(idx) if i == 0 or j - idx[i - 1] > WINDOW)
    points = (TEAM - 1) * CHANGE
    assert alpha < 0.01 * points  # 3 sigma: a false alarm every few hundred points
    assert rule1 <= stats.poisson.ppf(0.999, alpha)
    q3, q2, q1 = (stats.norm.sf(s) for s in (3, 2, 1))
    per_point = 2 * (q3 + q2 * (1 - (1 - q2) ** 2) + q1 * stats.binom.sf(2, 4, q1) + 0.5**8)
    assert episodes <= stats.poisson.ppf(0.999, per_point * points)
