"""How the KPI screens write their figures: separators, at most one decimal, 「—」 for none."""

import pandas as pd


def num(values: pd.Series) -> list[str]:
    """Numbers for reading: separators, at most one decimal, 「—」 where there is none."""
    out = []
    for v in values:
        if v is None or pd.isna(v):
            out.append("—")
        elif float(v).is_integer():
            out.append(f"{int(v):,}")
        else:
            out.append(f"{float(v):,.1f}")
    return out


def large(value: float, unit: str) -> str:
    """Headline figures: 万 above ten thousand so that the metric is not cut off."""
    if value >= 100_000:
        return f"{value / 10_000:,.0f}万{unit}"
    return f"{value:,.0f}{unit}"


def pct(values: pd.Series) -> list[str]:
    return ["—" if v is None or pd.isna(v) else f"{float(v) * 100:.0f}%" for v in values]
