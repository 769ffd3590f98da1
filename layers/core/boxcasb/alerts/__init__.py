"""Findings become alerts: one per policy and object, opened, seen again, resolved or dismissed."""
