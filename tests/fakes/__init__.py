"""Local stand-ins for outside partners (SMS providers), answering as the real ones do."""
