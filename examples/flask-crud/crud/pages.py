"""HTML pages: list + create on `/`, an edit page, and POST forms that redirect back.

Every form POST answers with a redirect (post/redirect/get), so reloading a page never submits
twice. Redirects and links come from url_for, so they follow the scheme and host the client used.
`/` is also the load balancer's health-check path: 200 only when the database answers.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from crud import db, validate

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("index.html", entries=db.list_entries())


@bp.post("/entries")
def create():
    text, problem = validate.entry_text(request.form.get("text", ""))
    if problem:
        flash(problem, "error")
    else:
        entry_id = db.create_entry(text)
        flash(f"Entry {entry_id} created.", "ok")
    return redirect(url_for("pages.index"))


@bp.get("/entries/<int:entry_id>/edit")
def edit(entry_id):
    entry = db.get_entry(entry_id)
    if entry is None:
        abort(404, f"Entry {entry_id} does not exist.")
    return render_template("edit.html", entry=entry)


@bp.post("/entries/<int:entry_id>/update")
def update(entry_id):
    text, problem = validate.entry_text(request.form.get("text", ""))
    if problem:
        flash(problem, "error")
        return redirect(url_for("pages.edit", entry_id=entry_id))
    if not db.update_entry(entry_id, text):
        abort(404, f"Entry {entry_id} does not exist.")
    flash(f"Entry {entry_id} updated.", "ok")
    return redirect(url_for("pages.index"))


@bp.post("/entries/<int:entry_id>/delete")
def delete(entry_id):
    if db.delete_entry(entry_id):
        flash(f"Entry {entry_id} deleted.", "ok")
    else:
        flash(f"Entry {entry_id} was already gone.", "error")
    return redirect(url_for("pages.index"))
