"""The composition root: the `keyun` command and the server's assembly, the one place that sees every layer."""
