"""The models' fast paths (benchmark 2) give exactly what the plain, general code gives.

``split_items``, ``_topic_score`` and ``_number`` gained shortcuts for the service's usual shapes; the reference
versions below are the general code they replaced, kept here as the oracle. ``from_api`` builds models through
``_make`` (bypassing the frozen ``__init__``), so every field must still be set.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ttai_notebook import models
from ttai_notebook.sandbox import Sandbox

SETTINGS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

# ---------------------------------------------------------------------------------------------------
# The reference: the general code as it was before the fast paths (commit 2b1dee1)
# ---------------------------------------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*•+‣–]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1")
_FRACTION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*$")


def ref_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().rstrip("%"))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def ref_fraction(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    match = _FRACTION.match(value)
    if not match:
        return None
    num, den = float(match.group(1)), float(match.group(2))
    return 100.0 * num / den if den > 0 else None


def ref_in_range(score: float | None) -> float | None:
    if score is None or not (0.0 <= score <= 100.0):
        return None
    return round(score, 4)


def ref_topic_score(score: Any, score_str: Any) -> float | None:
    text = score_str.strip() if isinstance(score_str, str) else None
    if text and ref_fraction(text) is None and ref_number(text) is None:
        return None
    number = ref_number(score)
    if number is not None:
        return ref_in_range(number * 10.0)
    if text:
        fraction = ref_fraction(text)
        if fraction is not None:
            return ref_in_range(fraction)
        number = ref_number(text)
        if number is not None:
            return ref_in_range(number * 10.0 if number <= 10 else number)
    return None


def ref_clean_item(text: str) -> str:
    return " ".join(_BOLD.sub(r"\2", text).split())


def ref_split_items(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        lines = value.replace("\r\n", "\n").split("\n")
        matches = [_BULLET.match(line) for line in lines]
        if any(matches):
            items: list[str] = []
            for line, match in zip(lines, matches):
                if not line.strip() or _HEADING.match(line):
                    continue
                if match:
                    items.append(line[match.end():])
                elif items:
                    items[-1] += " " + line.strip()
            return tuple(item for item in (ref_clean_item(i) for i in items) if item)
        paragraphs = re.split(r"\n\s*\n", value)
        return tuple(p for p in (ref_clean_item(_HEADING.sub("", p)) for p in paragraphs) if p)
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        out = []
        for item in value:
            if isinstance(item, str):
                match = _BULLET.match(item)
                text = ref_clean_item(item[match.end():] if match else item)
            elif isinstance(item, Mapping):
                parts = [str(item[k]) for k in ("title", "text", "description", "item") if isinstance(item.get(k), str)]
                text = ref_clean_item(": ".join(parts))
            elif isinstance(item, (int, float)) and not isinstance(item, bool):
                text = str(item)
            else:
                text = ""
            if text:
                out.append(text)
        return tuple(out)
    return ()


# ---------------------------------------------------------------------------------------------------
# Strategies: text made of the pieces the parsers care about
# ---------------------------------------------------------------------------------------------------

_PIECES = ["- ", "* ", "• ", "1. ", "12) ", "# ", "### ", "**", "__", "*", "_", " ", "  ", "\t", "\n", "\r\n",
           "\r", "\n\n", "\xa0", "\u2028", "\x0b", "word", "Rapport", ": ", "3", "x"]
markdownish = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)
score_texts = st.one_of(
    st.lists(st.sampled_from(["0", "1", "5", "9", "10", "100", "999", "1000", ".", "/", " ", "-", "%", "e", "x",
                              "nan", "inf", "0/0", "/10"]), max_size=6).map("".join),
    st.none(), st.integers(-5, 50),
)
scores = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 200), st.none(), st.booleans(),
                   st.text(max_size=5))


@SETTINGS
@given(text=markdownish)
def test_split_items_text_matches_reference(text: str) -> None:
    assert models.split_items(text) == ref_split_items(text)


@SETTINGS
@given(items=st.lists(st.one_of(markdownish, st.integers(), st.none(),
                                st.fixed_dictionaries({"title": markdownish, "text": markdownish})), max_size=5))
def test_split_items_list_matches_reference(items: list[Any]) -> None:
    assert models.split_items(items) == ref_split_items(items)


@SETTINGS
@given(score=scores, text=score_texts)
def test_topic_score_matches_reference(score: Any, text: Any) -> None:
    got, want = models._topic_score(score, text), ref_topic_score(score, text)
    assert got == want or (got is None and want is None), (score, text, got, want)


@pytest.mark.parametrize(("score", "text"), [
    (5.9, "5.9/10"), (10.0, "10/10"), (7.0, "7"), (float("nan"), "5.9/10"), (float("inf"), "8/10"),
    (5.0, "0/0"), (5.0, "5/0.5"), (5.0, "INTP"), (11.0, "11/10"), (-1.0, "1/10"), (5.0, " 5/10 "),
])
def test_topic_score_edge_rows(score: float, text: str) -> None:
    assert models._topic_score(score, text) == ref_topic_score(score, text)


@SETTINGS
@given(value=scores)
def test_number_matches_reference(value: Any) -> None:
    assert models._number(value) == ref_number(value)


# ---------------------------------------------------------------------------------------------------
# _make: every field set, equal to the dataclass constructor's result
# ---------------------------------------------------------------------------------------------------


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


@pytest.fixture(scope="module")
def demo_sessions() -> list[dict[str, Any]]:
    import httpx

    with httpx.Client(transport=Sandbox().transport(), base_url="https://sandbox.invalid/api/public",
                      headers={"Authorization": "Bearer sandbox"}) as http:
        return http.get("/v2/sessions", params={"page": 1, "limit": 500}).json()["sessions"]


def test_from_api_sets_every_field(demo_sessions: list[dict[str, Any]]) -> None:
    built = [models.Session.from_api(item) for item in demo_sessions]
    analysed = [s for s in built if s.analysis is not None]
    assert analysed and any(s.analysis.report_card for s in analysed)
    objects: list[Any] = list(built)
    for session in analysed:
        objects.append(session.analysis)
        objects.extend(session.analysis.report_card)
    for obj in objects:
        names = {f.name for f in dataclasses.fields(obj)}
        assert set(vars(obj)) - {models.FROM_RAW} == names, type(obj).__name__
        assert type(obj)(**_fields_of(obj)) == obj  # the constructor builds the same value
    with pytest.raises(dataclasses.FrozenInstanceError):
        built[0].id = "changed"  # type: ignore[misc]


def test_from_raw_mark_is_only_on_analyses_from_api() -> None:
    """The store keeps only the service JSON of marked analyses, so a changed copy must not be marked."""
    analysis = models.Analysis.from_api({"overall_score": 80, "strengths": ["Clear"]}, session_id="s")
    assert vars(analysis).get(models.FROM_RAW) is True
    assert models.FROM_RAW not in vars(dataclasses.replace(analysis, score=10.0))
    assert models.FROM_RAW not in vars(models.Analysis(session_id="s", score=1.0))
    assert models.FROM_RAW not in analysis.to_dict()
