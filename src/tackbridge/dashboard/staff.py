"""Who may open the settings pages: Deliveries and Connections are for owners and admins (every
business and all settings), Users for owners. Anyone else signed in gets the 404 page, as for
a business that is not theirs: a member does not learn what the settings hold."""

from __future__ import annotations

from fastapi import HTTPException, Request

from tackbridge.dashboard.access import NotVisibleError
from tackbridge.dashboard.auth import SignedIn, endpoint_user, page_user
from tackbridge.dashboard.csrf import CSRF_HEADER, checked_user, tokens_match

__all__ = ["owner_form", "owner_page", "staff_endpoint", "staff_form", "staff_page"]


def _staff(user: SignedIn) -> SignedIn:
    if not user.user.sees_every_business:
        raise NotVisibleError("page")
    return user


def _owner(user: SignedIn) -> SignedIn:
    if not user.user.is_owner:
        raise NotVisibleError("page")
    return user


def staff_page(request: Request) -> SignedIn:
    """A page of owners and admins (signed out: to the sign-in page)."""
    return _staff(page_user(request))


async def staff_form(request: Request) -> SignedIn:
    """A state-changing request of owners and admins, with its CSRF token (else 403)."""
    return _staff(await checked_user(request))


def owner_page(request: Request) -> SignedIn:
    return _owner(page_user(request))


async def owner_form(request: Request) -> SignedIn:
    return _owner(await checked_user(request))


def staff_endpoint(request: Request) -> SignedIn:
    """A ``/dashboard/...`` endpoint of owners and admins called by the page's script: signed
    in (else 401) with the session's CSRF token in ``X-CSRF-Token`` (else 403)."""
    user = endpoint_user(request)
    if not tokens_match(user.csrf, request.headers.get(CSRF_HEADER)):
        raise HTTPException(status_code=403, detail="missing or wrong CSRF token")
    return _staff(user)
