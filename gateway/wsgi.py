"""WSGI entry point for the production server: `gunicorn -c gateway/gunicorn.conf.py gateway.wsgi:app`."""
from gateway import create_app
from gateway.page_copies import follow_changes
from platform_kit.logs import configure_logging

configure_logging("gateway")
app = create_app()
# Each worker follows identity's and gradebook's changes for its copies of access answers and
# grades pages (platform_kit/cache.py, gateway/page_copies.py).
follow_changes(app.extensions["settings"].amqp_url, app.extensions["access_answers"], app.extensions["page_copies"])
