"""The sync engine: neutral event model, mapping, per-account reconcile. Knows no HTTP, SQL
dialect or provider."""
