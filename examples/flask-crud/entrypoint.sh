#!/bin/sh
# Container entrypoint: serve the app with Gunicorn, or run the given command instead.
#   docker run IMAGE                   -> gunicorn (waits for the database, creates the table)
#   docker run IMAGE --log-level debug -> gunicorn with extra options
#   docker run IMAGE python3 -c ...    -> that command
set -eu

if [ -z "${SECRET_KEY:-}" ]; then
    # One key for all workers of this task, so a flash message set by one worker shows on the
    # page another worker renders. Tasks behind a load balancer need SECRET_KEY from outside.
    echo "warning: SECRET_KEY is not set; generating one for this container" >&2
    SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    export SECRET_KEY
fi

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    exec gunicorn --config /app/gunicorn.conf.py "$@" wsgi:app
fi
exec "$@"
