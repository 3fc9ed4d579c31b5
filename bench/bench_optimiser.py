"""Time the allocation optimiser on 500 synthetic proposals (target: under 2 seconds each run).

Run: `.venv/bin/python bench/bench_optimiser.py [--proposals 500] [--runs 5]`.
The proposals are random but realistic: 基金充当額 from 1百万円 to 3億円, scores 1–5, five 区分,
about 40% of the total fundable within the ceiling, with 区分 shares and a few forced proposals.
"""

import argparse
import random
import statistics
import time

from fund.optimiser import Candidate, CategoryShare, optimise

TARGET_SECONDS = 2.0


def synthetic(n: int, seed: int) -> tuple[list[Candidate], int]:
    rng = random.Random(seed)
    candidates = []
    for i in range(n):
        share = rng.randrange(1_000_000, 300_000_000, 1_000)
        forced = "in" if i % 97 == 0 else ("out" if i % 89 == 0 else "")
        candidates.append(
            Candidate(
                proposal_id=i + 1,
                project_id=i + 1,
                category_id=1 + i % 5,
                name=f"提案{i + 1}",
                fund_share_yen=share,
                project_cost_yen=share * 2,
                value=round(rng.uniform(1.0, 5.0), 3),
                forced=forced,
                force_reason="ベンチマーク" if forced else "",
            )
        )
    ceiling = int(sum(c.fund_share_yen for c in candidates) * 0.4)
    return candidates, ceiling


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--proposals", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    shares = [
        CategoryShare(1, "区分1", min_share=0.15),
        CategoryShare(2, "区分2", max_share=0.30),
        CategoryShare(5, "区分5", min_share=0.05, max_share=0.25),
    ]
    times = []
    for run in range(args.runs):
        candidates, ceiling = synthetic(args.proposals, seed=run)
        started = time.perf_counter()
        result = optimise(candidates, objective="score", ceiling_yen=ceiling, shares=shares)
        elapsed = time.perf_counter() - started
        times.append(elapsed)
        print(
            f"run {run + 1}: {elapsed:.3f} s  chosen {len(result.chosen)}/{len(candidates)}  "
            f"budget {result.budget_used_yen / ceiling:.2%}  optimal={result.proven_optimal}"
        )
    worst = max(times)
    print(
        f"{args.proposals} proposals: median {statistics.median(times):.3f} s, worst {worst:.3f} s "
        f"(target < {TARGET_SECONDS:.1f} s) -> {'OK' if worst < TARGET_SECONDS else 'TOO SLOW'}"
    )
    return 0 if worst < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
