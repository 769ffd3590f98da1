"""The seeded tenant: Acme Corp, its admins and users, their files, and 90 days of events.

Ids, names and contents are fixed; times are relative to the clock at seeding.
The content covers what the connector must find: open, company and
collaborators shared links, an internal and an external collaborator, a card
number and a cloud key in files, classified files, a web link, a suspended user.

Events: the 21 hand-written ones below (``SEED_EVENTS``), and with ``history``
(the default) about 2,500 generated ones around them (``history.py``: every
type, unknown types, exact boundary instants, late arrivals), all recorded in
arrival order. ``history=False`` keeps only the hand-written 21.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .eventlog import EventOptions
from .history import EventDraft, add_history
from .tenant import Enterprise, File, Folder, Tenant, User

ENTERPRISE = Enterprise(id="1000001", name="Acme Corp", domain="acme.example", subdomain="acme")

# AWS's documented example key pair, so secret detectors have something real-looking to find.
_AWS_EXAMPLE_KEYS = (
    "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"
)

# (days ago, hours earlier, event type, actor, source, details, collaborator, ip address)
SEED_EVENTS: list[tuple[int, int, str, str, str, dict[str, Any], str | None, str]] = [
    (89, 2, "LOGIN", "admin", "admin", {}, None, "203.0.113.10"),
    (88, 0, "UPLOAD", "alice", "readme", {}, None, "203.0.113.11"),
    (85, 3, "LOGIN", "alice", "alice", {}, None, "203.0.113.11"),
    (80, 0, "UPLOAD", "alice", "q3_report", {}, None, "203.0.113.11"),
    (75, 5, "SHARE", "alice", "q3_report", {"access": "company"}, None, "203.0.113.11"),
    (70, 0, "COLLABORATION_INVITE", "alice", "projects", {"role": "editor"}, "bob", "203.0.113.11"),
    (69, 0, "COLLABORATION_INVITE", "alice", "projects", {"role": "viewer"}, "eve", "203.0.113.11"),
    (65, 1, "LOGIN", "bob", "bob", {}, None, "198.51.100.7"),
    (60, 0, "UPLOAD", "bob", "budget", {}, None, "198.51.100.7"),
    (55, 4, "PREVIEW", "bob", "roadmap", {}, None, "198.51.100.7"),
    (50, 6, "DOWNLOAD", "eve", "roadmap", {}, None, "192.0.2.99"),
    (45, 0, "UPLOAD", "bob", "old_keys", {}, None, "198.51.100.7"),
    (40, 2, "SHARE", "alice", "customers", {"access": "open"}, None, "203.0.113.11"),
    (35, 8, "LOGIN", "carol", "carol", {}, None, "203.0.113.12"),
    (30, 0, "UPLOAD", "carol", "spec", {}, None, "203.0.113.12"),
    (25, 0, "COLLABORATION_INVITE", "carol", "shared_with_eve", {"role": "viewer"}, "eve", "203.0.113.12"),
    (20, 3, "DOWNLOAD", "coadmin", "q3_report", {}, None, "203.0.113.13"),
    (14, 2, "PREVIEW", "carol", "logo", {}, None, "203.0.113.12"),
    (7, 9, "LOGIN", "coadmin", "coadmin", {}, None, "203.0.113.13"),
    (3, 1, "DOWNLOAD", "alice", "customers", {}, None, "198.51.100.23"),
    (1, 5, "SHARE", "carol", "personal", {"access": "open"}, None, "203.0.113.12"),
]


def seed_tenant(
    clock: Callable[[], float] = time.time,
    *,
    history: bool = True,
    event_options: EventOptions | None = None,
) -> Tenant:
    tenant = Tenant(ENTERPRISE, clock=clock, event_options=event_options)
    now = tenant.now()

    def ago(days: int, hours: int = 0) -> datetime:
        return now - timedelta(days=days, hours=hours)

    tenant.classifications.update(
        {
            "Confidential": ("Sensitive business data: never share outside Acme.", "#FF4D4D"),
            "Internal": ("For Acme employees only.", "#FFB400"),
            "Public": ("Approved for anyone.", "#46A35E"),
        }
    )
    users = _seed_users(tenant, joined=ago(400))
    items = _seed_content(tenant, users, ago)
    sources: dict[str, User | File | Folder] = {**users, **items}
    seeded: list[tuple[datetime, EventDraft]] = []
    for days, hours, event_type, actor, source, details, collaborator, ip_address in SEED_EVENTS:
        item = sources[source]
        draft = EventDraft(
            event_type,
            users[actor],
            item,
            ip_address,
            {"size": item.size, **details} if isinstance(item, File) else details,
            users[collaborator] if collaborator else None,
        )
        seeded.append((ago(days, hours), draft))
    if history:
        add_history(tenant, seeded)
    else:
        for created_at, draft in seeded:
            draft.record(tenant, created_at)
    return tenant


def _seed_users(tenant: Tenant, joined: datetime) -> dict[str, User]:
    add = tenant.add_user
    return {
        "admin": add("admin@acme.example", "Ada Admin", role="admin", created_at=joined),
        "coadmin": add("coadmin@acme.example", "Colin Coadmin", role="coadmin", created_at=joined),
        "alice": add("alice@acme.example", "Alice Anders", created_at=joined, job_title="Sales"),
        "bob": add("bob@acme.example", "Bob Brown", created_at=joined, job_title="Finance"),
        "carol": add("carol@acme.example", "Carol Chen", created_at=joined, job_title="Design"),
        "dave": add("dave@acme.example", "Dave Dormant", status="inactive", created_at=joined),
        "eve": add("eve@partner.example", "Eve External", external=True, created_at=joined),
    }


def _seed_content(
    tenant: Tenant, users: dict[str, User], ago: Callable[[int], datetime]
) -> dict[str, File | Folder]:
    """Everyone's files; returns those the events refer to, by name."""
    old = ago(120)
    folder, file = tenant.add_folder, tenant.add_file

    def root(login: str) -> Folder:
        return tenant.root_of(users[login])

    # Alice: nested documents, a card number behind an open link, a project shared in and out.
    documents = folder(root("alice"), "Documents", created_at=old)
    reports = folder(documents, "Reports", created_at=old)
    projects = folder(root("alice"), "Projects", created_at=old)
    items: dict[str, File | Folder] = {
        "projects": projects,
        "readme": file(root("alice"), "readme.txt", "Welcome to Alice's files.\n", created_at=ago(88)),
        "q3_report": file(
            documents,
            "Q3 report.docx",
            "Q3 revenue grew 12% on the back of the EMEA launch.\n",
            created_at=ago(80),
            shared_link="company",
            classification="Internal",
        ),
        "customers": file(
            reports,
            "customers.csv",
            "name,card\nJane Roe,4111 1111 1111 1111\n",
            created_at=old,
            shared_link="open",
            classification="Confidential",
        ),
        "roadmap": file(projects, "roadmap.pptx", "Roadmap: partner launch in Q4.\n", created_at=old),
    }
    file(reports, "summary.txt", "Nothing sensitive in here.\n", created_at=old)
    file(projects, "notes.txt", "Meeting notes with Partner Inc.\n", created_at=old)
    tenant.add_web_link(projects, "Partner portal", "https://partner.example/portal", created_at=old)
    tenant.add_collaboration(projects, users["bob"], role="editor", created_at=ago(70))
    tenant.add_collaboration(projects, users["eve"], role="viewer", created_at=ago(69))

    # Bob: a budget for collaborators only, and cloud keys forgotten in an archive.
    bob_documents = folder(root("bob"), "Documents", created_at=old)
    archive = folder(bob_documents, "Archive", created_at=old)
    items["budget"] = file(
        bob_documents,
        "budget.xlsx",
        "Budget: 1,200,000 EUR\n",
        created_at=ago(60),
        shared_link="collaborators",
    )
    items["old_keys"] = file(archive, "old-keys.txt", _AWS_EXAMPLE_KEYS, created_at=ago(45))
    file(root("bob"), "todo.txt", "- file expenses\n", created_at=old)

    # Carol: designs, a personal folder behind an open link, a file shared with an outsider.
    designs = folder(root("carol"), "Designs", created_at=old)
    items["logo"] = file(designs, "logo.png", b"\x89PNG\r\n\x1a\n fake image bytes", created_at=old)
    items["spec"] = file(designs, "spec.pdf", "%PDF-1.4 design specification\n", created_at=ago(30))
    personal = items["personal"] = folder(root("carol"), "Personal", created_at=old, shared_link="open")
    file(personal, "holiday.jpg", b"\xff\xd8\xff fake photo bytes", created_at=old)
    items["shared_with_eve"] = file(
        root("carol"),
        "shared-with-eve.txt",
        "Draft terms for Partner Inc.\n",
        created_at=old,
        classification="Public",
    )
    tenant.add_collaboration(items["shared_with_eve"], users["eve"], role="viewer", created_at=ago(25))

    # The admins and the suspended user own a little too.
    for owner, folder_name, file_name, content in (
        ("admin", "Policies", "acceptable-use.pdf", "%PDF-1.4 acceptable use policy\n"),
        ("coadmin", "Ops", "runbook.md", "# Runbook\nRestart the thing.\n"),
        ("dave", "Old", "legacy.doc", "Legacy notes.\n"),
    ):
        file(folder(root(owner), folder_name, created_at=old), file_name, content, created_at=old)
    return items
