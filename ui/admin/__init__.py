"""管理: users, the audit log (filters, export, chain check) and backups."""
