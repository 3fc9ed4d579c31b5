"""`make bench`: how fast the dashboard is at 1,000 and 100,000 proposals. Writes bench/results.json.

For each size, a database is generated with `fund generate` (cached under bench/tmp/, rebuilt when
the generator or the models change) and measured:
- generation time (target at 100,000: under 30 s);
- every page's first render and a filter change, server side (AppTest in a separate process signed
  in as 管理者, see bench/pages_probe.py), with that process's peak RSS (target: under 1 GiB);
- the main aggregate queries through the services, each against the same SQL run raw on the
  DuckDB connection (target: within 2×);
- the xlsx export of the allocation table of the largest 年度 (target: 3 s);
and once: the allocation optimiser on 500 proposals (target: 2 s), if fund/optimiser.py exists.

Options: `--sizes 1000,100000`, `--skip-pages`, `--regenerate`. Nothing here asserts: the table
shows each figure against its target.
"""

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fund.auth import SYSTEM

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TMP = ROOT / "bench" / "tmp"
RESULTS = ROOT / "bench" / "results.json"
SEED = 1

TARGET_FIRST_RENDER = 1.0
TARGET_FILTER = 0.3
TARGET_GENERATE = 30.0
TARGET_EXPORT = 3.0
TARGET_OPTIMISER = 2.0
TARGET_RSS_MIB = 1024.0
TARGET_RATIO = 2.0


def machine() -> str:
    mem = ""
    try:
        kib = int(
            next(
                line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
            ).split()[1]
        )
        mem = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    distro = ""
    try:
        info = dict(
            line.rstrip().split("=", 1)
            for line in Path("/etc/os-release").read_text().splitlines()
            if "=" in line
        )
        distro = info.get("PRETTY_NAME", "").strip('"')
    except OSError:
        pass
    return f"{os.cpu_count()} cores{mem}, {distro or platform.system()}, Python {platform.python_version()}"


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("fund/ops/generate.py", "fund/models.py", "fund/ops/seed.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def database(n: int, *, regenerate: bool) -> tuple[str, float]:
    """The URL of the generated database for n proposals and the generation time (cached)."""
    from fund.db import dispose_engines, get_engine
    from fund.ops.generate import generate

    TMP.mkdir(parents=True, exist_ok=True)
    path = TMP / f"bench_{n}.duckdb"
    meta_path = TMP / f"bench_{n}.json"
    fingerprint = _fingerprint()
    if not regenerate and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("fingerprint") == fingerprint:
            return f"duckdb:///{path}", float(meta["seconds"])
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)
    url = f"duckdb:///{path}"
    print(f"generating {n:,} proposals …", flush=True)
    started = time.perf_counter()
    generate(get_engine(url), proposals=n, seed_value=SEED)
    seconds = time.perf_counter() - started
    dispose_engines()
    meta_path.write_text(json.dumps({"fingerprint": fingerprint, "seconds": seconds}))
    return url, seconds


def _timed(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def aggregates(url: str, n: int) -> list[dict[str, Any]]:
    """Service time of each main query against the same statements run raw on the DuckDB connection."""
    from sqlalchemy import event

    from fund import allocation, kpi, ledger, proposals, screening
    from fund.auth import Actor
    from fund.db import dispose_engines, get_engine, query_df
    from fund.models import Role

    engine = get_engine(url)
    admin = Actor(login="bench_admin", role=Role.admin, display_name="ベンチマーク")
    year = int(
        query_df(
            engine, "SELECT fiscal_year FROM allocation GROUP BY fiscal_year ORDER BY COUNT(*) DESC LIMIT 1"
        )["fiscal_year"].iloc[0]
    )
    round_id = int(
        query_df(
            engine,
            "SELECT id FROM screening_round WHERE fiscal_year = :y ORDER BY id DESC LIMIT 1",
            {"y": year},
        )["id"].iloc[0]
    )
    services: list[tuple[str, Callable[[], Any], int]] = [
        ("基金台帳 ロールフォワード (ledger.roll_forward)", lambda: ledger.roll_forward(engine), 3),
        ("基金残高 (ledger.balance)", lambda: ledger.balance(engine), 3),
        (
            f"年度配分 {year}年度 (allocation.allocation_rows)",
            lambda: allocation.allocation_rows(engine, fiscal_year=year),
            3,
        ),
        (f"審査結果 {year}年度 (screening.results)", lambda: screening.results(engine, round_id=round_id), 3),
        (
            "成果指標 状況別件数 (kpi.status_counts)",
            lambda: kpi.status_counts(engine, actor=SYSTEM),
            3,
        ),
        (
            "成果指標 一覧の先頭1,000行 (kpi.kpi_frame)",
            lambda: kpi.kpi_frame(engine, actor=SYSTEM, where=kpi.KpiFilter(), limit=1000),
            3,
        ),
        (
            "成果指標 全件 (kpi.kpi_frame, downloads)",
            lambda: kpi.kpi_frame(engine, actor=SYSTEM),
            1,
        ),
        (
            f"提案一覧 {year}年度 先頭1,000行 (proposals.proposal_frame)",
            lambda: proposals.proposal_frame(engine, actor=admin, fiscal_year=year, limit=1000),
            3,
        ),
    ]
    captured: list[tuple[str, Any]] = []

    def capture(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        captured.append((statement, parameters))

    out = []
    for name, fn, repeat in services:
        fn()  # warm: imports, first connection
        captured.clear()
        event.listen(engine, "before_cursor_execute", capture)
        fn()
        event.remove(engine, "before_cursor_execute", capture)
        statements = [s for s in captured if s[0].lstrip().upper().startswith(("SELECT", "WITH"))]
        seconds = _timed(fn, repeat)
        raw_conn = engine.raw_connection()
        try:
            dc = raw_conn.driver_connection

            replayable = []
            for statement, parameters in statements:
                try:
                    dc.execute(statement, parameters).fetchall()
                    replayable.append((statement, parameters))
                except Exception:
                    continue
            statements = replayable

            def raw(dc: Any = dc, statements: list[tuple[str, Any]] = statements) -> None:
                for statement, parameters in statements:
                    dc.execute(statement, parameters).fetchall()

            raw_seconds = _timed(raw, repeat)
        finally:
            raw_conn.close()
        out.append(
            {"name": f"query: {name}", "proposals": n, "seconds": seconds, "raw_seconds": raw_seconds,
             "target_seconds": None, "peak_rss_mib": None}
        )  # fmt: skip
        print(f"  {name}: {seconds:.3f} s (raw {raw_seconds:.3f} s)", flush=True)
    # The allocation export of the largest 年度 (xlsx).
    from fund import allocation_export

    rows = len(allocation.allocation_rows(engine, fiscal_year=year))
    seconds = _timed(lambda: allocation_export.build(engine, fiscal_year=year, fmt="xlsx"), 1)
    out.append(
        {"name": f"export: 年度配分 xlsx {year}年度 ({rows:,}行)", "proposals": n, "seconds": seconds,
         "raw_seconds": None, "target_seconds": TARGET_EXPORT, "peak_rss_mib": None}
    )  # fmt: skip
    print(f"  export xlsx {rows:,} rows: {seconds:.2f} s", flush=True)
    dispose_engines()
    return out


def pages(url: str, n: int) -> list[dict[str, Any]]:
    env = {**os.environ, "FUND_DATABASE_URL": url}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "pages_probe.py"), url],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return [{"name": "pages: probe failed", "proposals": n, "seconds": None, "raw_seconds": None,
                 "target_seconds": None, "peak_rss_mib": None}]  # fmt: skip
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    out: list[dict[str, Any]] = []
    for p in data["pages"]:
        if "page" not in p:
            out.append({"name": p["name"], "proposals": n, "seconds": p["seconds"], "raw_seconds": None,
                        "target_seconds": None, "peak_rss_mib": None})  # fmt: skip
            continue
        note = " (timed out)" if p.get("first_render") is None else ""
        out.append({"name": f"page: {p['page']} first render{note}", "proposals": n, "seconds": p.get("first_render"),
                    "raw_seconds": None, "target_seconds": TARGET_FIRST_RENDER, "peak_rss_mib": None})  # fmt: skip
        if "filter" in p:
            out.append({"name": f"page: {p['page']} filter change ({p['filter']})", "proposals": n,
                        "seconds": p.get("filter_change"), "raw_seconds": None,
                        "target_seconds": TARGET_FILTER, "peak_rss_mib": None})  # fmt: skip
        if p.get("errors"):
            print(f"  {p['page']}: {p['errors'][:1]}", file=sys.stderr)
    out.append({"name": "app process peak RSS (all pages opened)", "proposals": n, "seconds": None,
                "raw_seconds": None, "target_seconds": None, "peak_rss_mib": data["peak_rss_mib"]})  # fmt: skip
    return out


def optimiser() -> list[dict[str, Any]]:
    if not (ROOT / "fund" / "optimiser.py").exists() or not (ROOT / "bench" / "bench_optimiser.py").exists():
        return []
    sys.path.insert(0, str(ROOT / "bench"))
    import bench_optimiser  # type: ignore[import-not-found]

    from fund.optimiser import CategoryShare, optimise

    shares = [
        CategoryShare(1, "区分1", min_share=0.15),
        CategoryShare(2, "区分2", max_share=0.30),
        CategoryShare(5, "区分5", min_share=0.05, max_share=0.25),
    ]
    times = []
    for run in range(3):
        candidates, ceiling = bench_optimiser.synthetic(500, seed=run)
        started = time.perf_counter()
        optimise(candidates, objective="score", ceiling_yen=ceiling, shares=shares)
        times.append(time.perf_counter() - started)
    return [{"name": "optimiser: 500 proposals (worst of 3)", "proposals": 500, "seconds": max(times),
             "raw_seconds": None, "target_seconds": TARGET_OPTIMISER, "peak_rss_mib": None}]  # fmt: skip


def verdict(r: dict[str, Any]) -> str:
    if r["peak_rss_mib"] is not None:
        return "OK" if r["peak_rss_mib"] < TARGET_RSS_MIB else "over"
    if r["seconds"] is None:
        return "over"
    if r["raw_seconds"] and r["proposals"] >= 100_000:  # the targets are set at 100,000 proposals
        return "OK" if r["seconds"] <= TARGET_RATIO * r["raw_seconds"] else "over"
    if (
        r["target_seconds"] is not None
        and r["proposals"] >= 100_000
        or r["name"].startswith(("export", "optimiser"))
    ):
        return "OK" if r["target_seconds"] is None or r["seconds"] <= r["target_seconds"] else "over"
    return ""


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| proposals | measurement | seconds | raw DuckDB (ratio) | target | |",
        "|---:|---|---:|---:|---:|---|",
    ]
    for r in results:
        seconds = "" if r["seconds"] is None else f"{r['seconds']:.3f}"
        if r["peak_rss_mib"] is not None:
            seconds = f"{r['peak_rss_mib']:.0f} MiB"
        raw = (
            "" if not r["raw_seconds"] else f"{r['raw_seconds']:.3f} ({r['seconds'] / r['raw_seconds']:.1f}×)"
        )
        if r["peak_rss_mib"] is not None:
            target = f"< {TARGET_RSS_MIB:.0f} MiB"
        elif r["raw_seconds"]:
            target = f"≤ {TARGET_RATIO:.0f}× raw"
        else:
            target = "" if r["target_seconds"] is None else f"≤ {r['target_seconds']:g} s"
        lines.append(f"| {r['proposals']:,} | {r['name']} | {seconds} | {raw} | {target} | {verdict(r)} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmarks of the fund dashboard")
    parser.add_argument("--sizes", default="1000,100000")
    parser.add_argument("--skip-pages", action="store_true")
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for n in (int(s) for s in args.sizes.split(",")):
        url, gen_seconds = database(n, regenerate=args.regenerate)
        results.append({"name": "generate (fund generate)", "proposals": n, "seconds": gen_seconds,
                        "raw_seconds": None, "target_seconds": TARGET_GENERATE if n >= 100_000 else None,
                        "peak_rss_mib": None})  # fmt: skip
        print(f"{n:,} proposals: aggregates", flush=True)
        results += aggregates(url, n)
        if not args.skip_pages:
            print(f"{n:,} proposals: pages (AppTest in a separate process)", flush=True)
            results += pages(url, n)
    results += optimiser()
    report = {"machine": machine(), "date": datetime.now(UTC).strftime("%Y-%m-%d"), "results": results}
    RESULTS.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{report['machine']} — {report['date']}\n")
    print(table(results))
    print(f"\nwritten: {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
