"""One package per service. A service never imports another service's code: it calls it over
gRPC (contracts in protos/) or learns from its events."""
