"""The demo organisation: its size, determinism, believable learning curves, transcripts, and scaling."""
from __future__ import annotations

import re
import statistics
import time
from collections import defaultdict

import pytest

from ttai_notebook.sandbox import DEMO_NOW
from ttai_notebook.sandbox.demo_data import DEFAULT_SESSIONS, MAX_SESSIONS, build_demo, make_transcript
from ttai_notebook.sandbox.records import COMPLETED, IN_PROGRESS, TERMINATED
from ttai_notebook.sandbox.scoring import parse_transcript

TURN = re.compile(r"^\[\d\d:\d\d\] (AI|User): \S.*$")


@pytest.fixture(scope="module")
def org():
    return build_demo(0)


def _scores(org):
    """(session, final_score) for every analysed session, oldest first."""
    out = []
    for s in reversed(org.sessions):
        evaluation, _ = s.results()
        if evaluation is not None:
            out.append((s, evaluation["final_score"]))
    return out


def test_sizes(org):
    size = org.summary()
    print("\ndemo organisation (seed 0):", size)
    assert size["scenarios"] >= 5
    assert size["sessions"] == DEFAULT_SESSIONS
    assert size["analysed"] >= 400
    assert size["by_status"][TERMINATED] > 0 and size["completed_unanalysed"] > 0
    assert size["by_status"][IN_PROGRESS] >= 1
    assert size["trainees"] >= 30 and size["teams"] >= 4 and size["weeks"] >= 12
    assert len({s.metadata["team"] for s in org.sessions}) >= 4
    assert len({s.user_email for s in org.sessions}) >= 30


def test_sessions_span_the_weeks_before_demo_now(org):
    created = [s.created_at for s in org.sessions]
    assert max(created) < DEMO_NOW
    assert (max(created) - min(created)).days >= 12 * 7 - 21  # trainees start within the first weeks
    assert [s.created_at for s in org.sessions] == sorted(created, reverse=True)  # newest first


def test_rubrics(org):
    topic_sets = set()
    for scenario in org.scenarios:
        assert 4 <= len(scenario.rubric) <= 6, scenario.name
        assert sum(r["weight"] for r in scenario.rubric) == 100, scenario.name
        topic_sets.add(tuple(r["topic"] for r in scenario.rubric))
    assert len(topic_sets) == len(org.scenarios)  # every scenario has its own rubric
    names = " ".join(s.name.lower() for s in org.scenarios)
    for word in ("cold call", "discovery", "objection", "support", "interview"):
        assert word in names


def test_same_seed_same_org_other_seed_other_org():
    a, b, c = build_demo(5), build_demo(5), build_demo(6)

    def fingerprint(o):
        return [(s.id, s.user_email, s.created_at, s.status, s.get_transcript(), s.results()[0]) for s in o.sessions[:40]]

    assert [s.id for s in a.sessions] == [s.id for s in b.sessions]
    assert fingerprint(a) == fingerprint(b)
    assert [s.id for s in a.sessions] != [s.id for s in c.sessions]


def test_analysis_is_the_same_whenever_it_is_read():
    a, b = build_demo(3), build_demo(3)
    # read b's results in the opposite order: lazy computation must not depend on order
    for s in reversed(b.sessions):
        s.results()
    assert [s.results() for s in a.sessions] == [s.results() for s in b.sessions]


def test_transcripts_use_the_service_format(org):
    for s in org.sessions[:60]:
        text = s.get_transcript()
        if s.status == IN_PROGRESS:
            assert text is None
            continue
        blocks = text.split("\n\n")
        assert all(TURN.match(b) for b in blocks), blocks
        assert blocks[0].startswith("[00:00] AI:")
        assert "{" not in text  # every placeholder was filled


def test_statuses_are_consistent(org):
    for s in org.sessions:
        if s.status == IN_PROGRESS:
            assert s.completed_at is None and not s.analyzed and s.duration is None
        else:
            assert s.completed_at is not None and s.duration > 0
            assert s.updated_at >= s.completed_at
        if s.status == TERMINATED:
            assert not s.analyzed and s.duration < 200
        if s.analyzed:
            assert s.status == COMPLETED and s.last_evaluated_at is not None


def test_scores_rise_with_practice(org):
    by_attempt = defaultdict(list)
    seen = defaultdict(int)
    for s, score in _scores(org):
        key = (s.user_email, s.scenario_id)
        by_attempt[min(seen[key], 6)].append(score)
        seen[key] += 1
    first, late = statistics.mean(by_attempt[0]), statistics.mean(by_attempt[6])
    print(f"\nmean score by attempt: first {first:.2f}, 7th+ {late:.2f}")
    assert late > first + 1.5
    means = [statistics.mean(by_attempt[k]) for k in range(7)]
    assert sum(b > a for a, b in zip(means, means[1:])) >= 4  # mostly rising, with noise


def test_teams_and_scenarios_differ(org):
    by_team = defaultdict(list)
    by_scenario = defaultdict(list)
    for s, score in _scores(org):
        by_team[s.metadata["team"]].append(score)
        by_scenario[s.scenario_name].append(score)
    team_means = {t: statistics.mean(v) for t, v in by_team.items()}
    scenario_means = {t: statistics.mean(v) for t, v in by_scenario.items()}
    assert max(team_means.values()) - min(team_means.values()) > 0.5
    assert max(scenario_means.values()) - min(scenario_means.values()) > 0.5
    all_scores = [score for _, score in _scores(org)]
    assert min(all_scores) < 4 and max(all_scores) > 9  # a believable spread
    assert 5 < statistics.mean(all_scores) < 8


def test_skill_drives_the_transcript_and_the_score():
    import random

    from ttai_notebook.sandbox.scoring import analyze_transcript

    for spec_key in ("cold_call", "discovery", "objection", "support", "interview"):
        low = [analyze_transcript(make_transcript(spec_key, 0.1, rng=random.Random(i)), None)[0]["final_score"]
               for i in range(15)]
        high = [analyze_transcript(make_transcript(spec_key, 0.9, rng=random.Random(i)), None)[0]["final_score"]
                for i in range(15)]
        assert statistics.mean(high) > statistics.mean(low), spec_key


def test_make_transcript_terminated_is_short_and_names_fill_in():
    import random

    full = make_transcript("support", 0.5, rng=random.Random(1), me="Ana")
    cut = make_transcript("support", 0.5, rng=random.Random(1), me="Ana", status=TERMINATED)
    assert len(parse_transcript(cut)) < len(parse_transcript(full))
    expert = make_transcript("support", 1.0, rng=random.Random(1), me="Ana")
    assert "Jordan" in expert and "{" not in expert  # the persona's name is filled into the trainee's lines
    with pytest.raises(ValueError, match="unknown demo scenario"):
        make_transcript("nope", 0.5, rng=random.Random(0))


def test_scaled_organisation_builds_fast_and_grows():
    started = time.perf_counter()
    big = build_demo(0, sessions=20_000)
    elapsed = time.perf_counter() - started
    print(f"\nsessions=20000 built in {elapsed:.2f} s: {big.summary()}")
    small = build_demo(0)
    assert len(big.sessions) == 20_000
    assert len(big.trainees) > len(small.trainees) and big.weeks > small.weeks and len(big.teams) >= len(small.teams)
    text = big.sessions[100].get_transcript()  # built on demand
    assert text and all(TURN.match(b) for b in text.split("\n\n"))
    # benchmark-sized organisations have shorter conversations than the default one
    big_turns = statistics.mean(len(parse_transcript(s.get_transcript())) for s in big.sessions[100:300])
    small_turns = statistics.mean(len(parse_transcript(s.get_transcript())) for s in small.sessions[10:210])
    assert big_turns < small_turns - 3


@pytest.mark.parametrize("n", [0, 1, 7, 60])
def test_small_organisations(n):
    org = build_demo(0, sessions=n)
    assert len(org.sessions) == n and len(org.scenarios) == 5


@pytest.mark.parametrize("n", [-1, MAX_SESSIONS + 1])
def test_out_of_range_sizes_are_refused(n):
    with pytest.raises(ValueError, match="sessions must be between 0 and 100000"):
        build_demo(0, sessions=n)


@pytest.mark.parametrize("n", ["100", 10.5, True])
def test_sizes_must_be_integers(n):
    with pytest.raises(TypeError, match="sessions must be an integer"):
        build_demo(0, sessions=n)
