"""Messaging: messages, announcements, calendar, technical help (domain arrives with its issue)."""
