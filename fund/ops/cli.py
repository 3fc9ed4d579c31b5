"""The `fund` command-line tool (also `python -m fund`). Reads FUND_DATABASE_URL like the app."""

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from fund import allocation, auth, clock, drawdowns, export, integrity, ledger, schema
from fund.db import database_path, explain_connection_error, get_engine, require_file
from fund.errors import FundError, InputInvalid
from fund.fiscal import fiscal_label, fiscal_year_of
from fund.labels import ALLOCATION_STATUS, BUDGET_STAGE, LEDGER_KIND, ROLE
from fund.models import AllocationStatus, BudgetStage, DrawdownRequest, LedgerKind, Role
from fund.money import format_sen_yen, format_yen
from fund.ops import backup, upgrade
from fund.ops.seed import seed
from fund.settings import get_settings

ROLE_CHOICES = {r.value: r for r in Role}
Command = Callable[[argparse.Namespace], int]


def _current_schema(func: Command) -> Command:
    """Commands that read or write the data run only on a database at this release's revision."""

    def checked(args: argparse.Namespace) -> int:
        require_file()
        schema.require_current(get_engine())
        return func(args)

    return checked


def _cmd_seed(_args: argparse.Namespace) -> int:
    report = seed(get_engine())
    if report.total:
        for table, n in report.inserted.items():
            print(f"  {table}: {n}件")
        print(f"初期データを登録しました（{report.total}件）。")
    else:
        print("初期データは登録済みです。変更はありません。")
    return 0


def _cmd_init(_args: argparse.Namespace) -> int:
    """Upgrade (or create) the schema, seed and, on first start, the administrator account."""
    _report_upgrade(upgrade.upgrade(create=True, progress=_progress_bar))
    engine = get_engine()
    report = seed(engine)
    if report.total:
        print(f"初期データを登録しました（{report.total}件）。")
    password = auth.ensure_admin(engine)
    if password:
        bar = "=" * 64
        print(
            f"{bar}\n管理者アカウントを作成しました。この表示は一度だけです。\n"
            f"  ログイン名: admin\n  パスワード: {password}\n"
            f"サインイン後、「アカウント」画面でパスワードを変更してください。\n{bar}",
            flush=True,
        )
    return 0


def _report_upgrade(report: upgrade.UpgradeReport) -> None:
    before = report.before
    if before.state is schema.State.empty:
        print(f"データベースを作成しました（スキーマの版 {report.after}）。")
    elif report.backup_dir is not None:
        was = before.revision or "0.1.0（版の記録なし）"
        print(
            f"スキーマを版 {was} から版 {report.after} に更新しました（{len(report.tables)}表、"
            f"{sum(report.tables.values()):,}行の件数と監査ログの連鎖を確認済み）。"
            f"更新前のバックアップ: {report.backup_dir}"
        )


def _cmd_db_upgrade(_args: argparse.Namespace) -> int:
    report = upgrade.upgrade(progress=_progress_bar)
    if report.before.state is schema.State.current:
        print(f"スキーマは最新の版（{report.after}）です。変更はありません。")
    _report_upgrade(report)
    return 0


def _cmd_db_current(_args: argparse.Namespace) -> int:
    require_file()
    found = schema.status(get_engine())
    print(f"このリリースの版: {found.head}")
    print(f"データベースの版: {found.revision or 'なし'}")
    if found.state is schema.State.current:
        print(found.message)
        return 0
    print(found.message, file=sys.stderr)
    return 4


def _cmd_db_history(_args: argparse.Namespace) -> int:
    for revision, follows, description in schema.history():
        print(f"{revision}\t{follows or '-'}\t{description}")
    return 0


@_current_schema
def _cmd_user_add(args: argparse.Namespace) -> int:
    if not args.password_stdin:
        print("パスワードは --password-stdin で標準入力から渡してください。", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\r\n")
    user = auth.create_user(
        get_engine(),
        actor=auth.SYSTEM,
        login=args.login,
        role=ROLE_CHOICES[args.role],
        password=password,
        display_name=args.name or args.login,
        department_name=args.department,
    )
    print(f"利用者「{user.login}」（{ROLE[user.role]}）を登録しました。")
    return 0


@_current_schema
def _cmd_user_reset_password(args: argparse.Namespace) -> int:
    """The way back in when no 管理者 can sign in: a new password, shown once on this terminal only.
    Every session of the user ends (the password changed); the reset is audited, never the password."""
    password = auth.generate_password()
    auth.set_password(get_engine(), actor=auth.SYSTEM, login=args.login, new_password=password)
    bar = "=" * 64
    print(
        f"{bar}\n利用者「{args.login}」のパスワードを再設定しました。この表示は一度だけです。\n"
        f"  パスワード: {password}\nサインイン後、「アカウント」画面でパスワードを変更してください。\n{bar}"
    )
    return 0


@_current_schema
def _cmd_user_link(args: argparse.Namespace) -> int:
    auth.link_oidc_subject(get_engine(), actor=auth.SYSTEM, login=args.login, subject=args.subject)
    print(f"利用者「{args.login}」を組織アカウント「{args.subject}」に紐付けました。")
    return 0


@_current_schema
def _cmd_ledger(args: argparse.Namespace) -> int:
    rf = ledger.roll_forward(get_engine())
    if args.year is not None:
        rf = rf[rf["fiscal_year"] == args.year]
        if rf.empty:
            print(f"{fiscal_label(args.year)}の記帳はありません。")
            return 0
    print("基金の年度別増減（単位：千円）")
    print("\t".join(["年度", *ledger.ROLL_FORWARD_AMOUNTS, "推計"]))
    for _, row in ledger.roll_forward_export(rf).iterrows():
        amounts = [format_sen_yen(int(row[name])) for name in ledger.ROLL_FORWARD_AMOUNTS]
        print("\t".join([row["和暦"], *amounts, row["推計"]]))
    return 0


@_current_schema
def _cmd_ledger_export(args: argparse.Namespace) -> int:
    """Write the ledger (or the roll-forward) to a file; the export is audited like one from the page."""
    engine = get_engine()
    year = args.export_year if args.export_year is not None else args.year
    if args.table == "roll-forward":
        df = ledger.roll_forward_export(ledger.roll_forward(engine))
        if year is not None:
            df = df[df["年度"] == year]
        data = ledger.export_bytes(
            df, fmt=args.format, sheet_name="年度別増減", title="基金の年度別増減（単位：千円）", sen_yen=True
        )
        what = "基金_年度別増減"
    else:
        df = ledger.ledger_export(engine, fiscal_year=year)
        data = ledger.export_bytes(
            df, fmt=args.format, sheet_name="基金台帳", title="基金台帳", sen_yen=False
        )
        what = "基金台帳"
    out = Path(args.out)
    out.write_bytes(data)
    export.record_export(
        engine,
        actor=auth.SYSTEM,
        what=what,
        filters={"年度": year, "形式": args.format, "経路": "fund ledger export"},
        rows=len(df),
    )
    print(f"{what}を {out} に保存しました（{len(df):,}行、{args.format}）。")
    return 0


@_current_schema
def _cmd_audit_verify(_args: argparse.Namespace) -> int:
    findings = integrity.verify(get_engine(), progress=lambda step: print(f"確認中: {step}", file=sys.stderr))
    if not findings:
        print(
            "監査ログの連鎖、記録と現在のデータ（台帳・配分・提案の状態・利用者・年度の決算確定）は一致しています。"
        )
        return 0
    shown = findings[:50]
    print(
        f"監査ログと一致しない点が {len(findings):,}件 あります（改ざんまたは破損の可能性）:", file=sys.stderr
    )
    for finding in shown:
        print(f"- {finding.message}", file=sys.stderr)
    if len(findings) > len(shown):
        print(f"（ほか {len(findings) - len(shown):,}件）", file=sys.stderr)
    return 1


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日付は YYYY-MM-DD で指定してください（{text}）。") from None


@_current_schema
def _cmd_ledger_post(args: argparse.Namespace) -> int:
    """One posting, with the same rules (and audit row) as the 基金の状況 form."""
    today = clock.today_jst()
    entry = drawdowns.post_or_request(
        get_engine(),
        actor=_actor_for(args.as_login),
        entry=ledger.validate_entry(
            {
                "posted_on": args.date,
                "fiscal_year": args.post_year if args.post_year is not None else fiscal_year_of(args.date),
                "kind": args.kind,
                "amount_yen": args.amount_yen,
                "memo": args.memo,
                "allocation_id": args.allocation,
                "project_id": args.project,
                "unallocated_reason": args.unallocated_reason,
                "reason": args.reason,
            },
            today=today,
        ),
        today=today,
    )
    linked = f"、配分番号 {entry.allocation_id}" if entry.allocation_id is not None else ""
    if isinstance(entry, DrawdownRequest):
        print(
            f"{entry.needs_approval_because}のため、承認依頼 {entry.id} として登録しました（取崩し "
            f"{entry.amount_yen:,}円、{fiscal_label(entry.fiscal_year)}{linked}）。別の幹部または管理者が"
            f"`fund ledger approve --request {entry.id}` で承認すると記帳されます。"
        )
        return 0
    print(
        f"台帳番号 {entry.id} として記帳しました（{LEDGER_KIND[entry.kind]} {entry.amount_yen:,}円、"
        f"{fiscal_label(entry.fiscal_year)}{linked}）。"
    )
    return 0


@_current_schema
def _cmd_ledger_approve(args: argparse.Namespace) -> int:
    """The second person's approval of a drawdown registered as 承認待ち (or its 却下)."""
    actor = _actor_for(args.as_login)
    if args.reject is not None:
        drawdowns.reject(get_engine(), actor=actor, request_id=args.request, reason=args.reject)
        print(f"承認依頼 {args.request} を却下しました。記帳はしていません。")
        return 0
    entry = drawdowns.approve(get_engine(), actor=actor, request_id=args.request)
    print(
        f"承認依頼 {args.request} を承認し、台帳番号 {entry.id} として記帳しました（{entry.amount_yen:,}円）。"
    )
    return 0


@_current_schema
def _cmd_ledger_import(args: argparse.Namespace) -> int:
    from fund import ledger_batch

    entries = ledger_batch.read_drawdowns(Path(args.file).read_bytes())
    posted = ledger_batch.post_drawdowns(get_engine(), actor=_actor_for(args.as_login), entries=entries)
    print(ledger_batch.summary(posted))
    return 0


@_current_schema
def _cmd_allocation_list(args: argparse.Namespace) -> int:
    rows = ledger.allocation_drawn(get_engine(), fiscal_years=(args.year,))
    if args.json:
        records = [
            {
                "id": int(r.id),
                "project_id": int(r.project_id),
                "fiscal_year": int(r.fiscal_year),
                "stage": str(r.budget_stage),
                "status": str(r.status),
                "fund_yen": int(r.fund_share_yen),
                "drawn_yen": int(r.drawn_yen),
            }
            for r in rows.itertuples()
        ]
        print(json.dumps(records, ensure_ascii=False))
        return 0
    print(f"{fiscal_label(args.year)}の配分（単位：円）")
    print("\t".join(["配分番号", "事業名", "予算区分", "状態", "基金充当額", "取崩し済み", "残り"]))
    for r in rows.itertuples():
        cells = [str(r.id), str(r.project_name), BUDGET_STAGE[BudgetStage(r.budget_stage)]]
        cells += [ALLOCATION_STATUS[AllocationStatus(r.status)], f"{int(r.fund_share_yen):,}"]
        print("\t".join([*cells, f"{int(r.drawn_yen):,}", f"{int(r.left_yen):,}"]))
    return 0


@_current_schema
def _cmd_allocation_add(args: argparse.Namespace) -> int:
    row = allocation.propose_allocation(
        get_engine(),
        actor=_actor_for(args.as_login),
        allocation=allocation.validate_allocation(
            {
                "project_id": args.project,
                "fiscal_year": args.year,
                "budget_stage": args.stage,
                "project_cost_yen": args.cost_yen,
                "fund_share_yen": args.fund_yen,
            }
        ),
    )
    print(
        f"配分番号 {row.id} を登録しました（{fiscal_label(row.fiscal_year)}、基金充当額 {row.fund_share_yen:,}円、"
        "承認待ち）。別の幹部または管理者が承認します。"
    )
    return 0


@_current_schema
def _cmd_allocation_approve(args: argparse.Namespace) -> int:
    print(allocation.approve_pending(get_engine(), actor=_actor_for(args.as_login), allocation_id=args.id))
    return 0


@_current_schema
def _cmd_allocation_revise(args: argparse.Namespace) -> int:
    change = allocation.revise_allocation(
        get_engine(),
        actor=_actor_for(args.as_login),
        allocation_id=args.id,
        fund_share_yen=args.fund_yen,
        project_cost_yen=args.cost_yen,
        reason=args.reason,
    )
    print(
        f"配分番号 {args.id} の補正を変更番号 {change.id} として登録しました（基金充当額 {format_yen(change.fund_delta_yen)}、"
        "承認待ち）。別の幹部または管理者が承認します。"
    )
    return 0


@_current_schema
def _cmd_allocation_carry_over(args: argparse.Namespace) -> int:
    change = allocation.carry_over(
        get_engine(),
        actor=_actor_for(args.as_login),
        allocation_id=args.id,
        amount_yen=args.amount_yen,
        reason=args.reason,
    )
    print(
        f"配分番号 {args.id} の繰越 {change.fund_delta_yen:,}円 を変更番号 {change.id} として登録しました（承認待ち）。"
        "別の幹部または管理者が承認します。"
    )
    return 0


@_current_schema
def _cmd_ceiling(args: argparse.Namespace) -> int:
    c = allocation.fund_ceiling(get_engine(), fiscal_year=args.year)
    if args.json:
        print(json.dumps(c.as_json(), ensure_ascii=False))
        return 0
    print(f"{fiscal_label(args.year)}の余裕額: {c.headroom_yen:,}円（{allocation.ceiling_breakdown(c)}）")
    if c.annual_cap_yen is not None:
        print(f"年間上限額 {c.annual_cap_yen:,}円、登録済み {c.year_total_yen:,}円")
    return 0


@_current_schema
def _cmd_year_close(args: argparse.Namespace) -> int:
    lapses = allocation.close_year(get_engine(), actor=_actor_for(args.as_login), fiscal_year=args.year)
    lapsed = sum(c.fund_delta_yen for c in lapses)
    print(f"{fiscal_label(args.year)}を決算確定しました（不用額 {len(lapses)}件、計 {lapsed:,}円）。")
    return 0


def _progress_bar(step: str, done: int, total: int) -> None:
    """A one-line progress bar on stderr (backup and restore)."""
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(
        f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {step[:40]:<40}", end=end, file=sys.stderr
    )


def _cmd_backup(args: argparse.Namespace) -> int:
    require_file()  # a backup of any revision is allowed (it is the way back), of no file is not
    manifest = backup.backup(get_engine(), out_dir=Path(args.out), progress=_progress_bar)
    rows = sum(manifest.tables.values())
    print(
        f"バックアップを {args.out} に作成しました（{len(manifest.tables)}表、{rows:,}行、目録 manifest.json）。"
    )
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    report = backup.restore(
        Path(args.source), force=args.force, accept_unsigned=args.accept_unsigned, progress=_progress_bar
    )
    print(
        f"復元しました（{len(report.tables)}表、{sum(report.tables.values()):,}行）。"
        "件数とチェックサム、監査ログの連鎖を確認済みです。"
    )
    if report.previous_file is not None:
        print(f"元のデータベースは {report.previous_file.name} として残しています。")
    _report_upgrade(upgrade.upgrade(progress=_progress_bar))  # a backup of an earlier release
    return 0


def _actor_for(login: str | None) -> auth.Actor:
    """`--as LOGIN`: act as that active user; without it, the system actor."""
    if login is None:
        return auth.SYSTEM
    from sqlmodel import Session, select

    from fund.models import AppUser

    with Session(get_engine()) as session:
        user = session.exec(select(AppUser).where(AppUser.login == login)).first()
    if user is None or not user.active:
        raise InputInvalid({"as": f"利用者「{login}」は登録されていないか、無効です。"})
    return auth.Actor(
        login=user.login, role=user.role, department_id=user.department_id, display_name=user.display_name
    )


@_current_schema
def _cmd_export_allocations(args: argparse.Namespace) -> int:
    from fund import allocation_export

    result = allocation_export.export_allocations(
        get_engine(),
        actor=_actor_for(args.as_login),
        fiscal_year=args.year,
        fmt=args.format,
        encoding=args.encoding,
        breakdown=args.breakdown,
    )
    Path(args.out).write_bytes(result.data)
    print(
        f"{fiscal_label(args.year)}の基金活用事業一覧（{args.format}、{result.rows}行）を {args.out} に出力しました。"
    )
    return 0


@_current_schema
def _cmd_export_screening(args: argparse.Namespace) -> int:
    from fund import screening

    filters = screening.ResultFilters(
        departments=tuple(args.department or ()), disagreement_only=args.disagreement_only, search=args.search
    )
    data = screening.export_results(
        get_engine(), actor=_actor_for(args.as_login), round_id=args.round, filters=filters, fmt=args.format
    )
    Path(args.out).write_bytes(data)
    print(f"審査ラウンド {args.round} の審査結果（{args.format}）を {args.out} に出力しました。")
    return 0


@_current_schema
def _cmd_proposals_import(args: argparse.Namespace) -> int:
    from fund import intake

    path = Path(args.file)
    if not path.is_file():
        raise InputInvalid({"file": f"ファイル {path} が見つかりません。"})
    try:
        result = intake.import_upload(
            get_engine(),
            actor=_actor_for(args.as_login),
            filename=path.name,
            content=path.read_bytes(),
            submit=args.submit,
            dry_run=args.dry_run,
        )
    except intake.UploadInvalid as exc:
        for e in exc.row_errors:
            print(f"エラー: {e.row}行目 {e.column}: {e.message}", file=sys.stderr)
        print(f"誤りが{len(exc.row_errors)}件あるため、登録していません。", file=sys.stderr)
        return 2
    if result.dry_run:
        print(f"{path.name}: すべての行に誤りはありません（--dry-run のため登録していません）。")
    else:
        print(
            f"{path.name}: {len(result.proposal_ids)}件を{'提出済' if args.submit else '下書き'}として登録しました。"
        )
    return 0


@_current_schema
def _cmd_screening_decide(args: argparse.Namespace) -> int:
    from fund import screening

    row = screening.decide_round(
        get_engine(),
        actor=_actor_for(args.as_login),
        round_id=args.round,
        override_reason=args.override_reason,
    )
    print(
        f"{row.snapshot['round']['title']}の審査結果を確定しました（提案 {len(row.snapshot['decisions'])}件、"
        f"ハッシュ {row.content_hash}）。"
    )
    return 0


@_current_schema
def _cmd_screening_appendix(args: argparse.Namespace) -> int:
    from fund import screening

    data = screening.export_appendix(
        get_engine(), actor=_actor_for(args.as_login), round_id=args.round, fmt=args.format
    )
    Path(args.out).write_bytes(data)
    print(f"審査ラウンド {args.round} の決裁資料（{args.format}）を {args.out} に出力しました。")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from fund.ops import generate

    path = database_path(args.out)
    if path is not None and path.exists():
        if not args.replace:
            print(
                f"エラー: {path} は既にあります。--replace で置き換えるか、別のファイルを指定してください。",
                file=sys.stderr,
            )
            return 2
        path.unlink()
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
    report = generate.generate(
        get_engine(args.out), proposals=args.proposals, seed_value=args.seed, progress=_progress_bar
    )
    rows = sum(report.inserted.values())
    print(
        f"合成データを作成しました（提案 {report.proposals:,}件、合計 {rows:,}行、乱数シード {report.seed}）。"
    )
    for table, n in report.inserted.items():
        print(f"  {table}: {n:,}行")
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from fund.ops import migrate

    report = migrate.migrate(source=get_engine(), target_url=args.to, progress=_progress_bar)
    print(
        f"{report.source} から {report.target} へ移行しました（{len(report.tables)}表、"
        f"{sum(report.tables.values()):,}行）。表ごとの件数、基金残高（{report.balance_yen:,}円）、"
        "監査ログの連鎖を確認済みです。"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fund",
        description="山口県デジタル実装推進基金 管理ツール（FUND_DATABASE_URL のデータベースを操作します）",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser(
        "seed", help="スキーマを作成し、data/ の初期データを登録する（何度実行しても同じ結果）"
    ).set_defaults(func=_cmd_seed)
    sub.add_parser(
        "init",
        help="スキーマを作成・更新（db upgrade）して seed し、管理者がいなければ作成してパスワードを一度だけ表示する",
    ).set_defaults(func=_cmd_init)

    db = sub.add_parser("db", help="データベースのスキーマ（版）").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser(
        "upgrade", help="バックアップを取り、スキーマを最新の版に更新して件数と監査ログを確認する"
    ).set_defaults(func=_cmd_db_upgrade)
    db.add_parser("current", help="データベースの版とこのリリースの版を表示する").set_defaults(
        func=_cmd_db_current
    )
    db.add_parser("history", help="スキーマの版の一覧（古い順）").set_defaults(func=_cmd_db_history)

    user = sub.add_parser("user", help="利用者の管理").add_subparsers(dest="user_command", required=True)
    add = user.add_parser("add", help="ローカル利用者を追加する")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=sorted(ROLE_CHOICES))
    add.add_argument("--department", help="所管部局（事業担当は必須）")
    add.add_argument("--name", help="表示名")
    add.add_argument("--password-stdin", action="store_true", help="パスワードを標準入力の1行目から読む")
    add.set_defaults(func=_cmd_user_add)
    reset = user.add_parser(
        "reset-password",
        help="パスワードを再設定し、新しいパスワードを一度だけ表示する（管理者が入れないとき）",
    )
    reset.add_argument("login")
    reset.set_defaults(func=_cmd_user_reset_password)
    link = user.add_parser("link", help="利用者を組織アカウント（SSO の sub またはメールアドレス）に紐付ける")
    link.add_argument("login")
    link.add_argument(
        "subject", help="OIDC の sub、またはメールアドレス（初回サインインで sub に置き換わる）"
    )
    link.set_defaults(func=_cmd_user_link)

    led = sub.add_parser("ledger", help="基金の年度別増減（ロールフォワード）を表示する")
    led.add_argument("--year", type=int, help="西暦の年度（例: 2024）")
    led.set_defaults(func=_cmd_ledger)
    led_sub = led.add_subparsers(dest="ledger_command")  # optional: `fund ledger --year N` still works
    led_exp = led_sub.add_parser("export", help="基金台帳（または年度別増減）を xlsx / CSV に保存する")
    led_exp.add_argument(
        "--format", required=True, choices=["xlsx", "csv"], help="xlsx または csv（UTF-8 BOM付き）"
    )
    led_exp.add_argument("--out", required=True, help="出力ファイル")
    led_exp.add_argument(
        "--table",
        choices=["entries", "roll-forward"],
        default="entries",
        help="entries（台帳、既定）または roll-forward",
    )
    led_exp.add_argument("--year", type=int, dest="export_year", help="台帳を西暦の年度で絞り込む")
    led_exp.set_defaults(func=_cmd_ledger_export)

    post = led_sub.add_parser("post", help="台帳に記帳する（画面と同じ規則で検査し、監査ログに記録）")
    post.add_argument(
        "--kind", required=True, choices=[k.value for k in LedgerKind if k != LedgerKind.reversal]
    )
    post.add_argument("--amount-yen", type=int, required=True, help="金額（円、1円以上の整数）")
    post.add_argument("--date", type=_day, required=True, help="記帳日（YYYY-MM-DD、今日以前）")
    post.add_argument("--year", type=int, dest="post_year", help="計上する年度（省略時は記帳日の年度）")
    post.add_argument("--memo", required=True, help="摘要")
    post.add_argument("--allocation", type=int, help="取崩しの配分番号")
    post.add_argument("--project", type=int, help="事業番号（返還など、取崩し以外）")
    post.add_argument("--unallocated-reason", default="", help="配分のない取崩しの理由（例外、管理者）")
    post.add_argument("--reason", default="", help="過去の年度の日付で記帳する理由")
    post.add_argument("--as", dest="as_login", help="記帳者のログイン名（省略時はシステム）")
    post.set_defaults(func=_cmd_ledger_post)
    approve = led_sub.add_parser(
        "approve", help="承認待ちの取崩し（配分なし・承認基準額超え）を承認して記帳する（記帳者とは別の人）"
    )
    approve.add_argument("--request", type=int, required=True, help="承認依頼の番号")
    approve.add_argument("--reject", metavar="理由", help="承認せずに却下する（理由を添えて）")
    approve.add_argument("--as", dest="as_login", help="承認者のログイン名")
    approve.set_defaults(func=_cmd_ledger_approve)
    imp = led_sub.add_parser(
        "import", help="取崩しを CSV から一括記帳する（記帳日・配分番号・金額（円）・摘要の列。全件か0件）"
    )
    imp.add_argument("file", help="CSV ファイル（UTF-8 または Excel の CSV）")
    imp.add_argument("--as", dest="as_login", help="記帳者のログイン名（省略時はシステム）")
    imp.set_defaults(func=_cmd_ledger_import)

    alloc = sub.add_parser("allocation", help="配分").add_subparsers(dest="allocation_command", required=True)
    alist = alloc.add_parser("list", help="年度の配分と取崩し済みの額")
    alist.add_argument("--year", type=int, required=True, help="西暦の年度（例: 2026）")
    alist.add_argument("--json", action="store_true", help="JSON で出力する")
    alist.set_defaults(func=_cmd_allocation_list)
    aadd = alloc.add_parser("add", help="配分を登録する（承認待ち。年度の上限を検査）")
    aadd.add_argument("--project", type=int, required=True, help="事業番号")
    aadd.add_argument("--year", type=int, required=True, help="西暦の年度")
    aadd.add_argument("--stage", choices=[s.value for s in BudgetStage], default=BudgetStage.initial.value)
    aadd.add_argument("--cost-yen", type=int, required=True, help="事業費（円）")
    aadd.add_argument("--fund-yen", type=int, required=True, help="基金充当額（円）")
    aadd.add_argument("--as", dest="as_login", help="登録者のログイン名（省略時はシステム）")
    aadd.set_defaults(func=_cmd_allocation_add)
    aapp = alloc.add_parser(
        "approve", help="配分、またはその補正・繰越を承認する（登録者以外の幹部・管理者）"
    )
    aapp.add_argument("id", type=int, help="配分番号")
    aapp.add_argument("--as", dest="as_login", help="承認者のログイン名（省略時はシステム）")
    aapp.set_defaults(func=_cmd_allocation_approve)
    arev = alloc.add_parser("revise", help="承認済みの配分を補正する（増額・減額、0円で取消。承認待ち）")
    arev.add_argument("id", type=int, help="配分番号")
    arev.add_argument("--fund-yen", type=int, required=True, help="補正後の基金充当額（円）")
    arev.add_argument("--cost-yen", type=int, help="補正後の事業費（円、省略時は変えない）")
    arev.add_argument("--reason", required=True, help="補正の理由")
    arev.add_argument("--as", dest="as_login", help="登録者のログイン名（省略時はシステム）")
    arev.set_defaults(func=_cmd_allocation_revise)
    acar = alloc.add_parser("carry-over", help="未執行額の一部を翌年度へ繰り越す（承認待ち）")
    acar.add_argument("id", type=int, help="配分番号")
    acar.add_argument("--amount-yen", type=int, required=True, help="繰越額（円）")
    acar.add_argument("--reason", required=True, help="繰越の理由")
    acar.add_argument("--as", dest="as_login", help="登録者のログイン名（省略時はシステム）")
    acar.set_defaults(func=_cmd_allocation_carry_over)

    ceil = sub.add_parser("ceiling", help="年度の余裕額（基金残高 − 未取崩し − 後年度負担 − 承認待ち）")
    ceil.add_argument("--year", type=int, required=True, help="西暦の年度")
    ceil.add_argument("--json", action="store_true", help="JSON で出力する")
    ceil.set_defaults(func=_cmd_ceiling)

    year = sub.add_parser("year", help="年度").add_subparsers(dest="year_command", required=True)
    yclose = year.add_parser("close", help="年度を決算確定する（以後その年度には記帳できない）")
    yclose.add_argument("year", type=int, help="西暦の年度")
    yclose.add_argument("--as", dest="as_login", help="実行者のログイン名（省略時はシステム）")
    yclose.set_defaults(func=_cmd_year_close)

    aud = sub.add_parser("audit", help="監査ログ").add_subparsers(dest="audit_command", required=True)
    aud.add_parser("verify", help="監査ログのハッシュ連鎖を検証する").set_defaults(func=_cmd_audit_verify)

    bak = sub.add_parser("backup", help="一貫したバックアップ（Parquet と目録 manifest.json）を作成する")
    bak.add_argument("--out", required=True, help="出力先フォルダ（新規または空）")
    bak.set_defaults(func=_cmd_backup)
    res = sub.add_parser("restore", help="バックアップから FUND_DATABASE_URL のデータベースを復元する")
    res.add_argument("source", help="fund backup で作成したフォルダ")
    res.add_argument(
        "--force", action="store_true", help="データのある復元先を置き換える（元は改名して残す）"
    )
    res.add_argument(
        "--accept-unsigned",
        action="store_true",
        help="署名のない目録のバックアップ（リリース 0.1.0 など）を、作成元を確かめたうえで復元する",
    )
    res.set_defaults(func=_cmd_restore)

    prop = sub.add_parser("proposals", help="事業提案").add_subparsers(
        dest="proposals_command", required=True
    )
    pimp = prop.add_parser(
        "import", help="一括登録様式（xlsx または csv）の全行を確認し、誤りがなければ全件を登録する"
    )
    pimp.add_argument("file", help="記入した様式のファイル")
    pimp.add_argument("--dry-run", action="store_true", help="確認だけ行い、登録しない")
    pimp.add_argument("--submit", action="store_true", help="下書きではなく提出済として登録する")
    pimp.add_argument("--as", dest="as_login", required=True, help="登録者のログイン名")
    pimp.set_defaults(func=_cmd_proposals_import)

    scr = sub.add_parser("screening", help="審査・採点").add_subparsers(
        dest="screening_command", required=True
    )
    sdec = scr.add_parser("decide", help="審査結果を確定する（幹部・管理者。以後そのラウンドは変更できない）")
    sdec.add_argument("--round", type=int, required=True, help="審査ラウンドの番号")
    sdec.add_argument("--as", dest="as_login", required=True, help="確定者のログイン名")
    sdec.add_argument(
        "--override-reason", default="", help="未採点の割当を残したまま確定する理由（管理者のみ）"
    )
    sdec.set_defaults(func=_cmd_screening_decide)
    sapp = scr.add_parser("appendix", help="確定した審査結果の決裁資料を PDF または xlsx で出力する")
    sapp.add_argument("--round", type=int, required=True, help="審査ラウンドの番号")
    sapp.add_argument("--format", required=True, choices=["pdf", "xlsx"])
    sapp.add_argument("--out", required=True, help="出力ファイル")
    sapp.add_argument(
        "--as", dest="as_login", help="出力者として記録する利用者のログイン名（省略時はシステム）"
    )
    sapp.set_defaults(func=_cmd_screening_appendix)

    gen = sub.add_parser("generate", help="ベンチマーク用の合成データベース（DuckDB）を作成する")
    gen.add_argument("--proposals", type=int, required=True, help="提案件数（例: 100000）")
    gen.add_argument("--seed", type=int, default=1, help="乱数シード（同じ値なら同じデータ）")
    gen.add_argument("--out", required=True, help="作成先の URL（例: duckdb:///bench.duckdb）")
    gen.add_argument("--replace", action="store_true", help="作成先のファイルがあれば削除して作り直す")
    gen.set_defaults(func=_cmd_generate)
    mig = sub.add_parser("migrate", help="FUND_DATABASE_URL のデータベースを別のデータベースへ移行する")
    mig.add_argument(
        "--to", required=True, help="移行先の URL（空のデータベース。例: postgresql+psycopg://…）"
    )
    mig.set_defaults(func=_cmd_migrate)

    exp = sub.add_parser("export", help="帳票の出力（監査ログに記録）").add_subparsers(
        dest="export_command", required=True
    )
    exa = exp.add_parser("allocations", help="基金活用事業一覧（年度配分）を xlsx または CSV で出力する")
    exa.add_argument("--year", type=int, required=True, help="西暦の年度（例: 2024）")
    exa.add_argument("--format", required=True, choices=["xlsx", "csv"])
    exa.add_argument(
        "--encoding", default="utf-8-sig", choices=["utf-8-sig", "cp932"], help="CSV の文字コード"
    )
    exa.add_argument("--out", required=True, help="出力ファイル")
    exa.add_argument(
        "--breakdown",
        action="store_true",
        help="xlsx の基金充当額を当初・補正・前年度繰越・計に分けて出力する",
    )
    exa.add_argument(
        "--as", dest="as_login", help="出力者として記録する利用者のログイン名（省略時はシステム）"
    )
    exa.set_defaults(func=_cmd_export_allocations)
    exs = exp.add_parser("screening", help="審査結果（素点・補正後の順位）を xlsx または CSV で出力する")
    exs.add_argument("--round", type=int, required=True, help="審査ラウンドの番号")
    exs.add_argument(
        "--format", required=True, choices=["xlsx", "csv"], help="xlsx または csv（UTF-8 BOM付き）"
    )
    exs.add_argument("--out", required=True, help="出力ファイル")
    exs.add_argument("--department", action="append", help="所管部局で絞り込む（複数指定可）")
    exs.add_argument("--search", default="", help="事業名に含まれる文字で絞り込む")
    exs.add_argument("--disagreement-only", action="store_true", help="評価が割れている提案だけを出力する")
    exs.add_argument(
        "--as", dest="as_login", help="出力者として記録する利用者のログイン名（省略時はシステム）"
    )
    exs.set_defaults(func=_cmd_export_screening)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except schema.SchemaMismatch as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 4
    except InputInvalid as exc:
        for message in exc.field_errors.values():
            print(f"エラー: {message}", file=sys.stderr)
        return 2
    except FundError as exc:
        print(f"エラー: {exc.message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader stopped early (`| head`): nothing more to say
        return 0
    except (SQLAlchemyError, OSError) as exc:
        # A misconfigured URL or an unreadable database: a message, never a traceback.
        print(f"エラー: {explain_connection_error(get_settings().database_url, exc)}", file=sys.stderr)
        return 3
