"""Code both the server and its clients import: the standard library, the engine, gRPC and
cryptography, never the gateway, persistence, actors or terminals."""
