"""成果指標: filters and headline, indicator table, trend, roll-up, 横展開, 未報告, entry of actuals."""
