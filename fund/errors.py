"""Domain exceptions. Each carries a Japanese message that pages show as-is."""

from collections.abc import Mapping

from pydantic import ValidationError


class FundError(Exception):
    """A rule was broken; `message` is the Japanese text for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(FundError):
    pass


class NotFound(FundError):
    pass


class RuleViolation(FundError):
    pass


class StaleEdit(FundError):
    """Someone else saved the record after it was opened (optimistic locking)."""


class InputInvalid(FundError):
    """Input failed validation; `field_errors` maps a field name to its Japanese message."""

    def __init__(self, field_errors: dict[str, str]) -> None:
        super().__init__("入力内容に誤りがあります。" + " / ".join(field_errors.values()))
        self.field_errors = field_errors


class DatabaseUnavailable(FundError):
    pass


def field_messages(
    exc: ValidationError, messages: Mapping[str, str], *, form_field: str = "form"
) -> dict[str, str]:
    """Turn a pydantic ValidationError into one Japanese message per field, from a message table."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else form_field
        errors.setdefault(name, messages.get(name, "入力内容を確認してください。"))
    return errors
