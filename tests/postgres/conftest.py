"""A throwaway PostgreSQL server for the test session, from Debian's `postgresql` package.

`initdb` in a temporary directory, listening on 127.0.0.1 on a free port (as the `postgres` user
when the tests run as root: PostgreSQL refuses to run as root), fsync off. Two template databases
are built once (schema only; seeded from data/) and every test gets its own copy
(`CREATE DATABASE … TEMPLATE …`, a file copy). The server is stopped and its directory removed at
the end. If the server cannot start, the tests fail: they are never skipped.

Here the `engine` and `seeded_engine` fixtures of tests/conftest.py are overridden with PostgreSQL
engines, so tests collected in this folder run unchanged on PostgreSQL.
"""

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from fund import schema
from fund.db import dispose_engines, get_engine
from fund.ops.seed import seed
from fund.settings import get_settings

PG_USER = "fund"
TEMPLATE_EMPTY = "tpl_empty"
TEMPLATE_SEEDED = "tpl_seeded"


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        )

    def create_database(self, name: str, template: str = "template0") -> None:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" ENCODING \'UTF8\'')

    def drop_database(self, name: str) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        pytest.fail(
            "PostgreSQL が見つかりません（/usr/lib/postgresql/*/bin/initdb）。"
            "`make system-deps` で Debian の postgresql パッケージを入れてください。",
            pytrace=False,
        )
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    """PostgreSQL will not run as root: run its programs as the `postgres` user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _run(cmd: list[str], log: Path | None = None) -> None:
    result = subprocess.run(_as_server_user(cmd), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = result.stderr or result.stdout
        if log is not None and log.exists():
            detail += "\n" + log.read_text(errors="replace")[-3000:]
        pytest.fail(f"PostgreSQL could not start: {' '.join(cmd)}\n{detail}", pytrace=False)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="fund-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres", group="postgres")
    os.chmod(root, 0o700)
    port = _free_port()
    _run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8", "--locale=C"]
    )
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    _run(
        [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
        log,
    )
    server = PgServer(host="127.0.0.1", port=port, user=PG_USER)
    try:
        for _ in range(50):
            try:
                server.admin().close()
                break
            except psycopg.OperationalError:
                time.sleep(0.2)
        server.admin().close()  # fails the session loudly if the server is still not reachable
        yield server
    finally:
        dispose_engines()
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_templates(pg_server: PgServer) -> PgServer:
    """Template databases: the schema only, and the schema seeded from data/."""
    pg_server.create_database(TEMPLATE_EMPTY)
    schema.create(get_engine(pg_server.url(TEMPLATE_EMPTY)))
    pg_server.create_database(TEMPLATE_SEEDED)
    seed(get_engine(pg_server.url(TEMPLATE_SEEDED)))
    dispose_engines()  # a template must have no open connections when it is copied
    return pg_server


_numbers = count(1)


def _fresh_database(server: PgServer, template: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    name = f"t{os.getpid()}_{next(_numbers)}"
    server.create_database(name, template)
    url = server.url(name)
    monkeypatch.setenv("FUND_DATABASE_URL", url)
    get_settings.cache_clear()
    yield get_engine(url)
    dispose_engines()
    server.drop_database(name)


@pytest.fixture
def engine(pg_templates: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An empty PostgreSQL database with the schema, named by FUND_DATABASE_URL."""
    yield from _fresh_database(pg_templates, TEMPLATE_EMPTY, monkeypatch)


@pytest.fixture
def seeded_engine(pg_templates: PgServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """A PostgreSQL copy of the seeded database, named by FUND_DATABASE_URL."""
    yield from _fresh_database(pg_templates, TEMPLATE_SEEDED, monkeypatch)


def _database_factory(server: PgServer, template: str) -> Iterator[Callable[[], Engine]]:
    names: list[str] = []

    def make() -> Engine:
        name = f"p{os.getpid()}_{next(_numbers)}"
        server.create_database(name, template)
        names.append(name)
        return get_engine(server.url(name))

    yield make
    dispose_engines()
    for name in names:
        server.drop_database(name)


@pytest.fixture
def fresh_engine(pg_templates: PgServer) -> Iterator[Callable[[], Engine]]:
    """A factory of new, empty PostgreSQL databases with the schema (one per property-test example)."""
    yield from _database_factory(pg_templates, TEMPLATE_EMPTY)


@pytest.fixture
def fresh_seeded(pg_templates: PgServer) -> Iterator[Callable[[], Engine]]:
    """A factory of new PostgreSQL copies of the seeded database (one per property-test example)."""
    yield from _database_factory(pg_templates, TEMPLATE_SEEDED)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database without a schema (for `fund migrate`)."""
    name = f"m{os.getpid()}_{next(_numbers)}"
    pg_server.create_database(name)
    yield pg_server.url(name)
    dispose_engines()
    pg_server.drop_database(name)
