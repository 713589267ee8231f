"""`keyun keys init|rotate|list`: manage the key directory (see keyring.py).  Never prints key bytes."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .credential_keys import CredentialKeys
from .keyring import ALGORITHMS, DEFAULT_ALGORITHM, Keyring, KeyringError, refuse_inside


def add_verbs(verbs) -> None:
    keys = verbs.add_parser(
        "keys", help="create, rotate and list the encryption and signing keys (kept outside the data directory)"
    )
    actions = keys.add_subparsers(dest="action", required=True)

    p = actions.add_parser(
        "init", help="create a key directory: a field-encryption key, the blind-index key and the token-signing key"
    )
    p.add_argument("--key-dir", type=Path, required=True, help="a new directory outside the data directory")
    p.add_argument(
        "--algorithm",
        choices=ALGORITHMS,
        default=DEFAULT_ALGORITHM,
        help=f"field encryption (default {DEFAULT_ALGORITHM})",
    )
    p.add_argument("--data-dir", type=Path, help="refuse a key directory inside this data directory")
    p.set_defaults(run=_init)

    p = actions.add_parser("rotate", help="add a new current field-encryption key; old keys stay to decrypt old data")
    p.add_argument("--key-dir", type=Path, required=True)
    p.add_argument("--algorithm", choices=ALGORITHMS, help="for the new key (default: that of the current key)")
    p.set_defaults(run=_rotate)

    p = actions.add_parser(
        "rotate-credential",
        help="add a new current boarding-credential signing key; old ones keep verifying the credentials they signed",
    )
    p.add_argument("--key-dir", type=Path, required=True)
    p.set_defaults(run=_rotate_credential)

    p = actions.add_parser("list", help="show the field keys (id, algorithm, created, current): never key material")
    p.add_argument("--key-dir", type=Path, required=True)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=_list)


def run(args: argparse.Namespace) -> int:
    try:
        args.run(args)
    except KeyringError as error:
        print(f"keyun keys {args.action}: {error}", file=sys.stderr)
        return 1
    return 0


def _init(args) -> None:
    if args.data_dir is not None:
        refuse_inside(args.key_dir, args.data_dir)
    keyring = Keyring.init(args.key_dir, args.algorithm)
    print(
        f"created key directory {args.key_dir}: field key {keyring.current_key_id} ({args.algorithm}), blind-index "
        "key, token-signing key"
    )
    print("keep it outside the data directory and back it up separately: without it, encrypted fields cannot be read")


def _rotate(args) -> None:
    keyring = Keyring.open(args.key_dir)
    key_id = keyring.rotate(args.algorithm)
    algorithm = next(info.algorithm for info in keyring.keys() if info.key_id == key_id)
    print(f"new current field key {key_id} ({algorithm}); {len(keyring.key_ids()) - 1} older keys kept for decryption")


def _rotate_credential(args) -> None:
    keyring = Keyring.open(args.key_dir)  # a key directory, complete, before adding to it
    keys = CredentialKeys.open_or_create(keyring.key_dir)
    key_id = keys.rotate()
    print(
        f"new current credential key {key_id}; {len(keys.keys()) - 1} older keys kept, so the credentials they "
        "signed stay valid (gates fetch the new public key with Gate/GetCredentialKeys)"
    )


def _list(args) -> None:
    keyring = Keyring.open(args.key_dir)
    if args.json:
        listing = {
            "key_dir": str(args.key_dir),
            "current": keyring.current_key_id,
            "field_keys": [
                {"id": k.key_id, "algorithm": k.algorithm, "created_at": k.created_at, "current": k.current}
                for k in keyring.keys()
            ],
            "verify_key_sha256": keyring.verify_key_fingerprint(),
            "credential_keys": [
                {"id": k.key_id, "created_at_ms": k.created_at_ms, "retired_at_ms": k.retired_at_ms}
                for k in _credential_keys(args.key_dir)
            ],
        }
        print(json.dumps(listing, indent=2))
        return
    for k in keyring.keys():
        print(f"{k.key_id:<8} {k.algorithm:<12} created {k.created_at}{'  (current)' if k.current else ''}")
    print(f"token verify key SHA-256: {keyring.verify_key_fingerprint()}")
    for k in _credential_keys(args.key_dir):
        print(f"credential key {k.key_id}{'  (current)' if k.current else '  (retired, still verifies)'}")


def _credential_keys(key_dir: Path):
    """The credential keys, if the server made them already (on its first start)."""
    try:
        return CredentialKeys.open(key_dir).keys()
    except KeyringError:
        return ()
