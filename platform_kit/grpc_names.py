"""Names both ends of a gRPC call agree on: the trailing metadata that carries a domain error and
the readiness health service. Apart from platform_kit.grpc_server so that the gateway, which runs
no gRPC server, reads them without importing the server's dependencies (SQLAlchemy among them)."""

READINESS = "readiness"  # health service name that turns SERVING once dependencies answer
ERROR_CODE_KEY = "dziennik-error-code"  # trailing metadata: the problem `code`
FIELD_ERRORS_KEY = "dziennik-field-errors"  # trailing metadata: JSON {field: message}
RETRY_AFTER_KEY = "dziennik-retry-after"  # trailing metadata: seconds, with RESOURCE_EXHAUSTED
