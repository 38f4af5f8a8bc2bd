"""Organisations: the pure scope rules (tables), ``GET /v2/organizations`` and ``X-TT-ORG`` / ``is_org`` through
the routes, roles changed by a test, and the ``organizations=`` option."""
from __future__ import annotations

import re

import pytest

from ttai_notebook.sandbox import Sandbox
from ttai_notebook.sandbox.orgs import OrgRecord, admin_refusal, make_organizations, scope_refusal

from .helpers import make_http

HEX24 = re.compile(r"[0-9a-f]{24}")
ORGS = [OrgRecord("a" * 24, "Admin Org", "admin-org", 30, home=True), OrgRecord("b" * 24, "Viewer", "viewer", 10),
        OrgRecord("c" * 24, "Dormant", "dormant", -1), OrgRecord("d" * 24, "Owned", "owned", 99)]


@pytest.mark.parametrize(("header", "org", "status"), [
    (None, None, None),
    ("", None, None),
    ("   ", None, None),
    ("a" * 24, "Admin Org", None),
    (" " + "b" * 24 + " ", "Viewer", None),
    ("c" * 24, None, 403),  # a dormant membership has no access
    ("e" * 24, None, 403),  # not a member
    ("admin-org", None, 403),  # the header takes ids, not slugs
])
def test_scope_refusal(header, org, status):
    got, refusal = scope_refusal(ORGS, header)
    assert (got.name if got else None) == org
    assert (refusal[0] if refusal else None) == status


@pytest.mark.parametrize(("org", "status", "needle"), [
    (None, 400, "X-TT-ORG"),
    (ORGS[1], 403, "your role is view (10)"),
    (OrgRecord("x" * 24, "Reader", "reader", 20), 403, "your role is read (20)"),
    (ORGS[0], None, None),
    (ORGS[3], None, None),
])
def test_admin_refusal(org, status, needle):
    refusal = admin_refusal(org, "is_org")
    assert (refusal[0] if refusal else None) == status
    if needle:
        assert needle in refusal[1] and "is_org=true" in refusal[1]


def test_make_organizations_checks_and_defaults():
    made = make_organizations(0, [{"name": "Acme Sales EU", "role": 99}, {"name": "B", "role": 10, "home": True}])
    assert made[0].slug == "acme-sales-eu" and HEX24.fullmatch(made[0].id) and not made[0].home and made[1].home
    assert [o.id for o in make_organizations(0, [{"name": "x"}])] == [made[0].id]  # seeded: same id again
    assert make_organizations(0, [{"name": "x"}])[0].home  # the first is home by default
    for bad, match in (([{"role": 30}], "name"), ([{"name": "a", "role": 25}], "role"),
                       ([{"name": "a"}, {"name": "a"}], "unique"), (["a"], "mapping")):
        with pytest.raises(ValueError, match=match):
            make_organizations(0, bad)


@pytest.fixture(params=["documented", "spec"])
def dialect(request):
    return request.param


def message(r, dialect) -> str:
    return r.json()["detail"] if dialect == "spec" else r.json()["error"]


def test_list_organizations(connect, dialect):
    box, c = connect(dialect=dialect)
    orgs = c.get("/v2/organizations").json()
    assert [(o["name"], o["slug"], o["role"]) for o in orgs] == [("Northwind Demo", "northwind-demo", 30),
                                                                  ("Northwind Academy", "northwind-academy", 10)]
    assert all(HEX24.fullmatch(o["id"]) for o in orgs)
    assert orgs == c.get("/v2/organizations").json() and orgs[0]["id"] == box.state.organizations[0].id
    assert Sandbox(seed=1).state.organizations[0].id != orgs[0]["id"]  # seeded


def test_org_scope_and_is_org(connect, dialect):
    box, c = connect(dialect=dialect)
    admin, viewer = (o.id for o in box.state.organizations)
    everything = c.get("/v2/sessions", params={"limit": 1}).json()["page_meta"]["total"]
    # without is_org the demo user sees every demo session, in any context
    for headers in ({}, {"X-TT-ORG": admin}, {"X-TT-ORG": viewer}):
        assert c.get("/v2/sessions", params={"limit": 1}, headers=headers).json()["page_meta"]["total"] == everything
    r = c.get("/v2/sessions", params={"is_org": "true"})
    assert r.status_code == 400 and "X-TT-ORG" in message(r, dialect)
    r = c.get("/v2/sessions", params={"is_org": "true"}, headers={"X-TT-ORG": viewer})
    assert r.status_code == 403 and "admin" in message(r, dialect) and "view (10)" in message(r, dialect)
    ok = c.get("/v2/sessions", params={"is_org": "true", "limit": 1}, headers={"X-TT-ORG": admin}).json()
    assert ok["page_meta"]["total"] == everything
    # a non-member id is refused on every API route, not only on listings
    stranger = "f" * 24
    for method, path in (("GET", "/v2/sessions"), ("GET", "/balance"), ("GET", "/scenarios"),
                         ("GET", "/v2/analytics"), ("GET", "/v2/organizations")):
        r = c.request(method, path, headers={"X-TT-ORG": stranger})
        assert r.status_code == 403 and "not a member" in message(r, dialect), path
    assert c.get("/sandbox/counters", headers={"X-TT-ORG": stranger}).status_code == 200  # control routes: no scope


def test_roles_changed_by_a_test_apply_at_once(connect, dialect):
    box, c = connect(dialect=dialect)
    admin_org, viewer_org = box.state.organizations
    params = {"is_org": "true", "limit": 5}
    assert c.get("/v2/sessions", params=params, headers={"X-TT-ORG": admin_org.id}).status_code == 200
    admin_org.role = 10  # demoted: the cached answer must not be served any more
    assert c.get("/v2/sessions", params=params, headers={"X-TT-ORG": admin_org.id}).status_code == 403
    viewer_org.role = 99  # promoted in an organisation without the demo data: allowed, and empty
    body = c.get("/v2/sessions", params=params, headers={"X-TT-ORG": viewer_org.id}).json()
    assert body["sessions"] == [] and body["page_meta"]["total"] == 0
    viewer_org.role = -1
    assert c.get("/balance", headers={"X-TT-ORG": viewer_org.id}).status_code == 403
    assert c.get("/v2/organizations").json()[1]["role"] == -1


def test_organizations_option():
    box = Sandbox(organizations=[{"name": "Solo", "role": 20, "id": "0123456789abcdef01234567"}])
    with make_http(box) as c:
        assert c.get("/v2/organizations").json() == [{"id": "0123456789abcdef01234567", "name": "Solo",
                                                      "slug": "solo", "role": 20}]
        r = c.get("/v2/sessions", params={"is_org": True}, headers={"X-TT-ORG": "0123456789abcdef01234567"})
        assert r.status_code == 403
        box.state.organizations[0].role = 30
        box.reset()  # back to the constructor's list
        assert box.state.organizations[0].role == 20
    assert Sandbox(organizations=[]).state.organizations == []
    with pytest.raises(ValueError, match="role"):
        Sandbox(organizations=[{"name": "x", "role": 31}])


def test_brief_ignores_the_org_header():
    box = Sandbox(profile="brief")
    with make_http(box) as c:  # the brief's service knew the header but had no organisation routes
        assert c.get("/sessions", params={"limit": 1}, headers={"X-TT-ORG": "f" * 24}).status_code == 200
