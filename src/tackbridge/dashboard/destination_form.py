"""The CRM destination form of the Connections page, built from the destination registry
(``crm.destinations``): each type's option fields (nested models become ``parent.field``) and
its secret field, so a new destination type shows up without touching the page. A blank field
leaves the option unset (the settings' value applies, as in the API); a blank secret keeps the
stored one. The form's values become the body of ``PUT /api/businesses/{id}/destination``."""

from __future__ import annotations

import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from tackbridge.crm.destinations.registry import DestinationRegistry

__all__ = ["FormField", "body_of", "form_fields", "label_of"]

Kind = Literal["text", "select", "secret"]


@dataclass(frozen=True)
class FormField:
    name: str  # the form's field name: ``webhookUrl``, ``coperniq.matchBy``
    label: str
    destination: str  # the kind it belongs to
    kind: Kind
    choices: tuple[str, ...] = ()
    current: str = ""  # what applies now (a placeholder; never a secret)


_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_UPPER = {"url": "URL", "api": "API", "id": "ID"}


def label_of(name: str) -> str:
    """``matchFoundStrategy`` -> ``Match found strategy``; ``webhookUrl`` -> ``Webhook URL``."""
    words = [_UPPER.get(w.lower(), w.lower()) for w in _WORDS.findall(name.split(".")[-1])]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _bare(annotation: Any) -> Any:
    """``X | None`` -> ``X``."""
    if get_origin(annotation) in (Union, types.UnionType):
        found = [a for a in get_args(annotation) if a is not type(None)]
        return found[0] if len(found) == 1 else annotation
    return annotation


def _scalar(name: str, annotation: Any, destination: str, current: Any) -> FormField:
    bare = _bare(annotation)
    shown = (
        ""
        if current is None
        else str(current).lower()
        if isinstance(current, bool)
        else str(current)
    )
    if get_origin(bare) is Literal:
        choices = tuple(str(v) for v in get_args(bare))
        return FormField(name, label_of(name), destination, "select", choices, shown)
    if bare is bool:
        return FormField(name, label_of(name), destination, "select", ("true", "false"), shown)
    return FormField(name, label_of(name), destination, "text", (), shown)


def form_fields(registry: DestinationRegistry, answer: BaseModel | None = None) -> list[FormField]:
    """Every type's fields, with what applies now from ``answer`` (the GET answer)."""
    shown: dict[str, Any] = answer.model_dump() if answer is not None else {}
    found: list[FormField] = []
    for t in registry:
        for name, info in t.options.model_fields.items():
            bare = _bare(info.annotation)
            if isinstance(bare, type) and issubclass(bare, BaseModel):
                values = shown.get(name) or {}
                for sub, sub_info in bare.model_fields.items():
                    found.append(
                        _scalar(f"{name}.{sub}", sub_info.annotation, t.kind, values.get(sub))
                    )
            else:
                found.append(_scalar(name, info.annotation, t.kind, shown.get(name)))
        if t.secret_field is not None:
            found.append(FormField(t.secret_field, label_of(t.secret_field), t.kind, "secret"))
    return found


def body_of(registry: DestinationRegistry, form: Mapping[str, str]) -> dict[str, Any]:
    """The API body of a submitted form: ``kind`` and every non-blank field."""
    body: dict[str, Any] = {"kind": form.get("kind", "")}
    for field in form_fields(registry):
        value = (form.get(field.name) or "").strip()
        if not value:
            continue
        typed: Any = (
            {"true": True, "false": False}.get(value, value)
            if field.choices
            == (
                "true",
                "false",
            )
            else value
        )
        parent, _, child = field.name.partition(".")
        if child:
            body.setdefault(parent, {})[child] = typed
        else:
            body[parent] = typed
    return body
