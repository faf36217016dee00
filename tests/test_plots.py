"""Plots: ``History.plot``, ``loopnet demo NAME --plot`` and what happens without matplotlib.

Each figure is rendered to a PNG and read back: a valid image, not blank, whose drawn lines are the
numbers the history holds.
"""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

import loopnet
from loopnet import cli, demos

pytest.importorskip("matplotlib")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png_image(path) -> np.ndarray:
    """A PNG by its signature and header, decodable, of a plausible size, and not one flat colour."""
    from matplotlib import image

    raw = path.read_bytes()
    assert raw[:8] == PNG_SIGNATURE and raw[12:16] == b"IHDR"
    width, height = struct.unpack(">II", raw[16:24])
    assert 200 <= width <= 4000 and 200 <= height <= 4000
    pixels = image.imread(path)
    assert pixels.shape[:2] == (height, width)
    assert pixels[..., :3].std() > 0.01  # something was drawn
    return pixels


def _fit(validation: bool):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), rng.random((40, 1))
    net = loopnet.Network([3, 4, 1], seed=0)
    kw = {"validation": (X[:10], Y[:10])} if validation else {}
    return net.fit(X, Y, epochs=30, lr=0.5, batch_size=8, **kw)


@pytest.mark.parametrize("validation", [False, True])
def test_history_plot_draws_the_loss_and_the_validation_loss(tmp_path, validation):
    history = _fit(validation)
    path = tmp_path / "loss.png"
    fig = history.plot(path, title="a fit")
    assert_png_image(path)
    (ax,) = fig.axes
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == ({"loss", "val_loss"} if validation else {"loss"})
    for name, line in lines.items():
        np.testing.assert_array_equal(line.get_ydata(), history[name])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 31))
    assert ax.get_yscale() == "linear" and ax.get_title() == "a fit" and ax.get_xlabel() == "epoch"
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temporary file left


def test_history_plot_log_scale_into_given_axes_and_other_formats(tmp_path):
    from matplotlib.figure import Figure

    history = _fit(False)
    fig = Figure()
    ax = fig.add_subplot()
    assert history.plot(ax=ax, log=True) is fig
    assert ax.get_yscale() == "log"
    history.plot(tmp_path / "loss.svg")
    assert (tmp_path / "loss.svg").read_text().lstrip().startswith(("<?xml", "<svg"))


def test_history_plot_refuses_nothing_to_draw_and_a_bad_log(tmp_path):
    net = loopnet.Network([2, 1], seed=0)
    empty = net.fit(np.ones((3, 2)), np.ones(3), epochs=0)
    with pytest.raises(ValueError, match="nothing to plot"):
        empty.plot(tmp_path / "x.png")
    with pytest.raises(TypeError, match="log must be True or False"):
        _fit(False).plot(log="yes")
    assert list(tmp_path.iterdir()) == []


def test_without_matplotlib_the_message_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'loopnet\[plot\]'"):
        _fit(False).plot(tmp_path / "x.png")
    assert cli.main(["demo", "three-bit", "--epochs", "5", "--plot", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert "loopnet[plot]" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_demo_plot_saves_seed_001s_error_curve(tmp_path, capsys):
    path = tmp_path / "err.png"
    assert cli.main(["demo", "three-bit", "--epochs", "50", "--plot", str(path)]) == 0
    assert f"wrote the error curve to {path}" in capsys.readouterr().out
    assert_png_image(path)
    # the curve drawn is the demo's loss per epoch
    results = demos.run("three-bit", epochs=50, out=None)
    fig = demos.plot(results, tmp_path / "again.png")
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_ydata(), results[0].history)
    assert "three-bit" in fig.axes[0].get_title()


def test_demo_plot_draws_every_network_of_a_demo(tmp_path):
    results = demos.run("xor", epochs=20, out=None)
    fig = demos.plot(results, tmp_path / "xor.png")
    lines = fig.axes[0].lines
    assert len(lines) == 2
    for line, result in zip(lines, results):
        np.testing.assert_array_equal(line.get_ydata(), result.history)


def test_demo_plot_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo", "--plot", str(tmp_path / "all.png")])
    assert exc.value.code == 2 and "name it" in capsys.readouterr().err
    missing = tmp_path / "no" / "such" / "err.png"
    with pytest.raises(SystemExit) as exc:  # found before the demo runs, a usage error
        cli.main(["demo", "and", "--epochs", "5", "--plot", str(missing)])
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last == f"loopnet: error: argument --plot: no such directory {str(missing.parent)!r}"
    assert not (tmp_path / "no").exists()
