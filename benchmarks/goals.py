"""Goals: a bound per figure, judged the same way in every suite."""

from __future__ import annotations

from typing import Any

Goals = dict[str, tuple[str, float]]
"""Figure name -> (``">="`` or ``"<="``, bound)."""


def judge(result: dict[str, Any], table: Goals) -> dict[str, dict[str, Any]]:
    """Each goal's target, measured value and whether it is met (None when not measured)."""
    out: dict[str, dict[str, Any]] = {}
    for key, (op, bound) in table.items():
        value = result.get(key)
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out[key] = {"target": f"{op} {bound:g}", "value": value, "met": met}
    return out
