"""The dashboard on the app: its page routers (``pages.ROUTERS``), the live events, its own
static files (``/dashboard/static``), and how it answers a signed-out visitor (303 to the
sign-in page) and a lead or business that is not theirs to see (an HTML 404 page; a problem
document for the endpoints under ``/dashboard/``)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from tackbridge.core.problems import problem
from tackbridge.dashboard import live
from tackbridge.dashboard.access import NotVisibleError
from tackbridge.dashboard.auth import SignInRequiredError, sign_in_url, signed_in
from tackbridge.dashboard.pages import ROUTERS
from tackbridge.dashboard.templating import HERE, redirect, render

__all__ = ["STATIC_PREFIX", "TAG", "install", "routers"]

TAG = "dashboard"
STATIC_PREFIX = "/dashboard/static"


async def _sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequiredError)
    return redirect(sign_in_url(exc.next_url))


async def _not_visible(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, NotVisibleError)
    if request.url.path.startswith("/dashboard/"):
        return problem(404, str(exc.detail))
    found = signed_in(request)
    return render(
        request,
        "not_found.html",
        {"user": found.user if found else None, "csrf": found.csrf if found else None},
        status_code=404,
    )


def routers() -> list[APIRouter]:
    """Every router of the dashboard: the pages and the live events."""
    return [*ROUTERS, live.router]


def install(app: FastAPI) -> None:
    for router in routers():
        app.include_router(router, include_in_schema=False, tags=[TAG])
    app.mount(STATIC_PREFIX, StaticFiles(directory=HERE / "static"), name="dashboard-static")
    app.add_exception_handler(SignInRequiredError, _sign_in)
    app.add_exception_handler(NotVisibleError, _not_visible)
