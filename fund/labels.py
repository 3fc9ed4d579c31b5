"""The Japanese words the UI and the 帳票 use for codes stored in the database."""

from fund.models import (
    AllocationStatus,
    BudgetStage,
    Direction,
    KpiKind,
    LedgerKind,
    Novelty,
    ProposalStatus,
    Role,
)

ROLE = {
    Role.department: "事業担当",
    Role.screener: "審査担当",
    Role.executive: "幹部",
    Role.admin: "管理者",
}

PROPOSAL_STATUS = {
    ProposalStatus.draft: "下書き",
    ProposalStatus.submitted: "提出済",
    ProposalStatus.in_review: "審査中",
    ProposalStatus.adopted: "採択",
    ProposalStatus.rejected: "不採択",
    ProposalStatus.on_hold: "保留",
    ProposalStatus.funded: "事業化",
}

BUDGET_STAGE = {
    BudgetStage.initial: "当初",
    BudgetStage.supplementary: "補正",
    BudgetStage.emergency: "専決",
}

ALLOCATION_STATUS = {
    AllocationStatus.proposed: "承認待ち",
    AllocationStatus.approved: "承認済",
}

LEDGER_KIND = {
    LedgerKind.deposit: "積立",
    LedgerKind.interest: "運用益",
    LedgerKind.drawdown: "取崩し",
    LedgerKind.refund: "返還・戻入",
    LedgerKind.reversal: "取消（逆仕訳）",
}

KPI_KIND = {
    KpiKind.output: "アウトプット",
    KpiKind.outcome: "アウトカム",
    KpiKind.citizen_feel: "県民実感",
}

DIRECTION = {
    Direction.higher_is_better: "高いほど良い",
    Direction.lower_is_better: "低いほど良い",
}

NOVELTY = {
    Novelty.national_first: "全国初",
    Novelty.prefecture_first: "県内初",
    Novelty.proven_elsewhere: "他自治体で実績あり",
    Novelty.expansion: "既存サービスの拡充",
}

# The four citizen-feel perspectives (県民実感の最大化に向けた取組観点), numbered 1–4.
PERSPECTIVE = {
    1: "多くの人が利用する",
    2: "ひとりが頻繁に利用する",
    3: "面倒な手続をデジタル化する",
    4: "興味・関心を喚起する画期性",
}
PERSPECTIVE_FULL = {
    1: "多くの人が利用するデジタルサービスを提供する",
    2: "ひとりの人が頻繁に利用するデジタルサービスを提供する",
    3: "分かりにくく面倒で時間がかかる手続き等をデジタルサービス化する",
    4: "デジタル実装への興味・関心を喚起する画期的なデジタルサービスを提供する",
}

# 基金を充当する事業の要件
REQUIREMENT = {
    1: "① デジタルの力を活用した地域の社会課題解決を図るもの（デジタル実装を行うもの）",
    2: "② デジタル実装の基礎条件整備（基盤整備、人材育成・確保、誰一人取り残されないための取組）",
    3: "③ ①の推進に資するもので、原則翌年度までに実装案件を創出するもの",
}

ESTIMATE_MARK = "推計"
SAMPLE_MARK = "サンプル"

# 年度配分: scenarios and the optimiser
SCENARIO_ORIGIN = {"manual": "手動", "copy": "複製", "optimiser": "最適化"}
OPTIMISER_OBJECTIVE = {"score": "重み付き合計点（審査）", "touchpoints": "県民との接点数（年間）"}
FORCE_CHOICE = {"": "指定なし", "in": "必ず採択", "out": "除外"}
