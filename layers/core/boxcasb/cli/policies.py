"""`boxcasb policies validate|list|apply`: check policy YAML locally, see and change what's in force."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from boxcasb.cli.api_client import AdminApi, ApiError
from boxcasb.cli.listing import list_pages
from boxcasb.policies.loader import InvalidPolicies, LoadedDocument, load_file
from boxcasb.policies.policy_set import merge


def validate(paths: Sequence[Path]) -> int:
    """The files as one deployed set: each file on its own, then ids and patterns across them."""
    documents: list[LoadedDocument] = []
    problems: list[str] = []
    for path in paths:
        try:
            documents.append(load_file(path))
        except InvalidPolicies as exc:
            problems.extend(str(p) for p in exc.problems)
    if not problems:
        try:
            policies = merge(documents)
        except InvalidPolicies as exc:
            problems.extend(str(p) for p in exc.problems)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        print(f"{len(problems)} problem(s); nothing was changed", file=sys.stderr)
        return 1
    print(
        f"OK: {len(policies.file_policies)} file and {len(policies.activity_policies)} activity "
        f"policies, version {policies.version}"
    )
    return 0


def show(api: AdminApi, connection_id: str) -> dict[str, Any]:
    return api.request("GET", f"/connections/{connection_id}/policies")


def apply(api: AdminApi, connection_id: str, path: Path | None, dry_run: bool) -> dict[str, Any]:
    """`path` None removes the connection's overrides. Problems come back one per line."""
    text = path.read_text(encoding="utf-8") if path is not None else ""
    body = {"yaml": text, "dry_run": dry_run}
    try:
        return api.request("PUT", f"/connections/{connection_id}/policies", body)
    except ApiError as exc:
        for detail in exc.details:
            where = detail.get("source", "")
            where = f"{path or where}:{detail['line']}" if detail.get("line") else str(path or where)
            field = f" {detail['field']}:" if detail.get("field") else ""
            print(f"{where}:{field} {detail.get('message', '')}", file=sys.stderr)
        raise


def table(answer: dict[str, Any]) -> str:
    rows = [f"Policies in force (version {answer['version']}):"]
    for p in answer.get("policies") or []:
        state = p["mode"] if p["enabled"] else "disabled"
        actions = ", ".join(p.get("actions") or []) or "-"
        rows.append(f"  {p['id']:<32} {p['severity'] or '-':<8} {state:<8} {p['name']}  [actions: {actions}]")
    overrides = answer.get("overrides")
    if overrides:
        rows.append(f"Overrides applied {overrides['updated_at']} by {overrides['updated_by']}")
    return "\n".join(rows)


def dry_run_report(api: AdminApi, connection_id: str) -> tuple[list[dict[str, Any]], str]:
    """What enforcing would do: the proposed actions the scans kept on the open alerts of
    policies that alert only (the latest outcome of each action), one line per file and action."""
    alerts, _ = list_pages(
        api,
        "/alerts",
        "alerts",
        {"connection": connection_id, "status": "open", "limit": "200"},
        all_pages=True,
        show=None,
    )
    proposed: list[dict[str, Any]] = []
    for alert in alerts:
        latest: dict[str, dict[str, Any]] = {}
        for action in alert.get("actions") or []:
            latest[action["action"]] = action
        for action in latest.values():
            if action["result"] == "would_apply":
                where = (alert.get("object_path") or "").rstrip("/") + "/" + alert["object_name"]
                proposed.append(
                    {"policy_id": alert["policy_id"], "file_id": alert["object_id"], "path": where, **action}
                )
    lines = [
        f"  {p['policy_id']:<28} {p['action']:<30} {p['path']}  {p.get('before')} -> {p.get('after')}"
        for p in sorted(proposed, key=lambda p: (p["policy_id"], p["path"], p["action"]))
    ]
    head = (
        f"Enforcing would take {len(proposed)} action(s):" if proposed else "Enforcing would change nothing."
    )
    return proposed, "\n".join([head, *lines])
