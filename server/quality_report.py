"""The weekly quality report (``/quality/report``, docs/quality.md "Weekly report"): one ISO
week of review samples (``server.quality.samples``), the defect rate's trend over the
weeks before it, the classes and projects worst first, the signals raised that week and
the golden-set scores, framed as model-safety signals for the people who train on it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from server.errors import ApiError
from server.golden import catch_rates
from server.models import GoldenRun, PlantedError, TaskTransition, User
from server.quality import Sample, charts, samples
from server.tasks import IN_REVIEW

TREND_WEEKS = 6
"""Weeks shown in the trend, the report's week the last."""
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Week:
    """An ISO week (Monday to Sunday, UTC)."""

    year: int
    week: int

    @classmethod
    def of(cls, at: datetime) -> Week:
        iso = at.replace(tzinfo=at.tzinfo or UTC).astimezone(UTC).isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def parse(cls, text: str) -> Week:
        """``YYYY-Www`` (for example ``2026-W11``, years 1970-9000); else 422 ``bad_week``."""
        found = WEEK.match(text)
        if found is not None and 1970 <= int(found[1]) <= 9000:  # room to shift either way
            try:
                date.fromisocalendar(int(found[1]), int(found[2]), 1)
                return cls(int(found[1]), int(found[2]))
            except ValueError:
                pass
        raise ApiError(422, "bad_week", "week must be an ISO week such as 2026-W11")

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def shifted(self, weeks: int) -> Week:
        day = self.monday + timedelta(weeks=weeks)
        iso = day.isocalendar()
        return Week(iso.year, iso.week)

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def _rate(defects: int, objects: int) -> float | None:
    return defects / objects if objects else None


def _totals(group: list[Sample], key: str | None = None) -> dict[str, dict[str, int]]:
    """Objects and defective objects per class (``key`` None) or per project."""
    out: dict[str, dict[str, int]] = {}
    for s in group:
        if key is None:
            for label, n in s.objects.items():
                cell = out.setdefault(label, {"objects": 0, "defects": 0, "tasks": 0})
                cell["objects"] += n
                cell["defects"] += s.defects.get(label, 0)
                cell["tasks"] += 1
        else:
            cell = out.setdefault(s.project, {"objects": 0, "defects": 0, "tasks": 0})
            cell["objects"] += sum(s.objects.values())
            cell["defects"] += sum(s.defects.values())
            cell["tasks"] += 1
    return out


def _compare(
    now: dict[str, dict[str, int]], before: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """Rows worst first: this week's rate beside the pooled rate of the weeks before."""
    rows = []
    for name, cell in now.items():
        prev = before.get(name, {"objects": 0, "defects": 0})
        rate, was = _rate(cell["defects"], cell["objects"]), _rate(prev["defects"], prev["objects"])
        rows.append({"name": name, **cell, "rate": rate, "previous_rate": was,
                     "change": None if rate is None or was is None else rate - was})  # fmt: skip
    return sorted(rows, key=lambda r: (-(r["rate"] or 0.0), r["name"]))


def _headline(row: dict[str, Any], what: str) -> str:
    """The sentence a model owner reads: how defective, and which way it moved."""
    rate, was = row["rate"] or 0.0, row["previous_rate"]
    text = f"{row['name']} {what} defective {rate:.0%}"
    if was is None:
        return text + " (no earlier review)"
    if abs(rate - was) < 0.005:
        return text + f" (steady at {was:.0%})"
    return text + f" ({'up' if rate > was else 'down'} from {was:.0%})"


def weekly_report(session: Session, week: Week | None = None) -> dict[str, Any]:
    """The report of ``week`` (default: the latest week with a reviewed task)."""
    every = samples(session)
    by_week: dict[Week, list[Sample]] = {}
    for s in every:
        by_week.setdefault(Week.of(s.at), []).append(s)
    if week is None:
        week = max(by_week, key=lambda w: w.monday) if by_week else Week.of(datetime.now(UTC))
    first = week.shifted(-(TREND_WEEKS - 1))
    trend = []
    for i in range(TREND_WEEKS):
        w = first.shifted(i)
        group = by_week.get(w, [])
        objects = sum(sum(s.objects.values()) for s in group)
        defects = sum(sum(s.defects.values()) for s in group)
        trend.append({"week": str(w), "monday": w.monday.isoformat(), "tasks": len(group),
                      "objects": objects, "defects": defects, "rate": _rate(defects, objects)})  # fmt: skip
    now = by_week.get(week, [])
    before = [s for w, group in by_week.items() if first.monday <= w.monday < week.monday
              for s in group]  # fmt: skip
    classes = _compare(_totals(now), _totals(before))
    projects = _compare(_totals(now, "project"), _totals(before, "project"))
    start = datetime.combine(week.monday, datetime.min.time(), UTC)
    end = start + timedelta(weeks=1)
    signals = [
        s for s in charts(session, by="annotator", given=every)["signals"]
        if start <= datetime.fromisoformat(s["at"]).replace(tzinfo=UTC) < end
    ]  # fmt: skip
    for s in signals:
        s["link"] = f"/tasks/{s['task_id']}"
    return {
        "week": str(week), "monday": week.monday.isoformat(),
        "previous": str(week.shifted(-1)), "next": str(week.shifted(1)),
        "tasks": len(now),
        "objects": sum(sum(s.objects.values()) for s in now),
        "defects": sum(sum(s.defects.values()) for s in now),
        "trend": trend, "trend_weeks": TREND_WEEKS,
        "classes": [{**r, "headline": _headline(r, "boxes")} for r in classes],
        "projects": [{**r, "headline": _headline(r, "labels")} for r in projects],
        "signals": signals,
        "golden": _golden(session, start, end),
        "reviewers": _reviewers(session, start, end),
    }  # fmt: skip


def _golden(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per annotator: blind golden copies scored in the week, with mean F1 and mean IoU."""
    names = dict(session.exec(select(User.id, User.name)).all())
    runs = session.exec(
        select(GoldenRun)
        .where(col(GoldenRun.scored_at).is_not(None))
        .order_by(col(GoldenRun.task_id))
    ).all()
    per: dict[str, list[GoldenRun]] = {}
    for run in runs:
        at = run.scored_at
        if at is not None and start <= at.replace(tzinfo=at.tzinfo or UTC) < end:
            per.setdefault(names.get(run.annotator_id, str(run.annotator_id)), []).append(run)
    return [
        {"annotator": who, "runs": len(rs),
         "mean_f1": sum(r.f1 or 0.0 for r in rs) / len(rs),
         "mean_iou": sum(r.mean_iou or 0.0 for r in rs) / len(rs)}
        for who, rs in sorted(per.items())
    ]  # fmt: skip


def _reviewers(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per reviewer: the planted errors in the copies they decided in the week (first move
    out of review), how many they caught and the catch rate (``server.golden.catch_rates``)."""
    planted = select(PlantedError.task_id)
    moves = session.exec(
        select(TaskTransition.task_id, TaskTransition.created_at)
        .where(TaskTransition.from_state == IN_REVIEW, col(TaskTransition.task_id).in_(planted))
        .order_by(col(TaskTransition.id))
    ).all()
    first: dict[int, datetime] = {}
    for task_id, at in moves:
        first.setdefault(task_id, at)
    week = {t for t, at in first.items() if start <= at.replace(tzinfo=at.tzinfo or UTC) < end}
    rows = catch_rates(session, copies=week)["reviewers"] if week else []
    return [{"reviewer": r["reviewer"], "caught": r["caught"], "planted": r["planted"],
             "rate": _rate(r["caught"], r["planted"])} for r in rows]  # fmt: skip
