"""Gunicorn settings for one 0.25 vCPU / 512 MiB task.

Requests mostly wait on MySQL, so 2 processes x 4 threads is plenty. Logs go to stdout/stderr,
where the container runtime (CloudWatch Logs in AWS, tierlab's log view here) collects them.
"""

import os

bind = "0.0.0.0:" + os.environ.get("PORT", "8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
proc_name = "flask-crud"

# Worker heartbeats on tmpfs: a container's overlay filesystem can stall them.
worker_tmp_dir = "/dev/shm"
timeout = 30
# `docker stop` sends SIGKILL after 10 s: let in-flight requests finish before that.
graceful_timeout = 8
# Longer than the ALB's 60 s idle timeout, as AWS advises, so the ALB closes idle connections
# first and never forwards a request onto a connection the app is closing.
keepalive = 65

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info")
# client (as the ALB saw it), peer, request, status, bytes, seconds, user agent
access_log_format = '%({x-forwarded-for}i)s via %(h)s "%(r)s" %(s)s %(B)s %(L)ss "%(a)s"'


def on_starting(server):
    """Wait for the database and create the table once, in the master, before any worker forks.

    Running it here rather than in each worker keeps worker boot fast (Gunicorn kills workers
    that take longer than `timeout` to boot) and makes a database that never comes up a clean,
    bounded failure of the whole container, which the orchestrator then restarts.
    """
    import config
    from crud import schema

    settings = config.load()
    schema.wait_and_create(
        settings["DATABASE"],
        wait_seconds=settings["DB_WAIT_SECONDS"],
        connect_timeout=settings["DB_CONNECT_TIMEOUT"],
        log=server.log,
    )
