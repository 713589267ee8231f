"""The data directory's manifest: created once, then it pins the shard count."""

from __future__ import annotations

import json

import pytest

from keyun.engine import codec
from keyun.persistence.layout import MANIFEST, DataDirError, prepare, read_manifest, shard_directories


def test_a_new_directory_gets_a_manifest(tmp_path):
    data_dir = tmp_path / "data" / "nested"
    assert read_manifest(data_dir) is None
    assert prepare(data_dir, 4) is True
    manifest = json.loads((data_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest == {"format": codec.FORMAT_VERSION, "shards": 4}
    assert read_manifest(data_dir) == manifest


def test_an_existing_empty_directory_is_new(tmp_path):
    assert prepare(tmp_path, 2) is True
    assert (tmp_path / MANIFEST).exists()


def test_the_same_shard_count_is_accepted(tmp_path):
    assert prepare(tmp_path, 4) is True
    before = (tmp_path / MANIFEST).read_bytes()
    assert prepare(tmp_path, 4) is False
    assert prepare(tmp_path, 4) is False
    assert (tmp_path / MANIFEST).read_bytes() == before  # checking never rewrites it


@pytest.mark.parametrize("asked", [1, 3, 8])
def test_another_shard_count_names_the_right_flag(tmp_path, asked):
    prepare(tmp_path, 4)
    with pytest.raises(DataDirError, match="start with --shards 4") as caught:
        prepare(tmp_path, asked)
    assert str(tmp_path) in str(caught.value) and "created with 4 shards" in str(caught.value)
    assert json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))["shards"] == 4


def test_another_format_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format": codec.FORMAT_VERSION + 1, "shards": 4}), encoding="utf-8")
    with pytest.raises(DataDirError, match=f"format {codec.FORMAT_VERSION + 1}"):
        prepare(tmp_path, 4)


def test_a_format_1_directory_is_refused_naming_the_upgrade(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "shards": 4}), encoding="utf-8")
    with pytest.raises(DataDirError) as caught:
        prepare(tmp_path, 4)
    assert "format 1" in str(caught.value) and f"keyun upgrade --data-dir {tmp_path}" in str(caught.value)
    assert codec.FORMAT_VERSION == 2


def test_the_tools_that_decode_refuse_a_format_1_directory_naming_the_upgrade(tmp_path):
    from keyun.persistence import admin

    (tmp_path / MANIFEST).write_text(json.dumps({"format": 1, "shards": 1}), encoding="utf-8")
    for tool in (admin.verify_logs, lambda d: list(admin.dump_logs(d)), lambda d: list(admin.archived_trips(d))):
        with pytest.raises(admin.AdminError, match="keyun upgrade --data-dir"):
            tool(tmp_path)


def test_an_unreadable_manifest_is_refused(tmp_path):
    (tmp_path / MANIFEST).write_text("{not json", encoding="utf-8")
    with pytest.raises(DataDirError, match="unreadable"):
        prepare(tmp_path, 4)
    with pytest.raises(DataDirError):
        read_manifest(tmp_path)


def test_shard_directories_lists_owner_directories_in_order(tmp_path):
    for name in ("0002", "0000", "0001", "tmp", "12345", "00a1"):
        (tmp_path / "shards" / name).mkdir(parents=True)
    (tmp_path / "shards" / "0003").write_text("a file, not an owner")
    assert [p.name for p in shard_directories(tmp_path)] == ["0000", "0001", "0002"]
    assert shard_directories(tmp_path / "missing") == []
