"""Code both the server and its clients import: standard library, keyun.engine, grpc, cryptography; no server layer."""
