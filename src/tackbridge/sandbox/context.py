"""The per-app bundle every router works with: state, dispatcher and scenario engine.

Stored on ``app.state.sandbox`` by ``create_app``; routers get it with ``Depends(sandbox)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from tackbridge.sandbox.dispatcher import Dispatcher
from tackbridge.sandbox.scenario import ScenarioEngine
from tackbridge.sandbox.state import SandboxState


@dataclass
class Sandbox:
    state: SandboxState
    dispatcher: Dispatcher
    scenario: ScenarioEngine


def sandbox(request: Request) -> Sandbox:
    found: Sandbox = request.app.state.sandbox
    return found
