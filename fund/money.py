"""Integer yen in, display strings out. The only place where yen become 千円 or 億円."""

YEN_PER_SEN = 1_000  # 千円
YEN_PER_OKU = 100_000_000  # 億円


def to_sen_yen(yen: int) -> int:
    """Yen → 千円, rounded half away from zero (帳票 convention). Exact for the seed's figures."""
    sign = -1 if yen < 0 else 1
    return sign * ((abs(yen) + YEN_PER_SEN // 2) // YEN_PER_SEN)


def format_sen_yen(yen: int) -> str:
    """'1,234,567' in 千円, negatives as '▲1,234'."""
    value = to_sen_yen(yen)
    return f"▲{abs(value):,}" if value < 0 else f"{value:,}"


def format_oku_yen(yen: int, decimals: int = 1) -> str:
    """'20.6億円' (one decimal by default), negatives with ▲."""
    value = abs(yen) / YEN_PER_OKU
    text = f"{value:,.{decimals}f}億円"
    return f"▲{text}" if yen < 0 else text


def format_yen(yen: int) -> str:
    return f"▲{abs(yen):,}円" if yen < 0 else f"{yen:,}円"


def sen_yen_to_yen(sen_yen: int) -> int:
    return sen_yen * YEN_PER_SEN


# Excel number format for 千円 columns: thousands separators and ▲ for negatives.
EXCEL_SEN_YEN_FORMAT = '#,##0;"▲"#,##0'
