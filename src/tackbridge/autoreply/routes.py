"""``/api/businesses/{id}/autoreply``: read and set a business's automatic first-reply rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request
from pydantic import BaseModel
from starlette.responses import Response

from tackbridge.autoreply.rules import RuleSet, RuleSetError, validate_rule_set
from tackbridge.autoreply.store import default_rules, own_rules
from tackbridge.autoreply.store import save_rules as store_rules
from tackbridge.core.bounds import ID_PATTERN
from tackbridge.core.problems import problem
from tackbridge.services import require_operator, services

router = APIRouter(
    prefix="/api/businesses", tags=["businesses"], dependencies=[Depends(require_operator)]
)
BusinessID = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN)]


class RulesOut(BaseModel):
    businessID: str
    inherited: bool  # True: the settings' default applies, the business set none
    rules: RuleSet | None


@router.get("/{business_id}/autoreply", response_model=RulesOut, summary="Auto-reply rules")
def get_rules(request: Request, business_id: BusinessID) -> RulesOut | Response:
    svc = services(request)
    with svc.db.reader.connect() as conn:
        own = own_rules(conn, business_id)
    try:
        rules = validate_rule_set(own) if own is not None else default_rules(svc.settings)
    except (RuleSetError, ValueError) as exc:
        return problem(500, f"the stored rules cannot be read: {exc}", slug="invalid-rules")
    return RulesOut(businessID=business_id, inherited=own is None, rules=rules)


@router.put(
    "/{business_id}/autoreply",
    response_model=RulesOut,
    summary="Set auto-reply rules (a `default` rule and rules per category); null: inherit",
    responses={422: {"description": "a rule, template, hour or time zone is not valid"}},
)
async def save_rules(
    request: Request, business_id: BusinessID, body: Annotated[Any, Body()] = None
) -> RulesOut | Response:
    svc = services(request)
    rules: RuleSet | None = None
    if body is not None:
        try:
            rules = validate_rule_set(body)
        except RuleSetError as exc:
            return problem(422, str(exc), slug="invalid-rules", errors=exc.errors)
    now = datetime.now(UTC)
    await svc.writer.run(lambda conn: store_rules(conn, business_id, rules, now))
    return get_rules(request, business_id)
