"""A fake Box server for local runs and tests: a real HTTP server on 127.0.0.1.

It speaks the Box API the connector uses (OAuth 2.0 authorization code grant,
users, groups, folders, files and Box's text of them, enterprise events, webhooks and their
signed deliveries) with the shapes of Box's OpenAPI spec, over a seeded tenant, with fault
injection. Point boxsdk at it with ``BaseUrls(**box.base_urls())``.
"""

from .deliveries import DeliveryAttempt, WebhookOptions
from .eventlog import Event, EventLog, EventOptions, SyntheticEvents
from .fake import FakeBox
from .faults import Fault, Faults
from .recorder import RecordedRequest
from .tenant import (
    ANONYMOUS_USER,
    Collaboration,
    Collaborations,
    Enterprise,
    File,
    Folder,
    Group,
    GroupMembership,
    SharedLink,
    Tenant,
    User,
    Webhook,
    WebLink,
)
from .tokens import TokenGrant

__all__ = [
    "ANONYMOUS_USER",
    "Collaboration",
    "Collaborations",
    "DeliveryAttempt",
    "Enterprise",
    "Event",
    "EventLog",
    "EventOptions",
    "FakeBox",
    "Fault",
    "Faults",
    "File",
    "Folder",
    "Group",
    "GroupMembership",
    "RecordedRequest",
    "SharedLink",
    "SyntheticEvents",
    "Tenant",
    "TokenGrant",
    "User",
    "WebLink",
    "Webhook",
    "WebhookOptions",
]
