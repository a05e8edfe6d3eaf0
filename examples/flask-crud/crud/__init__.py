"""Flask CRUD app of text entries: HTML pages (crud.pages) and a JSON API (crud.api)."""

import logging
import os
import socket

import pymysql
from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

import config
from crud import db

log = logging.getLogger(__name__)


def create_app(settings=None):
    """Build the app; `settings` (a config mapping) defaults to `config.load()` (environment)."""
    app = Flask(__name__)
    app.config.update(settings if settings is not None else config.load())
    app.json.ensure_ascii = False  # entries are UTF-8 text; keep them readable in responses
    logging.basicConfig(level=logging.INFO, format="[%(process)d] %(levelname)s %(name)s: %(message)s")

    app.teardown_appcontext(db.close)

    from crud import api, pages

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    register_error_handlers(app)

    @app.context_processor
    def served_by():
        # Shown in the page footer: which task answered, to watch the ALB's round robin.
        return {"served_by": task_id()}

    return app


def task_id():
    """The task this process belongs to: TIERLAB_TASK_ID (set by tierlab), else the hostname."""
    return os.environ.get("TIERLAB_TASK_ID") or socket.gethostname()


def wants_json():
    return request.path.startswith("/api/")


def register_error_handlers(app):
    @app.errorhandler(pymysql.MySQLError)
    def database_error(error):
        # 503 tells the load balancer's health check (path "/") this task cannot serve now;
        # the connection is dropped at teardown and the next request opens a fresh one.
        log.warning("database error on %s %s: %s", request.method, request.path, error)
        if wants_json():
            return jsonify(error="database unavailable", detail=str(error)), 503
        return render_template("error.html", code=503, message="The database is unavailable."), 503

    @app.errorhandler(HTTPException)
    def http_error(error):
        if wants_json():
            return jsonify(error=error.description), error.code
        return render_template("error.html", code=error.code, message=error.description), error.code
