"""WSGI entry point for the production server: `gunicorn -c gateway/gunicorn.conf.py gateway.wsgi:app`."""
from gateway import create_app
from platform_kit.logs import configure_logging

configure_logging("gateway")
app = create_app()
