"""年度配分: the published table, registration and approval, scenarios, the optimiser."""
