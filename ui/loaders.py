"""Typed, cached reads: one loader per read service of `fund`, fresh after every write.

Each loader takes the service's own arguments without the engine. The cache key holds the database
URL and its latest audit id: every write adds an audit row, so a write anywhere (this process or
another app instance) makes the next read fresh."""

from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

import streamlit as st
from sqlalchemy import Engine

from fund import (
    allocation,
    allocation_export,
    audit,
    dashboard,
    drawdowns,
    kpi,
    ledger,
    optimiser,
    projection,
    proposals,
    reference,
    rollout,
    scenario,
    screening,
)
from fund.settings import get_settings
from ui import session

P = ParamSpec("P")
R = TypeVar("R")


def cached_read(fn: Callable[Concatenate[Engine, P], R]) -> Callable[P, R]:
    """`fn` without its engine argument, cached until the data changes."""

    # `url` and `version` are read by the cache only: they make its key.
    def load(url: str, version: int, *args: P.args, **kwargs: P.kwargs) -> R:  # noqa: ARG001
        return fn(session.engine(), *args, **kwargs)

    # Streamlit keys a cache on the function's module and name: one cache per service function.
    load.__module__ = fn.__module__
    load.__qualname__ = f"{fn.__qualname__}.cached"
    cached = st.cache_data(show_spinner=False, max_entries=200, ttl=3600)(load)

    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        version = audit.latest_id(session.engine())
        return cached(get_settings().database_url, version, *args, **kwargs)

    read.__doc__ = fn.__doc__
    return read


# ホーム
headline = cached_read(dashboard.headline)

# reference data
departments = cached_read(reference.departments)
fiscal_years = cached_read(reference.fiscal_years)
leaf_categories = cached_read(reference.leaf_categories)
projects = cached_read(reference.projects)
project_count = cached_read(reference.project_count)

# 基金の状況
figures = cached_read(projection.figures)
drawdowns_by = cached_read(ledger.drawdowns_by)
ledger_count = cached_read(ledger.ledger_count)
allocation_drawn = cached_read(ledger.allocation_drawn)
ledger_page = cached_read(ledger.ledger_export)
drawdown_threshold_text = cached_read(drawdowns.threshold_text)
pending_drawdowns = cached_read(drawdowns.pending_frame)

# 事業提案
proposal_years = cached_read(proposals.proposal_years)
proposal_frame = cached_read(proposals.proposal_frame)
proposal_count = cached_read(proposals.proposal_count)
proposal_detail = cached_read(proposals.proposal_detail)
proposal_timeline = cached_read(proposals.timeline)
editable_drafts = cached_read(proposals.editable_drafts)

# 審査・採点
rounds = cached_read(screening.rounds)
current_rubric = cached_read(screening.current_rubric)
rubric_versions = cached_read(screening.rubric_versions)
queue_progress = cached_read(screening.queue_progress)
my_queue = cached_read(screening.my_queue)
results = cached_read(screening.results)
decision = cached_read(screening.decision)
previous_decision = cached_read(screening.previous_decision)
unscored = cached_read(screening.unscored)
round_policy = cached_read(screening.round_policy)
reviewer_comments = cached_read(screening.reviewer_comments)
proposal_feedback = cached_read(screening.proposal_feedback)
reviewers = cached_read(screening.reviewers)
assignable_proposals = cached_read(screening.assignable_proposals)
assignment_frame = cached_read(screening.assignment_frame)
assignment_count = cached_read(screening.assignment_count)

# 年度配分
allocation_years = cached_read(allocation.allocation_years)
category_choices = cached_read(allocation.category_choices)
table_totals = cached_read(allocation.table_totals)
allocation_rows = cached_read(allocation.allocation_rows)
allocation_frame = cached_read(allocation.allocation_frame)
fund_ceiling = cached_read(allocation.fund_ceiling)
allocation_history = cached_read(allocation.history)
pending_changes = cached_read(allocation.pending_changes)
encoding_problem = cached_read(allocation_export.encoding_problem)
scenario_list = cached_read(scenario.scenario_list)
scenario_items = cached_read(scenario.scenario_items)
scenario_compare = cached_read(scenario.compare)
optimiser_years = cached_read(optimiser.proposal_years)
candidate_frame = cached_read(optimiser.candidate_frame)

# 成果指標
kpi_filter_options = cached_read(kpi.filter_options)
kpi_frame = cached_read(kpi.kpi_frame)
kpi_status_counts = cached_read(kpi.status_counts)
portfolio_by_year = cached_read(kpi.portfolio_by_year)
perspective_rollup = cached_read(kpi.perspective_rollup)
overdue_frame = cached_read(kpi.overdue_frame)
entry_choice_count = cached_read(kpi.entry_choice_count)
entry_choices = cached_read(kpi.entry_choices)
rollout_frame = cached_read(rollout.rollout_frame)
rollout_by_project = cached_read(rollout.rollout_by_project)
rollout_by_municipality = cached_read(rollout.rollout_by_municipality)
rollout_targets = cached_read(rollout.targets)
