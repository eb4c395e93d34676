"""Job kinds and the registry that binds each one to its handler.

A :class:`JobKind` is declared once, by the feature that queues it: its name (stored with every
job), its payload model, how the idempotency key follows from the payload, and its priority.
``enqueue(conn, KIND, payload, now=...)`` is then the only way to queue it, so a kind's name and
key are never spelled by hand.

A :class:`Registration` says how this process runs a kind: the handler factory (built from the
process's :class:`~tackbridge.services.Services`), and optional hooks: ``settle`` runs in the
transaction that settles a job as done or dead (state that mirrors the job can never disagree
with it), ``on_requeue`` when an operator retries or replays one. The :class:`Registry` holds
the registrations of every kind; other features may add settle reactions to a kind they do not
own (``react``), which is how cross-feature reactions stay out of the features themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Connection

from tackbridge.services import Services

__all__ = [
    "FIRST",
    "NORMAL",
    "Bound",
    "Handler",
    "Job",
    "JobKind",
    "Payload",
    "Registration",
    "Registry",
    "Requeue",
    "Settle",
    "UnknownKindError",
]

P = TypeVar("P")
M = TypeVar("M", bound=BaseModel)

#: Priorities: due jobs of ``FIRST`` kinds are claimed before any other due job.
NORMAL = 0
FIRST = 1


class Payload(BaseModel):
    """Base of job payloads: the JSON an outbox row carries, in the wire's field spelling.
    Unknown fields are kept (a job queued by a newer version still runs)."""

    model_config = ConfigDict(frozen=True, extra="allow")


@dataclass(frozen=True)
class Job(Generic[P]):
    id: int
    kind: str
    key: str
    payload: P
    attempt: int  # 1 for the first attempt
    created_at: datetime
    # Whether an earlier attempt may have acted (see ``worker._tried_before``); None: not
    # known, and only a first attempt is taken for a first try.
    tried_before: bool | None = None
    # When this worker's claim lapses: a release that cannot be written is given up then.
    lease_expires_at: datetime | None = None

    @property
    def first_try(self) -> bool:
        """No earlier attempt of this job can have done anything: handlers may skip the
        look-ups that make a repeat safe. Attempts that were deferred (``NotYetError``) do not
        count; a crash mid-attempt does (the claim counted that attempt)."""
        if self.tried_before is None:
            return self.attempt == 1
        return not self.tried_before


Handler = Callable[[Job[P]], Awaitable[None]]
#: ``settle(conn, job, outcome, at)``, outcome ``done`` or ``dead``.
Settle = Callable[[Connection, Job[P], str, datetime], None]
#: ``on_requeue(conn, payload)``: an operator made the job due again.
Requeue = Callable[[Connection, P], None]


def _raw(data: Mapping[str, Any]) -> dict[str, Any]:
    return dict(data)


def _no_key(name: str) -> Callable[[dict[str, Any]], str]:
    def key(payload: dict[str, Any]) -> str:
        raise TypeError(f"job kind {name!r} is untyped: it derives no key; declare a JobKind")

    return key


@dataclass(frozen=True, eq=False)
class JobKind(Generic[P]):
    """One kind of outbox job. Build typed kinds with :meth:`of`."""

    name: str
    key: Callable[[P], str]
    parse: Callable[[Mapping[str, Any]], P]
    dump: Callable[[P], dict[str, Any]]
    priority: int = NORMAL

    @classmethod
    def of(
        cls, name: str, payload: type[M], key: Callable[[M], str], *, priority: int = NORMAL
    ) -> JobKind[M]:
        def dump(value: M) -> dict[str, Any]:
            # Only what was set: a field left out means "not carried" (a lead update's fields).
            return value.model_dump(mode="json", by_alias=True, exclude_unset=True)

        return JobKind(name, key, payload.model_validate, dump, priority)

    @classmethod
    def untyped(cls, name: str) -> JobKind[dict[str, Any]]:
        """A kind whose payload is the stored JSON as it is (tests, ad-hoc tools)."""
        return JobKind(name, _no_key(name), _raw, _raw)

    def key_of(self, payload: P) -> str:
        return self.key(payload)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"JobKind({self.name!r})"


@dataclass(frozen=True)
class Bound(Generic[P]):
    """A kind with its handler and hooks in this process: what the worker runs."""

    kind: JobKind[P]
    handler: Handler[P]
    settles: tuple[Settle[P], ...] = ()
    requeues: tuple[Requeue[P], ...] = ()

    def settle(self, conn: Connection, job: Job[P], outcome: str, at: datetime) -> None:
        for hook in self.settles:
            hook(conn, job, outcome, at)

    def requeue(self, conn: Connection, raw: Mapping[str, Any]) -> None:
        if self.requeues:
            payload = self.kind.parse(raw)
            for hook in self.requeues:
                hook(conn, payload)


@dataclass(frozen=True)
class Registration(Generic[P]):
    """How a process runs one kind: its handler factory and the kind's own hooks."""

    kind: JobKind[P]
    handler: Callable[[Services], Handler[P]]
    settle: Settle[P] | None = None
    on_requeue: Requeue[P] | None = None


class UnknownKindError(LookupError):
    pass


@dataclass
class Registry:
    """Every job kind this process knows, with its handler and hooks."""

    _registrations: dict[str, Registration[Any]] = field(default_factory=dict)
    _reactions: dict[str, list[Settle[Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, registrations: Iterable[Registration[Any]]) -> Registry:
        registry = cls()
        for registration in registrations:
            registry.register(registration)
        return registry

    def register(self, registration: Registration[Any]) -> None:
        name = registration.kind.name
        if name in self._registrations:
            raise ValueError(f"job kind {name!r} is registered twice")
        self._registrations[name] = registration

    def react(self, kind: JobKind[P], hook: Settle[P]) -> None:
        """Run ``hook`` too when a job of ``kind`` settles (in the same transaction)."""
        self._reactions.setdefault(kind.name, []).append(hook)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._registrations)

    def kind(self, name: str) -> JobKind[Any]:
        try:
            return self._registrations[name].kind
        except KeyError:
            raise UnknownKindError(name) from None

    def bind(self, services: Services) -> dict[str, Bound[Any]]:
        """Every kind with its handler built for ``services``."""
        bound: dict[str, Bound[Any]] = {}
        for name, registration in self._registrations.items():
            bound[name] = self._bound(registration, registration.handler(services))
        return bound

    def requeue_hooks(self) -> dict[str, Bound[Any]]:
        """The kinds as operators' retries need them (no handler is built)."""
        return {
            name: self._bound(registration, _never_run)
            for name, registration in self._registrations.items()
        }

    def _bound(self, registration: Registration[P], handler: Handler[P]) -> Bound[P]:
        settles: list[Settle[P]] = [] if registration.settle is None else [registration.settle]
        settles += self._reactions.get(registration.kind.name, [])
        requeues = () if registration.on_requeue is None else (registration.on_requeue,)
        return Bound(registration.kind, handler, tuple(settles), requeues)


async def _never_run(job: Job[Any]) -> None:
    raise RuntimeError(f"job {job.id} ({job.kind}) has no handler in this process")
