"""取崩しの一括記帳: many drawdowns from one CSV, each checked like a posting on the page, all or nothing.

The CSV is what a finance clerk keeps in Excel: a header row with 記帳日, 配分番号, 金額（円）, 摘要 and,
when needed, 年度, 理由 (a date in a past 年度) and 配分のない理由 (管理者's exception). Excel's
Shift_JIS (cp932) and UTF-8 (with or without BOM) are both read.
"""

import csv
import io
from datetime import date

from sqlalchemy import Engine

from fund import clock, drawdowns
from fund.auth import Action, Actor, require
from fund.db import checkpoint, write_session
from fund.errors import FundError, InputInvalid, RuleViolation
from fund.fiscal import fiscal_year_of
from fund.ledger import LedgerEntryCreate, approval_needed, insert_entry, validate_entry
from fund.models import DrawdownRequest, LedgerEntry, LedgerKind
from fund.money import format_yen

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 5_000
COLUMNS = {  # header → field
    "記帳日": "posted_on",
    "年度": "fiscal_year",
    "配分番号": "allocation_id",
    "金額（円）": "amount_yen",
    "摘要": "memo",
    "理由": "reason",
    "配分のない理由": "unallocated_reason",
}
REQUIRED = ("記帳日", "配分番号", "金額（円）", "摘要")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputInvalid(
        {"file": "文字コードを読み取れません。Excel で「CSV UTF-8」または「CSV」として保存してください。"}
    )


def _refused(problems: list[str]) -> RuleViolation:
    shown = problems[:20]
    more = f"\n（ほか {len(problems) - len(shown)}件）" if len(problems) > len(shown) else ""
    return RuleViolation("一括記帳できません。何も記帳していません。\n" + "\n".join(shown) + more)


def read_drawdowns(data: bytes, *, today: date | None = None) -> list[LedgerEntryCreate]:
    """The CSV's rows as drawdowns, each validated like the form; every problem is reported with its
    row number (the header is row 1) and nothing is returned unless all rows are valid."""
    today = today or clock.today_jst()
    if len(data) > MAX_BYTES:
        raise InputInvalid({"file": f"ファイルが大きすぎます（上限 {MAX_BYTES // 1024 // 1024}MB）。"})
    reader = csv.DictReader(io.StringIO(_decode(data)))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [h for h in REQUIRED if h not in header]
    if missing:
        raise InputInvalid({"file": f"見出しの行に {'、'.join(missing)} の列がありません。"})
    entries: list[LedgerEntryCreate] = []
    problems: list[str] = []
    for n, raw in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            raise InputInvalid({"file": f"一度に記帳できるのは {MAX_ROWS:,}行までです。"})
        row = {COLUMNS[k.strip()]: (v or "").strip() for k, v in raw.items() if k and k.strip() in COLUMNS}
        if not any(row.values()):
            continue  # a blank line Excel left at the end
        try:
            posted_on = date.fromisoformat(row["posted_on"].replace("/", "-"))
        except ValueError:
            problems.append(
                f"{n}行目: 記帳日は 2026-10-01 の形式で入力してください（「{row['posted_on']}」）。"
            )
            continue
        data_row: dict[str, object] = {
            "posted_on": posted_on,
            "fiscal_year": row.get("fiscal_year") or fiscal_year_of(posted_on),
            "kind": LedgerKind.drawdown,
            "amount_yen": row["amount_yen"].replace(",", ""),
            "memo": row["memo"],
            "allocation_id": row["allocation_id"] or None,
            "reason": row.get("reason", ""),
            "unallocated_reason": row.get("unallocated_reason", ""),
        }
        try:
            entries.append(validate_entry(data_row, today=today))
        except InputInvalid as exc:
            problems += [f"{n}行目: {m}" for m in exc.field_errors.values()]
    if problems:
        raise _refused(problems)
    if not entries:
        raise InputInvalid({"file": "記帳する行がありません。"})
    return entries


def post_drawdowns(
    engine: Engine, *, actor: Actor, entries: list[LedgerEntryCreate]
) -> list[LedgerEntry | DrawdownRequest]:
    """Post every drawdown in one transaction with its audit rows, or none: each is checked against
    the rows before it (what is left of its allocation, the balance on its date). A row that needs a
    second approval (fund.drawdowns) is registered as 承認待ち instead of posted."""
    require(actor, Action.post_ledger)
    done: list[LedgerEntry | DrawdownRequest] = []
    with write_session(engine) as session:
        for n, entry in enumerate(entries, start=2):
            try:
                why = approval_needed(session, entry)
                done.append(
                    insert_entry(session, actor=actor, entry=entry)
                    if why is None
                    else drawdowns.add_request(session, actor=actor, entry=entry, why=why)
                )
            except FundError as exc:
                messages = exc.field_errors.values() if isinstance(exc, InputInvalid) else [exc.message]
                raise _refused([f"{n}行目: {m}" for m in messages]) from None
        for row in done:
            session.refresh(row)
            session.expunge(row)
    checkpoint(engine)
    return done


def summary(done: list[LedgerEntry | DrawdownRequest]) -> str:
    """'12件、計 34,000,000円を記帳しました。' and the rows registered as 承認待ち."""
    posted = [r for r in done if isinstance(r, LedgerEntry)]
    waiting = [r for r in done if isinstance(r, DrawdownRequest)]
    text = f"{len(posted)}件、計 {format_yen(sum(r.amount_yen for r in posted))}を記帳しました。"
    if waiting:
        text += (
            f"ほか {len(waiting)}件、計 {format_yen(sum(r.amount_yen for r in waiting))}は承認が必要なため"
            "承認待ちとして登録しました（別の幹部または管理者の承認で記帳されます）。"
        )
    return text
