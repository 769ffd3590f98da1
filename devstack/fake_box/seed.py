"""The seeded tenant: Acme Corp, its admins and users, their files, and 90 days of events.

Ids, names and contents are fixed; times are relative to the clock at seeding.

Users: ``admin@acme.example`` (admin), ``coadmin@acme.example`` (co-admin), alice, bob
and carol (plain users), ``dave@acme.example`` (suspended, ``inactive``, owns files) and
``eve@partner.example`` (external: no enterprise, a collaborator only).

Content (``_seed_content``; every user's top-level folders in brackets, the folders the
connector puts webhooks on): alice [Documents, Projects] with ``readme.txt`` in her root,
bob [Documents] with ``todo.txt``, carol [Designs, Personal] with ``shared-with-eve.txt``,
the admin [Policies], the co-admin [Ops], dave [Old]. It covers open (``customers.csv``,
carol's Personal folder), company (``Q3 report.docx``) and collaborators (``budget.xlsx``)
shared links; alice's Projects shared with bob (editor) and eve (viewer), carol's
``shared-with-eve.txt`` with eve; a card number and a cloud key in files; classified
files; a web link; files of the admin, the co-admin and the suspended user.

The scan fixtures (``_seed_scan_content``), all inside those top-level folders, so the
webhooks registered stay the same:

- bob's ``Documents/Archive/Invoices 2023`` (``BIG_FOLDER``): 1,050 files
  ``invoice-0001.txt``..``invoice-1050.txt`` (two pages of 1,000), with links
  ``open`` (0001), ``company`` (0500) and ``collaborators`` (1050), and a card number
  in ``invoice-1042.txt`` (the second page); ``Archive/empty.txt`` (0 bytes);
- bob's ``Documents/forecast.xlsx``, shared with carol on the file itself (editor);
- alice's ``Documents/Reports/Regions/EMEA/Germany/Berlin``: six folder levels below
  her root, ``EMEA`` shared with carol (viewer); in Berlin ``contract-acme-gmbh.pdf``
  (an IBAN, Confidential) and ``price-list.xlsx`` (an ``open`` link whose
  ``effective_access`` is ``company``); ``EMEA/emea-pipeline.csv`` (collaborators
  link); ``Regions/AMER/amer-pipeline.csv``, ``Germany/market-notes.txt``;
- carol's ``Designs/Brand/Guidelines/brand-guide.pdf``; the admin's
  ``Policies/HR/travel-policy.pdf`` (company link).

Box's text (the ``extracted_text`` representation, state ``success``) exists for
``Q3 report.docx``, ``contract-acme-gmbh.pdf`` and ``travel-policy.pdf``; every other file's
state is ``none``.

Groups (``SEED_GROUPS``, added last, so no other id changes): ``Finance`` with bob (the
group's admin) and dave (member), ``Engineering`` with carol; the admins, alice and eve are in
none.

Events: the 21 hand-written ones below (``SEED_EVENTS``), and with ``history``
(the default) about 2,500 generated ones around them (``history.py``: every
type, unknown types, exact boundary instants, late arrivals), all recorded in
arrival order. ``history=False`` keeps only the hand-written 21. The history is
planned before the scan fixtures are added, so no event mentions them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .eventlog import EventOptions
from .history import EventDraft, add_history
from .tenant import Access, Enterprise, File, Folder, GroupRole, Tenant, User

ENTERPRISE = Enterprise(id="1000001", name="Acme Corp", domain="acme.example", subdomain="acme")
# Box classification labels: name -> (definition, color).
CLASSIFICATIONS = {
    "Confidential": ("Sensitive business data: never share outside Acme.", "#FF4D4D"),
    "Internal": ("For Acme employees only.", "#FFB400"),
    "Public": ("Approved for anyone.", "#46A35E"),
}

# The scan fixtures (``_seed_scan_content``): bob's folder of more than 1,000 files, alice's deep tree.
BIG_FOLDER = "Invoices 2023"  # in bob's Documents/Archive
BIG_FOLDER_FILES = 1050  # invoice-0001.txt .. invoice-1050.txt
BIG_FOLDER_LINKS: dict[int, Access] = {1: "open", 500: "company", 1050: "collaborators"}
BIG_FOLDER_SECRET = 1042  # invoice-1042.txt holds a card number: on the second page of 1,000
EMEA_FOLDER = "EMEA"  # alice's Documents/Reports/Regions/EMEA, shared with carol (viewer)
DEEPEST_FOLDER = "Berlin"  # alice's Documents/Reports/Regions/EMEA/Germany/Berlin: six levels down
FILE_SHARED_INSIDE = "forecast.xlsx"  # bob's Documents/forecast.xlsx: carol collaborates on the file (editor)
# Managed groups: name -> (user, role in the group), for policies that filter on the owner's groups.
SEED_GROUPS: dict[str, tuple[tuple[str, GroupRole], ...]] = {
    "Finance": (("bob", "admin"), ("dave", "member")),
    "Engineering": (("carol", "member"),),
}

# A stand-in for a Word document; Box's text of it (its representation) says the same.
Q3_REPORT = "Q3 revenue grew 12% on the back of the EMEA launch.\n"

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

    tenant.classifications.update(CLASSIFICATIONS)
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
    # After the events: the history is planned over the content above only, so it stays as it was.
    _seed_scan_content(tenant, users, ago)
    _seed_groups(tenant, users, joined=ago(300))
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
            Q3_REPORT,
            created_at=ago(80),
            shared_link="company",
            classification="Internal",
            extracted_text=Q3_REPORT,
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


def _seed_scan_content(tenant: Tenant, users: dict[str, User], ago: Callable[[int], datetime]) -> None:
    """What a content scan must get through, inside existing top-level folders (so the webhooks
    the connector registers stay the same). No event mentions any of it."""
    old = ago(120)
    folder, file = tenant.add_folder, tenant.add_file

    def named(login: str, name: str) -> Folder:
        owner_id = users[login].id
        return next(f for f in tenant.folders.values() if f.owner_id == owner_id and f.name == name)

    # Alice: six folder levels below her root, a nested folder shared with carol, an open link
    # that the enterprise narrows to company, an IBAN in a classified contract.
    regions = folder(named("alice", "Reports"), "Regions", created_at=old)
    emea = folder(regions, EMEA_FOLDER, created_at=old)
    germany = folder(emea, "Germany", created_at=old)
    berlin = folder(germany, DEEPEST_FOLDER, created_at=old)
    amer = folder(regions, "AMER", created_at=old)
    contract = "%PDF-1.4 Contract with Acme GmbH. IBAN DE89 3704 0044 0532 0130 00\n"
    file(
        berlin,
        "contract-acme-gmbh.pdf",
        contract,
        created_at=ago(40),
        classification="Confidential",
        extracted_text=contract.removeprefix("%PDF-1.4 "),
    )
    price_list = file(berlin, "price-list.xlsx", "Price list 2025: widget 12 EUR\n", created_at=ago(35))
    tenant.share(price_list, "open", effective_access="company")
    file(germany, "market-notes.txt", "German market: steady growth.\n", created_at=ago(50))
    pipeline = "deal,stage\nAcme GmbH,won\n"
    file(emea, "emea-pipeline.csv", pipeline, created_at=ago(45), shared_link="collaborators")
    file(amer, "amer-pipeline.csv", "deal,stage\nAcme Inc,open\n", created_at=ago(45))
    tenant.add_collaboration(emea, users["carol"], role="viewer", created_at=ago(44))

    # Bob: a folder of more than 1,000 files (two pages of 1,000) with a link of every level and
    # a second card number on the second page; an empty file; a file shared with carol.
    archive = named("bob", "Archive")
    invoices = folder(archive, BIG_FOLDER, created_at=ago(300))
    for number in range(1, BIG_FOLDER_FILES + 1):
        content = f"Invoice {number:04d}: {number * 37 % 1000 + 100} EUR\n"
        if number == BIG_FOLDER_SECRET:
            content += "Paid by card 5555 5555 5555 4444\n"
        name = f"invoice-{number:04d}.txt"
        file(
            invoices,
            name,
            content,
            created_at=ago(300 - number // 5),
            shared_link=BIG_FOLDER_LINKS.get(number),
        )
    file(archive, "empty.txt", b"", created_at=old)
    forecast = file(
        named("bob", "Documents"), FILE_SHARED_INSIDE, "Forecast 2026: 1,350,000 EUR\n", created_at=ago(20)
    )
    tenant.add_collaboration(forecast, users["carol"], role="editor", created_at=ago(19))

    # Carol: a brand guide three levels down. The admin: a nested policy behind a company link.
    guidelines = folder(
        folder(named("carol", "Designs"), "Brand", created_at=old), "Guidelines", created_at=old
    )
    file(
        guidelines, "brand-guide.pdf", "%PDF-1.4 brand guidelines\n", created_at=old, classification="Public"
    )
    policy = "%PDF-1.4 travel policy\n"
    file(
        folder(named("admin", "Policies"), "HR", created_at=old),
        "travel-policy.pdf",
        policy,
        created_at=old,
        shared_link="company",
        extracted_text=policy.removeprefix("%PDF-1.4 "),
    )


def _seed_groups(tenant: Tenant, users: dict[str, User], joined: datetime) -> None:
    for name, members in SEED_GROUPS.items():
        group = tenant.add_group(name, description=f"Acme {name}", created_at=joined)
        for login, role in members:
            tenant.add_membership(group, users[login], role, created_at=joined)
