"""Code that both the server and its clients import (see docs/architecture.md)."""
