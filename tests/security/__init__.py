"""Tests of the security primitives: identity checks, the keyring, credentials."""
