"""ember.io._atomic.atomic_write: all or nothing, old file intact on any failure."""
import os
import stat

import pytest

from ember.io._atomic import atomic_write


def _leftovers(folder, keep):
    return sorted(set(os.listdir(folder)) - set(keep))


def test_creates_file(tmp_path):
    p = tmp_path / "out.bin"
    with atomic_write(p) as f:
        f.write(b"hello")
        # nothing visible under the final name until the block ends
        assert not p.exists()
    assert p.read_bytes() == b"hello"
    assert _leftovers(tmp_path, ["out.bin"]) == []


def test_temp_file_in_same_folder(tmp_path):
    p = tmp_path / "out.bin"
    with atomic_write(str(p)) as f:
        tmp = f.name
        assert os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith(".out.bin.") and tmp.endswith(".tmp")
    assert not os.path.exists(tmp)


def test_replaces_existing(tmp_path):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old contents")
    with atomic_write(p) as f:
        f.write(b"new")
    assert p.read_bytes() == b"new"


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_exception_keeps_old_file(tmp_path, exc):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old contents")
    with pytest.raises(type(exc)):
        with atomic_write(p) as f:
            f.write(b"partial new data")
            raise exc
    assert p.read_bytes() == b"old contents"
    assert _leftovers(tmp_path, ["out.bin"]) == []


def test_exception_creates_nothing(tmp_path):
    p = tmp_path / "out.bin"
    with pytest.raises(ValueError):
        with atomic_write(p) as f:
            f.write(b"x")
            raise ValueError
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_keeps_permissions_of_existing_target(tmp_path):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old")
    os.chmod(p, 0o640)
    with atomic_write(p) as f:
        f.write(b"new")
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o640


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_new_file_gets_umask_permissions(tmp_path):
    ref = tmp_path / "ref.bin"
    with open(ref, "wb") as f:
        f.write(b"x")
    p = tmp_path / "out.bin"
    with atomic_write(p) as f:
        f.write(b"x")
    assert stat.S_IMODE(os.stat(p).st_mode) == stat.S_IMODE(os.stat(ref).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_target_is_replaced_link_kept(tmp_path):
    real = tmp_path / "real.bin"
    real.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(real)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink()
    assert real.read_bytes() == b"new"


def test_text_mode(tmp_path):
    p = tmp_path / "out.txt"
    with atomic_write(p, "w") as f:
        f.write("héllo\n")
    assert p.read_text(encoding="utf-8") == "héllo\n"


def test_caller_may_close(tmp_path):
    p = tmp_path / "out.bin"
    with atomic_write(p) as f:
        f.write(b"abc")
        f.close()
    assert p.read_bytes() == b"abc"


def test_bad_mode_and_directory(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "ab"):
            pass
    with pytest.raises(IsADirectoryError):
        with atomic_write(tmp_path):
            pass
    with pytest.raises(FileNotFoundError):
        with atomic_write(tmp_path / "missing" / "x.bin"):
            pass
    assert os.listdir(tmp_path) == []


# -- what is at the path decides how it is written (issue 14) ----------------------------------
def _char_device(tmp_path):
    """A character device to save to: a private copy of /dev/null where we may create one (as
    root), else /dev/null itself, which a non-root process could not replace even by mistake."""
    node = tmp_path / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return str(node)
    except (OSError, AttributeError):
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            pytest.skip("can't make a device node, and replacing /dev/null as root would break it")
        return os.devnull


@pytest.mark.skipif(os.name != "posix", reason="device files")
def test_character_device_is_written_in_place(tmp_path):
    import ember

    dev = _char_device(tmp_path)
    rdev = os.stat(dev).st_rdev
    ember.save({"w": ember.ones(3)}, dev)
    with atomic_write(dev, "w") as f:
        f.write("text")
    st = os.stat(dev)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == rdev
    assert _leftovers(os.path.dirname(dev), ["null"]) == [] or dev == os.devnull


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_named_pipe_is_streamed(tmp_path):
    import threading

    import ember

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    ember.save({"w": ember.arange(4.0)}, str(fifo))
    reader.join(timeout=20)
    assert not reader.is_alive(), "the reader got nothing: the pipe was not written"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    import io

    assert ember.load(io.BytesIO(received[0]))["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert _leftovers(tmp_path, ["pipe"]) == []


@pytest.mark.skipif(not hasattr(__import__("socket"), "AF_UNIX"), reason="unix sockets")
def test_socket_is_not_replaced(tmp_path):
    import socket

    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(OSError) as err, atomic_write(path) as f:
            f.write(b"data")
        assert err.value.filename == str(path)  # the caller's name, not a temporary one
        assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert _leftovers(tmp_path, ["sock"]) == []


_SAVE_TO_STDOUT = ("import ember; ember.save({'w': ember.ones(2)}, '/dev/stdout'); "
                   "ember.save({'w': ember.zeros(2)}, '/dev/stdout')")


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="/dev/stdout")
def test_dev_stdout_to_a_pipe_is_streamed():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _SAVE_TO_STDOUT], capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.count(b"PK\x05\x06") == 2  # both archives came down the pipe


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="/dev/stdout")
def test_dev_stdout_redirected_to_a_file_writes_that_file_in_place(tmp_path):
    import subprocess
    import sys

    import ember

    out = tmp_path / "out.pt"
    out.write_bytes(b"")
    inode = os.stat(out).st_ino
    with open(out, "wb") as f:  # as the shell's `> out.pt` does
        done = subprocess.run([sys.executable, "-c", _SAVE_TO_STDOUT], stdout=f,
                              stderr=subprocess.PIPE, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert os.stat(out).st_ino == inode  # the file the shell opened, not a new one in its place
    assert ember.load(str(out))["w"].tolist() == [0.0, 0.0]  # the last save, at offset 0
    assert _leftovers(tmp_path, ["out.pt"]) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("mode", [0o444, 0o400], ids=["0444", "0400"])
def test_read_only_file_is_refused(tmp_path, mode):
    import ember

    p = tmp_path / "model.pt"
    p.write_bytes(b"keep me")
    os.chmod(p, mode)
    with pytest.raises(PermissionError, match="read-only") as err:
        ember.save({"w": ember.ones(1)}, str(p))
    assert err.value.filename == str(p)
    assert p.read_bytes() == b"keep me" and _leftovers(tmp_path, ["model.pt"]) == []

    with atomic_write(p, replace_readonly=True) as f:  # asked for explicitly
        f.write(b"new")
    assert p.read_bytes() == b"new" and stat.S_IMODE(os.stat(p).st_mode) == mode
    os.chmod(p, 0o644)  # or: make it writable first, the documented way for ember.save
    ember.save({"w": ember.ones(1)}, str(p))
    assert ember.load(str(p))["w"].tolist() == [1.0]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_file_the_process_may_not_write_is_refused(tmp_path, monkeypatch):
    p = tmp_path / "theirs.bin"
    p.write_bytes(b"theirs")
    real_access = os.access
    # what a non-root user sees for another user's 0644 file (the rename alone would succeed)
    monkeypatch.setattr(os, "access", lambda path, how, **kw: False if os.fspath(path) == str(p)
                        else real_access(path, how, **kw))
    with pytest.raises(PermissionError, match="read-only"), atomic_write(p) as f:
        f.write(b"mine")
    assert p.read_bytes() == b"theirs"


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_to_another_folder_replaces_the_file_it_points_to(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    named = tmp_path / "named"
    elsewhere.mkdir()
    named.mkdir()
    real = elsewhere / "real.bin"
    real.write_bytes(b"old")
    link = named / "link.bin"
    link.symlink_to(real)
    with atomic_write(link) as f:
        tmp = f.name
        f.write(b"new")
    # the documented policy: followed like open() follows it; the temporary file lives next to
    # the file that is replaced, and the link is kept
    assert os.path.dirname(tmp) == str(elsewhere)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_bytes() == b"new"
    assert os.listdir(named) == ["link.bin"] and os.listdir(elsewhere) == ["real.bin"]

    dangling = named / "dangling.bin"
    dangling.symlink_to(elsewhere / "created.bin")
    with atomic_write(dangling) as f:
        f.write(b"x")
    assert dangling.is_symlink() and (elsewhere / "created.bin").read_bytes() == b"x"


def test_missing_folder_is_named_as_the_caller_named_it(tmp_path):
    target = tmp_path / "missing" / "x.bin"
    with pytest.raises(FileNotFoundError) as err, atomic_write(target):
        pass
    assert err.value.filename == str(target)


# -- temporary files: recognisable, and cleaned up after a killed save -------------------------
def test_temp_file_name_says_it_is_embers(tmp_path):
    import re

    with atomic_write(tmp_path / "model.pt") as f:
        assert re.fullmatch(r"\.model\.pt\.ember-[0-9a-f]{12}\.tmp", os.path.basename(f.name))


def _age(path, seconds):
    import time

    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_temp_file_of_a_killed_save_is_removed_by_the_next_save(tmp_path):
    import subprocess
    import sys
    import textwrap

    from ember.io import _atomic

    target = tmp_path / "model.pt"
    target.write_bytes(b"previous")
    code = textwrap.dedent(f"""
        import os, signal
        from ember.io._atomic import atomic_write
        with atomic_write({str(target)!r}) as f:
            f.write(b"x" * 100000)
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120,
                          check=False)
    assert done.returncode == -9, done.stderr.decode()
    (killed,) = _leftovers(tmp_path, ["model.pt"])
    assert killed.startswith(".model.pt.ember-") and target.read_bytes() == b"previous"

    fresh = tmp_path / ".model.pt.ember-0123456789ab.tmp"  # a save in progress: kept
    legacy = tmp_path / ".model.pt.0123456789ab.tmp"  # an earlier ember's name: removed when old
    other_target = tmp_path / ".other.pt.ember-0123456789ab.tmp"  # another file's: kept
    not_ours = tmp_path / ".model.pt.ember-ba9876543210.tmp"  # another user's: kept
    lookalike = tmp_path / ".model.pt.backup.tmp"  # not our pattern: kept
    for p in (fresh, legacy, other_target, not_ours, lookalike):
        p.write_bytes(b"partial")
    old = _atomic.STALE_AFTER_S + 60
    for p in (tmp_path / killed, legacy, other_target, not_ours, lookalike):
        _age(p, old)
    if os.geteuid() == 0:
        os.chown(not_ours, 65534, 65534)
    else:
        not_ours.unlink()

    with atomic_write(target) as f:
        f.write(b"new")
    left = _leftovers(tmp_path, ["model.pt"])
    assert killed not in left and legacy.name not in left
    assert {fresh.name, other_target.name, lookalike.name} <= set(left)
    assert (not_ours.name in left) == (os.geteuid() == 0)
    assert target.read_bytes() == b"new"
