import io

import openpyxl
import pandas as pd
import pytest

from fund.errors import RuleViolation
from fund.export import display_width, neutralise, to_csv_bytes, to_xlsx_bytes


@pytest.mark.parametrize("text", ["=1+1", "+81", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_formula_leading_text_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_plain_text_and_numbers_pass_unchanged() -> None:
    assert neutralise("野犬対策") == "野犬対策"
    assert neutralise(-5) == -5


def test_csv_has_a_bom_and_no_formula() -> None:
    data = to_csv_bytes(pd.DataFrame({"事業名": ['=HYPERLINK("x")'], "金額": [1000]}))
    assert data.startswith(b"\xef\xbb\xbf")
    assert "'=HYPERLINK" in data.decode("utf-8-sig")


def test_cp932_refuses_a_character_it_cannot_hold_and_names_it() -> None:
    with pytest.raises(RuleViolation, match="🐕"):
        to_csv_bytes(pd.DataFrame({"名": ["野犬🐕"]}), encoding="cp932")
    assert to_csv_bytes(pd.DataFrame({"名": ["髙橋"]}), encoding="cp932").decode("cp932").startswith("名")


def test_xlsx_has_no_formula_cells_and_writes_sen_yen() -> None:
    df = pd.DataFrame({"摘要": ["=cmd|' /C calc'!A0", "通常"], "金額（千円）": [-1_234_000, 5_930_000]})
    wb = openpyxl.load_workbook(
        io.BytesIO(to_xlsx_bytes(df, sheet_name="台帳", sen_yen_columns=["金額（千円）"]))
    )
    ws = wb.active
    assert [c.data_type for row in ws.iter_rows() for c in row if c.value is not None].count("f") == 0
    assert ws["A2"].value == "=cmd|' /C calc'!A0" and ws["A2"].data_type == "s"  # the text, exactly
    assert ws["B2"].value == -1234 and ws["B3"].value == 5930
    assert "▲" in ws["B2"].number_format


def test_full_width_characters_count_double() -> None:
    assert display_width("基金") == 4
    assert display_width("ab") == 2
