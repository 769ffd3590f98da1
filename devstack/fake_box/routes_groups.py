"""A user's group memberships and a group: ``/2.0/users/{id}/memberships``, ``/2.0/groups/{id}``.

Box lets "members of this group or users with admin-level permissions" use both. Here that is
an admin, a co-admin with "Manage groups", the user asking about themself (memberships) or a
member (the group); anyone else is refused before the id is looked up. With As-User the rules
apply to the user acted as.
"""

from __future__ import annotations

import re

from .access import Call, manages_groups
from .paging import paginate
from .web import Response, forbidden, json_response, not_found

# The memberships list pages by offset only; a stray usemarker/marker must not switch it to markers.
_PAGING_PARAMETERS = ("limit", "offset")


def get_user_memberships(call: Call, match: re.Match[str]) -> Response:
    viewer, user_id = call.user, match["id"]
    if user_id != viewer.id and not manages_groups(viewer):
        raise forbidden()
    user = call.tenant.users.get(user_id)
    # Admins see the users of their own enterprise only; an outsider is as unknown as a bad id.
    if user is None or (user.id != viewer.id and user.enterprise_id != viewer.enterprise_id):
        raise not_found("user", user_id)
    memberships = sorted(call.tenant.memberships_of(user), key=lambda m: int(m.id))
    query = {name: value for name, value in call.request.query.items() if name in _PAGING_PARAMETERS}
    page = paginate(memberships, query, max_offset=10_000)
    entries = [call.renderer.group_membership(membership) for membership in page.entries]
    return json_response(200, {**page.envelope, "entries": entries})


def get_group(call: Call, match: re.Match[str]) -> Response:
    viewer, group_id = call.user, match["id"]
    if not manages_groups(viewer) and all(m.group_id != group_id for m in call.tenant.memberships_of(viewer)):
        raise forbidden()
    group = call.tenant.groups.get(group_id)
    if group is None:
        raise not_found("group", group_id)
    return json_response(200, call.renderer.group(group, call.fields()))


ROUTES = [
    ("GET", r"/2\.0/users/(?P<id>[^/]+)/memberships", get_user_memberships),
    ("GET", r"/2\.0/groups/(?P<id>[^/]+)", get_group),
]
