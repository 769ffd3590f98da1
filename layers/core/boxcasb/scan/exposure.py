"""Who can reach a file: pure rules over its link, its collaborators and its owner."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from boxcasb.scan.model import Collaborator, Exposure, LinkAccess, ListedFile


def external_collaborators(
    collaborators: Iterable[Collaborator], internal_domains: frozenset[str]
) -> list[str]:
    """Collaborators whose login is outside the enterprise's domains (groups are the enterprise's own)."""
    outside = {
        c.login or c.id
        for c in collaborators
        if c.kind == "user" and (c.domain is None or c.domain not in internal_domains)
    }
    return sorted(outside)


_LINK_ORDER = {LinkAccess.OPEN: 3, LinkAccess.COMPANY: 2, LinkAccess.COLLABORATORS: 1}


def widest_link(*links: LinkAccess | None) -> LinkAccess | None:
    present = [link for link in links if link is not None]
    return max(present, key=_LINK_ORDER.__getitem__) if present else None


def exposure_of(
    file: ListedFile,
    collaborators: Sequence[Collaborator],
    internal_domains: frozenset[str],
    folder_link: LinkAccess | None = None,
) -> Exposure:
    # Box may narrow a link below what was asked (enterprise settings): the effective access rules.
    # A link on a folder above reaches the file too: anyone with it can open the folder's content.
    link = widest_link(file.link_effective_access or file.link_access, folder_link)
    if link is LinkAccess.OPEN:
        return Exposure.PUBLIC
    if file.externally_owned or external_collaborators(collaborators, internal_domains):
        return Exposure.EXTERNAL
    if link is LinkAccess.COMPANY:
        return Exposure.COMPANY
    others = [c for c in collaborators if not (c.kind == "user" and c.id == file.owner_id)]
    return Exposure.INTERNAL if others else Exposure.PRIVATE


def merge_collaborators(*groups: Iterable[Collaborator]) -> list[Collaborator]:
    """One entry per collaborator (the nearest collaboration wins), in a stable order."""
    seen: dict[tuple[str, str], Collaborator] = {}
    for group in reversed(groups):  # later groups are nearer the file
        for c in group:
            seen.setdefault((c.kind, c.id), c)
    return sorted(seen.values(), key=lambda c: (c.kind, c.id))


def internal_domains_from(setting: str, admin_login: str | None) -> frozenset[str]:
    """The enterprise's mail domains: the setting's list, or else the connecting admin's domain."""
    listed = {d.strip().lower() for d in setting.split(",") if d.strip()}
    if not listed and admin_login and "@" in admin_login:
        listed.add(admin_login.rpartition("@")[2].lower())
    return frozenset(listed)
