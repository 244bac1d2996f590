"""gunicorn entry point: `gunicorn ts_notifier.wsgi:app`."""
from ts_shared.runtime.process import service_wsgi_app

app = service_wsgi_app("notifier")
