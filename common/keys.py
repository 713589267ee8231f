"""What the server's layers share about the station's keys: the gateway uses them, persistence owns them."""

from __future__ import annotations


class KeysUnusable(Exception):
    """The station's keys cannot do what a call needs: a field encrypted with a key the key
    directory lacks, a damaged key file.  The gateway answers such a call with a status that says
    so (KEYS_UNUSABLE); the message names files and key ids, never key bytes."""
