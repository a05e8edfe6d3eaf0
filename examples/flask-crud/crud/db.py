"""MySQL access with PyMySQL: one autocommit connection per request, plus the entry queries.

A connection per request (closed at teardown) costs a TCP handshake on a private network and
buys simple failover: after the database moves (a new container behind the same name), the next
request resolves the name again and connects to the new server. Nothing is pooled that could
hold a dead connection.
"""

import pymysql
from flask import current_app, g
from pymysql.constants import CLIENT


def connect(settings, connect_timeout=3.0):
    """Open a connection; UPDATE row counts are matched rows (FOUND_ROWS), not changed rows."""
    return pymysql.connect(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        password=settings.password,
        database=settings.name,
        charset="utf8mb4",
        autocommit=True,
        client_flag=CLIENT.FOUND_ROWS,
        connect_timeout=connect_timeout,
        read_timeout=10,
        write_timeout=10,
        cursorclass=pymysql.cursors.DictCursor,
    )


def get():
    """This request's connection, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"], current_app.config["DB_CONNECT_TIMEOUT"])
    return g.db


def close(_error=None):
    """Teardown: close the request's connection, if one was opened; a broken one is just dropped."""
    conn = g.pop("db", None)
    if conn is not None:
        try:
            conn.close()
        except pymysql.MySQLError:
            pass


def query(sql, args=None):
    with get().cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def execute(sql, args=None):
    """Run a statement; return (rowcount, lastrowid)."""
    with get().cursor() as cur:
        cur.execute(sql, args)
        return cur.rowcount, cur.lastrowid


def list_entries():
    return query("SELECT id, text, created_at FROM entries ORDER BY id DESC")


def get_entry(entry_id):
    rows = query("SELECT id, text, created_at FROM entries WHERE id = %s", (entry_id,))
    return rows[0] if rows else None


def create_entry(text):
    """Insert an entry; return its id."""
    return execute("INSERT INTO entries (text) VALUES (%s)", (text,))[1]


def update_entry(entry_id, text):
    """Replace an entry's text; False if there is no such entry."""
    return execute("UPDATE entries SET text = %s WHERE id = %s", (text, entry_id))[0] > 0


def delete_entry(entry_id):
    """Delete an entry; False if there was no such entry."""
    return execute("DELETE FROM entries WHERE id = %s", (entry_id,))[0] > 0


def server_info():
    """Which server answered: its hostname, server_id and version (for /api/info)."""
    row = query("SELECT @@hostname AS hostname, @@server_id AS server_id, VERSION() AS version")[0]
    return row
