"""The ingest benchmark's baseline: a bare Starlette endpoint under uvicorn (its defaults: uvloop
and httptools), in its own process. ``POST /v1/lead`` reads the body and answers 200 with a
small JSON body, nothing else: what any Python partner endpoint costs at the least.

    .venv/bin/python bench/bare_app.py PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def ok(request: Request) -> Response:
    await request.body()
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/v1/lead", ok, methods=["POST"]), Route("/healthz", ok)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
