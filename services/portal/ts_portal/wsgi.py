"""gunicorn entry point: `gunicorn ts_portal.wsgi:app`."""
from ts_shared.runtime.process import service_wsgi_app

app = service_wsgi_app("portal")
