"""Organisations of the sandbox user and the rules of the org scope (``X-TT-ORG``, ``is_org``), as data
and pure decisions. The state turns a refusal into an HTTP error."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .clock import DEMO_NOW, IdGenerator

__all__ = [
    "ROLES",
    "ROLE_NONE",
    "ROLE_VIEW",
    "ROLE_READ",
    "ROLE_ADMIN",
    "ROLE_OWNER",
    "OrgRecord",
    "default_organizations",
    "make_organizations",
    "scope_refusal",
    "admin_refusal",
]

ROLE_NONE, ROLE_VIEW, ROLE_READ, ROLE_ADMIN, ROLE_OWNER = -1, 10, 20, 30, 99
#: The spec's ``Role`` values and what the app calls them (30 is "edit", shown as "admin").
ROLES: dict[int, str] = {ROLE_NONE: "no access", ROLE_VIEW: "view", ROLE_READ: "read", ROLE_ADMIN: "admin",
                         ROLE_OWNER: "owner"}


@dataclass
class OrgRecord:
    """An organisation the sandbox user belongs to, with the user's ``role`` in it (mutable, for tests).

    ``home``: the demo scenarios and sessions belong to this organisation.
    """

    id: str
    name: str
    slug: str
    role: int
    home: bool = False


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "org"


#: The demo user's organisations: admin of the one that owns the demo data, viewer of another.
_DEMO_ORGS: tuple[dict[str, Any], ...] = (
    {"name": "Northwind Demo", "role": ROLE_ADMIN, "home": True},
    {"name": "Northwind Academy", "role": ROLE_VIEW},
)


def make_organizations(seed: int, specs: Iterable[Mapping[str, Any]]) -> list[OrgRecord]:
    """Organisation records from mappings ``{name, role, slug?, id?, home?}``; ids are seeded 24-hex.

    Without a ``home`` flag the first organisation is the home one.

    Raises
    ------
    ValueError
        For a missing name, a role that is not one of :data:`ROLES`, or duplicate ids or slugs.
    """
    ids = IdGenerator(seed, "orgs")
    out: list[OrgRecord] = []
    for k, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise ValueError(f"organizations[{k}] must be a mapping {{name, role, ...}}, got {spec!r}")
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"organizations[{k}] needs a non-empty name")
        role = spec.get("role", ROLE_ADMIN)
        if isinstance(role, bool) or role not in ROLES:
            raise ValueError(f"organizations[{k}].role must be one of {sorted(ROLES)}, got {role!r}")
        new_id = ids.new_id(DEMO_NOW - timedelta(days=400 - k))
        out.append(OrgRecord(id=str(spec.get("id") or new_id), name=name.strip(),
                             slug=str(spec.get("slug") or _slug(name)), role=int(role), home=bool(spec.get("home"))))
    if len({o.id for o in out}) != len(out) or len({o.slug for o in out}) != len(out):
        raise ValueError("organisation ids and slugs must be unique")
    if out and not any(o.home for o in out):
        out[0].home = True
    return out


def default_organizations(seed: int) -> list[OrgRecord]:
    """The demo organisations: "Northwind Demo" (role 30, owns the demo data) and "Northwind Academy" (role 10)."""
    return make_organizations(seed, _DEMO_ORGS)


def scope_refusal(orgs: Sequence[OrgRecord], header: str | None) -> tuple[OrgRecord | None, tuple[int, str] | None]:
    """The organisation an ``X-TT-ORG`` header scopes a call to, or a refusal ``(status, message)``.

    An absent or blank header is the personal context (None, no refusal).

    Examples
    --------
    >>> orgs = [OrgRecord("a" * 24, "A", "a", 30)]
    >>> scope_refusal(orgs, None)
    (None, None)
    >>> scope_refusal(orgs, "b" * 24)[1][0]
    403
    """
    wanted = (header or "").strip()
    if not wanted:
        return None, None
    org = next((o for o in orgs if o.id == wanted), None)
    if org is None:
        return None, (403, f"Access denied: you are not a member of organisation {wanted} (X-TT-ORG). "
                           "GET /v2/organizations lists yours.")
    if org.role <= ROLE_NONE:
        return None, (403, f"Access denied: your membership of organisation '{org.name}' is dormant (no access).")
    return org, None


def admin_refusal(org: OrgRecord | None, param: str) -> tuple[int, str] | None:
    """Why an org-wide request (``is_org=true`` / ``is_org_wide=true``) is refused, or None if allowed.

    It needs an org context (400 without ``X-TT-ORG``) and the edit/admin or owner role (403 below it).
    """
    if org is None:
        return 400, (f"{param}=true needs an organisation context: send the X-TT-ORG header with one of the ids "
                     "from GET /v2/organizations.")
    if org.role < ROLE_ADMIN:
        return 403, (f"Insufficient permissions: {param}=true needs the admin (edit) or owner role in "
                     f"'{org.name}'; your role is {ROLES.get(org.role, org.role)} ({org.role}).")
    return None
