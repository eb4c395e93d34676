"""Reply templates: Jinja2 in a restricted ``SandboxedEnvironment``.

A template is checked once, when a rule set is saved (``check_template``): valid syntax, only
the documented variables, only harmless filters, no calls, no assignments, macros, includes or
nested loops. That keeps every accepted template's rendering small and quick; the sandbox
additionally blocks attribute access to Python internals. ``render`` never raises: any error,
or a blank result, gives None and the caller falls back to a safe default text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from tackbridge.leads.models import LeadInput

__all__ = [
    "ENVIRONMENT",
    "MAX_REPLY_CHARS",
    "MAX_TEMPLATE_CHARS",
    "VARIABLES",
    "TemplateError",
    "check_template",
    "default_reply",
    "render",
    "variables_for",
]

MAX_TEMPLATE_CHARS = 2000
MAX_REPLY_CHARS = 2000
VARIABLES = frozenset(
    {"customer_first_name", "category", "business_name", "city", "schedule", "details"}
)
FILTERS = frozenset(
    {
        "capitalize", "default", "d", "first", "join", "last", "length", "count", "lower",
        "upper", "title", "trim", "truncate", "list", "map", "select", "reject", "selectattr",
        "rejectattr", "wordcount", "string", "striptags", "escape", "e", "sort", "unique",
    }
)  # fmt: skip
TESTS = frozenset(
    {"defined", "undefined", "none", "string", "number", "eq", "ne", "equalto", "in", "sameas"}
)
_FORBIDDEN = (
    nodes.Call,
    nodes.Assign,
    nodes.AssignBlock,
    nodes.Macro,
    nodes.CallBlock,
    nodes.FilterBlock,
    nodes.With,
    nodes.Include,
    nodes.Import,
    nodes.FromImport,
    nodes.Extends,
    nodes.Block,
    nodes.Scope,
    nodes.ScopedEvalContextModifier,
    nodes.EvalContextModifier,
)


class TemplateError(ValueError):
    """A template that cannot be accepted; ``detail`` says why, for the API's answer."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class _ReplySandbox(SandboxedEnvironment):
    # Repetition and formatting are the operators that can make huge strings from short ones.
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            raise SecurityError("** is not allowed in reply templates")
        if operator_ == "%" and isinstance(left, str):
            raise SecurityError("string formatting is not allowed in reply templates")
        if operator_ == "*" and (isinstance(left, str | list) or isinstance(right, str | list)):
            size = len(left) * right if isinstance(left, str | list) else len(right) * left
            if not isinstance(size, int) or size > MAX_REPLY_CHARS:
                raise SecurityError("repetition too large for a reply")
        return super().call_binop(context, operator_, left, right)


def _environment() -> _ReplySandbox:
    env = _ReplySandbox(autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.globals.clear()
    env.filters = {k: v for k, v in env.filters.items() if k in FILTERS}
    env.tests = {k: v for k, v in env.tests.items() if k in TESTS}
    return env


ENVIRONMENT = _environment()


def _loops_nest(node: nodes.Node, inside_loop: bool = False) -> bool:
    for child in node.iter_child_nodes():
        is_loop = isinstance(child, nodes.For)
        if is_loop and inside_loop:
            return True
        if _loops_nest(child, inside_loop or is_loop):
            return True
    return False


def check_template(source: str) -> None:
    """Raises TemplateError unless ``source`` is a template the auto-reply may use."""
    if not isinstance(source, str):
        raise TemplateError("must be a string")
    _checked(source)


@lru_cache(maxsize=256)
def _checked(source: str) -> None:
    # Cached by source: every lead's reply checks (and rule sets are validated with) the same
    # few templates; a failed check raises and is not cached.
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"must be at most {MAX_TEMPLATE_CHARS} characters")
    try:
        tree = ENVIRONMENT.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"syntax error on line {exc.lineno}: {exc.message}") from None
    for node in tree.find_all(_FORBIDDEN):
        raise TemplateError(f"{type(node).__name__.lower()} is not allowed in a reply template")
    for f in tree.find_all(nodes.Filter):
        if f.name not in FILTERS:
            raise TemplateError(f"filter {f.name!r} is not allowed")
    for t in tree.find_all(nodes.Test):
        if t.name not in TESTS:
            raise TemplateError(f"test {t.name!r} is not allowed")
    for g in tree.find_all(nodes.Getattr):
        if g.attr.startswith("_"):
            raise TemplateError(f"attribute {g.attr!r} is not allowed")
    for power in tree.find_all(nodes.Pow):
        del power
        raise TemplateError("** is not allowed")
    if _loops_nest(tree):
        raise TemplateError("loops inside loops are not allowed")
    try:
        declared = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from None
    unknown = sorted(declared - VARIABLES)
    if unknown:
        allowed = ", ".join(sorted(VARIABLES))
        raise TemplateError(f"unknown variable {unknown[0]!r} (allowed: {allowed})")


def variables_for(lead: LeadInput) -> dict[str, Any]:
    return {
        "customer_first_name": lead.customer_first_name or "",
        "category": lead.category or "",
        "business_name": lead.business_name or "",
        "city": lead.city or "",
        "schedule": lead.schedule or "",
        "details": [{"question": d.question or "", "answer": d.answer or ""} for d in lead.details],
    }


def render(source: str, variables: Mapping[str, Any]) -> str | None:
    """The reply text, or None when the template fails or renders blank."""
    try:
        check_template(source)
        text = _compiled(source).render(dict(variables))
    except Exception:  # a user's template must never fail the reply
        return None
    return _tidy(text)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    return ENVIRONMENT.from_string(source)


def _tidy(text: str) -> str | None:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy = "\n".join(lines).strip()
    if not tidy:
        return None
    return tidy[:MAX_REPLY_CHARS]


def default_reply(lead: LeadInput) -> str:
    """The fallback: plain Python formatting of trusted pieces, so it cannot fail."""
    greeting = f"Hi {lead.customer_first_name}," if lead.customer_first_name else "Hi there,"
    who = lead.business_name or "us"
    what = f" about your {lead.category} request" if lead.category else ""
    return (
        f"{greeting} thanks for reaching out to {who}{what}! "
        "We have your request and will get back to you shortly."
    )
