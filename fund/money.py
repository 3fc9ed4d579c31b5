"""Integer yen in, display figures out: the only place where yen become 千円 or 億円.

Each rule has a scalar form, a column (pandas Series) form and, where SQL aggregates 千円 figures,
a SQL form; a property test holds them to the same result."""

import re
import unicodedata

import numpy as np
import pandas as pd

from fund.errors import InputInvalid

YEN_PER_SEN = 1_000  # 千円
YEN_PER_OKU = 100_000_000  # 億円


def to_sen_yen(yen: int) -> int:
    """Yen → 千円, rounded half away from zero (帳票 convention). Exact for the seed's figures."""
    sign = -1 if yen < 0 else 1
    return sign * ((abs(yen) + YEN_PER_SEN // 2) // YEN_PER_SEN)


def round_yen(amount: float) -> int:
    """A computed amount (a stressed cost, interest) to whole yen, half away from zero like the 帳票."""
    whole = int(abs(amount) + 0.5)
    return -whole if amount < 0 else whole


def sen_yen_series(yen: pd.Series) -> pd.Series:
    """`to_sen_yen` on a column of yen (NA stays NA)."""
    values = yen.astype("Int64")
    return (np.sign(values) * ((values.abs() + YEN_PER_SEN // 2) // YEN_PER_SEN)).astype("Int64")


def sen_yen_sql(column: str) -> str:
    """`to_sen_yen` in portable SQL (DuckDB and PostgreSQL) on an integer-yen expression."""
    half, unit = YEN_PER_SEN // 2, float(YEN_PER_SEN)
    return (
        f"CASE WHEN {column} < 0 THEN -FLOOR((-{column} + {half}) / {unit}) "
        f"ELSE FLOOR(({column} + {half}) / {unit}) END"
    )


def to_oku_yen(yen: int) -> float:
    """Yen → 億円 as a number, for charts (display strings use `format_oku_yen`)."""
    return yen / YEN_PER_OKU


def oku_yen_series(yen: pd.Series) -> pd.Series:
    """`to_oku_yen` on a column of yen."""
    return yen.astype("float64") / YEN_PER_OKU


def format_sen_yen(yen: int) -> str:
    """'1,234,567' in 千円, negatives as '▲1,234'."""
    value = to_sen_yen(yen)
    return f"▲{abs(value):,}" if value < 0 else f"{value:,}"


def format_sen_yen_unit(yen: int) -> str:
    """'1,234千円' (negatives with ▲): a 千円 figure inside a sentence."""
    return f"{format_sen_yen(yen)}千円"


def format_sen_yen_series(yen: pd.Series) -> list[str]:
    """`format_sen_yen` per value of a column; '' where a value is missing."""
    return ["" if pd.isna(v) else format_sen_yen(int(v)) for v in yen]


def format_oku_yen(yen: int) -> str:
    """A headline amount in 億・万 as in the prefecture's documents, exact to the yen: '20億6,000万円',
    '350万円', '40億円'; negatives with ▲. Nothing is rounded away (「残り 0.0億円」 with 350万円 left
    hid real money)."""
    oku, rest = divmod(abs(yen), YEN_PER_OKU)
    man, en = divmod(rest, 10_000)
    parts = [f"{oku:,}億" if oku else "", f"{man:,}万" if man else "", f"{en:,}" if en else ""]
    text = "".join(parts) + "円" if any(parts) else "0円"
    return f"▲{text}" if yen < 0 else text


def format_oku_yen_rounded(yen: int) -> str:
    """'17.2億円': the section totals of the published 配分表, which round to 0.1億円 by its layout."""
    text = f"{abs(yen) / YEN_PER_OKU:,.1f}億円"
    return f"▲{text}" if yen < 0 else text


def format_yen(yen: int) -> str:
    return f"▲{abs(yen):,}円" if yen < 0 else f"{yen:,}円"


def format_yen_series(yen: pd.Series) -> list[str]:
    """Signed yen per value of a column as figures ('▲2,613,000', no unit: the header carries it);
    '' where a value is missing. Negatives with ▲ as in every 千円 table, never '-'."""
    return ["" if pd.isna(v) else (f"▲{abs(int(v)):,}" if v < 0 else f"{int(v):,}") for v in yen]


def sen_yen_to_yen(sen_yen: int) -> int:
    return sen_yen * YEN_PER_SEN


def parse_yen(text: str, *, field: str) -> int:
    """An amount typed in yen ('1,000,000' or '-5000'); InputInvalid on `field` if it is not an integer."""
    raw = text.replace(",", "").strip()
    if not raw.lstrip("-").isdigit():
        raise InputInvalid({field: "金額は半角数字（円単位の整数）で入力してください。"})
    return int(raw)


_SEN_YEN_TEXT = re.compile(r"[-▲△]?\d+")


def parse_sen_yen_text(text: str) -> int | None:
    """A 千円 amount as typed — '12,000', full-width '１２，０００', '▲500' — in yen; 0 when empty,
    None when it is not a whole number (the form's rule then names the field in Japanese)."""
    raw = unicodedata.normalize("NFKC", text or "").replace(",", "").replace(" ", "")
    if not raw:
        return 0
    if not _SEN_YEN_TEXT.fullmatch(raw):
        return None
    sign = -1 if raw[0] in "-▲△" else 1
    return sign * sen_yen_to_yen(int(raw.lstrip("-▲△")))


def group_sen_yen_text(text: str) -> str:
    """The typed 千円 amount with its digits grouped ('3000000' → '3,000,000'); other text unchanged."""
    yen = parse_sen_yen_text(text)
    return text if yen is None or not (text or "").strip() else format_sen_yen(yen)


# Excel number format for 千円 columns: thousands separators and ▲ for negatives.
EXCEL_SEN_YEN_FORMAT = '#,##0;"▲"#,##0'
