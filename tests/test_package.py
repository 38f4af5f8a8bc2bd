"""The package's public face: every exported name resolves, and importing it stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ttai_notebook as tt


@pytest.mark.parametrize("name", sorted(tt.__all__))
def test_every_exported_name_resolves(name):
    assert getattr(tt, name) is not None


def test_design_public_names_exist():
    # DESIGN.md's public surface is a contract: checks outside the project call these exact names.
    client_cls = tt.Client
    for attr in ("sandbox", "test_token", "balance", "close", "request"):
        assert hasattr(client_cls, attr), attr
    for attr in ("test_token", "balance", "aclose"):
        assert hasattr(tt.AsyncClient, attr), attr
    client = tt.Client.sandbox(seed=0)
    try:
        for attr in ("list", "create", "get", "update", "delete", "access_token"):
            assert callable(getattr(client.scenarios, attr)), attr
        for attr in ("list", "get", "get_many", "create", "analyze", "analyze_many", "wait"):
            assert callable(getattr(client.sessions, attr)), attr
        assert client.stats is not None
    finally:
        client.close()
    for name in ("plot_score_distribution", "plot_score_trend", "plot_scores_by_group", "plot_topic_heatmap",
                 "plot_first_vs_best", "plot_feedback_themes"):
        assert callable(getattr(tt.charts, name)), name
    for name in ("ScenarioBuilder", "EmbeddedSession", "PracticeLauncher", "login", "AnalysisDashboard"):
        assert hasattr(tt.widgets, name), name


def test_errors_tree():
    assert issubclass(tt.APIError, tt.TTAIError)
    for cls in (tt.BadRequestError, tt.AuthenticationError, tt.PermissionDeniedError, tt.NotFoundError,
                tt.RateLimitError, tt.ServerError):
        assert issubclass(cls, tt.APIError)
    assert issubclass(tt.APITimeoutError, tt.APIConnectionError)
    assert issubclass(tt.APIConnectionError, tt.TTAIError)
    assert issubclass(tt.ValidationError, tt.TTAIError)


def test_import_is_cheap():
    """``import ttai_notebook`` (and building a client) must not pull in pandas, matplotlib or widgets."""
    code = (
        "import sys, json, ttai_notebook as tt; tt.Client; tt.Session; tt.TTAIError;"
        "print(json.dumps(sorted(m for m in ('pandas', 'matplotlib', 'ipywidgets', 'anywidget', 'numpy')"
        " if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
