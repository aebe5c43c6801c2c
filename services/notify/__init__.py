"""Notify: SMS alerts to parents, sent once each, through a provider."""
