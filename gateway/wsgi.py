"""WSGI entry point for the production server: `gunicorn -c gateway/gunicorn.conf.py gateway.wsgi:app`."""
from gateway import create_app
from platform_kit.bus.follower import follow_people_changes
from platform_kit.logs import configure_logging

configure_logging("gateway")
app = create_app()
# Each worker follows identity's changes for its copies of access answers (platform_kit/cache.py).
follow_people_changes(app.extensions["settings"].amqp_url, "gateway", [app.extensions["access_answers"]])
