"""Open every page of the app as 管理者 with AppTest and time it, in a process of its own.

Run by bench/run.py: `python bench/pages_probe.py <database url> [page title …]`; prints one JSON
object with the server-side time of each page's first render and of a filter change, and the
process's peak RSS. Titles (e.g. 成果指標) limit the run to those pages.

- First render: a new session (AppTest) signed in as 管理者, Streamlit's data cache cleared, then the
  page's script run; the time is the whole run on the server.
- Filter change: on the same session, the first filter widget of the page (a selectbox, else a
  radio or segmented control) is set to another option and the script runs again.
- Peak RSS: the peak resident set (VmHWM) of this process after all pages were opened (the process holds the app,
  its database connection and every page's data, as a `streamlit run` process does).
"""

import json
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMEOUT = float(os.environ.get("BENCH_PAGE_TIMEOUT", "60"))


def _sign_in(at: Any) -> None:
    from fund.auth import Actor
    from fund.models import Role

    now = datetime.now(UTC)
    at.session_state["actor"] = Actor(login="bench_admin", role=Role.admin, display_name="ベンチマーク管理者")
    at.session_state["signed_in_at"] = now
    at.session_state["last_seen_at"] = now


def page_list() -> list[tuple[str, str]]:
    """(script path, title) of every page in app.py, read from its PAGES list without running it."""
    import ast

    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PAGES" for t in node.targets):
            pages = []
            for elt in node.value.elts:  # type: ignore[attr-defined]
                path = elt.elts[0].value
                title = elt.elts[1].value
                pages.append((path, title))
            return pages
    raise SystemExit("PAGES not found in app.py")


def _change_filter(at: Any) -> str | None:
    """Set the first filter widget to another option; returns its label, or None if the page has none."""
    for kind in ("selectbox", "radio", "segmented_control"):
        try:
            widgets = list(getattr(at, kind))
        except (AttributeError, KeyError):
            continue
        for widget in widgets:
            options = list(getattr(widget, "options", []) or [])
            if len(options) < 2:
                continue
            current = widget.value
            other = next((o for o in options if str(o) != str(current)), None)
            if other is None:
                continue
            try:
                widget.set_value(other if kind != "selectbox" else widget.options[options.index(other)])
            except Exception:
                continue
            return f"{kind}「{widget.label}」"
    return None


def _peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: on Linux that keeps the peak of the
    process before exec, i.e. of the benchmark runner that started this probe."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["FUND_DATABASE_URL"] = sys.argv[1]
    results: list[dict[str, Any]] = []
    # Open the app once so the engine exists (as in a running server), then time every page.
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    _sign_in(at)
    started = time.perf_counter()
    try:
        at.run()
        results.append(
            {
                "name": "app: first start incl. home (imports, engine)",
                "seconds": time.perf_counter() - started,
            }
        )
    except RuntimeError:
        results.append({"name": "app: first start incl. home (timed out)", "seconds": None})
    only = set(sys.argv[2:])
    for path, title in page_list():
        if path.endswith("login.py") or (only and title not in only):
            continue
        st.cache_data.clear()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        _sign_in(at)
        started = time.perf_counter()
        try:
            at.switch_page(path).run()
        except RuntimeError as exc:  # AppTest's timeout
            results.append({"page": title, "path": path, "first_render": None, "errors": [str(exc)]})
            print(f"{title}: timed out", file=sys.stderr, flush=True)
            continue
        first = time.perf_counter() - started
        print(f"{title}: {first:.2f} s", file=sys.stderr, flush=True)
        errors = [e.value for e in at.exception] if at.exception else []
        entry: dict[str, Any] = {"page": title, "path": path, "first_render": first, "errors": errors}
        label = _change_filter(at)
        if label is not None:
            started = time.perf_counter()
            try:
                at.run()
                entry["filter_change"] = time.perf_counter() - started
            except RuntimeError as exc:
                entry["filter_change"] = None
                entry["errors"].append(str(exc))
            entry["filter"] = label
            if at.exception:
                entry["errors"] += [e.value for e in at.exception]
        results.append(entry)
    print(json.dumps({"pages": results, "peak_rss_mib": _peak_rss_kib() / 1024}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
