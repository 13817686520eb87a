"""Chance-corrected agreement on categorical (and interval) labels: Cohen's kappa,
Fleiss' kappa and Krippendorff's alpha.

Labels are any values comparable for equality (class names, attribute values);
they are mapped to integer codes first. Krippendorff's alpha is computed by
the ``krippendorff`` package (Castro, PyPI), which handles missing values;
this module only shapes the data for it.
"""

from __future__ import annotations

import math
from typing import Literal

import krippendorff
import numpy as np
from numpy.typing import ArrayLike, NDArray

from pointcloud.matching import InvalidLabelsError

__all__ = ["category_counts", "cohen_kappa", "fleiss_kappa", "krippendorff_alpha"]

Level = Literal["nominal", "interval"]


def _codes(values: ArrayLike) -> tuple[NDArray[np.intp], int]:
    """Integer codes of ``values`` (any shape) and the number of distinct values."""
    arr = np.asarray(values, dtype=object)
    keys = [_key(v) for v in arr.reshape(-1)]
    uniq = {k: n for n, k in enumerate(dict.fromkeys(keys))}
    return np.array([uniq[k] for k in keys], dtype=np.intp).reshape(arr.shape), len(uniq)


def _key(value: object) -> object:
    """A dictionary key for a label: the value itself (so 1 and 1.0 are one label), or its
    repr when it is not hashable."""
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def cohen_kappa(a: ArrayLike, b: ArrayLike) -> float:
    """Cohen's kappa of two raters' labels ``a``, ``b`` (N,) of the same N items.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e``
    the agreement expected from each rater's own label frequencies. NaN when
    ``p_e`` is 1 (both raters gave one and the same label to everything).
    """
    codes, k = _codes(np.stack([np.asarray(a, dtype=object), np.asarray(b, dtype=object)]))
    if codes.ndim != 2 or codes.shape[1] == 0:
        raise InvalidLabelsError("cohen_kappa needs two equally long, non-empty label lists")
    ca, cb = codes
    p_o = float(np.mean(ca == cb))
    p_e = float(np.dot(np.bincount(ca, minlength=k), np.bincount(cb, minlength=k))) / ca.size**2
    return (p_o - p_e) / (1.0 - p_e) if p_e < 1.0 else math.nan


def category_counts(ratings: ArrayLike) -> NDArray[np.int64]:
    """(N subjects, R raters) labels -> (N, K) counts of raters per category (a new array)."""
    codes, k = _codes(ratings)
    if codes.ndim != 2:
        raise InvalidLabelsError("ratings must be a (subjects, raters) table")
    counts = np.zeros((codes.shape[0], k), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(codes.shape[0]), codes.shape[1]), codes.reshape(-1)), 1)
    return counts


def fleiss_kappa(counts: ArrayLike) -> float:
    """Fleiss' kappa from (N subjects, K categories) counts, every row summing to the same n >= 2.

    ``(P_bar - P_e) / (1 - P_e)``: ``P_bar`` the mean per-subject agreement,
    ``P_e`` the sum of squared overall category proportions (Fleiss 1971).
    NaN when ``P_e`` is 1.
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] == 0:
        raise InvalidLabelsError("counts must be a non-empty (subjects, categories) table")
    n = c.sum(axis=1)
    if not (n == n[0]).all() or n[0] < 2:
        raise InvalidLabelsError("every subject needs the same number (>= 2) of ratings")
    raters = float(n[0])
    p_i = ((c * c).sum(axis=1) - raters) / (raters * (raters - 1.0))
    p_j = c.sum(axis=0) / (c.shape[0] * raters)
    p_e = float((p_j * p_j).sum())
    return (float(p_i.mean()) - p_e) / (1.0 - p_e) if p_e < 1.0 else math.nan


def krippendorff_alpha(reliability_data: ArrayLike, *, level: Level = "nominal") -> float:
    """Krippendorff's alpha of a (raters, units) table; ``None`` or NaN marks a missing value.

    ``level="nominal"``: labels compared for equality (any values);
    ``level="interval"``: numbers, squared differences. Computed by the
    ``krippendorff`` package.
    """
    table = np.asarray(reliability_data, dtype=object)
    if table.ndim != 2 or table.size == 0:
        raise InvalidLabelsError("reliability data must be a non-empty (raters, units) table")
    missing = np.vectorize(_is_missing, otypes=[bool])(table)
    if level == "interval":
        try:
            values = np.where(missing, np.nan, table).astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidLabelsError("interval alpha needs numbers") from exc
    else:
        cleaned = table.copy()
        cleaned[missing] = None
        codes, _ = _codes(cleaned)
        values = np.where(missing, np.nan, codes.astype(np.float64))
    if (~missing).sum(axis=0).max() < 2:
        raise InvalidLabelsError("alpha needs at least one unit rated by two raters")
    return float(krippendorff.alpha(reliability_data=values, level_of_measurement=level))


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
