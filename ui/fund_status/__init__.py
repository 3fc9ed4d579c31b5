"""基金の状況: headline, outlook and stress test, health, breakdown, roll-forward and ledger, postings."""
