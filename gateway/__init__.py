"""The API gateway: authentication, access checks and the public REST API in front of the services."""
from gateway.app import create_app

__all__ = ["create_app"]
