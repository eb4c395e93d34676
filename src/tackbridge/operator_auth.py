"""Bearer-token protection for the operator API (``TACKBRIDGE_API_TOKEN``)."""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from tackbridge.runtime import Runtime


def require_operator(request: Request) -> None:
    runtime: Runtime = request.app.state.runtime
    token = runtime.settings.api_token
    authorization = request.headers.get("authorization", "")
    scheme, _, presented = authorization.partition(" ")
    if (
        token is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(presented.strip().encode(), token.get_secret_value().encode())
    ):
        raise HTTPException(
            status_code=401,
            detail="a valid operator API token is required (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": 'Bearer realm="tackbridge"'},
        )
