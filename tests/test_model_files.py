"""Model files: what ``Network.save`` writes, and how ``loopnet.load`` treats every file it is handed.

Three promises (docs/model-files.md):
- a round trip is bit-exact, for both dtypes, and keeps the metadata; files of format 1 (loopnet 0.1.0)
  still load;
- ``load`` never unpickles, and any file it cannot trust -- empty, truncated, with flipped bytes, of
  another version, not loopnet's -- gives one ``ValueError`` naming the file and the problem;
- ``save`` is atomic: a crash during a save leaves the previous file whole.

The pickle tests use an object that writes a marker file when it is unpickled, so each shows both that
the payload would have run (unpickled directly) and that ``loopnet.load`` refused the file first.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import loopnet
from loopnet.network import FORMAT_VERSION, READABLE_VERSIONS, read_header

DATA = Path(__file__).parent / "data"


class Payload:
    """Unpickling this object creates the file at ``marker``: the stand-in for code a crafted file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _header(net: loopnet.Network, **changes) -> dict:
    """A format-2 header for ``net``, built here from the format's description (not by loopnet)."""
    little = np.ascontiguousarray(net.params, dtype=net.params.dtype.newbyteorder("<"))
    header = {
        "format": "loopnet",
        "version": FORMAT_VERSION,
        "loopnet_version": loopnet.__version__,
        **net.config(),
        "n_params": net.n_params,
        "checksum": "sha256:" + hashlib.sha256(little.tobytes()).hexdigest(),
        "metadata": {},
    }
    return {**header, **changes}


def _write(path: Path, params, header) -> Path:
    np.savez(path, params=params, header=np.array(json.dumps(header) if isinstance(header, dict) else header))
    return path


def _trained(dtype="float64", **kw) -> tuple[loopnet.Network, np.ndarray]:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(12, 3))
    net = loopnet.Network([3, 5, 2], activation="tanh", output_activation="softmax", loss="cross_entropy",
                          dtype=dtype, seed=1, **kw)  # fmt: skip
    net.fit(X, np.eye(2)[rng.integers(0, 2, 12)], epochs=5, lr=0.3)  # not the initial weights
    return net, X


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_round_trip_is_bit_exact_and_keeps_the_metadata(tmp_path, dtype):
    net, X = _trained(dtype)
    net.metadata = {"features": ["a", "b, quoted", "ç"], "scaling": {"mean": [0.1, -1e-300, 3.0]}, "n": 3}
    path = tmp_path / "net.npz"
    net.save(path)
    back = loopnet.load(path)
    assert back.params.dtype == np.dtype(dtype)
    assert back.params.tobytes() == net.params.tobytes()
    assert back.config() == net.config()
    assert back.metadata == net.metadata
    assert back.forward(X).tobytes() == net.forward(X).tobytes()
    # the file is the format documented above: an outside reader gets the same numbers
    with np.load(path, allow_pickle=False) as data:
        assert sorted(data.files) == ["header", "params"]
        header = json.loads(str(data["header"]))
        assert data["params"].tobytes() == net.params.tobytes()
    net.metadata = {}
    assert header == _header(net, metadata=back.metadata)
    # saving what was loaded writes the same file contents
    again = tmp_path / "again.npz"
    back.save(again)
    with np.load(again) as a, np.load(path) as b:
        assert str(a["header"]) == str(b["header"]) and a["params"].tobytes() == b["params"].tobytes()


def test_read_header_gives_the_header_with_the_checksum_verified(tmp_path):
    net, _ = _trained("float32")
    net.metadata = {"labels": ["no", "yes"]}
    net.save(tmp_path / "m.npz")
    header = read_header(tmp_path / "m.npz")
    assert header["version"] == FORMAT_VERSION and header["loopnet_version"] == loopnet.__version__
    assert header["sizes"] == [3, 5, 2] and header["dtype"] == "float32" and header["n_params"] == 32
    assert header["metadata"] == {"labels": ["no", "yes"]}


@pytest.mark.parametrize("name", ["format1-float64.npz", "format1-float32.npz"])
def test_files_of_format_1_still_load(name):
    """Written by loopnet 0.1.0 (commit f3b5c82) before format 2 existed; read here by NumPy as the oracle."""
    path = DATA / name
    with np.load(path, allow_pickle=False) as data:
        config = json.loads(str(data["config"]))
        params = data["params"]
    assert config.pop("format") == "loopnet" and config.pop("version") == 1
    net = loopnet.load(path)
    assert net.config() == config
    assert net.params.dtype == params.dtype and net.params.tobytes() == params.tobytes()
    assert net.metadata == {}
    header = read_header(path)
    assert header["version"] == 1 and header["checksum"] is None and header["loopnet_version"] is None


def test_save_writes_exactly_the_path_given_and_leaves_no_temporary_file(tmp_path):
    net, _ = _trained()
    for name in ("model", "model.bin", "model.npz"):
        net.save(tmp_path / name)
        net.save(str(tmp_path / name))  # over an existing file, as a str
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "model.bin", "model.npz"]


def test_save_refuses_metadata_that_is_not_json_before_writing(tmp_path):
    net, _ = _trained()
    path = tmp_path / "m.npz"
    net.save(path)
    before = path.read_bytes()
    for bad in ({"x": np.int64(1)}, {"x": float("nan")}, {"x": {1, 2}}, ["a"]):
        net.metadata = bad
        with pytest.raises((ValueError, TypeError), match="metadata"):
            net.save(path)
        assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_save_into_a_missing_folder_is_an_os_error_and_writes_nothing(tmp_path):
    net, _ = _trained()
    with pytest.raises(FileNotFoundError):
        net.save(tmp_path / "no" / "such" / "m.npz")
    assert list(tmp_path.iterdir()) == []


# --- files that cannot be trusted ---------------------------------------------------------------


def _load_error(path) -> str:
    with pytest.raises(ValueError) as info:
        loopnet.load(path)
    message = str(info.value)
    assert repr(os.fspath(path)) in message or os.fspath(path) in message, message
    assert "\n" not in message
    return message


def test_an_empty_file_is_refused_by_name(tmp_path):
    path = tmp_path / "empty.npz"
    path.touch()
    assert "empty" in _load_error(path)


def test_every_truncation_is_refused_by_name(tmp_path):
    net, _ = _trained()
    path = tmp_path / "m.npz"
    net.save(path)
    whole = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in range(len(whole)):
        cut.write_bytes(whole[:n])
        _load_error(cut)


def test_a_flipped_byte_is_refused_or_harmless(tmp_path):
    """Every byte flipped in turn: load refuses, or (bytes zip does not read) gives the same network.

    Inside the parameters' bytes it must always refuse: the checksum is what catches a change there.
    """
    net, _ = _trained()
    path = tmp_path / "m.npz"
    net.save(path)
    whole = path.read_bytes()
    start = whole.index(net.params.tobytes())
    params_bytes = range(start, start + net.params.nbytes)
    bad = tmp_path / "bad.npz"
    refused = 0
    for i in range(len(whole)):
        flipped = bytearray(whole)
        flipped[i] ^= 0x10
        bad.write_bytes(bytes(flipped))
        try:
            back = loopnet.load(bad)
        except ValueError as exc:
            assert repr(str(bad)) in str(exc)
            refused += 1
            continue
        assert i not in params_bytes, f"a flip at byte {i}, inside the parameters, loaded"
        assert back.params.tobytes() == net.params.tobytes() and back.config() == net.config()
    assert refused > len(whole) // 2


def test_the_checksum_catches_parameters_changed_behind_a_valid_zip(tmp_path):
    """Rewritten by NumPy, so zip's own CRC-32 is right: only the checksum can tell."""
    net, _ = _trained()
    changed = net.params.copy()
    changed[7] = np.nextafter(changed[7], np.inf)  # one bit of one parameter
    path = _write(tmp_path / "m.npz", changed, _header(net))
    assert "checksum" in _load_error(path)


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"n_params": 31}, "header says 31 parameters"),
        ({"dtype": "float32"}, "dtype 'float32'"),
        ({"sizes": [3, 4, 2]}, "needs"),
        ({"activation": ["swish"]}, "describes no valid network"),
        ({"metadata": [1]}, "metadata is not a JSON object"),
    ],
)
def test_a_header_that_disagrees_with_the_parameters_is_refused(tmp_path, change, fragment):
    net, _ = _trained()
    path = _write(tmp_path / "m.npz", net.params, _header(net, **change))
    assert fragment in _load_error(path)


@pytest.mark.parametrize("missing", ["checksum", "n_params", "metadata", "sizes", "loss"])
def test_a_header_missing_a_field_is_refused(tmp_path, missing):
    net, _ = _trained()
    header = _header(net)
    del header[missing]
    assert missing in _load_error(_write(tmp_path / "m.npz", net.params, header))


def test_files_that_are_not_loopnet_models_are_refused_by_name(tmp_path):
    cases = {
        "text.npz": b"sizes,activation\n2,relu\n",
        "zip.npz": None,
        "npy.npy": None,
        "other-npz.npz": None,
        "json-list.npz": None,
        "no-json.npz": None,
    }
    for name, raw in cases.items():
        if raw is not None:
            (tmp_path / name).write_bytes(raw)
    with zipfile.ZipFile(tmp_path / "zip.npz", "w") as z:
        z.writestr("hello.txt", "not numpy")
    np.save(tmp_path / "npy.npy", np.ones(3))
    np.savez(tmp_path / "other-npz.npz", a=np.ones(3))
    net, _ = _trained()
    _write(tmp_path / "json-list.npz", net.params, "[1, 2]")
    _write(tmp_path / "no-json.npz", net.params, "{sizes: 1")
    for name in cases:
        assert "not a loopnet model file" in _load_error(tmp_path / name) or "corrupted" in _load_error(
            tmp_path / name
        ), name


def test_a_missing_file_is_an_os_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.npz"):
        loopnet.load(tmp_path / "nothing.npz")


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, FORMAT_VERSION + 7, 0, -3])
def test_other_format_versions_are_refused_naming_both(tmp_path, version):
    net, _ = _trained()
    path = _write(tmp_path / "other.npz", net.params, _header(net, version=version, loopnet_version="9.9"))
    message = _load_error(path)
    age = "newer" if version > FORMAT_VERSION else "older"
    assert f"version {version}, {age}" in message
    assert f"loopnet reads ({', '.join(map(str, READABLE_VERSIONS))})" in message
    assert "written by loopnet 9.9" in message


@pytest.mark.parametrize("version", ["1", 1.0, True, None, [1]])
def test_a_version_that_is_not_a_whole_number_is_refused(tmp_path, version):
    net, _ = _trained()
    path = _write(tmp_path / "odd.npz", net.params, _header(net, version=version))
    assert "not a whole number" in _load_error(path)


@pytest.mark.parametrize(
    "arrays",
    [
        {"params": np.ones((2, 3))},  # 2-D parameters
        {"params": np.arange(3)},  # integers
        {"header": np.array([b"{}"])},  # bytes, 1-D
    ],
    ids=["2-D-params", "int-params", "bytes-header"],
)
def test_entries_of_the_wrong_kind_are_refused(tmp_path, arrays):
    net, _ = _trained()
    entries = {"params": net.params, "header": np.array(json.dumps(_header(net))), **arrays}
    path = tmp_path / "odd.npz"
    np.savez(path, **entries)
    assert "wrong kind" in _load_error(path)


# --- never unpickle -----------------------------------------------------------------------------


def crafted_files(tmp_path: Path, marker: Path) -> dict[str, Path]:
    net = loopnet.Network([3, 2], seed=0)
    payload = np.array([Payload(marker)], dtype=object)
    header = np.array(json.dumps(_header(net)))
    v1 = np.array(json.dumps({"format": "loopnet", "version": 1, **net.config()}))
    files = {
        "pickled params": {"params": payload, "header": header},
        "pickled header": {"params": net.params, "header": payload},
        "pickled format-1 config": {"params": net.params, "config": payload},
        "pickled format-1 params": {"params": payload, "config": v1},
        "extra pickled entry": {"params": net.params, "header": header, "extra": payload},
    }
    paths = {}
    for name, arrays in files.items():
        path = tmp_path / f"{name.replace(' ', '-')}.npz"
        np.savez(path, **arrays)  # np.savez pickles object arrays
        paths[name] = path
    raw = tmp_path / "raw-pickle.npz"
    raw.write_bytes(pickle.dumps(Payload(marker)))
    paths["a bare pickle"] = raw
    npy = tmp_path / "object.npy"
    np.save(npy, payload)
    paths["a pickled .npy"] = npy
    return paths


def test_the_payload_runs_when_unpickled(tmp_path):
    """The witness: unpickling the test's object writes the marker (so the test below can fail)."""
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()
    marker.unlink()
    with np.load(crafted_files(tmp_path, marker)["pickled params"], allow_pickle=True) as data:
        data["params"]
    assert marker.exists()


KINDS = ["pickled params", "pickled header", "pickled format-1 config", "pickled format-1 params",
         "extra pickled entry", "a bare pickle", "a pickled .npy"]  # fmt: skip


@pytest.mark.parametrize("kind", KINDS)
def test_load_refuses_a_file_with_pickled_objects_before_unpickling(tmp_path, kind):
    marker = tmp_path / "ran"
    path = crafted_files(tmp_path, marker)[kind]
    if kind == "extra pickled entry":  # the entries loopnet reads are clean: it never touches the rest
        loopnet.load(path)
    else:
        message = _load_error(path)
        assert "not a loopnet model file" in message
        if kind.startswith("pickled"):
            assert "pickled objects" in message
    assert not marker.exists(), "loopnet.load unpickled an object from the file"


# --- atomic saves -------------------------------------------------------------------------------


def test_a_save_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    old, _ = _trained()
    path = tmp_path / "m.npz"
    old.save(path)
    before = path.read_bytes()
    new, _ = _trained("float32")
    real_savez = np.savez

    def savez_then_fail(file, **arrays):
        real_savez(file, **arrays)
        file.write(b"half")
        raise KeyboardInterrupt  # Ctrl-C arriving in the middle of the save

    monkeypatch.setattr(np, "savez", savez_then_fail)
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


WRITER = textwrap.dedent(
    """
    import sys, numpy as np, loopnet
    path, ready = sys.argv[1], sys.argv[2]
    nets = [loopnet.Network([200, 300, 10], seed=s, backend="numpy") for s in (1, 2)]
    nets[0].save(path)
    open(ready, "w").close()
    i = 0
    while True:  # until killed: alternate between two networks, each save about 0.5 MB
        i += 1
        nets[i % 2].save(path)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_a_process_killed_while_saving_leaves_a_whole_file(tmp_path, sig):
    """Kill a process that saves in a loop at random moments: the file always loads, as one of the two."""
    expected = [loopnet.Network([200, 300, 10], seed=s, backend="numpy").params for s in (1, 2)]
    rng = np.random.default_rng(0)
    path, ready = tmp_path / "m.npz", tmp_path / "ready"
    for _ in range(4):
        ready.unlink(missing_ok=True)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(ready)])
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 0.5))
        proc.send_signal(sig)
        proc.wait(timeout=60)
        params = loopnet.load(path).params
        assert any(params.tobytes() == e.tobytes() for e in expected)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("m.npz", "ready")]
    if sig == signal.SIGINT:  # KeyboardInterrupt: save removes its temporary file
        assert leftovers == []
    else:  # killed outright, no chance to clean up: at most hidden temporaries, never under the real name
        assert all(name.startswith(".m.npz.") and name.endswith(".tmp") for name in leftovers)
