"""``DestinationRegistry``: the destination types one process knows, and everything done with a
kind's name generically: the default choice, merging a business's options over the process's,
building, the API's request and answer models, and what a request stores."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from copy import copy
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import httpx2
from pydantic import BaseModel, SecretStr, create_model, field_validator

from tackbridge.crm.destination import Destination, DestinationConfig, DestinationType, dump_options
from tackbridge.settings import Settings

__all__ = ["Choice", "DestinationRegistry"]

_REQUEST_DOC = "``PUT /api/businesses/{id}/destination``. A secret left out keeps the stored one."


@dataclass(frozen=True)
class Choice:
    """What a ``PUT`` stores: the kind, every type's options as the request gave them (the
    ``destination_options`` JSON), the chosen kind's secret, and whether the request carried
    any secret at all (then the secret box is needed)."""

    kind: str
    options: dict[str, Any]
    secret: SecretStr | None
    carries_secret: bool


def _storable(cls: type[BaseModel], value: SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    raw = value.get_secret_value()
    if not raw.strip():
        raise ValueError("must not be blank")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid text (no lone surrogates)") from None
    return value


def _merged(own: BaseModel, preset: BaseModel) -> BaseModel:
    """``own`` over ``preset``, field by field: an unset (None) or empty own value takes the
    preset's. Not validated again: the preset comes from the settings, which the factory checks
    (a default webhook URL is not held to the API's pattern)."""
    values: dict[str, Any] = {}
    for name in type(preset).model_fields:
        mine, base = getattr(own, name), getattr(preset, name)
        if isinstance(mine, BaseModel) and isinstance(base, BaseModel):
            values[name] = _merged(mine, base)
        else:
            values[name] = base if mine is None or mine == "" else mine
    return type(preset).model_construct(**values)


class DestinationRegistry:
    """The types in order: when ``TACKBRIDGE_DESTINATION`` is unset the default is the first
    type its settings set up (``Preset.configured``), else ``fallback``."""

    def __init__(self, *types: DestinationType[Any], fallback: str = "none") -> None:
        self._types = {t.kind: t for t in types}
        if len(self._types) != len(types):
            raise ValueError("a destination kind is registered twice")
        if fallback not in self._types:
            raise ValueError(f"the fallback destination {fallback!r} is not registered")
        self.fallback = fallback

    def __iter__(self) -> Iterator[DestinationType[Any]]:
        return iter(self._types.values())

    def __contains__(self, kind: object) -> bool:
        return kind in self._types

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self._types)

    def get(self, kind: str) -> DestinationType[Any]:
        found = self._types.get(kind)
        if found is None:
            raise ValueError(f"destination kind must be one of {', '.join(self.kinds)}")
        return found

    # The choice -----------------------------------------------------------------------------

    def default_kind(self, settings: Settings) -> str:
        if settings.destination is not None:
            return str(settings.destination)
        for t in self:
            if t.preset(settings).configured:
                return t.kind
        return self.fallback

    def default(self, settings: Settings) -> DestinationConfig:
        """The destination of a business that chose none."""
        return self.config(self.default_kind(settings), settings)

    def config(
        self,
        kind: str,
        settings: Settings,
        *,
        stored: Mapping[str, Any] | None = None,
        secret: SecretStr | None = None,
    ) -> DestinationConfig:
        """``kind`` with a business's ``stored`` options and ``secret`` over the preset; a
        business without its own secret uses the process's (the account-wide Coperniq key)."""
        t = self._types.get(kind)
        if t is None:
            return DestinationConfig(kind)
        preset = t.preset(settings)
        own = t.options.model_validate(stored or {})
        if secret is None and t.keeps_preset_secret(own, preset.options):
            secret = preset.secret
        return DestinationConfig(kind, _merged(own, preset.options), secret)

    def build(
        self,
        config: DestinationConfig,
        settings: Settings,
        *,
        http_client: httpx2.AsyncClient | None = None,
    ) -> Destination:
        """The destination of ``config``; a ValueError naming the missing setting otherwise."""
        t = self.get(config.kind)
        if config.options is None:
            raise ValueError(f"destination {config.kind} has no options")
        return t.build(config.options, config.secret, http_client, settings)

    # The API --------------------------------------------------------------------------------

    @cached_property
    def request_model(self) -> type[BaseModel]:
        """``DestinationIn``: ``kind``, then each type's option fields and secret field."""
        fields: dict[str, Any] = {"kind": (Literal[self.kinds], ...)}
        secrets: list[str] = []
        for t in self:
            for name, info in t.options.model_fields.items():
                fields[name] = (info.annotation, copy(info))
            if t.secret_field is not None:
                fields[t.secret_field] = (SecretStr | None, None)
                secrets.append(t.secret_field)
        validators = {"_storable": field_validator(*secrets)(_storable)} if secrets else {}
        model: type[BaseModel] = create_model(
            "DestinationIn", __doc__=_REQUEST_DOC, __validators__=validators, **fields
        )
        return model

    @cached_property
    def answer_model(self) -> type[BaseModel]:
        """``DestinationOut``: what a GET shows; never a secret, only ``secretSet``."""
        fields: dict[str, Any] = {
            "businessID": (str, ...),
            "kind": (Literal[self.kinds], ...),
            # True: the settings' default, the business chose nothing.
            "inherited": (bool, ...),
        }
        for t in self:
            for name, info in (t.answer or t.options).model_fields.items():
                fields[name] = (info.annotation, copy(info))
        fields["secretSet"] = (bool, ...)
        model: type[BaseModel] = create_model("DestinationOut", **fields)
        return model

    def choice(self, body: BaseModel) -> Choice:
        """What a validated ``request_model`` body stores."""
        given = body.model_dump()
        options: dict[str, Any] = {}
        for t in self:
            options |= dump_options(t.options.model_validate(given))
        chosen = self.get(given["kind"])
        secret = given.get(chosen.secret_field) if chosen.secret_field else None
        carries = any(given.get(t.secret_field) is not None for t in self if t.secret_field)
        return Choice(chosen.kind, options, secret, carries)

    def missing(self, choice: Choice, settings: Settings) -> list[str]:
        """The required option fields ``choice`` leaves unset, the preset's included."""
        config = self.config(choice.kind, settings, stored=choice.options)
        required = self.get(choice.kind).required
        return [name for name in required if not getattr(config.options, name, None)]

    def urls(self, choice: Choice) -> list[tuple[str, str]]:
        """Every URL ``choice`` sets, with its field (any kind's: they are all stored)."""
        found: list[tuple[str, str]] = []
        for t in self:
            own = t.options.model_validate(choice.options)
            found += [(name, url) for name, url in t.urls(own).items() if url]
        return found

    def needs_own_secret(self, choice: Choice, settings: Settings) -> str | None:
        """The secret field ``choice`` must carry itself, because the process's secret may not
        go with its options (a Coperniq base URL of its own), or None."""
        t = self.get(choice.kind)
        if t.secret_field is None:
            return None
        own = t.options.model_validate(choice.options)
        return None if t.keeps_preset_secret(own, t.preset(settings).options) else t.secret_field

    def answer(
        self,
        business_id: str,
        config: DestinationConfig,
        *,
        stored: Mapping[str, Any] | None,
        inherited: bool,
    ) -> BaseModel:
        """The GET answer: the chosen kind's options merged, the other kinds' as the business
        gave them (``stored``), ``secretSet``."""
        shown: dict[str, Any] = {}
        for t in self:
            active = t.kind == config.kind and config.options is not None
            options = config.options if active else t.options.model_validate(stored or {})
            shown |= t.show(options, active)
        chosen = self._types.get(config.kind)
        secret = config.secret if chosen is not None and chosen.secret_field else None
        return self.answer_model.model_validate(
            {
                "businessID": business_id,
                "kind": config.kind,
                "inherited": inherited,
                **shown,
                "secretSet": secret is not None and bool(secret.get_secret_value()),
            }
        )
