"""`keyun wal dump` of the accounts owner's log: what happened to which account, never a secret."""

from __future__ import annotations

import json

from keyun.engine import accounts as ac
from keyun.persistence.admin import ACCOUNTS_DIR, describe, dump_logs, verify_logs
from keyun.persistence.layout import prepare
from keyun.persistence.small_store import SmallStore

T0 = 1_800_000_000_000
PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
SESSION_ID, REFRESH_ID, NEW_REFRESH_ID = "session-" + "s" * 16, "refresh-" + "r" * 16, "refresh-" + "n" * 16


def test_the_accounts_log_is_dumped_with_its_secrets_redacted(tmp_path, capsys):
    prepare(tmp_path, 1)
    engine, store = ac.AccountsEngine(), SmallStore(tmp_path / ACCOUNTS_DIR)
    try:
        store.recover(engine)
        new = ac.NewAccount(
            ac.AccountKind.PASSENGER,
            "phone:blind-index",
            "",
            b"phone-ciphertext",
            "",
            PASSWORD_HASH,
            roles=("passenger",),
        )
        for now, batch in enumerate(
            [
                [ac.CreateAccount("dump-create", new, b"fingerprint-bytes")],
                [ac.StartSession("A000001", SESSION_ID, REFRESH_ID)],
                [
                    ac.RenewSession(SESSION_ID, REFRESH_ID, NEW_REFRESH_ID),
                    ac.UpdateProfile("dump-profile", "A000001", "Dumpling"),
                ],  # as text, as logs from before display names were encrypted hold them
            ]
        ):
            replies, entries = engine.execute(batch, T0 + now)
            assert not any(isinstance(reply, ac.Rejection) for reply in replies), replies
            store.commit(engine.last_now, entries)
    finally:
        store.close()

    rows = list(dump_logs(tmp_path, "accounts"))
    assert rows == list(dump_logs(tmp_path)) and {row["shard"] for row in rows} == {
        "accounts"
    }  # no trip owner logged anything
    assert [(row["command"], row["request_id"]) for row in rows] == [
        ("CreateAccount", "dump-create"),
        ("StartSession", ""),
        ("RenewSession", ""),
        ("UpdateProfile", "dump-profile"),
    ]
    created = rows[0]["events"][0]
    assert created["account"]["password_hash"] == created["account"]["login_key"] == "[redacted]"
    assert (
        created["account"]["phone_cipher"] == f"<{len(b'phone-ciphertext')} bytes>"
        and created["account_id"] == "A000001"
    )
    text = "\n".join([json.dumps(row, ensure_ascii=False) for row in rows] + [describe(row) for row in rows])
    for secret in (
        PASSWORD_HASH,
        "phone:blind-index",
        "phone-ciphertext",
        SESSION_ID,
        REFRESH_ID,
        NEW_REFRESH_ID,
        "fingerprint-bytes",
        "Dumpling",
    ):
        assert secret not in text
    assert "A000001" in describe(rows[1]) and "display_name_cipher=[redacted]" in describe(rows[3])

    # verify reads the same log, and says how far it got on stderr (a bar on a terminal).
    (report,) = verify_logs(tmp_path)
    assert (report.shard, report.first_lsn, report.last_lsn, report.records) == ("accounts", 1, 3, 3)
    last_line = capsys.readouterr().err.splitlines()[-1]
    assert last_line.startswith("verify [") and "1/1 log segments" in last_line and "3 records" in last_line
