"""REST resources of /api/v1, one blueprint per resource (see ../../shared/API.md)."""
