"""事業提案: the list and the detail, the intake form with drafts, the bulk upload."""
