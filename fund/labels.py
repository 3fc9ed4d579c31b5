"""The Japanese words the UI and the 帳票 use for codes stored in the database."""

from fund.models import (
    AllocationChangeKind,
    AllocationStatus,
    AllocationStep,
    AuditAction,
    BudgetStage,
    Direction,
    KpiKind,
    KpiStatus,
    LedgerKind,
    Novelty,
    ProposalStatus,
    RequestStatus,
    ReturnKind,
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

RETURN_KIND = {ReturnKind.returned: "差戻し", ReturnKind.withdrawn: "取下げ"}  # shown as the status

BUDGET_STAGE = {
    BudgetStage.initial: "当初",
    BudgetStage.supplementary: "補正",
    BudgetStage.emergency: "専決",
}

ALLOCATION_CHANGE = {
    AllocationChangeKind.revision: "補正",
    AllocationChangeKind.carry_over: "繰越",
    AllocationChangeKind.lapse: "不用額",
}

ALLOCATION_STEP = {
    AllocationStep.request: "要求",
    AllocationStep.assessment: "査定",
    AllocationStep.budget: "予算化",
    AllocationStep.revision: "補正",
    AllocationStep.drawdown: "執行（取崩し）",
    AllocationStep.reversal: "取崩しの取消",
    AllocationStep.carry_over: "翌年度へ繰越",
    AllocationStep.carried_in: "前年度から繰越",
    AllocationStep.lapse: "不用額",
}

ALLOCATION_STATUS = {
    AllocationStatus.proposed: "承認待ち",
    AllocationStatus.approved: "承認済",
}

REQUEST_STATUS = {
    RequestStatus.pending: "承認待ち",
    RequestStatus.approved: "承認済（記帳）",
    RequestStatus.rejected: "却下",
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

KPI_STATUS = {
    KpiStatus.achieved: "達成",
    KpiStatus.on_track: "順調",
    KpiStatus.behind: "遅れ",
    KpiStatus.not_measured: "未計測",
    KpiStatus.not_due: "未到来",
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

# 監査ログの操作
AUDIT_ACTION = {
    AuditAction.user_sign_in: "サインイン",
    AuditAction.user_sign_out: "サインアウト",
    AuditAction.user_sign_in_refused: "サインイン拒否",
    AuditAction.user_lock: "アカウントのロック",
    AuditAction.user_create: "利用者の登録",
    AuditAction.user_password: "パスワードの変更・再設定",
    AuditAction.user_deactivate: "利用者の無効化",
    AuditAction.user_role: "利用者の役割・所管部局の変更",
    AuditAction.user_reactivate: "利用者の再有効化",
    AuditAction.user_oidc_link: "組織アカウントの紐付け",
    AuditAction.user_oidc_unlink: "組織アカウントの紐付け解除",
    AuditAction.user_oidc_bind: "組織アカウントの識別子の確定",
    AuditAction.ledger_post: "基金台帳への記帳",
    AuditAction.ledger_reverse: "記帳の取消",
    AuditAction.drawdown_request: "取崩しの承認依頼",
    AuditAction.drawdown_approve: "取崩しの承認（記帳）",
    AuditAction.drawdown_reject: "取崩しの却下",
    AuditAction.drawdown_threshold: "取崩しの承認基準額の設定",
    AuditAction.fiscal_year_close: "年度の決算確定",
    AuditAction.fiscal_year_annual_cap: "年間上限額の設定",
    AuditAction.export: "出力",
    AuditAction.database_backup: "バックアップ",
    AuditAction.database_restore: "復元",
    AuditAction.database_upgrade: "スキーマ更新",
    AuditAction.seed: "初期データの登録",
    AuditAction.migrate: "データベースの移行",
    AuditAction.generate: "合成データの作成",
    AuditAction.project_create: "事業の登録",
    AuditAction.proposal_create: "提案の作成",
    AuditAction.proposal_update: "提案の更新",
    AuditAction.proposal_status: "提案の状態変更",
    AuditAction.proposal_override: "提案の状態の例外変更",
    AuditAction.proposal_return: "提案の差戻し",
    AuditAction.proposal_withdraw: "提案の取下げ",
    AuditAction.allocation_propose: "配分の登録",
    AuditAction.allocation_approve: "配分の承認",
    AuditAction.allocation_withdraw: "配分の差戻し",
    AuditAction.allocation_revise: "配分の補正の登録",
    AuditAction.allocation_carry_over: "配分の繰越の登録",
    AuditAction.allocation_change_approve: "配分の補正・繰越の承認",
    AuditAction.allocation_change_withdraw: "配分の補正・繰越の取下げ",
    AuditAction.allocation_lapse: "不用額の確定",
    AuditAction.relisting_add: "再掲の登録",
    AuditAction.scenario_create: "シナリオの作成",
    AuditAction.scenario_copy: "シナリオの複製",
    AuditAction.scenario_edit: "シナリオの編集",
    AuditAction.scenario_optimise: "最適化の実行",
    AuditAction.scenario_promote: "シナリオの配分登録",
    AuditAction.screening_round_create: "審査ラウンドの作成",
    AuditAction.screening_rubric_version: "評価基準の改版",
    AuditAction.screening_assign: "審査担当の割当",
    AuditAction.screening_score: "採点",
    AuditAction.screening_declare_conflict: "利益相反の申出",
    AuditAction.screening_policy: "審査ルールの設定",
    AuditAction.screening_decide: "審査結果の確定",
    AuditAction.kpi_actual_create: "成果指標の実績入力",
    AuditAction.kpi_actual_update: "成果指標の実績の上書き",
    AuditAction.rollout_create: "横展開の登録",
    AuditAction.rollout_delete: "横展開の取消",
}

# What an audit row is about (audit_log.entity: a table, or an export's own Japanese name).
ENTITY = {
    "app_user": "利用者",
    "database": "データベース",
    "scenario": "配分案",
    "proposal": "事業提案",
    "project": "事業",
    "screening_round": "審査ラウンド",
    "review_assignment": "審査の割当",
    "review_score": "採点",
    "rubric_version": "評価基準の版",
    "allocation": "年度配分",
    "allocation_change": "配分の変更",
    "relisting": "再掲",
    "ledger_entry": "基金台帳",
    "drawdown_request": "取崩しの承認依頼",
    "drawdown_policy": "取崩しの承認基準額",
    "fiscal_year": "年度",
    "kpi_actual": "成果指標の実績",
    "rollout": "横展開",
}
