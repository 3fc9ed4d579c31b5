"""事業提案: intake, drafts, the status workflow and the derived citizen-feel evidence.

Rules kept here (the page only collects input and shows the result):

* 年度: a proposal is made for a registered 年度 that is not closed (決算確定) and not earlier
  than the current 年度. Past or closed years are outside any screening round.
* Drafts (下書き) are checked leniently: name, 所管部局, 区分 and 年度 are required, numbers must be
  sane, 基金充当額 never exceeds 事業費. Submission (提出) applies every rule.
* 事業名, 所管部局 and 区分 are fixed once the draft is first saved: the project row is created (or
  linked) at that moment and other rows point to it.
* Content is editable only while the proposal is a draft. KPIs live on the proposal while it is a
  draft and become kpi_indicator / kpi_target rows (kind アウトカム) when it is submitted.
* Optimistic locking: every write carries the version that was read; a stale version raises
  StaleEdit and nothing is written.
* Status workflow: see TRANSITIONS / `available_transitions`. 不採択 and every exceptional change
  (管理者 only) need a reason. Each change writes a proposal_event row and an audit row together."""

from fund.proposals.drafts import PROPOSAL_TEXT_AND_EVIDENCE_FIELDS, create_in_session, save_proposal
from fund.proposals.export import LARGE_EXPORT_ROWS, PROPOSAL_TABLE_NUMBERS, export_proposals, proposal_table
from fund.proposals.queries import (
    ProposalDetail,
    ProposalFilter,
    editable_drafts,
    evidence,
    proposal_count,
    proposal_detail,
    proposal_frame,
    proposal_input,
    status_counts,
    timeline,
)
from fund.proposals.rules import (
    FIELD_LABEL,
    MAX_COST_YEARS,
    MAX_KPI_VALUE,
    MAX_KPIS,
    MAX_MINUTES_SAVED,
    MAX_PROCEDURES,
    MAX_USERS,
    MAX_USES_PER_YEAR,
    MAX_YEN,
    NAME_MAX,
    NOTE_MAX,
    REASON_MAX,
    SEARCH_MAX,
    TEXT_MAX,
    CostLineCreate,
    ProposalCreate,
    ProposalKpiCreate,
    ProposalUpdate,
    parse_input,
    proposal_years,
    validate,
)
from fund.proposals.workflow import TRANSITIONS, S, TransitionOption, available_transitions, change_status

__all__ = [
    "CostLineCreate",
    "FIELD_LABEL",
    "ProposalKpiCreate",
    "LARGE_EXPORT_ROWS",
    "MAX_COST_YEARS",
    "MAX_KPIS",
    "MAX_KPI_VALUE",
    "MAX_MINUTES_SAVED",
    "MAX_PROCEDURES",
    "MAX_USERS",
    "MAX_USES_PER_YEAR",
    "MAX_YEN",
    "NAME_MAX",
    "NOTE_MAX",
    "PROPOSAL_TABLE_NUMBERS",
    "PROPOSAL_TEXT_AND_EVIDENCE_FIELDS",
    "ProposalCreate",
    "ProposalDetail",
    "ProposalFilter",
    "ProposalUpdate",
    "REASON_MAX",
    "S",
    "SEARCH_MAX",
    "TEXT_MAX",
    "TRANSITIONS",
    "TransitionOption",
    "available_transitions",
    "change_status",
    "create_in_session",
    "editable_drafts",
    "evidence",
    "export_proposals",
    "parse_input",
    "proposal_count",
    "proposal_detail",
    "proposal_frame",
    "proposal_input",
    "proposal_table",
    "proposal_years",
    "save_proposal",
    "status_counts",
    "timeline",
    "validate",
]
