"""MySQL access with PyMySQL: one autocommit connection per request, plus the entry queries.

Reads go to the read database (DATABASE_READ_URL, an RDS read replica) when one is set, writes
always to DATABASE_URL. A replica is asynchronous: an entry just written may take a moment to be
listed.

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
    """This request's connection to the writable database, opened on first use."""
    if "db" not in g:
        g.db = connect(current_app.config["DATABASE"], current_app.config["DB_CONNECT_TIMEOUT"])
    return g.db


def get_read():
    """This request's connection for reads: the read database's, else the writable one."""
    settings = current_app.config.get("DATABASE_READ")
    if settings is None:
        return get()
    if "db_read" not in g:
        g.db_read = connect(settings, current_app.config["DB_CONNECT_TIMEOUT"])
    return g.db_read


def close(_error=None):
    """Teardown: close the request's connections, if opened; a broken one is just dropped."""
    for name in ("db", "db_read"):
        conn = g.pop(name, None)
        if conn is not None:
            try:
                conn.close()
            except pymysql.MySQLError:
                pass


def query(sql, args=None, conn=None):
    """Rows of a read (on the read database unless `conn` says otherwise)."""
    with (conn or get_read()).cursor() as cur:
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


def server_info(conn=None):
    """Which server a connection reaches: hostname, server_id, version, read_only (/api/info)."""
    sql = "SELECT @@hostname AS hostname, @@server_id AS server_id, VERSION() AS version, @@read_only AS read_only"
    return query(sql, conn=conn or get())[0]
