"""The README's Python code runs as written, and says what it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_code_runs_and_prints_what_it_claims(tmp_path, monkeypatch):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)  # the README saves a file
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in blocks:
            exec(compile(block, str(README), "exec"), namespace)
    history, net, X = namespace["history"], namespace["net"], namespace["X"]
    assert history["loss"][0] > 0.7 and history["loss"][-1] < 0.001  # "from ~0.73 to ~0.0007"
    np.testing.assert_array_equal((net.predict(X).ravel() > 0.5), [False, True, True, False])
    assert "[0.    0.999 0.999 0.001]" in printed.getvalue()
    assert (tmp_path / "xor.npz").exists()
    run, model = namespace["run"], namespace["model"]  # the training example
    assert "early_stopping 46 20" in printed.getvalue()
    assert run.best_epoch == int(np.argmin(run["val_loss"])) and len(run["loss"]) == 46
    assert model.loss(namespace["Xs"][500:], namespace["Ys"][500:]) == min(run["val_loss"])
    # the estimator example: "31 0.951, as scikit-learn's own prints" -- so run scikit-learn's
    from sklearn.neural_network import MLPClassifier

    clf, ns = namespace["clf"], namespace
    assert "31 0.951" in printed.getvalue()
    params = {k: v for k, v in clf.get_params().items() if k not in ("dtype", "backend", "class_weight")}
    theirs = MLPClassifier(**params).fit(ns["D_tr"], ns["l_tr"])
    assert (theirs.n_iter_, round(theirs.score(ns["D_te"], ns["l_te"]), 3)) == (31, 0.951)


def test_readme_opens_with_the_two_commands():
    text = README.read_text()
    first_block = re.search(r"```bash\n(.*?)```", text, flags=re.S).group(1)
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["pip install . && loopnet demo", 'pip install ".[test]" && python -m pytest']
    ci = (README.parent / ".ci" / "run").read_text()
    assert "python -m pytest" in ci and '".[test]"' in ci


def _shell_session(heading: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of the first console block under ``heading``, each with the lines it shows."""
    section = README.read_text().split(heading, 1)[1]
    block = re.search(r"```\n(.*?)```", section, flags=re.S).group(1)
    session: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            session.append((line[2:], []))
        else:
            session[-1][1].append(line)
    return session


def test_readme_shell_session_runs_and_prints_what_it_shows(tmp_path):
    """The train / predict session, run as written from a copy of examples/, by the installed command.

    Lines that hold a time (the progress bar, "in 0.8 s") are not compared; the accuracies are held to
    within 0.05 of the README's (other CPUs may round the last bits differently); the rest must match.
    """
    import shlex
    import shutil
    import subprocess
    import sys

    shutil.copytree(README.parent / "examples", tmp_path / "examples")
    session = _shell_session("## From the shell: train, predict, show")
    assert [cmd.split()[:2] for cmd, _ in session] == [["loopnet", "train"], ["loopnet", "predict"],
                                                       ["loopnet", "predict"]]  # fmt: skip
    for command, shown in session:
        argv, _, pipe = command.partition(" | ")
        done = subprocess.run([sys.executable, "-m", "loopnet", *shlex.split(argv)[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr
        printed = (done.stderr + done.stdout).splitlines()
        if pipe:  # "| head -4"
            printed = done.stdout.splitlines()[: int(pipe.split()[-1].lstrip("-"))]
        printed = [line for line in printed if line.strip() and "%|" not in line and "compiling" not in line]
        shown = [line for line in shown if "%|" not in line]
        assert len(printed) == len(shown), (printed, shown)
        for got, want in zip(printed, shown):
            if want.startswith("accuracy"):
                got_values = [float(v) for v in re.findall(r"\d\.\d{4}", got)]
                want_values = [float(v) for v in re.findall(r"\d\.\d{4}", want)]
                np.testing.assert_allclose(got_values, want_values, atol=0.05)
            elif not want.startswith(("epochs", "loss")):
                assert got == want
    assert (tmp_path / "model.npz").is_file() and (tmp_path / "loss.png").is_file()
    assert len((tmp_path / "proba.csv").read_text().splitlines()) == 21
