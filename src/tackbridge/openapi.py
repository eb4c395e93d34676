"""The OpenAPI document as the API behaves: who may call each operation (its security), and its
error answers as they are sent (``application/problem+json`` with the ``Problem`` schema, the
401/404/500 every route of its family may give). FastAPI writes the rest from the routes; this
completes it, once, when the document is first asked for."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from tackbridge.core.problems import PROBLEM_JSON, Problem, ProblemError
from tackbridge.settings import Settings

__all__ = ["complete"]

_REF = "#/components/schemas/{model}"
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

#: Answers each family gives beyond its routes' own: (status, description).
_OPERATOR_ERRORS = {
    "401": "Missing or wrong operator token (`Authorization: Bearer`); `WWW-Authenticate` names it",
    "422": "A parameter or the body is invalid; `errors` names each field",
}
#: Every surface with credentials slows repeated failures (core/throttle): 429 with Retry-After.
_THROTTLED = {
    "description": "Too many wrong credentials from this client: retry after `Retry-After`",
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before trying again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
_NOT_FOUND = "No such record"
_UNREADABLE = "The body could not be parsed (not JSON, or not of its content type)"
_UNEXPECTED = "An unexpected error: `traceID` finds it in the logs (nothing else of it is shown)"


def _family(path: str) -> str:
    if path.startswith(("/v1/", "/v4/")):
        return "partner"
    if path == "/api" or path.startswith("/api/") or path in ("/connect/thumbtack", "/metrics"):
        return "operator"
    if path.startswith("/coperniq/webhooks/"):
        return "coperniq"
    return "public"


def _schemes(settings: Settings) -> dict[str, Any]:
    schemes: dict[str, Any] = {
        "partnerBasic": {
            "type": "http",
            "scheme": "basic",
            "description": "How Thumbtack calls the partner endpoints: "
            "TACKBRIDGE_WEBHOOK_USERNAME and TACKBRIDGE_WEBHOOK_PASSWORD.",
        },
        "operatorToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "The operator API's token: TACKBRIDGE_API_TOKEN.",
        },
    }
    if settings.webhook_header_name:
        schemes["partnerHeader"] = {
            "type": "apiKey",
            "in": "header",
            "name": settings.webhook_header_name,
            "description": "The custom header v4 webhooks may authenticate with instead of "
            "Basic (TACKBRIDGE_WEBHOOK_HEADER_NAME and _VALUE).",
        }
    return schemes


def _security(family: str, schemes: dict[str, Any]) -> list[dict[str, list[str]]]:
    if family == "partner":
        return [{name: []} for name in ("partnerBasic", "partnerHeader") if name in schemes]
    if family == "operator":
        return [{"operatorToken": []}]
    # Public, or (Coperniq) proved by the secret in the path, which no scheme can express.
    return []


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model="Problem")}}}


def _has_path_parameter(operation: dict[str, Any]) -> bool:
    return any(p.get("in") == "path" for p in operation.get("parameters", []))


def _complete_operation(path: str, operation: dict[str, Any], schemes: dict[str, Any]) -> None:
    family = _family(path)
    operation["security"] = _security(family, schemes)
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if family == "operator":
        for status, description in _OPERATOR_ERRORS.items():
            responses.setdefault(status, {"description": description})
        if "requestBody" in operation:
            responses.setdefault("400", {"description": _UNREADABLE})
        # A business's settings answer its defaults; every other record may be missing.
        if _has_path_parameter(operation) and not path.startswith("/api/businesses/"):
            responses.setdefault("404", {"description": _NOT_FOUND})
    if family in ("operator", "partner"):
        responses.setdefault("429", dict(_THROTTLED))
    if family == "coperniq":
        operation["description"] = (
            operation.get("description", "") + "\n\nCoperniq signs nothing: the `secret` in the "
            "path (TACKBRIDGE_COPERNIQ_WEBHOOK_SECRET) is the only proof; a wrong one is a 404."
        ).strip()
    responses.setdefault("500", {"description": _UNEXPECTED})
    for status, answer in responses.items():
        if status[:1] in ("4", "5"):
            # Every error is a problem (core.problems), whatever FastAPI assumed.
            answer["content"] = _problem_content()


def complete(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``schema`` with security on every operation and problem+json error answers."""
    components = schema.setdefault("components", {})
    schemes = _schemes(settings)
    components.setdefault("securitySchemes", {}).update(schemes)
    _, defs = models_json_schema(
        [(Problem, "serialization"), (ProblemError, "serialization")], ref_template=_REF
    )
    components.setdefault("schemas", {}).update(defs.get("$defs", {}))
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method in _METHODS:
                _complete_operation(path, operation, schemes)
    # FastAPI's own validation error shapes describe no answer any more (422s are problems).
    for unused in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(unused, None)
    return schema
