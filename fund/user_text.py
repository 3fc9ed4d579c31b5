"""Text that users type or upload: what may not be stored, and how names are compared.

Refused everywhere: NUL and the other control characters (tab and line breaks are text), and the
invisible characters that change the direction of what follows (a right-to-left override makes
「計画.exe」 read as something else). Refused in any field: a value made only of spaces and
zero-width characters. Names are compared after NFKC normalisation with spaces and zero-width
characters removed and case folded, so 「ＤＸ推進事業」 and 「DX推進事業」 are one name.

Every write is checked once more just before it is flushed (`guard_session`), whatever service,
page, upload or CLI made it: nothing with such a character reaches the database."""

import unicodedata
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from fund.errors import InputInvalid

ALLOWED_CONTROLS = {"\t", "\n", "\r"}
DIRECTION = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
INVISIBLE = {chr(c) for c in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E, 0x3164, 0x115F, 0x1160)}
UNUSABLE = "使えない文字（NULなどの制御文字、または文字の向きを変える書式文字）が含まれています。削除して入力し直してください。"
INVISIBLE_ONLY = "空白や見えない文字だけでは入力できません。"


def problem(value: str) -> str | None:
    """Why `value` cannot be stored, in Japanese; None when it can."""
    for ch in value:
        if ch in DIRECTION or (unicodedata.category(ch) == "Cc" and ch not in ALLOWED_CONTROLS):
            return UNUSABLE
    if value.strip() and not "".join(ch for ch in value if ch not in INVISIBLE).strip():
        return INVISIBLE_ONLY  # (plain spaces alone are an empty field, which each form words itself)
    return None


def checked(value: str) -> str:
    """`value` when it can be stored; raises ValueError with the Japanese reason (for validators)."""
    reason = problem(value)
    if reason is not None:
        raise ValueError(reason)
    return value


def name_key(value: str) -> str:
    """What two names are compared by: NFKC, case folded, without spaces and zero-width characters."""
    folded = unicodedata.normalize("NFKC", value).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and ch not in INVISIBLE)


def _text_values(obj: Any) -> list[tuple[str, str]]:
    table = getattr(obj, "__table__", None)
    if table is None:
        return []
    out = []
    for column in table.columns:
        value = getattr(obj, column.key, None)
        if isinstance(value, str):
            out.append((column.key, value))
    return out


def _check_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    errors: dict[str, str] = {}
    for obj in (*session.new, *session.dirty):
        for key, value in _text_values(obj):
            reason = problem(value)
            if reason is not None:
                errors.setdefault(key, reason)
    if errors:
        raise InputInvalid(errors)


def guard_session() -> None:
    """Check every text value of every flushed row (idempotent)."""
    if not event.contains(Session, "before_flush", _check_before_flush):
        event.listen(Session, "before_flush", _check_before_flush)
