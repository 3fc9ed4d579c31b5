"""Secrets kept outside the database and its backups: the key that signs backup manifests and the key
that chains the audit trail. Each is a setting (FUND_BACKUP_KEY, FUND_AUDIT_KEY) or else a key file
readable by its owner only (FUND_BACKUP_KEY_FILE, FUND_AUDIT_KEY_FILE), made when first needed."""

import os
import secrets
from typing import Literal

from fund.errors import RuleViolation
from fund.settings import get_settings

Purpose = Literal["backup", "audit"]
_WHAT = {"backup": "バックアップの署名", "audit": "監査ログの連鎖"}


def secret(purpose: Purpose, *, create: bool) -> bytes:
    """The key for `purpose`; `create`: make the key file when it does not exist yet."""
    settings = get_settings()
    value: str = getattr(settings, f"{purpose}_key")
    if value:
        return value.encode()
    path = getattr(settings, f"{purpose}_key_file")
    if not path.is_file():
        if not create:
            env = f"FUND_{purpose.upper()}_KEY"
            raise RuleViolation(
                f"{_WHAT[purpose]}を確かめる鍵（{path.name}）がありません。データを作成した環境の "
                f"{env} または鍵ファイル（{env}_FILE）を設定してください。"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as fh:
            fh.write(secrets.token_hex(32))
    key: bytes = path.read_bytes().strip()
    return key
