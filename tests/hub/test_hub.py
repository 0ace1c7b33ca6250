"""ember.hub: cache folders, downloads from a local HTTP server, torch-cache reuse, failures.

Nothing leaves the machine: every URL points at a ThreadingHTTPServer on 127.0.0.1 that serves
bytes the test provides, and every cache variable points into tmp_path.
"""
import hashlib
import io
import os
import socket
import urllib.error
import warnings
import zipfile

import numpy as np
import pytest
from local_http import Server

import ember
import ember.io
from ember import hub


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def cache_env(tmp_path, monkeypatch):
    """Every cache folder inside tmp_path; set_dir cleared."""
    env = {"EMBER_HOME": tmp_path / "ember_home", "TORCH_HOME": tmp_path / "torch_home",
           "XDG_CACHE_HOME": tmp_path / "xdg"}
    for k, v in env.items():
        monkeypatch.setenv(k, str(v))
    monkeypatch.setattr(hub, "_hub_dir", None)
    return env


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _refused_url(name="w.pth"):
    # a port that was just free: nothing listens there, so connecting is refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def _payload(n=300_000, seed=0):
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def _checkpoints(env):
    return env["EMBER_HOME"] / "hub" / "checkpoints"


def _files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


@pytest.fixture
def fake_load(monkeypatch):
    """Replaces ember.io.load, so cache logic is tested on its own: returns what it was given."""
    calls = []

    def load(f, map_location=None, weights_only=True):
        calls.append((f, map_location, weights_only))
        return {"loaded_from": f}

    monkeypatch.setattr(ember.io, "load", load, raising=False)
    return calls


# -- cache folders -----------------------------------------------------------------------------
def test_get_dir_resolution(cache_env, monkeypatch, tmp_path):
    assert hub.get_dir() == str(cache_env["EMBER_HOME"] / "hub")
    monkeypatch.delenv("EMBER_HOME")
    assert hub.get_dir() == str(cache_env["XDG_CACHE_HOME"] / "ember" / "hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub.get_dir() == str(tmp_path / "home" / ".cache" / "ember" / "hub")
    hub.set_dir(tmp_path / "mine")
    assert hub.get_dir() == str(tmp_path / "mine")
    hub.set_dir("~/x")
    assert hub.get_dir() == str(tmp_path / "home" / "x")


@pytest.mark.parametrize("unset", [(), ("TORCH_HOME",), ("TORCH_HOME", "XDG_CACHE_HOME")])
def test_torch_cache_resolution_matches_torch(unset, monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for k in unset:
        monkeypatch.delenv(k)
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    assert os.path.join(hub._torch_home(), "hub") == torch.hub.get_dir()


# -- download_url_to_file ----------------------------------------------------------------------
def test_download(server, tmp_path, capsys):
    data = _payload()
    dst = tmp_path / "out.bin"
    hub.download_url_to_file(server.add("w.bin", data), str(dst), progress=False)
    assert dst.read_bytes() == data
    assert _files(tmp_path) == ["out.bin"]
    assert server.requests[0][1]["User-Agent"] == "ember.hub"
    assert capsys.readouterr().err == ""


def test_progress_bar(server, tmp_path, capsys):
    pytest.importorskip("tqdm")
    data = _payload(400_000)
    hub.download_url_to_file(server.add("w.bin", data), tmp_path / "out.bin")
    err = capsys.readouterr().err
    assert "100%" in err and "391k/391k" in err  # tqdm's bar, in 1024-byte units, to stderr


def test_hash_prefix_ok(server, tmp_path):
    data = _payload()
    dst = tmp_path / "out.bin"
    hub.download_url_to_file(server.add("w.bin", data), dst, hash_prefix=_sha(data)[:10],
                             progress=False)
    assert dst.read_bytes() == data


def test_hash_mismatch_leaves_nothing(server, tmp_path):
    data = _payload()
    url = server.add("w.bin", data)
    with pytest.raises(RuntimeError) as err:
        hub.download_url_to_file(url, tmp_path / "out.bin", hash_prefix="deadbeef",
                                 progress=False)
    assert str(err.value) == f'invalid hash value (expected "deadbeef", got "{_sha(data)}")'
    assert _files(tmp_path) == []


def test_hash_mismatch_message_matches_torch(server, tmp_path):
    torch = pytest.importorskip("torch")
    url = server.add("w.bin", _payload())
    msgs = []
    for fn in (torch.hub.download_url_to_file, hub.download_url_to_file):
        with pytest.raises(RuntimeError) as err:
            fn(url, str(tmp_path / "out.bin"), hash_prefix="0123abcd", progress=False)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]
    assert _files(tmp_path) == []


def test_old_file_kept_when_download_fails(server, tmp_path):
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        hub.download_url_to_file(server.add("w.bin", b"new"), dst, hash_prefix="ff",
                                 progress=False)
    assert dst.read_bytes() == b"previous"
    assert _files(tmp_path) == ["out.bin"]


def test_http_404(server, tmp_path):
    url = server.base + "/missing.pth"
    dst = tmp_path / "missing.pth"
    with pytest.raises(hub.DownloadError) as err:
        hub.download_url_to_file(url, dst, progress=False)
    e = err.value
    assert isinstance(e, urllib.error.URLError) and isinstance(e, OSError)
    assert url in str(e) and "404" in str(e) and str(dst) in str(e)
    assert e.url == url and e.path == str(dst)
    assert _files(tmp_path) == []


def test_connection_refused(tmp_path):
    url = _refused_url()
    with pytest.raises(hub.DownloadError) as err:
        hub.download_url_to_file(url, tmp_path / "w.pth", progress=False)
    assert url in str(err.value) and str(tmp_path / "w.pth") in str(err.value)
    assert "refused" in str(err.value).lower()
    assert _files(tmp_path) == []


def test_connection_cut_midway(server, tmp_path):
    server.add("w.bin", _payload())
    with pytest.raises(hub.DownloadError) as err:
        hub.download_url_to_file(server.base + "/cut/w.bin", tmp_path / "w.bin", progress=False)
    assert "150000 of 300000 bytes" in str(err.value) or "connection lost" in str(err.value)
    assert _files(tmp_path) == []


def test_keyboard_interrupt_leaves_nothing(server, tmp_path, monkeypatch):
    class Bar:
        def update(self, n):
            raise KeyboardInterrupt

        def close(self):
            pass

    monkeypatch.setattr(hub, "_progress_bar", lambda total, enabled: Bar())
    with pytest.raises(KeyboardInterrupt):
        hub.download_url_to_file(server.add("w.bin", _payload()), tmp_path / "w.bin")
    assert _files(tmp_path) == []


def test_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"local bytes")
    hub.download_url_to_file(src.as_uri(), tmp_path / "dst.bin", progress=False)
    assert (tmp_path / "dst.bin").read_bytes() == b"local bytes"


# -- load_state_dict_from_url: cache logic (ember.io.load replaced) ----------------------------
def test_downloads_into_ember_cache_once(server, cache_env, fake_load, capsys):
    data = _payload()
    url = server.add("models/w-1.pth", data)
    out = hub.load_state_dict_from_url(url, map_location="cpu", progress=False)
    cached = _checkpoints(cache_env) / "w-1.pth"
    assert out == {"loaded_from": str(cached)}
    assert fake_load == [(str(cached), "cpu", True)]
    assert cached.read_bytes() == data
    assert capsys.readouterr().out == f'Downloading: "{url}" to {cached}\n'
    hub.load_state_dict_from_url(url, progress=False)
    assert len(server.requests) == 1  # the second call is a cache hit
    assert not os.path.exists(cache_env["TORCH_HOME"])  # ember never writes torch's cache


def test_reuses_torch_cache_without_request(server, cache_env, fake_load):
    url = server.add("w-abc.pth", b"served")
    torch_copy = cache_env["TORCH_HOME"] / "hub" / "checkpoints" / "w-abc.pth"
    torch_copy.parent.mkdir(parents=True)
    torch_copy.write_bytes(b"cached by torch")
    out = hub.load_state_dict_from_url(url, check_hash=True)
    assert out == {"loaded_from": str(torch_copy)}
    assert server.requests == []
    assert _files(_checkpoints(cache_env)) == []


def test_ember_cache_preferred_over_torch_cache(server, cache_env, fake_load):
    url = server.add("w.pth", b"served")
    for folder in (_checkpoints(cache_env), cache_env["TORCH_HOME"] / "hub" / "checkpoints"):
        folder.mkdir(parents=True)
        (folder / "w.pth").write_bytes(b"x")
    assert hub.load_state_dict_from_url(url) == {
        "loaded_from": str(_checkpoints(cache_env) / "w.pth")}
    assert server.requests == []


def test_model_dir_and_file_name(server, cache_env, fake_load, tmp_path):
    url = server.add("w.pth", b"served")
    torch_copy = cache_env["TORCH_HOME"] / "hub" / "checkpoints" / "renamed.pth"
    torch_copy.parent.mkdir(parents=True)
    torch_copy.write_bytes(b"x")
    model_dir = tmp_path / "my" / "models"
    # an explicit model_dir is the only place looked in, as in torch
    out = hub.load_state_dict_from_url(url, model_dir=str(model_dir), file_name="renamed.pth",
                                       progress=False)
    assert out == {"loaded_from": str(model_dir / "renamed.pth")}
    assert (model_dir / "renamed.pth").read_bytes() == b"served"
    assert len(server.requests) == 1
    assert _files(_checkpoints(cache_env)) == []


def test_set_dir_used_for_cache(server, fake_load, tmp_path):
    hub.set_dir(tmp_path / "custom")
    url = server.add("w.pth", b"served")
    hub.load_state_dict_from_url(url, progress=False)
    assert (tmp_path / "custom" / "checkpoints" / "w.pth").read_bytes() == b"served"


def test_check_hash(server, cache_env, fake_load):
    data = _payload()
    good = server.add(f"net-{_sha(data)[:8]}.pth", data)
    hub.load_state_dict_from_url(good, check_hash=True, progress=False)
    assert _files(_checkpoints(cache_env)) == [f"net-{_sha(data)[:8]}.pth"]

    bad = server.add("other-0badbeef.pth", data)
    # without check_hash the name's hash is not verified (torch's default)
    hub.load_state_dict_from_url(bad, model_dir=str(cache_env["EMBER_HOME"] / "x"),
                                 progress=False)
    with pytest.raises(RuntimeError, match='expected "0badbeef"'):
        hub.load_state_dict_from_url(bad, check_hash=True, progress=False)
    assert _files(_checkpoints(cache_env)) == [f"net-{_sha(data)[:8]}.pth"]
    assert len(fake_load) == 2


def test_cache_hit_not_rehashed_like_torch(cache_env, fake_load):
    # torch.hub uses a cached file as is, even with check_hash; ember follows it
    folder = _checkpoints(cache_env)
    folder.mkdir(parents=True)
    (folder / "w-0badbeef.pth").write_bytes(b"whatever")
    hub.load_state_dict_from_url(_refused_url("w-0badbeef.pth"), check_hash=True)
    assert len(fake_load) == 1


def test_offline_message_names_url_and_paths(cache_env, fake_load, capsys):
    url = _refused_url("resnet-12345678.pth")
    with pytest.raises(hub.DownloadError) as err:
        hub.load_state_dict_from_url(url, progress=False)
    msg = str(err.value)
    assert url in msg
    assert str(_checkpoints(cache_env) / "resnet-12345678.pth") in msg
    assert str(cache_env["TORCH_HOME"] / "hub" / "checkpoints" / "resnet-12345678.pth") in msg
    assert _files(_checkpoints(cache_env)) == []
    assert fake_load == []


def test_legacy_single_member_zip(server, fake_load, monkeypatch):
    seen = []

    def load(f, map_location=None, weights_only=True):
        seen.append(f.read())
        return {}

    monkeypatch.setattr(ember.io, "load", load)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inner.pth", b"legacy payload")
    url = server.add("old.zip", buf.getvalue())
    with pytest.warns(FutureWarning, match="old format < 1.6"):
        hub.load_state_dict_from_url(url, progress=False)
    assert seen == [b"legacy payload"]


def test_repo_functions_not_supported():
    for call in (lambda: hub.load("pytorch/vision", "resnet18"),
                 lambda: hub.list("pytorch/vision"),
                 lambda: hub.help("pytorch/vision", "resnet18")):
        with pytest.raises(NotImplementedError, match="GitHub"):
            call()


# -- load_state_dict_from_url with real checkpoints (torch writes, ember.io.load reads) ---------
def _real_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    if not callable(getattr(ember.io, "load", None)):
        pytest.fail("ember.io.load is missing")
    sd = {"weight": torch.randn(4, 3), "bias": torch.arange(4, dtype=torch.int64)}
    path = tmp_path / "made_by_torch.pth"
    torch.save(sd, path)
    return sd, path.read_bytes()


def _same(ours, theirs):
    assert set(ours) == set(theirs)
    for k in theirs:
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k].numpy())


def test_real_download_and_load(server, cache_env, tmp_path):
    sd, data = _real_checkpoint(tmp_path)
    url = server.add(f"tiny-{_sha(data)[:8]}.pth", data)
    _same(hub.load_state_dict_from_url(url, check_hash=True, progress=False), sd)


def test_real_torch_cache_reuse(server, cache_env, tmp_path):
    torch = pytest.importorskip("torch")
    sd, data = _real_checkpoint(tmp_path)
    url = server.add("tiny.pth", data)
    # torch's own hub fills its cache; ember then uses that copy without a request
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.hub.load_state_dict_from_url(url, progress=False, weights_only=True)
    assert len(server.requests) == 1
    _same(hub.load_state_dict_from_url(url, progress=False), sd)
    assert len(server.requests) == 1
