"""Growing delays after failed sign-ins, instead of a lock that anyone could set off.

Failures are counted per (login, client) and per client. After the free attempts each further
failure doubles the wait (1 s, 2 s, 4 s … up to 15 minutes) before that pair — or that client —
may try again; a success clears the pair. The victim of someone guessing at their login from
another machine is not slowed, and the same answer is given whether the login exists or not.
Counters live in the app process (several processes each count their own)."""

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_DELAY_SECONDS = 15 * 60
CLIENT_FREE_ATTEMPTS = 30  # one office behind one address may mistype often


@dataclass
class _Count:
    failures: int = 0
    until: datetime | None = None


_lock = threading.Lock()
_counts: dict[tuple[str, ...], _Count] = {}


def keys(login: str, client: str) -> list[tuple[str, ...]]:
    return [("login", login.strip().lower(), client), ("client", client)]


def wait_seconds(keys_: list[tuple[str, ...]], now: datetime) -> int:
    """Seconds until every key may try again (0: now)."""
    with _lock:
        waits = [
            (c.until - now).total_seconds()
            for k in keys_
            if (c := _counts.get(k)) is not None and c.until is not None and c.until > now
        ]
    return int(max(waits, default=0) + 0.999)


def failed(keys_: list[tuple[str, ...]], now: datetime, *, free_attempts: int) -> None:
    with _lock:
        for k in keys_:
            count = _counts.setdefault(k, _Count())
            count.failures += 1
            free = CLIENT_FREE_ATTEMPTS if k[0] == "client" else free_attempts
            if count.failures >= free:
                delay = min(2 ** (count.failures - free), MAX_DELAY_SECONDS)
                count.until = now + timedelta(seconds=delay)


def succeeded(keys_: list[tuple[str, ...]]) -> None:
    with _lock:
        _counts.pop(keys_[0], None)  # the pair; the client's count keeps what others failed


def reset() -> None:
    """Forget every count (tests, and a restart does the same)."""
    with _lock:
        _counts.clear()
