"""persistence/keyring.py and keyring_cli.py on real key directories and real ciphers."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization

from keyun.common.files import write_atomically
from keyun.persistence import keyring_cli
from keyun.persistence.keyring import (
    ALGORITHMS,
    INDEX_KEY_FILE,
    MANIFEST,
    MAX_PLAINTEXT_BYTES,
    NONCE_BYTES,
    SIGNING_KEY_FILE,
    SM4_GCM,
    TAG_BYTES,
    Keyring,
    KeyringError,
    field_key_file,
    init_key_dir,
    refuse_inside,
)

DOCUMENT = "11010519491231002X"
CONTEXT = "passenger.document:acct-1"
POSIX = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture(params=ALGORITHMS)
def keyring(request, tmp_path) -> Keyring:
    return Keyring.init(tmp_path / "keys", algorithm=request.param)


def key_bytes(key_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in key_dir.glob("*.key")]


def raw_public(keyring: Keyring) -> bytes:
    return keyring.verify_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- encryption -------------------------------------------------------------------------------


@pytest.mark.parametrize("plaintext", ["", DOCUMENT, "张三丰", "x" * MAX_PLAINTEXT_BYTES])
def test_round_trip(keyring, plaintext):
    blob = keyring.encrypt(plaintext, CONTEXT)
    assert keyring.decrypt(blob, CONTEXT) == plaintext
    assert keyring.key_id_of(blob) == "k1"


def test_blobs_hold_no_plaintext_and_never_repeat(keyring):
    first, second = keyring.encrypt(DOCUMENT, CONTEXT), keyring.encrypt(DOCUMENT, CONTEXT)
    assert first != second  # a fresh random nonce each time: equal documents look unrelated
    for blob in (first, second):
        assert DOCUMENT.encode() not in blob and b"1949" not in blob
        assert len(blob) == 2 + len("k1") + NONCE_BYTES + len(DOCUMENT) + TAG_BYTES


def test_every_tampered_byte_is_detected(keyring):
    blob = keyring.encrypt(DOCUMENT, CONTEXT)
    for position in range(len(blob)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x01
        with pytest.raises(KeyringError) as caught:
            keyring.decrypt(bytes(damaged), CONTEXT)
        if position >= 2 + len("k1"):  # nonce, ciphertext and tag: the AEAD itself refuses
            assert isinstance(caught.value.__cause__, InvalidTag)
        assert DOCUMENT not in str(caught.value)


def test_truncated_and_extended_blobs_are_refused(keyring):
    blob = keyring.encrypt(DOCUMENT, CONTEXT)
    for damaged in (blob[:-1], blob[: 2 + 2 + NONCE_BYTES], blob[:3], b"", blob + b"\x00"):
        with pytest.raises(KeyringError):
            keyring.decrypt(damaged, CONTEXT)


@pytest.mark.parametrize(
    "other", ["passenger.document:acct-2", "passenger.phone:acct-1", "passenger.document:acct-1 ", "p"]
)
def test_a_blob_moved_to_another_field_or_owner_does_not_decrypt(keyring, other):
    blob = keyring.encrypt(DOCUMENT, CONTEXT)
    with pytest.raises(KeyringError, match="another field or owner"):
        keyring.decrypt(blob, other)


def test_relabelling_a_blob_with_another_key_id_fails(tmp_path):
    keyring = Keyring.init(tmp_path / "keys")
    old = keyring.encrypt(DOCUMENT, CONTEXT)
    keyring.rotate()
    relabelled = old.replace(b"k1", b"k2", 1)
    with pytest.raises(KeyringError):
        keyring.decrypt(relabelled, CONTEXT)


def test_another_keyring_cannot_decrypt(tmp_path):
    ours, theirs = Keyring.init(tmp_path / "ours"), Keyring.init(tmp_path / "theirs")
    with pytest.raises(KeyringError):
        theirs.decrypt(ours.encrypt(DOCUMENT, CONTEXT), CONTEXT)


def test_limits_on_plaintext_and_context(keyring):
    with pytest.raises(KeyringError, match="limit"):
        keyring.encrypt("x" * (MAX_PLAINTEXT_BYTES + 1), CONTEXT)
    for context in ("", "c" * 257):
        with pytest.raises(KeyringError, match="context"):
            keyring.encrypt(DOCUMENT, context)


# -- rotation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("new_algorithm", [None, *ALGORITHMS])
def test_rotation_keeps_old_blobs_readable_and_uses_the_new_key(keyring, new_algorithm):
    old = keyring.encrypt(DOCUMENT, CONTEXT)
    first_algorithm = keyring.keys()[0].algorithm
    assert keyring.rotate(new_algorithm) == "k2"
    assert keyring.current_key_id == "k2" and keyring.key_ids() == ("k1", "k2")
    assert [(k.key_id, k.algorithm, k.current) for k in keyring.keys()] == [
        ("k1", first_algorithm, False),
        ("k2", new_algorithm or first_algorithm, True),
    ]
    new = keyring.encrypt(DOCUMENT, CONTEXT)
    assert keyring.key_id_of(new) == "k2"
    assert keyring.decrypt(old, CONTEXT) == keyring.decrypt(new, CONTEXT) == DOCUMENT


def test_reencrypt_moves_blobs_to_the_current_key(keyring):
    old = keyring.encrypt(DOCUMENT, CONTEXT)
    keyring.rotate()
    keyring.rotate(SM4_GCM)
    moved = keyring.reencrypt(old, CONTEXT)
    assert keyring.key_id_of(moved) == "k3" and keyring.decrypt(moved, CONTEXT) == DOCUMENT
    assert keyring.reencrypt(moved, CONTEXT) == moved  # already current: nothing to do
    with pytest.raises(KeyringError):
        keyring.reencrypt(old, "passenger.document:acct-2")  # the context is still checked
    with pytest.raises(KeyringError):
        keyring.reencrypt(moved[:-1] + bytes([moved[-1] ^ 1]), CONTEXT)  # and so is damage


def test_reopening_from_disk_gives_the_same_results(keyring):
    keyring.rotate()
    blob = keyring.encrypt(DOCUMENT, CONTEXT)
    index = keyring.blind_index(DOCUMENT, CONTEXT)
    reopened = Keyring.open(keyring.key_dir)
    assert reopened.decrypt(blob, CONTEXT) == DOCUMENT
    assert reopened.blind_index(DOCUMENT, CONTEXT) == index
    assert reopened.keys() == keyring.keys()
    assert raw_public(reopened) == raw_public(keyring)
    assert keyring.decrypt(reopened.encrypt(DOCUMENT, CONTEXT), CONTEXT) == DOCUMENT


def test_a_rotation_by_another_process_is_picked_up(tmp_path):
    server = Keyring.init(tmp_path / "keys")
    operator = Keyring.open(tmp_path / "keys")  # `keyun keys rotate` runs in its own process
    assert operator.rotate() == "k2"
    assert server.current_key_id == "k1"  # not yet reloaded
    assert server.decrypt(operator.encrypt(DOCUMENT, CONTEXT), CONTEXT) == DOCUMENT
    assert server.current_key_id == "k2"  # decrypting under an unknown key id reloaded it
    assert server.rotate() == "k3"  # and a rotation reads the directory first: no id is reused
    assert Keyring.open(tmp_path / "keys").key_ids() == ("k1", "k2", "k3")


# -- blind index ------------------------------------------------------------------------------


def test_blind_index_is_stable_and_separated(tmp_path):
    keyring = Keyring.init(tmp_path / "keys")
    index = keyring.blind_index(DOCUMENT, "passenger.document")
    assert len(index) == 32 and index == keyring.blind_index(DOCUMENT, "passenger.document")
    assert index != keyring.blind_index(DOCUMENT, "account.document")
    assert index != keyring.blind_index(DOCUMENT[:-1] + "1", "passenger.document")
    assert keyring.blind_index("c", "ab") != keyring.blind_index("bc", "a")  # no concatenation ambiguity
    keyring.rotate()
    assert keyring.blind_index(DOCUMENT, "passenger.document") == index  # field keys rotate, the index key does not
    assert Keyring.init(tmp_path / "other").blind_index(DOCUMENT, "passenger.document") != index


# -- the key directory ------------------------------------------------------------------------


def test_init_refuses_an_existing_keyring(tmp_path):
    Keyring.init(tmp_path / "keys")
    before = key_bytes(tmp_path / "keys")
    with pytest.raises(KeyringError, match="already holds a keyring"):
        Keyring.init(tmp_path / "keys")
    assert key_bytes(tmp_path / "keys") == before


def test_unknown_algorithm_is_refused(tmp_path):
    with pytest.raises(KeyringError, match="unknown algorithm"):
        Keyring.init(tmp_path / "keys", algorithm="DES")
    keyring = Keyring.init(tmp_path / "keys")
    with pytest.raises(KeyringError, match="unknown algorithm"):
        keyring.rotate("AES-128-CBC")
    assert keyring.key_ids() == ("k1",)


@POSIX
def test_modes_are_private(tmp_path):
    keyring = Keyring.init(tmp_path / "keys")
    keyring.rotate()
    assert (tmp_path / "keys").stat().st_mode & 0o777 == 0o700
    for path in (tmp_path / "keys").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


@POSIX
def test_world_readable_keys_are_refused(tmp_path):
    Keyring.init(tmp_path / "keys")
    os.chmod(tmp_path / "keys" / INDEX_KEY_FILE, 0o644)
    with pytest.raises(KeyringError, match="chmod 600") as caught:
        Keyring.open(tmp_path / "keys")
    assert INDEX_KEY_FILE in str(caught.value)
    os.chmod(tmp_path / "keys" / INDEX_KEY_FILE, 0o600)
    os.chmod(tmp_path / "keys", 0o755)
    with pytest.raises(KeyringError, match="chmod 700"):
        Keyring.open(tmp_path / "keys")
    init_key_dir(tmp_path / "keys")  # puts the directory's mode right
    Keyring.open(tmp_path / "keys")


def damage(key_dir: Path, name: str, data: bytes) -> None:
    (key_dir / name).write_bytes(data)
    os.chmod(key_dir / name, 0o600)


@pytest.mark.parametrize(
    "name, data, problem",
    [
        (MANIFEST, b"{not json", "not valid JSON"),
        (MANIFEST, b"\xff\xfe", "not valid JSON"),
        (MANIFEST, b"[]", "not a JSON object"),
        (MANIFEST, b'{"format": 9}', "format 9"),
        (MANIFEST, b'{"format": 1, "current": "k1", "field_keys": []}', "field_keys"),
        (
            MANIFEST,
            b'{"format": 1, "current": "k9", "field_keys": [{"id": "k1", "algorithm": "AES-256-GCM", "created_at": '
            b'"x"}]}',
            "current",
        ),
        (
            MANIFEST,
            b'{"format": 1, "current": "k1", "field_keys": [{"id": "../k1", "algorithm": "AES-256-GCM", "created_at": '
            b'"x"}]}',
            "valid id",
        ),
        (
            MANIFEST,
            b'{"format": 1, "current": "k1", "field_keys": [{"id": "k1", "algorithm": "ROT13", "created_at": "x"}]}',
            "unknown algorithm",
        ),
        (field_key_file("k1"), b"short", "expected"),
        (INDEX_KEY_FILE, b"", "expected 32 bytes"),
        (
            SIGNING_KEY_FILE,
            b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n",
            "not an unencrypted PEM",
        ),
    ],
)
def test_a_damaged_key_directory_names_the_file(tmp_path, name, data, problem):
    Keyring.init(tmp_path / "keys")
    secrets_before = key_bytes(tmp_path / "keys")
    damage(tmp_path / "keys", name, data)
    with pytest.raises(KeyringError) as caught:
        Keyring.open(tmp_path / "keys")
    message = str(caught.value)
    assert name in message and problem in message, message
    for secret in secrets_before:
        assert secret.hex() not in message and repr(secret) not in message


@pytest.mark.parametrize("name", [MANIFEST, field_key_file("k1"), INDEX_KEY_FILE, SIGNING_KEY_FILE])
def test_a_missing_file_is_named(tmp_path, name):
    Keyring.init(tmp_path / "keys")
    (tmp_path / "keys" / name).unlink()
    with pytest.raises(KeyringError, match="missing") as caught:
        Keyring.open(tmp_path / "keys")
    assert name in str(caught.value)


def test_a_missing_key_directory_says_how_to_make_one(tmp_path):
    with pytest.raises(KeyringError, match="keyun keys init"):
        Keyring.open(tmp_path / "nowhere")


def test_repr_shows_no_key_material(tmp_path):
    keyring = Keyring.init(tmp_path / "keys")
    shown = repr(keyring) + repr(keyring.keys())
    for secret in key_bytes(tmp_path / "keys"):
        assert secret.hex() not in shown and repr(secret) not in shown
    assert "k1" in shown


def test_write_atomically_replaces_and_leaves_no_temp_files(tmp_path):
    write_atomically(tmp_path / "f", b"one")
    write_atomically(tmp_path / "f", b"two")
    assert (tmp_path / "f").read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


# -- keys outside the data directory ----------------------------------------------------------


def test_key_dir_inside_the_data_dir_is_refused(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for inside in (data, data / "keys", data / "a" / "b", tmp_path / "data" / ".." / "data" / "keys"):
        with pytest.raises(KeyringError, match="inside the data directory"):
            refuse_inside(inside, data)
    refuse_inside(tmp_path / "keys", data)
    refuse_inside(tmp_path / "data-keys", data)  # a sibling whose name starts the same is elsewhere
    refuse_inside(tmp_path, data)  # keys above the data: a copy of the data dir holds no keys


@POSIX
def test_a_symlink_into_the_data_dir_is_refused(tmp_path):
    (tmp_path / "data" / "keys").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "data" / "keys")
    with pytest.raises(KeyringError):
        refuse_inside(tmp_path / "link", tmp_path / "data")


# -- the CLI ----------------------------------------------------------------------------------


def keys_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="keyun")
    keyring_cli.add_verbs(parser.add_subparsers(dest="verb", required=True))
    return keyring_cli.run(parser.parse_args(["keys", *argv]))


def test_cli_init_rotate_list(tmp_path, capsys):
    key_dir = str(tmp_path / "keys")
    assert keys_cli("init", "--key-dir", key_dir, "--algorithm", "SM4-GCM") == 0
    assert "field key k1 (SM4-GCM)" in capsys.readouterr().out
    assert keys_cli("rotate", "--key-dir", key_dir, "--algorithm", "AES-256-GCM") == 0
    assert "k2 (AES-256-GCM)" in capsys.readouterr().out
    assert keys_cli("rotate", "--key-dir", key_dir) == 0  # the current key's algorithm
    assert "k3 (AES-256-GCM)" in capsys.readouterr().out
    assert keys_cli("list", "--key-dir", key_dir) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("k1") and "SM4-GCM" in lines[0] and "(current)" in lines[2]
    assert keys_cli("list", "--key-dir", key_dir, "--json") == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["current"] == "k3"
    assert [(k["id"], k["algorithm"], k["current"]) for k in listing["field_keys"]] == [
        ("k1", "SM4-GCM", False),
        ("k2", "AES-256-GCM", False),
        ("k3", "AES-256-GCM", True),
    ]
    assert listing["verify_key_sha256"] == Keyring.open(tmp_path / "keys").verify_key_fingerprint()


def test_cli_never_prints_key_material(tmp_path, capsys):
    key_dir = str(tmp_path / "keys")
    keys_cli("init", "--key-dir", key_dir)
    keys_cli("rotate", "--key-dir", key_dir)
    keys_cli("list", "--key-dir", key_dir)
    keys_cli("list", "--key-dir", key_dir, "--json")
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    pem = (tmp_path / "keys" / SIGNING_KEY_FILE).read_text()
    assert pem.splitlines()[1] not in printed
    for secret in key_bytes(tmp_path / "keys"):
        assert secret.hex() not in printed and repr(secret) not in printed


def test_cli_errors_exit_1_with_a_message(tmp_path, capsys):
    data = tmp_path / "data"
    assert keys_cli("init", "--key-dir", str(data / "keys"), "--data-dir", str(data)) == 1
    assert "inside the data directory" in capsys.readouterr().err
    assert not (data / "keys").exists()
    assert keys_cli("list", "--key-dir", str(tmp_path / "nowhere")) == 1
    assert "keyun keys list: " in capsys.readouterr().err
    assert keys_cli("init", "--key-dir", str(tmp_path / "keys")) == 0
    assert keys_cli("init", "--key-dir", str(tmp_path / "keys")) == 1
    assert "already holds a keyring" in capsys.readouterr().err


def test_cli_rejects_unknown_algorithms_and_needs_a_key_dir(tmp_path, capsys):
    for argv in (["init", "--key-dir", str(tmp_path), "--algorithm", "DES"], ["list"], ["rotate"], []):
        with pytest.raises(SystemExit) as caught:
            keys_cli(*argv)
        assert caught.value.code == 2
    capsys.readouterr()


def test_cli_help_works_for_every_action(capsys):
    for action in ("init", "rotate", "list"):
        with pytest.raises(SystemExit) as caught:
            keys_cli(action, "--help")
        assert caught.value.code == 0
        assert "--key-dir" in capsys.readouterr().out
