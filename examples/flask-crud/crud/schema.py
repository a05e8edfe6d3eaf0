"""Start-up: wait for the database to accept connections, then create the table if missing."""

import time

import pymysql

from crud import db

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS entries (
    id INT AUTO_INCREMENT PRIMARY KEY,
    text VARCHAR(1000) NOT NULL,
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""

RETRY_DELAY = 0.5


def wait_and_create(settings, wait_seconds, connect_timeout, log):
    """Retry connecting for up to `wait_seconds` (logging each failure), then create the table.

    The database container may still be initialising when the app starts (its first start runs
    a temporary server without networking), so refusals here are expected for a few seconds.
    Raises the last connection error once the time is up.
    """
    deadline = time.monotonic() + wait_seconds
    attempt = 0
    while True:
        attempt += 1
        try:
            conn = db.connect(settings, connect_timeout)
            break
        except pymysql.MySQLError as error:
            left = deadline - time.monotonic()
            if left <= 0:
                log.error("database %s:%s not reachable after %d attempts: %s",
                          settings.host, settings.port, attempt, error)
                raise
            log.warning("database %s:%s not ready (attempt %d, %.0f s left): %s",
                        settings.host, settings.port, attempt, left, error)
            time.sleep(min(RETRY_DELAY, left))
    try:
        with conn.cursor() as cur:
            cur.execute(CREATE_TABLE)
        log.info("database %s:%s ready; table `entries` present", settings.host, settings.port)
    finally:
        conn.close()
