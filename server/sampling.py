"""The review sampling policy of a project (docs/quality.md, "Review sampling").

On a task's first submission the policy decides whether it is reviewed:

- each annotator's first ``first_n`` tasks in the project are all reviewed;
- after that, mode ``rate``: the task is reviewed when its reproducible draw
  (``pointcloud.sampling.draw(seed, task id)``) is below the rate of its stratum: with
  ``stratify`` ``class``, the highest rate among the classes of its label set (``strata``
  maps a class to a rate, others get ``rate``); with ``scene``, the rate of its scene's
  name; with ``scene:KEY``, the rate of the value of its scene's attribute KEY (a scene
  without it gets ``rate``); with ``none``, ``rate``;
- mode ``aql``: tasks are held in lots of ``lot_size``; a full lot gets the single sampling
  plan (n, c) of its AQL and LTPD (``pointcloud.sampling.acceptance_plan``, hypergeometric),
  n of its tasks are drawn for review, and once those are decided the lot is accepted
  (at most c rejected: the held tasks are approved unreviewed) or rejected (every held task
  is reviewed).

A task not drawn is approved by the server at once, with the transition note
``not sampled: ...``, and its :class:`ReviewSample` row says why. A resubmission after a
rejection is always reviewed. Without a policy row every task is reviewed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from pointcloud.sampling import acceptance_plan, draw, pick, proportion_ci
from server.models import (
    ReviewLot,
    ReviewPolicy,
    ReviewSample,
    Scene,
    Task,
    TaskTransition,
    Track,
    User,
    utcnow,
)
from server.quality import samples
from server.tasks import IN_REVIEW, REJECTED, SUBMITTED, skip_review

SAMPLED, NOT_SAMPLED, HELD = "sampled", "not_sampled", "held"
POLICY_FIELDS = ("first_n", "rate", "seed", "stratify", "strata", "mode", "lot_size", "aql",
                 "ltpd", "golden_rate")  # fmt: skip


def get_policy(session: Session, project_id: int) -> ReviewPolicy:
    """The project's policy; the default (review everything) when none is stored."""
    return session.get(ReviewPolicy, project_id) or ReviewPolicy(project_id=project_id)


def policy_json(session: Session, policy: ReviewPolicy) -> dict[str, Any]:
    """The policy as the API answers it, with the acceptance plan of its lot size."""
    out: dict[str, Any] = {"project_id": policy.project_id}
    out.update({k: getattr(policy, k) for k in POLICY_FIELDS})
    out["strata"] = dict(policy.strata or {})
    who = session.get(User, policy.updated_by) if policy.updated_by else None
    out["updated_by"] = who.name if who else None
    out["plan"] = _plan_json(policy) if policy.mode == "aql" else None
    return out


def _plan_json(policy: ReviewPolicy) -> dict[str, Any]:
    plan = acceptance_plan(policy.aql, policy.ltpd, lot_size=policy.lot_size)
    return {"lot_size": plan.lot_size, "n": plan.n, "c": plan.c,
            "accept_at_aql": round(plan.accept_at_aql, 4),
            "accept_at_ltpd": round(plan.accept_at_ltpd, 4)}  # fmt: skip


def set_policy(
    session: Session, project_id: int, values: dict[str, Any], actor: User
) -> ReviewPolicy:
    """Store the project's policy. An open lot is released (its held tasks go to review)
    when the mode leaves ``aql`` or the lot size changes."""
    policy = session.get(ReviewPolicy, project_id) or ReviewPolicy(project_id=project_id)
    before = (policy.mode, policy.lot_size)
    for key in POLICY_FIELDS:
        setattr(policy, key, values[key])
    policy.updated_by, policy.updated_at = actor.id, utcnow()
    session.add(policy)
    if before != (policy.mode, policy.lot_size):
        for lot in session.exec(
            select(ReviewLot).where(ReviewLot.project_id == project_id, ReviewLot.state == "open")
        ):
            _release(session, lot, "released", "lot closed by a policy change: reviewed")
    return policy


def on_submit(session: Session, task: Task) -> ReviewSample | None:
    """Decide on a task just submitted (see the module docstring). None for a resubmission."""
    assert task.id is not None
    if session.get(ReviewSample, task.id) is not None:
        return None
    policy = get_policy(session, task.project_id)
    prior = session.exec(
        select(func.count())
        .select_from(ReviewSample)
        .where(ReviewSample.project_id == task.project_id,
               ReviewSample.annotator_id == task.assignee_id)
    ).one()  # fmt: skip
    sample = ReviewSample(task_id=task.id, project_id=task.project_id,
                          annotator_id=task.assignee_id, decision=SAMPLED)  # fmt: skip
    if prior < policy.first_n:
        sample.reason = f"first {policy.first_n} tasks of the annotator ({prior + 1})"
    elif policy.mode == "aql":
        _hold(session, policy, sample)
    else:
        rate, stratum = _stratum_rate(session, task, policy)
        sample.rate, sample.draw = rate, draw(policy.seed, task.id)
        sampled = sample.draw < rate
        sample.decision = SAMPLED if sampled else NOT_SAMPLED
        sign = "<" if sampled else ">="
        sample.reason = f"draw {sample.draw:.3f} {sign} rate {rate:g}{stratum}"
    session.add(sample)
    session.flush()
    if sample.decision == NOT_SAMPLED:
        skip_review(session, task, f"not sampled: {sample.reason}")
    return sample


def _stratum_rate(session: Session, task: Task, policy: ReviewPolicy) -> tuple[float, str]:
    strata = policy.strata or {}
    if policy.stratify == "scene":
        scene = session.get(Scene, task.scene_id)
        name = scene.name if scene else ""
        return (strata[name], f" (scene {name})") if name in strata else (policy.rate, "")
    if policy.stratify.startswith("scene:"):
        key = policy.stratify.removeprefix("scene:")
        scene = session.get(Scene, task.scene_id)
        stored = scene.attributes if scene is not None else {}
        value = stored.get(key) if isinstance(stored, dict) else None
        if isinstance(value, str) and value in strata:
            return strata[value], f" (scene {key} {value})"
        return policy.rate, ""
    if policy.stratify == "class":
        labels = set(session.exec(select(Track.label).where(Track.task_id == task.id)).all())
        rated = sorted(((strata[x], x) for x in labels if x in strata), reverse=True)
        if rated and rated[0][0] > policy.rate:
            return rated[0][0], f" (class {rated[0][1]})"
    return policy.rate, ""


def _hold(session: Session, policy: ReviewPolicy, sample: ReviewSample) -> None:
    lot = session.exec(
        select(ReviewLot).where(
            ReviewLot.project_id == policy.project_id, ReviewLot.state == "open"
        )
    ).first()
    if lot is None:
        lot = ReviewLot(project_id=policy.project_id, size=policy.lot_size, aql=policy.aql,
                        ltpd=policy.ltpd)  # fmt: skip
        session.add(lot)
        session.flush()
    sample.decision, sample.lot_id = HELD, lot.id
    sample.reason = f"lot {lot.id}: waits until the lot is full"
    session.add(sample)
    session.flush()
    members = _members(session, lot)
    if len(members) < lot.size:
        return
    assert lot.id is not None
    plan = acceptance_plan(lot.aql, lot.ltpd, lot_size=len(members))
    lot.state, lot.sample_size, lot.acceptance_number = "inspecting", plan.n, plan.c
    drawn = set(pick(policy.seed, lot.id, len(members), plan.n))
    for i, m in enumerate(members):
        if i in drawn:
            m.decision = SAMPLED
            m.reason = f"lot {lot.id}: drawn for inspection (n={plan.n}, c={plan.c})"
        else:
            m.reason = f"lot {lot.id}: waits for the lot's verdict (n={plan.n}, c={plan.c})"
        m.updated_at = utcnow()
        session.add(m)
    session.add(lot)


def _members(session: Session, lot: ReviewLot) -> list[ReviewSample]:
    return list(
        session.exec(
            select(ReviewSample)
            .where(ReviewSample.lot_id == lot.id)
            .order_by(col(ReviewSample.task_id))
        )
    )


def after_review(session: Session, task: Task) -> None:
    """After a reviewer approved or rejected ``task``: judge its lot once every task drawn
    from the lot has its first decision."""
    sample = session.get(ReviewSample, task.id)
    if sample is None or sample.lot_id is None:
        return
    lot = session.get(ReviewLot, sample.lot_id)
    if lot is None or lot.state != "inspecting":
        return
    drawn = [m.task_id for m in _members(session, lot) if m.decision == SAMPLED]
    first = _first_decisions(session, drawn)
    if len(first) < len(drawn):
        return
    lot.defects = sum(1 for s in first.values() if s == REJECTED)
    if lot.defects <= lot.acceptance_number:
        lot.state, lot.closed_at = "accepted", utcnow()
        for m in _members(session, lot):
            if m.decision != HELD:
                continue
            m.decision, m.updated_at = NOT_SAMPLED, utcnow()
            m.reason = f"lot {lot.id} accepted: {lot.defects} of {len(drawn)} drawn tasks rejected"
            held = session.get(Task, m.task_id)
            session.add(m)
            if held is not None and held.state == SUBMITTED:
                skip_review(session, held, f"not sampled: {m.reason}")
    else:
        why = f"lot {lot.id} rejected ({lot.defects} > c={lot.acceptance_number}): reviewed"
        _release(session, lot, "rejected", why)
    session.add(lot)


def _release(session: Session, lot: ReviewLot, state: str, reason: str) -> None:
    lot.state, lot.closed_at = state, utcnow()
    session.add(lot)
    for m in _members(session, lot):
        if m.decision == HELD:
            m.decision, m.reason, m.updated_at = SAMPLED, reason, utcnow()
            session.add(m)


def _first_decisions(session: Session, task_ids: list[int]) -> dict[int, str]:
    """Task id -> the state its first review led to (approved or rejected)."""
    rows = session.exec(
        select(TaskTransition.task_id, TaskTransition.to_state)
        .where(col(TaskTransition.task_id).in_(task_ids), TaskTransition.from_state == IN_REVIEW)
        .order_by(col(TaskTransition.id))
    ).all()
    first: dict[int, str] = {}
    for task_id, state in rows:
        first.setdefault(task_id, state)
    return first


def summary(session: Session, project_id: int) -> dict[str, Any]:
    """The dashboard's sampling panel: the policy, the decisions per annotator, the
    effective sampling rate, and the defect rate of the reviewed tasks (share rejected at
    their first review) and of their objects (docs/quality.md, "Defect rate per task"),
    each with Wilson and Clopper-Pearson 95 % intervals."""
    rows = list(session.exec(select(ReviewSample).where(ReviewSample.project_id == project_id)))
    names = dict(session.exec(select(User.id, User.name)).all())
    per: dict[str, dict[str, int]] = {}
    for r in rows:
        who = names.get(r.annotator_id, "(unassigned)") if r.annotator_id else "(unassigned)"
        cell = per.setdefault(who, {SAMPLED: 0, NOT_SAMPLED: 0, HELD: 0})
        cell[r.decision] += 1
    total = {k: sum(c[k] for c in per.values()) for k in (SAMPLED, NOT_SAMPLED, HELD)}
    found = samples(session, project_id=project_id)  # planted-error copies left out
    first = _first_decisions(session, [s.task_id for s in found])
    rejected = sum(1 for s in first.values() if s == REJECTED)
    objects = sum(sum(s.objects.values()) for s in found)
    defects = sum(sum(s.defects.values()) for s in found)
    lots = session.exec(
        select(ReviewLot).where(ReviewLot.project_id == project_id).order_by(col(ReviewLot.id))
    ).all()
    skipped = sorted((r for r in rows if r.decision == NOT_SAMPLED), key=lambda r: -r.task_id)
    return {
        "policy": policy_json(session, get_policy(session, project_id)),
        "decisions": total, "effective_rate": _rate(total[SAMPLED], total[SAMPLED] + total[NOT_SAMPLED]),
        "annotators": [{"annotator": k, "sampled": v[SAMPLED], "not_sampled": v[NOT_SAMPLED],
                        "held": v[HELD], "effective_rate": _rate(v[SAMPLED], v[SAMPLED] + v[NOT_SAMPLED])}
                       for k, v in sorted(per.items())],
        "task_defect_rate": _interval(rejected, len(first)),
        "object_defect_rate": _interval(defects, objects),
        "lots": [{"id": lot.id, "state": lot.state, "size": lot.size, "n": lot.sample_size,
                  "c": lot.acceptance_number, "defects": lot.defects, "aql": lot.aql, "ltpd": lot.ltpd}
                 for lot in lots],
        "not_sampled": [{"task_id": r.task_id, "reason": r.reason, "link": f"/tasks/{r.task_id}"}
                        for r in skipped[:50]],
    }  # fmt: skip


def _rate(k: int, n: int) -> float | None:
    return None if n == 0 else round(k / n, 4)


def _interval(k: int, n: int) -> dict[str, Any]:
    wilson, exact = proportion_ci(k, n), proportion_ci(k, n, method="exact")
    return {"defects": k, "of": n, "rate": _rate(k, n),
            "wilson": None if wilson is None else [round(x, 4) for x in wilson],
            "clopper_pearson": None if exact is None else [round(x, 4) for x in exact]}  # fmt: skip


def sample_json(session: Session, task_id: int) -> dict[str, Any] | None:
    """A task's sampling decision, as task responses show it (None: not yet submitted)."""
    s = session.get(ReviewSample, task_id)
    return None if s is None else {"decision": s.decision, "reason": s.reason}
