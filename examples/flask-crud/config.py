"""Settings from the environment, as an ECS task definition passes them.

DATABASE_URL  mysql+pymysql://user:password@host:port/dbname  (user and password percent-encoded)
DATABASE_READ_URL    optional, the same form: where reads go (an RDS read replica); writes always
                     go to DATABASE_URL. Unset, reads go to DATABASE_URL too.
SECRET_KEY    signs the session cookie that carries flash messages; every worker and every task
              behind the load balancer must share it
DB_WAIT_SECONDS      how long start-up waits for the database (default 60)
DB_CONNECT_TIMEOUT   seconds per connection attempt (default 3)
"""

import os
import secrets
import sys
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

SCHEMES = ("mysql", "mysql+pymysql")


@dataclass(frozen=True)
class DatabaseSettings:
    """Where and as whom to connect; parsed from DATABASE_URL."""

    host: str
    port: int
    user: str
    password: str
    name: str


def parse_database_url(url, variable="DATABASE_URL"):
    """Parse `mysql+pymysql://user:pass@host:port/db` with urllib; raise ValueError if malformed."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"{variable} scheme must be one of {SCHEMES}, got {parts.scheme!r}")
    if not parts.hostname:
        raise ValueError(f"{variable} has no host")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValueError(f"{variable} has no database name")
    return DatabaseSettings(
        host=parts.hostname,
        port=parts.port or 3306,  # .port raises ValueError itself when it is not a number
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        name=name,
    )


def load(environ=os.environ):
    """The Flask config mapping (upper-case keys) for this process."""
    url = environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set (mysql+pymysql://user:pass@host:port/db)")
    secret_key = environ.get("SECRET_KEY")
    if not secret_key:
        # Fine for one process; the entrypoint exports a shared random key for all workers.
        print("warning: SECRET_KEY is not set; using a random per-process key", file=sys.stderr)
        secret_key = secrets.token_hex(32)
    read_url = environ.get("DATABASE_READ_URL")
    return {
        "SECRET_KEY": secret_key,
        "DATABASE": parse_database_url(url),
        # None: reads go to DATABASE.
        "DATABASE_READ": parse_database_url(read_url, "DATABASE_READ_URL") if read_url else None,
        "DB_WAIT_SECONDS": float(environ.get("DB_WAIT_SECONDS", "60")),
        "DB_CONNECT_TIMEOUT": float(environ.get("DB_CONNECT_TIMEOUT", "3")),
    }
