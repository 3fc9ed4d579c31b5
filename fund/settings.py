"""One settings object, read from FUND_* environment variables."""

import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FUND_")

    # duckdb:///path (default, one process) or postgresql+psycopg://user:pass@host/db
    database_url: str = f"duckdb:///{DATA_DIR / 'fund.duckdb'}"
    seed_dir: Path = DATA_DIR
    password_min_length: int = 12
    # Sessions end after this much inactivity, and in any case after the absolute limit.
    idle_timeout_minutes: int = 30
    absolute_timeout_hours: int = 12
    # Failed sign-ins of one login from one client before each further one doubles the wait.
    max_failed_logins: int = 5
    # The key that signs backup manifests: kept outside the backups (a secret, or a key file made on
    # the first backup, readable by its owner only).
    backup_key: str = ""
    backup_key_file: Path = DATA_DIR / "backup.key"
    # The key that chains the audit trail (HMAC), kept outside the database the same way; and the file,
    # outside the database, where each backup, restore and 決算確定 writes down the chain's head.
    audit_key: str = ""
    audit_key_file: Path = DATA_DIR / "audit.key"
    audit_heads_file: Path = DATA_DIR / "audit-heads.jsonl"
    # The Japanese font embedded in PDF 帳票: IPAex Gothic from Debian's fonts-ipaexfont-gothic.
    pdf_font: Path = Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def load_fund_config(seed_dir: Path | None = None) -> dict[str, Any]:
    """The fund's own figures (data/fund.toml: its size, the stated balance …)."""
    seed_dir = seed_dir or get_settings().seed_dir
    with (seed_dir / "fund.toml").open("rb") as fh:
        return tomllib.load(fh)
