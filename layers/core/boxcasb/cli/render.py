"""Plain-text views of API answers, for a terminal."""

from __future__ import annotations

from typing import Any

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skipped": "SKIP"}


def connection_line(c: dict[str, Any]) -> str:
    test = (c.get("last_test") or {}).get("outcome", "-")
    return (
        f"{c['connection_id']}  {c['status']:<18} {c.get('enterprise_name') or '-':<24} "
        f"{c.get('admin_login') or '-':<28} {c.get('role') or '-':<8} test: {test}"
    )


def connection_detail(c: dict[str, Any]) -> str:
    lines = [
        f"Connection   {c['connection_id']}",
        f"Status       {c['status']}" + (f" ({c['status_reason']})" if c.get("status_reason") else ""),
        f"Enterprise   {c.get('enterprise_name') or '-'} ({c.get('enterprise_id') or '-'})",
        f"Admin        {c.get('admin_login') or '-'} (role: {c.get('role') or '-'})",
        f"Created      {c['created_at']}",
        f"Connected    {c.get('connected_at') or '-'}",
        f"Updated      {c['updated_at']}",
    ]
    auth = c.get("authorization")
    if auth:
        lines.append(f"Last sign-in {auth['state']}" + (f": {auth['detail']}" if auth.get("detail") else ""))
    test = c.get("last_test")
    if test:
        lines.append("")
        lines.append(test_report(test))
    return "\n".join(lines)


def test_report(test: dict[str, Any]) -> str:
    lines = [
        f"Test API: {test['outcome'].upper()}"
        + (
            f"  (finished {test['finished_at']}, {test['box_calls']} Box calls)"
            if test.get("finished_at")
            else ""
        )
    ]
    for check in test.get("checks", []):
        lines.append(f"  [{_MARK.get(check['status'], check['status'])}] {check['title']}: {check['detail']}")
        if check.get("fix_hint") and check["status"] != "pass":
            lines.append(f"         fix: {check['fix_hint']}")
    return "\n".join(lines)
