"""JSON API over the same table: /api/entries[/<id>] and /api/info; /api/burn loads the CPU.

Entries are `{"id": N, "text": "..."}`. Errors are `{"error": "..."}` with 400 (bad text),
404 (no such entry) or 503 (database unavailable, see crud.register_error_handlers).
"""

import socket
import time

import pymysql
from flask import Blueprint, current_app, jsonify, request, url_for

import crud
from crud import db, validate

bp = Blueprint("api", __name__, url_prefix="/api")

# /api/burn: a request burns at most this much CPU time, so a load test stays bounded.
BURN_MAX_MS = 1000
BURN_DEFAULT_MS = 50


def as_json(entry):
    return {"id": entry["id"], "text": entry["text"]}


def not_found(entry_id):
    return jsonify(error=f"entry {entry_id} not found"), 404


def text_from_body():
    """(text, None) from a `{"text": "..."}` body, else (None, error response)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "text" not in body:
        return None, (jsonify(error='body must be a JSON object with a "text" field'), 400)
    text, problem = validate.entry_text(body["text"])
    if problem:
        return None, (jsonify(error=problem), 400)
    return text, None


@bp.get("/entries")
def list_entries():
    return jsonify([as_json(e) for e in db.list_entries()])


@bp.post("/entries")
def create_entry():
    text, error = text_from_body()
    if error:
        return error
    entry_id = db.create_entry(text)
    response = jsonify(id=entry_id, text=text)
    # Absolute, so it shows what ProxyFix restored: the client's scheme, host and port.
    response.headers["Location"] = url_for("api.get_entry", entry_id=entry_id, _external=True)
    return response, 201


@bp.get("/entries/<int:entry_id>")
def get_entry(entry_id):
    entry = db.get_entry(entry_id)
    return jsonify(as_json(entry)) if entry else not_found(entry_id)


@bp.put("/entries/<int:entry_id>")
def update_entry(entry_id):
    text, error = text_from_body()
    if error:
        return error
    if not db.update_entry(entry_id, text):
        return not_found(entry_id)
    return jsonify(id=entry_id, text=text)


@bp.delete("/entries/<int:entry_id>")
def delete_entry(entry_id):
    if not db.delete_entry(entry_id):
        return not_found(entry_id)
    return "", 204


@bp.get("/info")
def info():
    """Which task answered and which database servers it reached: `database` for writes,
    `read_database` for reads (a read replica when DATABASE_READ_URL is set)."""
    read_settings = current_app.config.get("DATABASE_READ") or current_app.config["DATABASE"]
    database = {"host": current_app.config["DATABASE"].host}
    read_database = {"host": read_settings.host}
    body = {
        "task": crud.task_id(),
        "hostname": socket.gethostname(),
        "database": database,
        "read_database": read_database,
    }
    failed = False
    for entry, conn in ((database, db.get), (read_database, db.get_read)):
        try:
            server = db.server_info(conn())
        except pymysql.MySQLError as error:
            entry["error"] = str(error)
            failed = True
            continue
        entry.update(
            server_hostname=server["hostname"],
            server_id=int(server["server_id"]),
            version=server["version"],
            read_only=bool(int(server["read_only"])),
        )
    return jsonify(body), 503 if failed else 200


@bp.get("/burn")
def burn():
    """Spends `ms` milliseconds of this thread's CPU time (default 50, at most 1000), for load
    tests of CPU target tracking: the work per request is bounded, whatever the CPU quota."""
    raw = request.args.get("ms", str(BURN_DEFAULT_MS))
    ms = int(raw) if raw.isascii() and raw.isdigit() else 0
    if not 1 <= ms <= BURN_MAX_MS:
        return jsonify(error=f"ms must be an integer between 1 and {BURN_MAX_MS}"), 400
    # CPU time, not wall time: under a CPU quota a request takes longer, never burns more.
    until = time.thread_time() + ms / 1000
    spins = 0
    while time.thread_time() < until:
        spins += 1
    return jsonify(task=crud.task_id(), burned_ms=ms, spins=spins)
