"""Cohen's and Fleiss' kappa and Krippendorff's alpha (pointcloud.agreement) against
published worked examples and against the ``krippendorff`` package."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from pointcloud.agreement import category_counts, cohen_kappa, fleiss_kappa, krippendorff_alpha
from pointcloud.matching import InvalidLabelsError

# Krippendorff, "Computing Krippendorff's Alpha-Reliability" (2011), section C: 4 observers,
# 12 units, values 1-5, None = not coded. Published: nominal 0.743, interval 0.849.
KRIPPENDORFF_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]

# Fleiss (1971) as worked in Wikipedia's "Fleiss' kappa" article: 10 subjects, 14 raters,
# 5 categories; published kappa 0.210.
FLEISS_EXAMPLE = [
    [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
]  # fmt: skip


def test_cohen_kappa_of_the_textbook_yes_no_table_is_0_4() -> None:
    # Wikipedia "Cohen's kappa", worked example: 50 proposals, both yes 20, A yes / B no 5,
    # A no / B yes 10, both no 15: p_o = 0.7, p_e = 0.5, kappa = 0.4.
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_cohen_kappa_is_one_for_identical_and_nan_for_a_single_shared_label() -> None:
    assert cohen_kappa(["car", "bus", "car"], ["car", "bus", "car"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["car"] * 4, ["car"] * 4))


def test_fleiss_kappa_of_the_published_example_is_0_210() -> None:
    assert fleiss_kappa(FLEISS_EXAMPLE) == pytest.approx(0.2099, abs=1e-4)


def test_fleiss_kappa_from_raw_ratings_equals_it_from_counts() -> None:
    ratings = [["car", "car", "van"], ["van", "van", "van"], ["car", "truck", "car"]]
    counts = category_counts(ratings)
    assert counts.tolist() == [[2, 1, 0], [0, 3, 0], [2, 0, 1]]
    assert fleiss_kappa(counts) == pytest.approx(fleiss_kappa([[2, 1, 0], [0, 3, 0], [2, 0, 1]]))


def test_fleiss_kappa_refuses_subjects_with_different_numbers_of_ratings() -> None:
    with pytest.raises(InvalidLabelsError):
        fleiss_kappa([[2, 1], [1, 1]])


def test_krippendorff_alpha_reproduces_the_published_example() -> None:
    assert krippendorff_alpha(KRIPPENDORFF_2011) == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(KRIPPENDORFF_2011, level="interval") == pytest.approx(0.849, abs=5e-4)


def test_nominal_alpha_on_class_names_equals_the_package_on_their_codes() -> None:
    rng = np.random.default_rng(4)
    names = np.array(["Car", "Truck", "Bus", "Pedestrian"])
    codes = rng.integers(0, 4, (3, 60)).astype(float)
    codes[1] = np.where(rng.random(60) < 0.5, codes[0], codes[1])  # coder 2 agrees half the time
    codes[2, :5] = np.nan
    table = [[None if math.isnan(v) else names[int(v)] for v in row] for row in codes]
    expected = krippendorff.alpha(reliability_data=codes, level_of_measurement="nominal")
    assert krippendorff_alpha(table) == pytest.approx(expected)


def test_two_coders_without_missing_values_give_alpha_close_to_cohen_kappa() -> None:
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    # alpha is Scott's pi with a small-sample correction, and pi is close to kappa when both
    # coders use the labels about equally often (here 30/20 and 25/25)
    assert krippendorff_alpha([a, b]) == pytest.approx(0.4, abs=0.02)


def test_alpha_needs_a_unit_coded_twice_and_numbers_for_interval() -> None:
    with pytest.raises(InvalidLabelsError):
        krippendorff_alpha([[1, None], [None, 2]])
    with pytest.raises(InvalidLabelsError):
        krippendorff_alpha([["a", "b"], ["a", "c"]], level="interval")
