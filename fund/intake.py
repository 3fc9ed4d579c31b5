"""一括登録: the xlsx 様式 for proposals (one per row) and the all-or-nothing upload.

The upload reads every row, checks it with the same rules as the form (fund.proposals), and
imports only when no row has an error; otherwise it reports every error by row and column. Rows are
numbered as in Excel (the header is row 1, the 記入例 row 2).
"""

import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import xlsxwriter
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from fund import proposals, uploads
from fund.auth import Action, Actor, require
from fund.db import write_session
from fund.errors import InputInvalid, RuleViolation
from fund.export import FONT, display_width
from fund.fiscal import REIWA_OFFSET, fiscal_label
from fund.labels import NOVELTY
from fund.models import Category, Department, Novelty, ProposalStatus
from fund.money import sen_yen_to_yen

MAX_UPLOAD_BYTES = uploads.MAX_UPLOAD_BYTES
MAX_ROWS = 1_000
EXTRA_COLUMNS = 20  # columns a user added beside the 様式's are read (and ignored), no further
COST_YEARS = 5  # 初年度〜5年度目 in the 様式 (running costs after the fund years included)
KPI_SLOTS = proposals.MAX_KPIS  # the same number of KPI rows as the form
SHEET = "提案"
EXAMPLE_MARK = "（記入例）"
FIRST_DATA_ROW = 3  # Excel row of the first proposal (1 header, 2 記入例)


def _cost_cols(n: int) -> tuple[str, str, str]:
    return f"{n}年度目 事業費（千円）", f"{n}年度目 基金充当額（千円）", f"{n}年度目 備考"


def _kpi_cols(n: int) -> tuple[str, str, str, str, str]:
    return (
        f"成果指標{n} 指標名",
        f"成果指標{n} 単位",
        f"成果指標{n} 基準値",
        f"成果指標{n} 初年度目標",
        f"成果指標{n} 2年後目標",
    )


# (column header, required, instruction)
COLUMNS: list[tuple[str, bool, str]] = [
    (
        "事業名",
        True,
        "120文字以内。既存事業と同じ名称なら既存事業に紐付き、新しい名称なら新規事業になります。",
    ),
    ("所管部局", True, "「選択肢」シートの部局名。"),
    ("区分", True, "「選択肢」シートの区分（新規事業のみ使用。既存事業は登録済みの区分）。"),
    ("年度", True, "西暦の年度（例: 2027）または「令和9年度」。受付中の年度のみ。"),
    ("要件①", False, "該当すれば「○」。①②③のいずれか1つ以上が必要です。"),
    ("要件①の該当理由", False, "○を付けた要件には該当理由が必要です。"),
    ("要件②", False, "該当すれば「○」。"),
    ("要件②の該当理由", False, ""),
    ("要件③", False, "該当すれば「○」。"),
    ("要件③の該当理由", False, ""),
    ("事業概要", False, "提出時は必須。2,000文字以内。"),
    ("目的", False, "提出時は必須。"),
    ("現状・課題", False, "提出時は必須。"),
    *[
        (c, False, text)
        for n in range(1, COST_YEARS + 1)
        for c, text in zip(
            _cost_cols(n),
            (
                "千円単位の整数。1年度目（提案年度）の事業費は提出時に必須。" if n == 1 else "",
                "千円単位の整数。事業費以下。基金を充当しない運用経費の年度は0。" if n == 1 else "",
                "例: 運用経費" if n == 2 else "",
            ),
            strict=True,
        )
    ],
    ("国庫支出金（千円）", False, "1年度目の国庫支出金。基金充当額との合計は事業費以下。"),
    ("その他財源（千円）", False, "1年度目のその他の財源。"),
    ("想定利用者数（人）", False, "0〜10,000,000の整数。"),
    ("1人あたり年間利用回数（回/年）", False, "0〜3,650。"),
    ("年間手続件数（件/年）", False, "デジタル化する手続の年間件数。"),
    ("1件あたり短縮時間（分）", False, "0〜1,440。"),
    ("新規性", False, "全国初／県内初／他自治体で実績あり／既存サービスの拡充。提出時は必須。"),
    ("新規性の補足", False, "500文字以内。"),
    *[
        (c, False, text)
        for n in range(1, KPI_SLOTS + 1)
        for c, text in zip(
            _kpi_cols(n),
            (
                "提出時は1つ以上必須。" if n == 1 else "",
                "例: 人、%、件",
                "現状値（任意）",
                "提案年度の目標値",
                "提案年度の2年後の目標値",
            ),
            strict=True,
        )
    ],
]
HEADERS = [c for c, _, _ in COLUMNS]
REQUIRED = [c for c, req, _ in COLUMNS if req]

_TRUE = {"○", "◯", "〇", "1", "true", "yes", "はい", "該当", "y"}
_FALSE = {"", "×", "-", "―", "0", "false", "no", "いいえ", "非該当", "n"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    message: str


class UploadInvalid(InputInvalid):
    """Some rows failed; nothing was imported. `row_errors` lists every problem by row and column."""

    def __init__(self, row_errors: list[RowError]) -> None:
        super().__init__({f"{e.row}行目・{e.column}": e.message for e in row_errors})
        self.row_errors = row_errors

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "行": [e.row for e in self.row_errors],
                "列": [e.column for e in self.row_errors],
                "内容": [e.message for e in self.row_errors],
            }
        )


@dataclass(frozen=True)
class ImportResult:
    proposal_ids: list[int]
    status: ProposalStatus
    dry_run: bool

    @property
    def count(self) -> int:
        return len(self.proposal_ids)


# --- Template -----------------------------------------------------------------------------------------


def _choices(session: Session) -> tuple[list[str], list[tuple[str, int]]]:
    depts = [
        d.name
        for d in session.exec(select(Department).order_by(col(Department.sort_order), col(Department.id)))
    ]
    cats = list(session.exec(select(Category).order_by(col(Category.sort_order))))
    parents = {c.id: c for c in cats}
    leaves = []
    for c in cats:
        if c.parent_id is not None and c.id is not None:
            parent = parents.get(c.parent_id)
            leaves.append((f"{parent.heading if parent else ''}{c.heading} {c.name}".strip(), c.id))
    return depts, leaves


def template_xlsx(engine: Engine, *, years: list[int]) -> bytes:
    """The 様式: sheet 提案 (headers, one 記入例 row, drop-downs), 記入方法 and 選択肢."""
    with Session(engine) as session:
        depts, leaves = _choices(session)
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False})
    base = {"font_name": FONT, "font_size": 10}
    head = wb.add_format({**base, "bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True})
    head_req = wb.add_format({**base, "bold": True, "bg_color": "#F8CBAD", "border": 1, "text_wrap": True})
    example = wb.add_format({**base, "font_color": "#7F7F7F", "italic": True, "border": 1})
    text = wb.add_format({**base, "text_wrap": True, "valign": "top"})
    bold = wb.add_format({**base, "bold": True, "font_size": 12})

    ws = wb.add_worksheet(SHEET)
    year = years[0] if years else 2027
    sample = {
        "事業名": f"{EXAMPLE_MARK}オンライン健診予約事業",
        "所管部局": depts[0] if depts else "",
        "区分": leaves[0][0] if leaves else "",
        "年度": year,
        "要件①": "○",
        "要件①の該当理由": "健診予約をオンライン化し、電話・来庁の負担をなくす。",
        "事業概要": "市町の健診予約をスマートフォンで完結させる。",
        "目的": "受診率の向上と予約業務の削減",
        "現状・課題": "電話予約が平日日中に集中し、つながりにくい。",
        "1年度目 事業費（千円）": 30000,
        "1年度目 基金充当額（千円）": 20000,
        "2年度目 事業費（千円）": 5000,
        "2年度目 基金充当額（千円）": 0,
        "2年度目 備考": "運用経費",
        "国庫支出金（千円）": 5000,
        "その他財源（千円）": 0,
        "想定利用者数（人）": 40000,
        "1人あたり年間利用回数（回/年）": 1.5,
        "年間手続件数（件/年）": 60000,
        "1件あたり短縮時間（分）": 20,
        "新規性": NOVELTY[Novelty.prefecture_first],
        "新規性の補足": "県内市町で初の共同予約基盤",
        "成果指標1 指標名": "オンライン予約率",
        "成果指標1 単位": "%",
        "成果指標1 基準値": 0,
        "成果指標1 初年度目標": 20,
        "成果指標1 2年後目標": 50,
    }
    for c, (name, required, _) in enumerate(COLUMNS):
        ws.write_string(0, c, name, head_req if required else head)
        value = sample.get(name)
        if isinstance(value, int | float):
            ws.write_number(1, c, value, example)
        else:
            ws.write_string(1, c, str(value or ""), example)
        ws.set_column(c, c, max(12, min(display_width(name) + 2, 30)))
    ws.set_row(0, 36)
    ws.freeze_panes(1, 1)

    opts = wb.add_worksheet("選択肢")
    lists = {
        "所管部局": depts,
        "区分": [label for label, _ in leaves],
        "新規性": list(NOVELTY.values()),
        "要件": ["○"],
        "受付中の年度": [str(y) for y in years],
    }
    for c, (title, values) in enumerate(lists.items()):
        opts.write_string(0, c, title, head)
        for r, v in enumerate(values, start=1):
            opts.write_string(r, c, v, text)
        opts.set_column(c, c, max(14, *(display_width(v) + 2 for v in values)) if values else 14)
    last = MAX_ROWS + FIRST_DATA_ROW
    for name, col_index in (("所管部局", 0), ("区分", 1), ("新規性", 2)):
        c = HEADERS.index(name)
        n = len(lists[name])
        ref = chr(ord("A") + col_index)
        ws.data_validation(
            1,
            c,
            last,
            c,
            {"validate": "list", "source": f"='選択肢'!${ref}$2:${ref}${n + 1}", "error_type": "warning"},
        )
    for name in ("要件①", "要件②", "要件③"):
        c = HEADERS.index(name)
        ws.data_validation(1, c, last, c, {"validate": "list", "source": ["○"], "error_type": "warning"})

    guide = wb.add_worksheet("記入方法")
    guide.set_column(0, 0, 34)
    guide.set_column(1, 1, 6)
    guide.set_column(2, 2, 90)
    guide.write_string(0, 0, "事業提案 一括登録様式（山口県デジタル実装推進基金）", bold)
    lines = [
        "「提案」シートに1行1提案で記入してください。2行目の（記入例）は読み込まれません。",
        f"1回に登録できるのは{MAX_ROWS:,}件まで、ファイルは{MAX_UPLOAD_BYTES // (1024 * 1024)}MBまで（xlsx または csv）。",
        "金額はすべて千円単位の整数です。1年度目は提案する年度、2年度目以降は運用経費などを含めて記入します。",
        "1行でも誤りがあると登録されません。誤りは行と列ごとに一覧で表示されるので、直して再度アップロードしてください。",
        "受付中の年度: " + ("、".join(fiscal_label(y) for y in years) or "なし"),
    ]
    for r, line in enumerate(lines, start=2):
        guide.write_string(r, 0, line, text)
    r0 = len(lines) + 3
    guide.write_string(r0, 0, "列", head)
    guide.write_string(r0, 1, "必須", head)
    guide.write_string(r0, 2, "記入方法", head)
    for r, (name, required, note) in enumerate(COLUMNS, start=r0 + 1):
        guide.write_string(r, 0, name, text)
        guide.write_string(r, 1, "必須" if required else "", text)
        guide.write_string(r, 2, note, text)
    wb.close()
    return buf.getvalue()


# --- Reading ------------------------------------------------------------------------------------------


def _read_rows(filename: str, content: bytes) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header and (Excel row number, values) of a .xlsx or .csv file, read within the bounds of
    `fund.uploads`. Raises RuleViolation."""
    name = filename.lower()
    too_many = f"提案が{MAX_ROWS:,}件を超えています。1回に登録できるのは{MAX_ROWS:,}件までです。分けて登録してください。"
    bound = MAX_ROWS + FIRST_DATA_ROW - 1  # the header and the 記入例 besides the proposals
    if name.endswith(".xlsx"):
        raw = uploads.xlsx_rows(
            content, sheet=SHEET, max_cols=len(HEADERS) + EXTRA_COLUMNS, max_rows=bound, too_many=too_many
        )
    elif name.endswith(".csv"):
        raw = uploads.csv_rows(content, max_rows=bound, too_many=too_many)
    else:
        uploads.check_size(content)
        raise RuleViolation("読み込めるのは Excel（.xlsx）または CSV（.csv）のファイルだけです。")
    if not raw or raw[0][0] != 1:
        raise RuleViolation("ファイルに見出し行がありません。様式をダウンロードして使ってください。")
    header = [_clean(h) for h in raw[0][1]]
    missing = [h for h in REQUIRED if _clean(h) not in header]  # headers compared NFKC-normalised
    if missing:
        raise RuleViolation(
            "様式の見出しが見つかりません: "
            + "、".join(missing)
            + "。最新の様式をダウンロードして使ってください。"
        )
    rows = [
        (n, r)
        for n, r in raw[1:]
        if any(_clean(v) for v in r)
        and not _text(r[header.index("事業名")] if len(r) > header.index("事業名") else "").startswith(
            EXAMPLE_MARK
        )
    ]
    if not rows:
        raise RuleViolation("登録する提案がありません（記入例の行は読み込まれません）。")
    if len(rows) > MAX_ROWS:
        raise RuleViolation(
            f"提案が{len(rows):,}件あります。1回に登録できるのは{MAX_ROWS:,}件までです。分けて登録してください。"
        )
    return header, rows


def _text(value: Any) -> str:
    """A cell as text, as typed (names and descriptions are kept exactly)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _clean(value: Any) -> str:
    """A cell normalised for matching (full-width digits, brackets and spaces made plain)."""
    return unicodedata.normalize("NFKC", _text(value)).strip()


class _CellError(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def _number(value: Any, *, integer: bool) -> float | int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise _CellError("数値で入力してください。")
    if isinstance(value, int | float):
        number: float = float(value)
    else:
        text = _clean(value).replace(",", "")
        try:
            number = float(text)
        except ValueError:
            raise _CellError("数値で入力してください。") from None
    if integer:
        if not number.is_integer():
            raise _CellError("整数で入力してください。")
        return int(number)
    return number


def _sen_yen(value: Any) -> int:
    number = _number(value, integer=True)
    return 0 if number is None else sen_yen_to_yen(int(number))


def _year(value: Any) -> int | None:
    text = _clean(value)
    if not text:
        return None
    m = re.fullmatch(r"令和(\d+|元)(?:年度?)?", text)
    if m:
        return REIWA_OFFSET + (1 if m.group(1) == "元" else int(m.group(1)))
    m = re.fullmatch(r"(\d{4})(?:年度?)?", text)
    if m:
        return int(m.group(1))
    raise _CellError("年度は西暦（例: 2027）または「令和9年度」の形で入力してください。")


def _flag(value: Any) -> bool:
    text = _clean(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _CellError("該当する場合は「○」、しない場合は空欄にしてください。")


# Where a proposals.validate error key is shown in the sheet.
def _column_of(key: str) -> str:
    simple = {
        "project_name": "事業名",
        "department_id": "所管部局",
        "category_id": "区分",
        "fiscal_year": "年度",
        "requirements": "要件①〜③",
        "req1_reason": "要件①の該当理由",
        "req2_reason": "要件②の該当理由",
        "req3_reason": "要件③の該当理由",
        "summary": "事業概要",
        "purpose": "目的",
        "problem": "現状・課題",
        "cost_lines": _cost_cols(1)[0],
        "national_funds_yen": "国庫支出金（千円）",
        "other_funds_yen": "その他財源（千円）",
        "expected_users": "想定利用者数（人）",
        "uses_per_user_per_year": "1人あたり年間利用回数（回/年）",
        "procedures_per_year": "年間手続件数（件/年）",
        "minutes_saved_per_procedure": "1件あたり短縮時間（分）",
        "novelty": "新規性",
        "novelty_note": "新規性の補足",
        "kpis": _kpi_cols(1)[0],
    }
    if key in simple:
        return simple[key]
    if key.startswith("cost_lines."):
        n = int(key.split(".")[1]) + 1
        return f"{n}年度目（事業費・基金充当額・備考）"
    if key.startswith("kpis."):
        return f"成果指標{int(key.split('.')[1]) + 1}"
    return key


def _row_input(
    get: Callable[[str], Any], depts: dict[str, int], cats: dict[str, int]
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One sheet row → proposals input (money in yen). Cell-level errors are returned, not raised."""
    errors: list[tuple[str, str]] = []
    data: dict[str, Any] = {}

    def cell(column: str, convert: Callable[[Any], Any]) -> Any:
        try:
            return convert(get(column))
        except _CellError as exc:
            errors.append((column, exc.message))
            return None

    data["project_name"] = _text(get("事業名"))
    dept = _clean(get("所管部局"))
    if not dept:
        errors.append(("所管部局", "所管部局を入力してください。"))
    elif dept not in depts:
        errors.append(("所管部局", "登録されている部局名（「選択肢」シート）を入力してください。"))
    data["department_id"] = depts.get(dept, -1)
    cat = _clean(get("区分"))
    data["category_id"] = cats.get(cat) if cat else None
    if cat and cat not in cats:
        errors.append(("区分", "「選択肢」シートの区分を入力してください。"))
    year = cell("年度", _year)
    if year is None and not any(c == "年度" for c, _ in errors):
        errors.append(("年度", "年度を入力してください。"))
    data["fiscal_year"] = year if year is not None else 0
    for n, mark in ((1, "①"), (2, "②"), (3, "③")):
        data[f"meets_req{n}"] = bool(cell(f"要件{mark}", _flag))
        data[f"req{n}_reason"] = _text(get(f"要件{mark}の該当理由"))
    data["summary"] = _text(get("事業概要"))
    data["purpose"] = _text(get("目的"))
    data["problem"] = _text(get("現状・課題"))
    lines = []
    for n in range(1, COST_YEARS + 1):
        cost_col, fund_col, note_col = _cost_cols(n)
        lines.append(
            {
                "fiscal_year": data["fiscal_year"] + n - 1,
                "project_cost_yen": cell(cost_col, _sen_yen) or 0,
                "fund_share_yen": cell(fund_col, _sen_yen) or 0,
                "note": _text(get(note_col)),
            }
        )
    data["cost_lines"] = lines
    data["national_funds_yen"] = cell("国庫支出金（千円）", _sen_yen) or 0
    data["other_funds_yen"] = cell("その他財源（千円）", _sen_yen) or 0
    data["expected_users"] = cell("想定利用者数（人）", lambda v: _number(v, integer=True)) or 0
    data["uses_per_user_per_year"] = (
        cell("1人あたり年間利用回数（回/年）", lambda v: _number(v, integer=False)) or 0
    )
    data["procedures_per_year"] = cell("年間手続件数（件/年）", lambda v: _number(v, integer=True)) or 0
    data["minutes_saved_per_procedure"] = (
        cell("1件あたり短縮時間（分）", lambda v: _number(v, integer=False)) or 0
    )
    novelty_text = _clean(get("新規性"))
    by_label = {label: n.value for n, label in NOVELTY.items()}
    data["novelty"] = by_label.get(novelty_text) if novelty_text else None
    if novelty_text and novelty_text not in by_label:
        errors.append(
            (
                "新規性",
                "全国初／県内初／他自治体で実績あり／既存サービスの拡充 のいずれかを入力してください。",
            )
        )
    data["novelty_note"] = _text(get("新規性の補足"))
    kpis = []
    for n in range(1, KPI_SLOTS + 1):
        name_col, unit_col, base_col, first_col, later_col = _kpi_cols(n)
        kpis.append(
            {
                "name": _text(get(name_col)),
                "unit": _text(get(unit_col)),
                "baseline": cell(base_col, lambda v: _number(v, integer=False)),
                "target_first": cell(first_col, lambda v: _number(v, integer=False)),
                "target_later": cell(later_col, lambda v: _number(v, integer=False)),
            }
        )
    data["kpis"] = kpis
    return data, errors


class _DryRun(Exception):
    pass


def import_upload(
    engine: Engine,
    *,
    actor: Actor,
    filename: str,
    content: bytes,
    submit: bool = False,
    dry_run: bool = False,
    progress: Callable[[float], None] | None = None,
) -> ImportResult:
    """Check every row, then import all of them (as 下書き, or 提出済 when `submit`) or none.

    Raises RuleViolation for a file that cannot be used (type, size, rows, headers) and
    UploadInvalid with every error by row and column. `dry_run` checks without importing.
    """
    require(actor, Action.create_proposal)
    if submit:
        require(actor, Action.submit_proposal)
    header, rows = _read_rows(filename, content)
    index = {h: i for i, h in enumerate(header) if h}
    row_errors: list[RowError] = []
    created: list[int] = []
    try:
        with write_session(engine) as session:
            _, leaves = _choices(session)
            depts = {_clean(d.name): d.id for d in session.exec(select(Department)) if d.id is not None}
            cats: dict[str, int] = {}
            for c in session.exec(select(Category)):
                if c.parent_id is not None and c.id is not None:
                    cats[_clean(c.name)] = c.id
                    cats[_clean(c.code)] = c.id
            cats.update({_clean(label): i for label, i in leaves})
            seen: dict[tuple[str, int], int] = {}
            for done, (row_no, values) in enumerate(rows, start=1):

                def get(column: str, values: list[Any] = values) -> Any:
                    i = index.get(_clean(column))
                    return values[i] if i is not None and i < len(values) else None

                data, cell_errors = _row_input(get, depts, cats)
                errors = dict(reversed(cell_errors))
                key = (data["project_name"], data["fiscal_year"])
                if data["project_name"] and key in seen:
                    errors.setdefault("事業名", f"{seen[key]}行目と同じ事業・年度の提案です。")
                seen.setdefault(key, row_no)
                try:
                    p, project = proposals.validate(session, actor=actor, data=data, final=submit)
                except InputInvalid as exc:
                    for k, message in exc.field_errors.items():
                        errors.setdefault(_column_of(k), message)
                else:
                    if not errors:
                        saved = proposals.create_in_session(
                            session, actor=actor, p=p, project=project, submit=submit
                        )
                        created.append(saved)
                for column, message in errors.items():
                    row_errors.append(RowError(row_no, column, message))
                if progress is not None:
                    progress(done / len(rows))
            if row_errors:
                order = {h: i for i, h in enumerate(HEADERS)}
                row_errors.sort(key=lambda e: (e.row, order.get(e.column, len(order))))
                raise UploadInvalid(row_errors)
            if dry_run:
                raise _DryRun
    except _DryRun:
        return ImportResult(
            proposal_ids=[], status=ProposalStatus.submitted if submit else ProposalStatus.draft, dry_run=True
        )
    return ImportResult(
        proposal_ids=created,
        status=ProposalStatus.submitted if submit else ProposalStatus.draft,
        dry_run=False,
    )
