"""The official Python SDK's Volume and Secret classes drive e2b-local unchanged: the
pinned release (requirements.txt) and the newest one (requirements-latest.txt) both run
this module."""

import io
import uuid

import pytest
from e2b import (
    Sandbox,
    Secret,
    SecretNotFoundException,
    Volume,
    VolumeFileType,
    VolumeNotFoundException,
    VolumePathNotFoundException,
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def volume():
    vol = Volume.create(unique("compat"))
    yield vol
    Volume.destroy(vol.volume_id)


# --- volumes: control plane ----------------------------------------------------


def test_volume_create_get_info_connect_list_and_destroy():
    name = unique("lifecycle")
    vol = Volume.create(name)
    assert vol.name == name
    assert vol.token

    info = Volume.get_info(vol.volume_id)
    assert (info.volume_id, info.name, info.token) == (vol.volume_id, name, vol.token)

    connected = Volume.connect(vol.volume_id)
    assert connected.name == name
    assert any(v.volume_id == vol.volume_id and v.name == name for v in Volume.list())

    assert Volume.destroy(vol.volume_id) is True
    assert Volume.destroy(vol.volume_id) is False
    with pytest.raises(VolumeNotFoundException):
        Volume.get_info(vol.volume_id)
    assert all(v.volume_id != vol.volume_id for v in Volume.list())


# --- volumes: content ----------------------------------------------------------


def test_volume_content_write_read_list_and_metadata(volume):
    written = volume.write_file("/notes/hello.txt", "hello", force=True)
    assert written.type == VolumeFileType.FILE
    assert written.size == 5
    assert volume.read_file("/notes/hello.txt") == "hello"
    assert volume.read_file("/notes/hello.txt", format="bytes") == b"hello"
    assert b"".join(volume.read_file("/notes/hello.txt", format="stream")) == b"hello"

    # A file object is streamed; owner and mode are kept.
    entry = volume.write_file(
        "/notes/data.bin", io.BytesIO(b"\x00\x01" * 50_000), uid=1000, gid=1000, mode=0o640
    )
    assert (entry.size, entry.uid, entry.gid, entry.mode) == (100_000, 1000, 1000, 0o640)

    made = volume.make_dir("/a/b/c", force=True, mode=0o750)
    assert made.type == VolumeFileType.DIRECTORY
    assert made.mode == 0o750

    names = [e.path for e in volume.list("/")]
    assert names == ["/a", "/notes"]
    deep = [e.path for e in volume.list("/", depth=3)]
    assert "/a/b/c" in deep and "/notes/data.bin" in deep

    info = volume.get_info("/notes/hello.txt")
    assert info.name == "hello.txt"
    assert info.path == "/notes/hello.txt"
    assert volume.exists("/notes/hello.txt")
    assert not volume.exists("/nope")

    updated = volume.update_metadata("/notes/hello.txt", mode=0o600, uid=0)
    assert (updated.mode, updated.uid) == (0o600, 0)

    volume.remove("/notes")
    assert not volume.exists("/notes/hello.txt")
    with pytest.raises(VolumePathNotFoundException):
        volume.read_file("/notes/hello.txt")
    with pytest.raises(VolumePathNotFoundException):
        volume.get_info("/nope")


def test_volume_mounted_in_a_sandbox(volume):
    volume.write_file("/from-host.txt", "host", uid=1000, gid=1000, mode=0o644)
    sbx = Sandbox.create(volume_mounts={"/mnt/shared": volume})
    try:
        result = sbx.commands.run(
            "stat -c '%u %a' /mnt/shared/from-host.txt && cat /mnt/shared/from-host.txt"
        )
        assert result.stdout == "1000 644\nhost"
        sbx.commands.run("echo from-sandbox > /mnt/shared/out.txt")
        assert volume.read_file("/out.txt") == "from-sandbox\n"
        assert volume.get_info("/out.txt").uid == 1000
    finally:
        sbx.kill()
    # Mounted by name too.
    sbx = Sandbox.create(volume_mounts={"/data": volume.name})
    try:
        assert sbx.commands.run("cat /data/out.txt").stdout == "from-sandbox\n"
    finally:
        sbx.kill()


# --- secrets -------------------------------------------------------------------


def test_secret_create_list_get_info_update_and_destroy():
    name = unique("compat-key")
    created = Secret.create(name, "value-1", metadata={"team": "ml"})
    assert created.name == name
    assert created.version == 1
    assert created.metadata == {"team": "ml"}
    assert created.secret_id.startswith("sec_")

    info = Secret.get_info(name)
    assert info.secret_id == created.secret_id
    assert Secret.get_info(created.secret_id).name == name
    assert Secret.exists(name)

    updated = Secret.update(name, "value-2", metadata={"team": "infra"})
    assert updated.version == 2
    assert updated.metadata == {"team": "infra"}

    others = [Secret.create(unique("compat-page"), "v") for _ in range(2)]
    paginator = Secret.list(limit=1)
    seen = []
    while paginator.has_next:
        seen.extend(s.name for s in paginator.next_items())
    assert {name, *(o.name for o in others)} <= set(seen)
    assert len(seen) == len(set(seen)), "pages do not repeat"

    assert Secret.destroy(name) is True
    assert Secret.destroy(name) is False
    assert not Secret.exists(name)
    with pytest.raises(SecretNotFoundException):
        Secret.get_info(name)
    with pytest.raises(SecretNotFoundException):
        Secret.update(name, "value-3")
    for other in others:
        assert Secret.destroy(other.secret_id) is True
