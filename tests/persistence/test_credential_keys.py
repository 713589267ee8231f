"""The boarding-credential keys in the key directory: made once beside an existing keyring, apart
from the token-signing key, rotated with the old keys kept, refused when damaged."""

from __future__ import annotations

import pytest

from keyun.common import eticket
from keyun.persistence.credential_keys import CREDENTIAL_MANIFEST, CredentialKeys
from keyun.persistence.keyring import Keyring, KeyringError


def test_a_key_directory_from_before_credentials_gets_them_once(tmp_path):
    keyring = Keyring.init(tmp_path / "keys")
    made = CredentialKeys.open_or_create(keyring.key_dir)
    again = CredentialKeys.open_or_create(keyring.key_dir)
    assert again.current_key_id == made.current_key_id and again.digest_key == made.digest_key
    assert made.current_key_id == eticket.key_id_of(made.signing_key.public_key())
    token_key = eticket.raw_public_key(keyring.verify_key)
    assert all(info.public_key != token_key for info in made.keys())  # apart from the token key
    assert (keyring.key_dir / CREDENTIAL_MANIFEST).stat().st_mode & 0o077 == 0


def test_rotation_keeps_the_old_key_verifying(tmp_path):
    keys = CredentialKeys.open_or_create(tmp_path)
    old = keys.current_key_id
    new = keys.rotate()
    assert new != old and keys.current_key_id == new and set(keys.public_keys()) == {old, new}
    retired = {info.key_id: info for info in CredentialKeys.open(tmp_path).keys()}
    assert retired[old].retired_at_ms > 0 and retired[new].current


def test_a_damaged_manifest_is_refused_with_its_name(tmp_path):
    CredentialKeys.open_or_create(tmp_path)
    (tmp_path / CREDENTIAL_MANIFEST).write_text("{not json")
    with pytest.raises(KeyringError, match=CREDENTIAL_MANIFEST):
        CredentialKeys.open(tmp_path)
