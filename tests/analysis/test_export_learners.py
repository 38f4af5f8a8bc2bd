"""Learner e-mails become one valid ``mailto:`` IRI or no statement at all (issue L item 3).

What is unambiguous is normalised (spaces, ``mailto:``, angle brackets, a display name, the domain's case); the
rest is refused with a reason, and `to_xapi` skips that session with one warning naming each session, its
reason and what is allowed — never an invalid actor.
"""

from __future__ import annotations

import re
import warnings

import pytest

from ttai_notebook import export as X

from .conftest import spec_session

SID_KEY = X.DEFAULT_EXTENSION_BASE + "session-id"


@pytest.mark.parametrize(
    ("raw", "mbox"),
    [
        ("ana@example.com", "mailto:ana@example.com"),
        ("  ana@example.com\t", "mailto:ana@example.com"),
        ("Bo@Example.COM", "mailto:Bo@example.com"),  # the local part keeps its case, the domain is lower-cased
        ("<ana@example.com>", "mailto:ana@example.com"),
        (" < ana@example.com > ", "mailto:ana@example.com"),
        ("Ana Lima <ana@example.com>", "mailto:ana@example.com"),
        ('"Lima, Ana" <ana@example.com>', "mailto:ana@example.com"),  # a comma inside a quoted name is a name
        ("ana@example.com <ana@example.com>", "mailto:ana@example.com"),  # the name repeats the address
        ("mailto:ana@example.com", "mailto:ana@example.com"),
        ("MAILTO:ana@example.com", "mailto:ana@example.com"),
        ("ana.lima+sales@sub.example.co.uk", "mailto:ana.lima+sales@sub.example.co.uk"),
        ("o'brien@example.com", "mailto:o'brien@example.com"),
        ("josé@exämple.com", "mailto:josé@exämple.com"),  # IRIs carry non-ASCII letters as they are
        ("ana@localhost", "mailto:ana@localhost"),
    ],
)
def test_unambiguous_emails_are_normalised(raw, mbox):
    assert X._learner_mbox(raw) == (mbox, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "no learner e-mail"),
        ("", "no learner e-mail"),
        ("   ", "no learner e-mail"),
        (float("nan"), "no learner e-mail"),
        (42, "is a int, not text"),
        ("a@x.com,b@y.com", "several addresses"),
        ("a@x.com, b@y.com", "several addresses"),
        ("a@x.com;b@y.com", "several addresses"),
        ("Ana <a@x.com>, Bo <b@y.com>", "unbalanced angle brackets|several addresses"),
        ("<ana@example.com", "unbalanced angle brackets"),
        ("ana@example.com>", "unbalanced angle brackets"),
        ("<<ana@example.com>>", "unbalanced angle brackets"),
        ("ana@example.com <bo@example.com>", "display name is another address"),
        ("ana", "no '@'"),
        ("ana@@example.com", "exactly one '@'"),
        ("a@b@example.com", "exactly one '@'"),
        ("ana @example.com", "spaces inside the address"),
        ("ana@exa mple.com", "spaces inside the address"),
        ("ana@example.com\nBcc: eve@evil.example", "control characters"),
        ("\x00ana@example.com", "control characters"),
        ("@example.com", "both sides of the '@'"),
        ("ana@", "both sides of the '@'"),
        (".ana@example.com", "before the '@'"),
        ("ana..lima@example.com", "before the '@'"),
        ("an?a@example.com", "before the '@'"),
        ("100%@example.com", "before the '@'"),
        ("a/b@example.com", "before the '@'"),
        ('"ana"@example.com', "before the '@'"),
        ("javascript:alert(1)//@example.com", "before the '@'"),
        ("ana@example.com?subject=hi", "domain name"),
        ("ana@example..com", "domain name"),
        ("ana@-example.com", "domain name"),
        ("ana@[192.0.2.1]", "domain name"),
        ("ana@exa_mple.com", "domain name"),
    ],
)
def test_ambiguous_or_invalid_emails_are_refused_with_a_reason(raw, reason):
    mbox, why = X._learner_mbox(raw)
    assert mbox is None
    assert why and re.search(reason, why), why


def test_export_skips_and_reports_each_session_never_an_invalid_actor():
    data = [
        spec_session("good", email="Ana Lima <Ana@Example.COM>"),
        spec_session("two", email="a@x.com,b@y.com"),
        spec_session("open", email="<ana@example.com"),
        spec_session("none", email=None),
    ]
    with pytest.warns(UserWarning) as caught:
        statements = X.to_xapi(data)
    assert {s["context"]["extensions"][SID_KEY] for s in statements} == {"good"}
    assert {s["actor"]["mbox"] for s in statements} == {"mailto:Ana@example.com"}
    [message] = [str(w.message) for w in caught]
    assert message.startswith("to_xapi skipped 3 analysed session(s) without a usable learner email")
    assert "session two: user_email 'a@x.com,b@y.com': several addresses" in message
    assert "session open: user_email '<ana@example.com': unbalanced angle brackets" in message
    assert "session none: user_email None: no learner e-mail" in message
    assert "Allowed: one address like 'ana@example.com'" in message and "Ana Lima <ana@example.com>" in message


def test_the_warning_stays_short_for_many_skips():
    data = [spec_session(f"s{i}", email=f"bad{i}") for i in range(25)]
    data.append(spec_session("long", email="x" * 500))
    with pytest.warns(UserWarning) as caught:
        assert X.to_xapi(data) == []
    message = str(caught[0].message)
    assert "skipped 26 analysed" in message and "... and 16 more" in message
    assert message.count("\n  session ") == 10 and len(message) < 2500


def test_the_warning_can_refuse_the_export():
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(UserWarning, match="session two"):
            X.to_xapi([spec_session("two", email="a@x.com,b@y.com")])


def test_a_normalised_address_keeps_the_learner_and_the_ids_stable():
    # The same person written three ways is one actor: the statements (and so their ids) are the same.
    plain = X.to_xapi([spec_session("a", email="ana@example.com")])
    for spelling in ("<ana@example.com>", "Ana Lima <ana@EXAMPLE.com>", " mailto:ana@example.com "):
        assert X.to_xapi([spec_session("a", email=spelling)]) == plain
