"""JSON API over the same table: /api/entries[/<id>] and /api/info.

Entries are `{"id": N, "text": "..."}`. Errors are `{"error": "..."}` with 400 (bad text),
404 (no such entry) or 503 (database unavailable, see crud.register_error_handlers).
"""

import socket

import pymysql
from flask import Blueprint, current_app, jsonify, request, url_for

import crud
from crud import db, validate

bp = Blueprint("api", __name__, url_prefix="/api")


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
