"""Programs that play outside parties for tests and the demo; no part of Keyun's server."""
