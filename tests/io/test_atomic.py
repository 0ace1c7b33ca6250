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
