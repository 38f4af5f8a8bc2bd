"""The offline sandbox: a stateful, validating twin of the Tough Tongue AI API, with a demo
organisation, simulated scoring, fault injection and counters. In-process or on 127.0.0.1."""
from __future__ import annotations

from .clock import DEMO_NOW
from .core import Sandbox
from .state import SandboxError
from .urls import SANDBOX_ORIGIN, TRANSPORT_BASE_URL, is_sandbox_url

__all__ = ["Sandbox", "SANDBOX_ORIGIN", "TRANSPORT_BASE_URL", "DEMO_NOW", "is_sandbox_url", "SandboxError"]
