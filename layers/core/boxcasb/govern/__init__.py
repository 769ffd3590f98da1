"""Governance actions in Box: plan (dry run) and apply, idempotent, each outcome auditable."""
