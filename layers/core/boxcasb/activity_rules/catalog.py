"""Which Box enterprise event types each category holds, and how a summary names them.

Event types are those of Box's enterprise events (`admin_logs` / `admin_logs_streaming`), from
the "Event Types" table of Box's enterprise events guide and the `event_type` enum of
`GET /events` in Box's OpenAPI description. Box says its list is not exhaustive, so a rule may
also name event types of its own (`event_types`); a category is only a named set of them.
"""

from __future__ import annotations

from enum import StrEnum

SHIELD_ALERT = "SHIELD_ALERT"
# Box's internal id of a user who is not logged in (an open shared link, for example).
ANONYMOUS_USER_ID = "2"


class Category(StrEnum):
    DOWNLOAD = "download"
    DELETE = "delete"
    SHARING = "sharing"
    FAILED_LOGIN = "failed_login"
    LOGIN = "login"
    ADMIN_ROLE = "admin_role"
    APP_AUTHORIZATION = "app_authorization"
    RETENTION_REMOVED = "retention_removed"
    ADMIN_AND_PERSISTENCE = "admin_and_persistence"
    CONTENT = "content"


# Box's own words (its guide's table) for the changes that fire one by one, for summaries.
DESCRIPTIONS: dict[str, str] = {
    "CHANGE_ADMIN_ROLE": "admin role changed",
    "ENTERPRISE_APP_AUTHORIZATION_UPDATE": "JWT application authorized or reauthorized",
    "APPLICATION_CREATED": "application created in the Developer Console",
    "APPLICATION_PUBLIC_KEY_ADDED": "application public key added",
    "LEGAL_HOLD_ASSIGNMENT_DELETE": "legal hold assignment deleted",
    "LEGAL_HOLD_POLICY_DELETE": "legal hold policy deleted",
    "DATA_RETENTION_REMOVE_RETENTION": "retention removed",
}

# What a count of a category's events is called in a summary ("120 downloads by ...").
LABELS: dict[Category, str] = {
    Category.DOWNLOAD: "downloads",
    Category.DELETE: "deletions",
    Category.SHARING: "sharing or permission changes",
    Category.FAILED_LOGIN: "failed logins",
    Category.LOGIN: "logins",
    Category.ADMIN_ROLE: "admin role changes",
    Category.APP_AUTHORIZATION: "application authorizations",
    Category.RETENTION_REMOVED: "legal hold or retention removals",
    Category.ADMIN_AND_PERSISTENCE: "admin or persistence changes",
    Category.CONTENT: "content actions",
}

_ADMIN_ROLE = frozenset({"CHANGE_ADMIN_ROLE"})
# A new way into the enterprise that outlives a password change: an app, or a key to sign as it.
_APP_AUTHORIZATION = frozenset(
    {"ENTERPRISE_APP_AUTHORIZATION_UPDATE", "APPLICATION_CREATED", "APPLICATION_PUBLIC_KEY_ADDED"}
)
# Box has no event for a retention policy assignment being removed (only `..._ADD`):
# `DATA_RETENTION_REMOVE_RETENTION` ("Retention is removed") is the one it logs.
_RETENTION_REMOVED = frozenset(
    {"LEGAL_HOLD_ASSIGNMENT_DELETE", "LEGAL_HOLD_POLICY_DELETE", "DATA_RETENTION_REMOVE_RETENTION"}
)

CATEGORY_EVENTS: dict[Category, frozenset[str]] = {
    Category.DOWNLOAD: frozenset({"DOWNLOAD", "FILE_WATERMARKED_DOWNLOAD"}),
    Category.DELETE: frozenset({"DELETE"}),
    # Changes that open an item to more people or for longer; removals narrow access and are left out.
    Category.SHARING: frozenset(
        {
            "SHARE",
            "ITEM_SHARED_UPDATE",
            "UPDATE_SHARE_EXPIRATION",
            "COLLABORATION_INVITE",
            "COLLABORATION_ROLE_CHANGE",
            "UPDATE_COLLABORATION_EXPIRATION",
            "CHANGE_FOLDER_PERMISSION",
        }
    ),
    Category.FAILED_LOGIN: frozenset({"FAILED_LOGIN"}),
    Category.LOGIN: frozenset({"LOGIN"}),
    Category.ADMIN_ROLE: _ADMIN_ROLE,
    Category.APP_AUTHORIZATION: _APP_AUTHORIZATION,
    Category.RETENTION_REMOVED: _RETENTION_REMOVED,
    Category.ADMIN_AND_PERSISTENCE: _ADMIN_ROLE | _APP_AUTHORIZATION | _RETENTION_REMOVED,
    # What someone does to content: SHIELD_ALERT and other system events are not here, as Box
    # logs them as created by the anonymous user.
    Category.CONTENT: frozenset(
        {
            "DOWNLOAD",
            "FILE_WATERMARKED_DOWNLOAD",
            "PREVIEW",
            "ITEM_OPEN",
            "UPLOAD",
            "EDIT",
            "ITEM_MODIFY",
            "COPY",
            "MOVE",
            "RENAME",
            "DELETE",
            "SHARE",
            "ITEM_SHARED_UPDATE",
        }
    ),
}
