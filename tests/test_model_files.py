"""Model files: ``loopnet.load`` never unpickles, and refuses other format versions by name.

A file that holds a pickled object could run any code when unpickled. The object below writes a marker
file when it is unpickled, so each test shows both that it would have run (unpickled directly) and that
``loopnet.load`` refused the file before it could.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import loopnet
from loopnet.network import FORMAT_VERSION


class Payload:
    """Unpickling this object creates the file at ``marker``: the stand-in for code a crafted file runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _config(net: loopnet.Network, **changes) -> np.ndarray:
    return np.array(json.dumps({"format": "loopnet", "version": FORMAT_VERSION, **net.config(), **changes}))


def crafted_files(tmp_path: Path, marker: Path) -> dict[str, Path]:
    net = loopnet.Network([3, 2], seed=0)
    payload = np.array([Payload(marker)], dtype=object)
    files = {
        "pickled params": {"params": payload, "config": _config(net)},
        "pickled config": {"params": net.params, "config": payload},
        "extra pickled entry": {"params": net.params, "config": _config(net), "extra": payload},
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


@pytest.mark.parametrize(
    "kind", ["pickled params", "pickled config", "extra pickled entry", "a bare pickle", "a pickled .npy"]
)
def test_load_refuses_a_file_with_pickled_objects_before_unpickling(tmp_path, kind):
    marker = tmp_path / "ran"
    path = crafted_files(tmp_path, marker)[kind]
    if kind == "extra pickled entry":  # the entries loopnet reads are clean: it never touches the rest
        loopnet.load(path)
    else:
        with pytest.raises(ValueError, match="is not a loopnet network file") as info:
            loopnet.load(path)
        if kind.startswith("pickled"):
            assert "pickled objects" in str(info.value)
    assert not marker.exists(), "loopnet.load unpickled an object from the file"


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, FORMAT_VERSION + 7, FORMAT_VERSION - 1, 0, -3])
def test_load_refuses_other_format_versions_naming_both(tmp_path, version):
    net = loopnet.Network([3, 2], seed=0)
    path = tmp_path / "other.npz"
    np.savez(path, params=net.params, config=_config(net, version=version))
    age = "newer" if version > FORMAT_VERSION else "older"
    with pytest.raises(ValueError, match="format version") as info:
        loopnet.load(path)
    message = str(info.value)
    assert f"version {version}, {age}" in message
    assert f"loopnet reads ({FORMAT_VERSION})" in message


@pytest.mark.parametrize("version", ["1", 1.0, True, None, [1]])
def test_load_refuses_a_version_that_is_not_a_whole_number(tmp_path, version):
    net = loopnet.Network([3, 2], seed=0)
    path = tmp_path / "odd.npz"
    np.savez(path, params=net.params, config=_config(net, version=version))
    with pytest.raises(ValueError, match="not a whole number"):
        loopnet.load(path)


def test_load_reads_its_own_version(tmp_path):
    net = loopnet.Network([3, 4, 2], activation="tanh", seed=1)
    path = tmp_path / "net.npz"
    net.save(path)
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["config"]))["version"] == FORMAT_VERSION
    np.testing.assert_array_equal(loopnet.load(path).params, net.params)


@pytest.mark.parametrize(
    "arrays",
    [
        {"params": np.ones((2, 3)), "config": None},  # 2-D parameters
        {"params": np.arange(3), "config": None},  # integers
        {"params": np.ones(3), "config": np.array([b"{}"])},  # bytes, 1-D
    ],
    ids=["2-D-params", "int-params", "bytes-config"],
)
def test_load_refuses_entries_of_the_wrong_kind(tmp_path, arrays):
    net = loopnet.Network([2, 1], seed=0)
    path = tmp_path / "odd.npz"
    np.savez(path, **{k: (_config(net) if v is None else v) for k, v in arrays.items()})
    with pytest.raises(ValueError, match="is not a loopnet network file"):
        loopnet.load(path)
