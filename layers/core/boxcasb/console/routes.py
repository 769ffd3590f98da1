"""Every page and action of the console: GET shows, POST changes (and redirects)."""

from __future__ import annotations

from boxcasb.console import activity, alerts, connectors, files, policies, scans
from boxcasb.console.app import CONNECTION_ID, Route, route

_CID = f"(?P<connection>{CONNECTION_ID})"
_ALERT = "(?P<alert>[0-9a-f]{24})"

ROUTES: tuple[Route, ...] = (
    route("GET", "/", connectors.index),
    route("POST", "/connections", connectors.connect),
    route("GET", f"/connections/{_CID}", connectors.detail),
    route("POST", f"/connections/{_CID}/test", connectors.run_test),
    route("GET", "/scan", scans.page),
    route("POST", "/scan", scans.start),
    route("GET", "/files", files.page),
    route("GET", "/files/(?P<file>[0-9]{1,20})", files.detail),
    route("GET", "/activity", activity.page),
    route("GET", "/alerts", alerts.page),
    route("GET", f"/alerts/{_ALERT}", alerts.detail),
    route("POST", f"/alerts/{_ALERT}/dismiss", alerts.dismiss),
    route("GET", "/policies", policies.page),
    route("POST", "/policies", policies.submit),
    route("GET", "/policies/dry-run", policies.dry_run),
)
