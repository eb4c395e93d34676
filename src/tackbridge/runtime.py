"""The long-lived parts one tackbridge process shares: settings, database, writer, auth."""

from __future__ import annotations

from dataclasses import dataclass

from tackbridge.inbound.auth import PartnerAuth
from tackbridge.settings import Settings
from tackbridge.store import migrate
from tackbridge.store.database import Database, open_database
from tackbridge.store.writer import Writer


@dataclass
class Runtime:
    settings: Settings
    db: Database
    writer: Writer
    partner_auth: PartnerAuth

    @classmethod
    def open(cls, settings: Settings, *, upgrade: bool = True) -> Runtime:
        db = open_database(
            settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous
        )
        if upgrade:
            migrate.upgrade(db.writer)
        writer = Writer(db.writer, batch_size=settings.write_batch_size)
        return cls(settings=settings, db=db, writer=writer, partner_auth=PartnerAuth(settings))

    def start(self) -> None:
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self.db.dispose()
