"""gunicorn settings shared by the four web services (`gunicorn -c deploy/gunicorn.conf.py ts_<name>.wsgi:app`).

Only process-level settings live here; the application reads its own TS_* variables.
"""
import os

from pythonjsonlogger.json import JsonFormatter

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# SIECLE imports (up to 64 MB, the gateway's limit) are parsed inside the request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30  # compose's stop_grace_period gives the same 30 s
keepalive = 5  # above 0 so nginx's upstream keepalive connections are reused
# Not preloaded: every worker builds its own app, so no database connection crosses a fork.
preload_app = False
# Heartbeat files in RAM (a container's /tmp may be an overlay, or read-only).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The default ($HOME/.gunicorn) is not writable in the image.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", "/tmp/gunicorn.ctl")

# One JSON object per line, like the services' own logs. The path is logged without its query
# string: confirmation links carry one-time tokens there.
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms "%(a)s"'
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": JsonFormatter,
            "fmt": "{asctime}{levelname}{name}{message}",
            "style": "{",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
        "stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"},
    },
    # Not propagated: the app replaces the root handlers in each worker, which would print twice.
    "loggers": {
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
    "root": {"level": "INFO", "handlers": ["stderr"]},
}


def on_starting(server):
    """Counters of a previous run must not survive a restart (compose mounts a tmpfs anyway)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    """With several workers, /metrics adds up the files of PROMETHEUS_MULTIPROC_DIR: a dead
    worker's live gauges must be dropped, or they would be counted forever."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
