"""Which methods a path answers: ``OPTIONS`` is answered ``204`` with ``Allow`` naming every
method of every route on the path (the routing table's own view: Starlette would answer ``405``
naming only the first route's), and a ``405`` carries the same ``Allow`` (RFC 9110, 15.5.6)."""

from __future__ import annotations

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AnswerOptions", "allowed_methods"]

_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> list[str]:
    """Every method the routes answer on ``scope``'s path (with OPTIONS), or [] when none
    routes the path at all."""
    found: set[str] = set()
    path = scope.get("path", "")
    # FastAPI keeps included routers as branches: walk them as its own OpenAPI builder does.
    for route in iter_route_contexts(routes):
        methods, pattern = route.methods, getattr(route, "path_regex", None)
        if methods and pattern is not None and pattern.match(path):
            found |= {m.upper() for m in methods}
    if not found:
        return []
    found.add("OPTIONS")
    return sorted(found, key=lambda m: (_ORDER.index(m) if m in _ORDER else len(_ORDER), m))


class AnswerOptions:
    """Answers ``OPTIONS`` on a routed path with ``204`` and ``Allow``; any other request,
    and ``OPTIONS`` on a path nothing routes (a 404), go on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            owner = scope.get("app")
            allow = allowed_methods(list(getattr(owner, "routes", [])), scope)
            if allow:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", ", ".join(allow).encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)
