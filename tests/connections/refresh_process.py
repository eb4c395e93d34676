"""One of the OS processes of the two-process refresh test: opens the shared SQLite file and
the sandbox, then, for every ``go`` line on stdin, asks for the business's access token from
CALLERS coroutines at once and prints the SHA-256 prefixes of what they got, one JSON line.

    python -m tests.connections.refresh_process DB_URL SANDBOX_URL SECRET_KEY BUSINESS CALLERS
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys

from tackbridge.connections.service import open_connections
from tackbridge.settings import Settings
from tackbridge.store.database import open_database
from tackbridge.store.writer import Writer
from tests.support.sandbox import CLIENT


async def main(db_url: str, sandbox_url: str, key: str, business_id: str, callers: int) -> None:
    settings = Settings(
        _env_file=None,
        database_url=db_url,
        thumbtack_environment="sandbox",
        thumbtack_base_url=sandbox_url,
        thumbtack_client_id=CLIENT[0],
        thumbtack_client_secret=CLIENT[1],
        secret_key=key,
    )
    db = open_database(db_url, sqlite_synchronous="NORMAL")
    writer = Writer(db.writer)
    writer.start()
    service = open_connections(settings, db, writer)
    loop = asyncio.get_running_loop()
    try:
        print("ready", flush=True)
        while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "go":
            grants = await asyncio.gather(
                *(service.tokens.access_token(business_id) for _ in range(callers))
            )
            seen = sorted(
                {hashlib.sha256(g.access_token.encode()).hexdigest()[:16] for g in grants}
            )
            print(json.dumps({"tokens": seen, "refreshes": service.tokens.refreshes}), flush=True)
    finally:
        await service.aclose()
        writer.stop()
        db.dispose()


if __name__ == "__main__":
    db, sandbox, key, business, count = sys.argv[1:6]
    asyncio.run(main(db, sandbox, key, business, int(count)))
