"""Shared plumbing for every Dziennik process: configuration, logging, metrics, database,
gRPC bootstrap, authentication of callers and the event bus. No school rules live here."""
