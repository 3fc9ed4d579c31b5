"""審査結果の確定: a round's frozen decision, its content hash, and what changed since the previous one.

The snapshot holds everything the 決裁 needs and the assembly may ask about: the ranking raw and
calibrated, the weights and rubric version, every counted score with its comment, disagreement
flags, the sensitivity bands (±10 points), each proposal's decision with its reason, who decided
and when. Its SHA-256 over the canonical JSON (sorted keys, no spaces) is stored with it and in the
audit row; `rounds.require_open` refuses every change to the round afterwards."""

import hashlib
import json
from typing import Any

import pandas as pd
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import audit, clock
from fund.auth import Action, Actor, can, require
from fund.db import query_df, read_session, write_session
from fund.errors import InputInvalid, NotFound, RuleViolation
from fund.labels import PROPOSAL_STATUS
from fund.models import AuditAction, ProposalStatus, ScreeningDecision, ScreeningRound
from fund.screening.results import results
from fund.screening.rounds import policy, require_open, round_label
from fund.screening.rubric import current_rubric
from fund.screening.sensitivity import sensitivity_of

SENSITIVITY_STEP = 10  # the ± points of the bands frozen with the decision (the page's default)


def content_hash(snapshot: dict[str, Any]) -> str:
    canonical = json.dumps(snapshot, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def unscored(engine: Engine, *, round_id: int) -> pd.DataFrame:
    """Counted assignments not scored on all four perspectives: 事業名, 審査担当, 採点済み観点数."""
    return query_df(
        engine,
        """
        SELECT p.name AS project, u.display_name AS reviewer,
               (SELECT COUNT(*) FROM review_score s WHERE s.assignment_id = ra.id) AS scored
        FROM review_assignment ra
        JOIN proposal pr ON pr.id = ra.proposal_id
        JOIN project p ON p.id = pr.project_id
        JOIN app_user u ON u.id = ra.reviewer_id
        WHERE ra.round_id = :r AND NOT ra.recused
          AND (SELECT COUNT(*) FROM review_score s WHERE s.assignment_id = ra.id) < 4
        ORDER BY p.name, u.display_name
        """,
        {"r": round_id},
    )


def _scores(engine: Engine, round_id: int) -> list[dict[str, Any]]:
    df = query_df(
        engine,
        """
        SELECT ra.proposal_id, u.login AS reviewer, u.display_name AS reviewer_name, s.perspective,
               s.score, s.comment, rv.version AS rubric_version, s.proposal_revision
        FROM review_score s
        JOIN review_assignment ra ON ra.id = s.assignment_id
        JOIN app_user u ON u.id = ra.reviewer_id
        JOIN rubric_version rv ON rv.id = s.rubric_version_id
        WHERE ra.round_id = :r AND NOT ra.recused
        ORDER BY ra.proposal_id, u.login, s.perspective
        """,
        {"r": round_id},
    )
    return [
        {
            k: (int(v) if k in ("proposal_id", "perspective", "score", "rubric_version") else v)
            for k, v in r.items()
        }
        | {"proposal_revision": int(r["proposal_revision"] or 1)}
        for r in df.to_dict("records")
    ]


def _decisions(engine: Engine, round_id: int) -> list[dict[str, Any]]:
    """Each assigned proposal's status now, with the reason, actor and time of the move to it."""
    df = query_df(
        engine,
        """
        SELECT pr.id AS proposal_id, p.name AS project, d.name AS department, pr.status,
               e.reason, e.actor, e.occurred_at
        FROM proposal pr
        JOIN project p ON p.id = pr.project_id
        JOIN department d ON d.id = p.department_id
        LEFT JOIN proposal_event e ON e.id = (
            SELECT MAX(x.id) FROM proposal_event x WHERE x.proposal_id = pr.id AND x.to_status = pr.status)
        WHERE pr.id IN (SELECT proposal_id FROM review_assignment WHERE round_id = :r)
        ORDER BY d.sort_order, p.name, pr.id
        """,
        {"r": round_id},
    )
    return [
        {
            "proposal_id": int(r.proposal_id),
            "project": str(r.project),
            "department": str(r.department),
            "status": str(r.status),
            "decision": PROPOSAL_STATUS[ProposalStatus(r.status)],
            "reason": str(r.reason or ""),
            "decided_by": str(r.actor or ""),
            "decided_at": "" if pd.isna(r.occurred_at) else clock.in_japan(r.occurred_at).isoformat(),
        }
        for r in df.itertuples(index=False)
    ]


def _ranking(engine: Engine, round_id: int, weights: list[int]) -> list[dict[str, Any]]:
    res = results(engine, round_id=round_id)
    bands: dict[int, dict[str, Any]] = {}
    complete = res.dropna(subset=["weighted_total"])
    if not complete.empty:
        table = sensitivity_of(complete, weights=weights, step=SENSITIVITY_STEP).table
        bands = {
            int(r["proposal_id"]): {
                "band": str(r["base_band"]),
                "best_rank": int(r["best_rank"]),
                "worst_rank": int(r["worst_rank"]),
                "robust": bool(r["robust"]),
            }
            for r in table.to_dict("records")
        }
    rows: list[dict[str, Any]] = []
    for r in res.to_dict("records"):
        row: dict[str, Any] = {
            k: (None if pd.isna(v) else (round(float(v), 6) if isinstance(v, float) else v))
            for k, v in r.items()
        }
        for k in ("rank", "calibrated_rank", "proposal_id", "reviews"):
            value = row[k]
            row[k] = None if value is None else int(value)
        row["disagreement"] = bool(row["disagreement"])
        rows.append(row | {"sensitivity": bands.get(int(r["proposal_id"]))})
    return rows


def build_snapshot(engine: Engine, *, round_id: int, decided_by: str, override_reason: str) -> dict[str, Any]:
    with read_session(engine) as session:
        screening_round = session.get(ScreeningRound, round_id)
        if screening_round is None:
            raise NotFound(f"審査ラウンド {round_id} は見つかりません。")
        rules = policy(session, round_id)
        title = round_label(screening_round.fiscal_year, screening_round.name)
        fiscal_year, name, is_sample = (
            screening_round.fiscal_year,
            screening_round.name,
            screening_round.is_sample,
        )
    rubric = current_rubric(engine, round_id=round_id)
    return {
        "round": {
            "id": round_id,
            "fiscal_year": fiscal_year,
            "name": name,
            "title": title,
            "is_sample": is_sample,
        },
        "rubric": {"version": rubric.version, "weights": rubric.weights},
        "policy": {"min_reviews": rules.min_reviews, "feedback_names": rules.feedback_names},
        "sensitivity_step": SENSITIVITY_STEP,
        "ranking": _ranking(engine, round_id, rubric.weights),
        "scores": _scores(engine, round_id),
        "decisions": _decisions(engine, round_id),
        "decided_by": decided_by,
        "decided_at": clock.now_jst().isoformat(timespec="seconds"),
        "override_reason": override_reason,
    }


def decide_round(
    engine: Engine, *, actor: Actor, round_id: int, override_reason: str = ""
) -> ScreeningDecision:
    """Close the round: store the snapshot and its hash, audited. 幹部・管理者.

    Unscored counted assignments are listed and refused; a 管理者 may decide anyway with a reason.
    Raises PermissionDenied, NotFound, RuleViolation (already decided, unscored, nothing assigned),
    InputInvalid (override reason too long).
    """
    require(actor, Action.decide_round)
    override_reason = override_reason.strip()
    if len(override_reason) > 500:
        raise InputInvalid({"override_reason": "理由は500文字以内で入力してください。"})
    with read_session(engine) as session:
        require_open(session, round_id)
    missing = unscored(engine, round_id=round_id)
    if not missing.empty and not (override_reason and can(actor, Action.screening_exception)):
        listed = "、".join(
            f"{r.project}（{r.reviewer}、{int(r.scored)}/4観点）" for r in missing.head(10).itertuples()
        )
        more = f" ほか{len(missing) - 10:,}件" if len(missing) > 10 else ""
        raise RuleViolation(
            f"採点が終わっていない割当が{len(missing):,}件あるため確定できません：{listed}{more}。"
            "管理者は理由を添えて確定できます。"
        )
    snapshot = build_snapshot(
        engine, round_id=round_id, decided_by=actor.login, override_reason=override_reason
    )
    if not snapshot["decisions"]:
        raise RuleViolation("このラウンドには審査の割当がないため、確定する結果がありません。")
    digest = content_hash(snapshot)
    with write_session(engine) as session:
        require_open(session, round_id)  # a decision made meanwhile wins; this one is refused
        row = ScreeningDecision(
            round_id=round_id,
            snapshot=snapshot,
            content_hash=digest,
            override_reason=override_reason,
            decided_by=actor.login,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor=actor.login,
            action=AuditAction.screening_decide,
            entity="screening_round",
            entity_id=round_id,
            after={"decision_id": row.id, "content_hash": digest, "proposals": len(snapshot["decisions"])},
            reason=override_reason,
        )
        session.refresh(row)
        session.expunge(row)
    return row


def _decision_row(session: Session, round_id: int) -> ScreeningDecision | None:
    return session.exec(select(ScreeningDecision).where(ScreeningDecision.round_id == round_id)).first()


def decision(engine: Engine, *, round_id: int) -> ScreeningDecision | None:
    """The round's decision, or None while it is open."""
    with read_session(engine) as session:
        row = _decision_row(session, round_id)
        if row is not None:
            session.expunge(row)
        return row


def verify(row: ScreeningDecision) -> bool:
    """Whether the stored snapshot still hashes to its stored hash."""
    return content_hash(row.snapshot) == row.content_hash


def previous_decision(engine: Engine, *, round_id: int) -> ScreeningDecision | None:
    """The newest earlier decision of another round of the same 年度 (e.g. 当初 before a 補正 round)."""
    with read_session(engine) as session:
        current = _decision_row(session, round_id)
        this_round = session.get(ScreeningRound, round_id)
        if current is None or this_round is None:
            return None
        row = session.exec(
            select(ScreeningDecision)
            .join(ScreeningRound, col(ScreeningRound.id) == col(ScreeningDecision.round_id))
            .where(
                ScreeningRound.fiscal_year == this_round.fiscal_year,
                ScreeningDecision.round_id != round_id,
                col(ScreeningDecision.decided_at) < current.decided_at,
            )
            .order_by(col(ScreeningDecision.decided_at).desc())
        ).first()
        if row is not None:
            session.expunge(row)
        return row


def differences(before: dict[str, Any], after: dict[str, Any]) -> pd.DataFrame:
    """What changed from one snapshot to the next: 事業名, 変化, 前回, 今回 — proposals added or
    dropped, ranks moved, decisions changed."""

    def by_id(snapshot: dict[str, Any], key: str) -> dict[int, dict[str, Any]]:
        return {int(r["proposal_id"]): r for r in snapshot[key]}

    old_rank, new_rank = by_id(before, "ranking"), by_id(after, "ranking")
    old_dec, new_dec = by_id(before, "decisions"), by_id(after, "decisions")
    rows: list[dict[str, Any]] = []
    for pid in sorted(set(old_dec) | set(new_dec)):
        name = (new_dec.get(pid) or old_dec[pid])["project"]
        if pid not in old_dec:
            rows.append({"事業名": name, "変化": "追加", "前回": "", "今回": new_dec[pid]["decision"]})
            continue
        if pid not in new_dec:
            rows.append({"事業名": name, "変化": "対象外", "前回": old_dec[pid]["decision"], "今回": ""})
            continue
        was, now = (old_rank.get(pid) or {}).get("rank"), (new_rank.get(pid) or {}).get("rank")
        if was != now:
            rows.append(
                {"事業名": name, "変化": "順位", "前回": f"{was or '—'}位", "今回": f"{now or '—'}位"}
            )
        if old_dec[pid]["decision"] != new_dec[pid]["decision"]:
            rows.append(
                {
                    "事業名": name,
                    "変化": "決定",
                    "前回": old_dec[pid]["decision"],
                    "今回": new_dec[pid]["decision"],
                }
            )
    return pd.DataFrame(rows, columns=["事業名", "変化", "前回", "今回"])
