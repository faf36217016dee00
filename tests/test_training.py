"""Training beyond plain SGD: the optimizers against torch.optim, schedules, validation, early stopping,
sample weights, chunks, callbacks, progress, Ctrl-C, and the checks on what the user hands in.

The path matrix (test_paths.py) holds every route to the update rules written out by hand, with sample
weights, validation and early stopping; here the outside oracles are PyTorch's optimizers and schedulers
and scikit-learn's learning-rate schedule, and the tests are about the training loop's behaviour.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import backend_name, import_torch

import loopnet
from loopnet import training

BACKENDS = ["loops", "loops-blocked", "numpy", "plain"]


def data(rows=20, n0=3, nL=2, seed=0, classes=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, n0))
    Y = np.eye(nL)[rng.integers(0, nL, rows)] if classes else rng.normal(size=(rows, nL))
    return X, Y


def network(backend, sizes=(3, 6, 2), classes=False, seed=0, **kwargs):
    kind = {"output_activation": "softmax", "loss": "cross_entropy"} if classes else {
        "output_activation": "identity", "loss": "mse"}  # fmt: skip
    return loopnet.Network(list(sizes), backend=backend_name(backend), seed=seed,
                           **{"activation": "tanh", **kind, **kwargs})  # fmt: skip


# --- the update rules against torch.optim ------------------------------------------------------------

RULES = {
    "sgd-momentum": (loopnet.SGD, {"momentum": 0.9}),
    "sgd-nesterov-decay": (loopnet.SGD, {"momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    "sgd-dampening": (loopnet.SGD, {"momentum": 0.7, "dampening": 0.3, "weight_decay": 0.05}),
    "sgd-decay-only": (loopnet.SGD, {"weight_decay": 0.2}),
    "adam": (loopnet.Adam, {}),
    "adam-decay": (loopnet.Adam, {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    "adamw": (loopnet.AdamW, {"weight_decay": 0.3}),
}


def torch_optimizer(torch, name, groups, lr):
    cls, kw = RULES[name]
    kw = dict(kw)
    wd = kw.pop("weight_decay", 1e-2 if cls is loopnet.AdamW else 0.0)
    groups[0]["weight_decay"] = wd  # weights; biases keep 0 (docs/design.md: decay on weights only)
    groups[1]["weight_decay"] = 0.0
    if cls is loopnet.SGD:
        return torch.optim.SGD(groups, lr=lr, **kw)
    return (torch.optim.Adam if cls is loopnet.Adam else torch.optim.AdamW)(groups, lr=lr, **kw)


def torch_train(net, X, Y, name, lr, epochs, batch, w, classes):
    """The same steps in PyTorch: batches in row order, the loss as docs/design.md defines it, weighted."""
    torch = import_torch()
    Ws = [torch.tensor(W.T.copy(), requires_grad=True) for W, _ in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for _, b in net.weights]
    opt = torch_optimizer(torch, name, [{"params": Ws}, {"params": bs}], lr)
    Xt, Yt, wt = torch.from_numpy(X), torch.from_numpy(Y), torch.from_numpy(w)
    N = X.shape[0]
    B = N if batch is None else batch
    for _ in range(epochs):
        for start in range(0, N, B):
            x, y, ww = Xt[start : start + B], Yt[start : start + B], wt[start : start + B]
            a = x
            for l, (W, b) in enumerate(zip(Ws, bs)):
                z = torch.nn.functional.linear(a, W, b)
                a = torch.tanh(z) if l < len(Ws) - 1 else z
            if classes:
                per_row = -(y * torch.log_softmax(a, dim=1)).sum(dim=1)
            else:
                per_row = ((a - y) ** 2).mean(dim=1)
            loss = (ww * per_row).sum() / ww.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return [(W.detach().numpy().T, b.detach().numpy()) for W, b in zip(Ws, bs)]


@pytest.mark.parametrize("batch", [None, 7], ids=["full-batch", "batches-of-7"])
@pytest.mark.parametrize("name", list(RULES))
@pytest.mark.parametrize("backend", BACKENDS)
def test_optimizers_equal_torch_optim_after_50_steps(backend, name, batch):
    """Same initial weights, batches in row order (shuffle=False), 50 or 51 steps: 1e-10 in float64."""
    classes = "adam" in name
    X, Y = data(classes=classes)
    w = np.random.default_rng(5).integers(1, 4, X.shape[0]).astype(float) if "decay" in name else np.ones(20)
    net = network(backend, classes=classes)
    lr = 0.01 if "adam" in name else 0.05
    epochs = 50 if batch is None else 17  # 17 epochs of 3 batches (7, 7, 6 rows)
    want = torch_train(net, X, Y, name, lr, epochs, batch, w, classes)
    cls, kw = RULES[name]
    history = net.fit(X, Y, epochs=epochs, batch_size=batch, optimizer=cls(lr, **kw), shuffle=False,
                      sample_weight=w)  # fmt: skip
    assert history.stopped == "completed" and len(history["loss"]) == epochs
    scale = max(np.abs(W).max() for W, _ in want)
    for (W, b), (tW, tb) in zip(net.weights, want):
        assert np.abs(W - tW).max() <= 1e-10 * scale, f"{name}: W off by {np.abs(W - tW).max() / scale:.1e}"
        assert np.abs(b - tb).max() <= 1e-10 * scale, f"{name}: b off by {np.abs(b - tb).max() / scale:.1e}"
    moved = max(np.abs(W - W0).max() for (W, _), (W0, _) in zip(net.weights, network(backend).weights))
    assert moved > 1e-3, "the run did not train: the comparison proves nothing"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sgd-nesterov-decay", "adam", "adamw"])
def test_an_optimizer_keeps_its_state_between_fits(backend, name):
    """Two fits with one optimizer object equal one longer fit; a new object starts fresh."""
    X, Y = data()
    cls, kw = RULES[name]
    one = network(backend)
    one.fit(X, Y, epochs=10, batch_size=6, optimizer=cls(0.02, **kw), shuffle=False)
    two = network(backend)
    opt = cls(0.02, **kw)
    two.fit(X, Y, epochs=4, batch_size=6, optimizer=opt, shuffle=False)
    assert opt.steps == 4 * 4
    two.fit(X, Y, epochs=6, batch_size=6, optimizer=opt, shuffle=False)
    np.testing.assert_allclose(two.params, one.params, rtol=0, atol=1e-14)
    fresh = network(backend)
    fresh.fit(X, Y, epochs=4, batch_size=6, optimizer=cls(0.02, **kw), shuffle=False)
    fresh.fit(X, Y, epochs=6, batch_size=6, optimizer=cls(0.02, **kw), shuffle=False)
    assert np.abs(fresh.params - one.params).max() > 1e-6, "a new optimizer object must start fresh"


def test_an_optimizer_belongs_to_one_network():
    X, Y = data()
    opt = loopnet.Adam()
    first = network("loops")
    first.fit(X, Y, epochs=1, optimizer=opt)
    other = network("loops")
    before = other.params.copy()
    with pytest.raises(ValueError, match="another network"):
        other.fit(X, Y, epochs=1, optimizer=opt)
    np.testing.assert_array_equal(other.params, before)
    opt.reset()
    other.fit(X, Y, epochs=1, optimizer=opt)
    assert opt.steps == 1


# --- schedules -----------------------------------------------------------------------------------------


def test_named_schedules_equal_torch_and_scikit_learn():
    torch = import_torch()
    sklearn_opt = pytest.importorskip("sklearn.neural_network._stochastic_optimizers")
    lr, epochs, N = 0.1, 30, 17
    param = torch.nn.Parameter(torch.zeros(1))
    for name, make in (
        ("step", lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=epochs // 3, gamma=0.1)),
        ("cosine", lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=epochs)),
    ):
        opt = torch.optim.SGD([param], lr=lr)
        sched = make(opt)
        want = []
        for _ in range(epochs):
            want.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        np.testing.assert_allclose(loopnet.learning_rates(name, lr, epochs), want, rtol=1e-13, err_msg=name)
    # scikit-learn's invscaling: learning_rate_init / (t + 1) ** power_t, t = samples seen after each epoch
    sk = sklearn_opt.SGDOptimizer([np.zeros(1)], learning_rate_init=lr, lr_schedule="invscaling", power_t=0.5)
    want = []
    for e in range(epochs):
        want.append(sk.learning_rate)
        sk.iteration_ends((e + 1) * N)
    np.testing.assert_allclose(
        loopnet.learning_rates("invscaling", lr, epochs, n_samples=N), want, rtol=1e-13
    )
    np.testing.assert_array_equal(loopnet.learning_rates("constant", lr, 4), [lr] * 4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_epoch_steps_with_its_own_learning_rate(backend):
    """Full-batch SGD with a schedule array: the same as one fit per epoch at that epoch's rate."""
    X, Y = data()
    lrs = np.array([0.3, 0.1, 0.02, 0.2])
    net = network(backend)
    history = net.fit(X, Y, epochs=4, schedule=lrs, optimizer=loopnet.SGD(0.3))
    np.testing.assert_array_equal(history["lr"], lrs)
    by_hand = network(backend)
    for lr in lrs:
        by_hand.fit(X, Y, epochs=1, lr=float(lr))
    np.testing.assert_allclose(net.params, by_hand.params, rtol=0, atol=1e-15)
    named = network(backend).fit(X, Y, epochs=6, schedule="cosine", optimizer=loopnet.Adam(0.01))
    np.testing.assert_array_equal(named["lr"], loopnet.learning_rates("cosine", 0.01, 6))


# --- validation and early stopping ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_val_loss_is_the_loss_on_the_validation_rows_after_each_epoch(backend):
    X, Y = data(rows=30)
    Xv, Yv = data(rows=11, seed=9)
    net = network(backend)
    history = net.fit(X, Y, epochs=5, optimizer=loopnet.Adam(0.05), validation=(Xv, Yv))
    step = network(backend)
    opt = loopnet.Adam(0.05)
    want = []
    for _ in range(5):
        step.fit(X, Y, epochs=1, optimizer=opt)
        want.append(step.loss(Xv, Yv))
    np.testing.assert_allclose(history["val_loss"], want, rtol=1e-13)
    assert history.best_epoch == int(np.argmin(want))
    assert set(history) == {"loss", "val_loss", "lr", "seconds"}
    assert np.all(history["seconds"] > 0)


def stop_epoch(values, patience, min_delta):
    """Early stopping's rule, written out: (epochs run, best epoch) over a recorded history."""
    best, best_epoch, wait = math.inf, None, 0
    for e, v in enumerate(values):
        if v < best - min_delta:
            best, best_epoch, wait = v, e, 0
        else:
            wait += 1
            if wait >= patience:
                return e + 1, best_epoch
    return len(values), best_epoch


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("monitor", ["val_loss", "loss"])
def test_early_stopping_stops_by_its_rule_and_restores_the_best_epoch(backend, monitor):
    """A run that overfits (few rows, a wide net, Adam) stops where the rule applied to the full history
    says, and holds the parameters of the best epoch: those of a fresh run that length."""
    X, Y = data(rows=8)
    Xv, Yv = data(rows=40, seed=3)
    kw = dict(batch_size=3, validation=(Xv, Yv))
    full = network(backend, sizes=(3, 32, 2)).fit(X, Y, epochs=300, optimizer=loopnet.Adam(0.05), **kw)
    patience, min_delta = 5, 1e-4
    ran, best = stop_epoch(full[monitor], patience, min_delta)
    assert ran < 300, "the run never stopped improving: pick a case that overfits"
    net = network(backend, sizes=(3, 32, 2))
    stop = loopnet.EarlyStopping(patience=patience, min_delta=min_delta, monitor=monitor)
    history = net.fit(X, Y, epochs=300, optimizer=loopnet.Adam(0.05), early_stopping=stop, **kw)
    assert history.stopped == "early_stopping"
    assert len(history["loss"]) == ran and history.best_epoch == best
    np.testing.assert_array_equal(history["loss"], full["loss"][:ran])
    at_best = network(backend, sizes=(3, 32, 2))
    at_best.fit(X, Y, epochs=best + 1, optimizer=loopnet.Adam(0.05), **kw)
    np.testing.assert_array_equal(net.params, at_best.params)
    keep_last = network(backend, sizes=(3, 32, 2))
    stop = loopnet.EarlyStopping(patience=patience, min_delta=min_delta, monitor=monitor, restore_best=False)
    keep_last.fit(X, Y, epochs=300, optimizer=loopnet.Adam(0.05), early_stopping=stop, **kw)
    last = network(backend, sizes=(3, 32, 2))
    last.fit(X, Y, epochs=ran, optimizer=loopnet.Adam(0.05), **kw)
    np.testing.assert_array_equal(keep_last.params, last.params)


# --- sample weights -------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("loss", ["sse", "mse", "bce", "cross_entropy"])
def test_integer_sample_weights_equal_repeated_rows(backend, loss):
    out = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(loss, "identity")
    X, _ = data(rows=9)
    rng = np.random.default_rng(2)
    Y = np.eye(2)[rng.integers(0, 2, 9)] if loss == "cross_entropy" else rng.random((9, 2))
    w = np.array([0, 1, 3, 2, 0, 1, 1, 4, 2])
    Xr, Yr = np.repeat(X, w, axis=0), np.repeat(Y, w, axis=0)
    nets = [network(backend, output_activation=out, loss=loss) for _ in range(2)]
    assert nets[0].loss(X, Y, sample_weight=w) == pytest.approx(nets[1].loss(Xr, Yr), rel=1e-13)
    for (dW, db), (rW, rb) in zip(nets[0].gradients(X, Y, sample_weight=w), nets[1].gradients(Xr, Yr)):
        np.testing.assert_allclose(dW, rW, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, rb, rtol=1e-12, atol=1e-15)
    w_before = w.copy()
    h0 = nets[0].fit(X, Y, epochs=5, optimizer=loopnet.Adam(0.05), sample_weight=w)
    h1 = nets[1].fit(Xr, Yr, epochs=5, optimizer=loopnet.Adam(0.05))
    np.testing.assert_allclose(h0["loss"], h1["loss"], rtol=1e-12)
    np.testing.assert_allclose(nets[0].params, nets[1].params, rtol=1e-11, atol=1e-14)
    np.testing.assert_array_equal(w, w_before)


# --- chunks, callbacks, progress, Ctrl-C ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_chunks_do_not_change_the_numbers(backend):
    """Every epoch in one compiled call, or one call per epoch or so: bit for bit the same run."""
    X, Y = data(rows=25)
    Xv, Yv = data(rows=5, seed=4)
    runs = []
    for chunk_seconds in (math.inf, 1e-9):
        net = network(backend)
        stop = loopnet.EarlyStopping(patience=3, monitor="val_loss")
        opt = loopnet.SGD(0.05, momentum=0.9)
        history = training.fit(net, X, Y, 40, None, 4, optimizer=opt, validation=(Xv, Yv),
                               early_stopping=stop, chunk_seconds=chunk_seconds)  # fmt: skip
        runs.append((net.params.copy(), dict(history), history.stopped, history.best_epoch))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for key in ("loss", "val_loss", "lr"):
        np.testing.assert_array_equal(runs[0][1][key], runs[1][1][key])
    assert runs[0][2:] == runs[1][2:]


@pytest.mark.parametrize("schedule", [None, "cosine", "step", "invscaling", "array"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_history_grown_chunk_by_chunk_changes_no_number(backend, schedule, monkeypatch):
    """The per-epoch arrays start at HISTORY_SIZE epochs and double as the chunks need: with room for 3
    epochs and a chunk of about one epoch, a 40-epoch fit grows them four times (3, 6, 12, 24, 40), and
    gives the numbers of one compiled call that had all 40 from the start."""
    X, Y = data(rows=25)
    Xv, Yv = data(rows=5, seed=4)
    rates = np.linspace(0.05, 0.01, 40) if schedule == "array" else schedule
    runs = []
    for history_size, chunk_seconds in ((training.HISTORY_SIZE, math.inf), (3, 1e-9)):
        monkeypatch.setattr(training, "HISTORY_SIZE", history_size)
        net = network(backend)
        history = training.fit(net, X, Y, 40, None, 4, optimizer=loopnet.SGD(0.05, momentum=0.9),
                               schedule=rates, validation=(Xv, Yv), chunk_seconds=chunk_seconds)  # fmt: skip
        runs.append((net.params.copy(), dict(history)))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for key in ("loss", "val_loss", "lr"):
        assert runs[1][1][key].shape == (40,)
        np.testing.assert_array_equal(runs[0][1][key], runs[1][1][key])
    if schedule is None:
        expected = np.full(40, 0.05)
    elif schedule == "array":
        expected = rates
    else:
        expected = loopnet.learning_rates(schedule, 0.05, 40, n_samples=25)
    np.testing.assert_array_equal(runs[1][1]["lr"], expected)


def test_epochs_asked_for_cost_nothing_until_they_run():
    """A fit asked for 10**12 epochs (8 TB of losses, if allocated) and stopped by a callback: memory for
    the epochs run. Before the history grew by chunks, this raised MemoryError before training."""
    X, Y = data()

    def enough(net, history):
        return len(history["loss"]) >= 5

    net = network("loops")
    history = net.fit(X, Y, epochs=10**12, optimizer=loopnet.Adam(0.01), schedule="cosine", callbacks=enough)
    assert history.stopped == "callback" and 5 <= len(history["loss"]) <= training.HISTORY_SIZE
    assert history["loss"].base is None or history["loss"].base.nbytes <= 8 * training.HISTORY_SIZE
    e = np.arange(len(history["lr"]))
    np.testing.assert_allclose(history["lr"], 0.01 * (1 + np.cos(np.pi * e / 10**12)) / 2, rtol=1e-15)


def test_callbacks_see_the_network_and_history_and_can_stop():
    X, Y = data()
    seen = []

    def watch(net, history):
        seen.append((len(history["loss"]), net.params.copy()))
        return len(history["loss"]) >= 3

    net = network("loops")
    history = training.fit(net, X, Y, 100, 0.1, None, callbacks=[watch], chunk_seconds=1e-9)
    assert history.stopped == "callback"
    n = len(history["loss"])
    assert n >= 3 and seen[-1][0] == n
    same = network("loops")
    same.fit(X, Y, epochs=n, lr=0.1)
    np.testing.assert_array_equal(net.params, same.params)  # the network and the history agree
    np.testing.assert_array_equal(seen[-1][1], same.params)


def test_every_callback_sees_the_chunk_that_one_of_them_stops():
    X, Y = data()
    calls = {"first": 0, "second": 0}

    def first(net, history):
        calls["first"] += 1
        return True

    def second(net, history):
        calls["second"] += 1

    history = network("loops").fit(X, Y, epochs=50, lr=0.1, callbacks=[first, second])
    assert history.stopped == "callback" and calls == {"first": 1, "second": 1}


def test_an_exception_in_a_callback_propagates_with_the_network_at_a_completed_epoch():
    X, Y = data()
    count = []

    def boom(net, history):
        count.append(len(history["loss"]))
        if len(count) == 2:
            raise RuntimeError("from the callback")

    net = network("loops")
    with pytest.raises(RuntimeError, match="from the callback"):
        training.fit(net, X, Y, 100, 0.1, None, callbacks=boom, chunk_seconds=1e-9)
    same = network("loops")
    same.fit(X, Y, epochs=count[-1], lr=0.1)
    np.testing.assert_array_equal(net.params, same.params)


def test_progress_bar_shows_epochs_and_losses(capsys):
    X, Y = data()
    Xv, Yv = data(rows=5, seed=1)
    network("loops").fit(X, Y, epochs=30, lr=0.1, validation=(Xv, Yv), progress=True)
    err = capsys.readouterr().err
    assert "30/30" in err and "loss=" in err and "val_loss=" in err and "epoch/s" in err
    network("loops").fit(X, Y, epochs=3, lr=0.1)
    assert capsys.readouterr().err == ""


@pytest.fixture
def ctrl_c_interrupts():
    """Python's own SIGINT handler for the test: a job started in the background inherits Ctrl-C ignored,
    and fit leaves an ignored Ctrl-C ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_stops_at_the_end_of_a_chunk_with_network_and_history_agreeing(ctrl_c_interrupts):
    X, Y = data()
    calls = []

    def press_ctrl_c(net, history):
        calls.append(len(history["loss"]))
        if len(calls) == 3:
            signal.raise_signal(signal.SIGINT)

    net = network("loops")
    with pytest.warns(UserWarning, match="interrupted by Ctrl-C"):
        history = training.fit(net, X, Y, 10_000, 0.1, None, callbacks=[press_ctrl_c], chunk_seconds=1e-9)
    assert history.stopped == "interrupted" and len(history["loss"]) == calls[-1] < 10_000
    same = network("loops")
    same.fit(X, Y, epochs=calls[-1], lr=0.1)
    np.testing.assert_array_equal(net.params, same.params)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back after the fit


def test_an_ignored_ctrl_c_stays_ignored(ctrl_c_interrupts):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    seen = []
    network("loops").fit(*data(), epochs=3, lr=0.1, callbacks=lambda net, h: seen.append(signal.getsignal(2)))
    assert seen and all(handler == signal.SIG_IGN for handler in seen)


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import signal, sys, warnings, numpy as np, loopnet
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with Ctrl-C ignored
    X = np.random.default_rng(0).normal(size=(300, 20)); Y = np.tanh(X[:, :2])
    net = loopnet.Network([20, 64, 2], activation="tanh", output_activation="identity", loss="mse", seed=0)
    net.fit(X[:4], Y[:4], epochs=1, lr=0.01)  # compiled before the parent's Ctrl-C
    started = []

    def say_training(net, history):  # the parent presses Ctrl-C once the chunks have begun
        if not started:
            started.append(print("TRAINING", flush=True))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = net.fit(X, Y, epochs=10_000_000, lr=0.01, batch_size=32, callbacks=[say_training])
    n = len(history["loss"])
    again = loopnet.Network([20, 64, 2], activation="tanh", output_activation="identity", loss="mse", seed=0)
    again.fit(X[:4], Y[:4], epochs=1, lr=0.01)
    again.fit(X, Y, epochs=n, lr=0.01, batch_size=32)
    print("STOPPED", history.stopped, n, bool(np.array_equal(net.params, again.params)),
          any("Ctrl-C" in str(w.message) for w in caught))
    """
)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_a_real_ctrl_c_in_the_middle_of_a_chunk():
    pipe = subprocess.PIPE
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT], stdout=pipe, stderr=pipe, text=True)
    try:
        # Waiting for a line the first chunk prints, not a fixed sleep: allocating ten million epochs'
        # records can take longer than a second on a loaded machine, and Ctrl-C before the chunks
        # begin is an ordinary KeyboardInterrupt.
        assert proc.stdout.readline().strip() == "TRAINING"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    stopped = out.split("STOPPED", 1)[1].split()
    assert stopped[0] == "interrupted" and int(stopped[1]) > 0
    assert stopped[2:] == ["True", "True"], out


# --- what the user hands in ---------------------------------------------------------------------------------

BAD_OPTIMIZERS = [
    (lambda: loopnet.SGD(lr=-0.1), ValueError, "lr"),
    (lambda: loopnet.SGD(lr=float("nan")), ValueError, "lr"),
    (lambda: loopnet.SGD(momentum=-0.5), ValueError, "momentum"),
    (lambda: loopnet.SGD(momentum=float("nan")), ValueError, "momentum"),
    (lambda: loopnet.SGD(nesterov=True), ValueError, "Nesterov"),
    (lambda: loopnet.SGD(momentum=0.9, nesterov=True, dampening=0.1), ValueError, "Nesterov"),
    (lambda: loopnet.SGD(weight_decay=-1e-3), ValueError, "weight_decay"),
    (lambda: loopnet.SGD(lr="fast"), TypeError, "lr"),
    (lambda: loopnet.Adam(betas=(1.0, 0.999)), ValueError, "beta1"),
    (lambda: loopnet.Adam(betas=(0.9, -0.1)), ValueError, "beta2"),
    (lambda: loopnet.Adam(betas=(0.9, float("nan"))), ValueError, "beta2"),
    (lambda: loopnet.Adam(betas=0.9), TypeError, "betas"),
    (lambda: loopnet.Adam(eps=-1e-8), ValueError, "eps"),
    (lambda: loopnet.Adam(eps=float("inf")), ValueError, "eps"),
    (lambda: loopnet.Adam(eps_hat="yes"), TypeError, "eps_hat"),
    (lambda: loopnet.AdamW(weight_decay=float("nan")), ValueError, "weight_decay"),
    (lambda: loopnet.EarlyStopping(patience=0), ValueError, "patience"),
    (lambda: loopnet.EarlyStopping(min_delta=-1.0), ValueError, "min_delta"),
    (lambda: loopnet.EarlyStopping(monitor="accuracy"), ValueError, "monitor"),
]


@pytest.mark.parametrize("make, error, match", BAD_OPTIMIZERS)
def test_bad_hyperparameters_are_refused(make, error, match):
    with pytest.raises(error, match=match):
        make()


X0, Y0 = data()
BAD_FITS = [
    ({"schedule": np.full(9, 0.1)}, ValueError, "one learning rate per epoch"),
    ({"schedule": np.array([0.1] * 9 + [0.0])}, ValueError, "> 0"),
    ({"schedule": np.array([0.1] * 9 + [np.nan])}, ValueError, "finite"),
    ({"schedule": "exponential"}, ValueError, "unknown schedule"),
    ({"validation": (X0[:, :2], Y0)}, ValueError, "X_val must have 3 columns"),
    ({"validation": (X0, Y0[:5])}, ValueError, "same number of samples"),
    ({"validation": X0}, TypeError, "validation must be a pair"),
    ({"sample_weight": -np.ones(20)}, ValueError, ">= 0"),
    ({"sample_weight": np.r_[np.ones(19), np.inf]}, ValueError, "finite"),
    ({"sample_weight": np.zeros(20)}, ValueError, "zero everywhere"),
    ({"sample_weight": np.ones(19)}, ValueError, r"shape \(20,\)"),
    ({"callbacks": [print, 3]}, TypeError, "callable"),
    ({"early_stopping": loopnet.EarlyStopping()}, ValueError, "needs validation"),
    ({"early_stopping": 5}, TypeError, "EarlyStopping"),
    ({"optimizer": "adam"}, TypeError, "optimizer"),
    ({"optimizer": loopnet.Adam(), "lr": 0.1}, ValueError, "pass the learning rate to the optimizer"),
    ({"shuffle": "yes"}, TypeError, "shuffle"),
    ({"l2": -0.1}, ValueError, "l2"),
    ({"l2": "some"}, TypeError, "l2"),
]


@pytest.mark.parametrize("backend", ["loops", "numpy"])
@pytest.mark.parametrize("kwargs, error, match", BAD_FITS)
def test_bad_fit_arguments_are_refused_before_training(backend, kwargs, error, match):
    net = network(backend)
    before = net.params.copy()
    X, Y = X0.copy(), Y0.copy()
    with pytest.raises(error, match=match):
        net.fit(X, Y, epochs=10, **kwargs)
    np.testing.assert_array_equal(net.params, before)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_divergence_error_is_a_value_error_with_the_history():
    X, Y = data()
    net = network("loops", activation="identity", output_activation="identity", loss="sse")
    with pytest.raises(ValueError, match="diverged in epoch") as caught:
        net.fit(X * 1e3, Y, epochs=50, lr=10.0)
    assert isinstance(caught.value, loopnet.DivergenceError)
    assert caught.value.history.stopped == "diverged"
    assert len(caught.value.history["loss"]) == caught.value.epoch
    assert np.all(np.isfinite(net.params))


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_overflowing_parameter_stops_training(backend):
    """float32, full batch: the first step overflows every weight to inf while the epoch's loss (measured
    before the step) was finite; the parameter check alone catches it, and the initial weights come back."""
    X, Y = data()
    net = network(backend, activation="identity", dtype="float32")
    before = net.params.copy()
    with pytest.raises(loopnet.DivergenceError, match="diverged in epoch 1 ") as caught:
        net.fit(X, Y, epochs=3, lr=1e300)
    assert caught.value.epoch == 0 and len(caught.value.history["loss"]) == 0
    np.testing.assert_array_equal(net.params, before)


# --- the stopping rules at their edges ----------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("monitor", ["loss", "val_loss"])
def test_an_epoch_that_ties_the_best_is_no_improvement(backend, monitor):
    """EarlyStopping's rule: an epoch improves when it is below the best by more than min_delta, so a tie
    does not. Zero weights and targets whose columns sum to 0 over the full batch make every gradient
    exactly 0 (a = 0, the output deltas +-1/8 cancel, tanh(0) = 0 hides the rest): the parameters never
    move, every epoch's loss is mean(Y^2) = 1 exactly, and the run stops after 1 + patience epochs."""
    net = network(backend)
    net.set_weights([(np.zeros_like(W), np.zeros_like(b)) for W, b in net.weights])
    X, _ = data(rows=8)
    Y = np.array([[1.0, -1.0], [-1.0, 1.0]] * 4)
    stop = loopnet.EarlyStopping(patience=3, monitor=monitor)
    history = net.fit(X, Y, epochs=50, optimizer=loopnet.Adam(0.1), validation=(X, Y), early_stopping=stop)
    np.testing.assert_array_equal(history["loss"], [1.0] * 4)
    np.testing.assert_array_equal(history["val_loss"], [1.0] * 4)
    assert history.stopped == "early_stopping" and history.best_epoch == 0
    assert not np.any(net.params)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["sgd-momentum", "adam"])
def test_divergence_puts_back_the_optimizer_state_of_the_last_finite_epoch(backend, name):
    """DivergenceError leaves the optimizer as it was after the last finite epoch, not only the network: its
    step count is that epoch's (counted by hand: two epochs of three batches), and a fit continuing with the
    same optimizer object equals torch.optim running the two finite epochs and the three more as one run."""
    X, Y = data()
    cls, kw = RULES[name]
    lr = 0.01 if "adam" in name else 0.05
    start = network(backend)  # the initial weights, for torch
    net = network(backend)
    opt = cls(lr, **kw)
    lrs = np.array([lr, lr, 1e300, 1e300])  # the first step of epoch 2 sends the weights to ~1e300
    with pytest.raises(loopnet.DivergenceError) as caught:
        net.fit(X, Y, epochs=4, batch_size=7, optimizer=opt, schedule=lrs, shuffle=False)
    assert caught.value.epoch == 2
    assert opt.steps == 2 * 3, "the optimizer kept the diverged epoch's steps"
    net.fit(X, Y, epochs=3, batch_size=7, optimizer=opt, shuffle=False)
    assert opt.steps == 5 * 3
    want = torch_train(start, X, Y, name, lr, 5, 7, np.ones(X.shape[0]), classes=False)
    scale = max(np.abs(W).max() for W, _ in want)
    for (W, b), (tW, tb) in zip(net.weights, want):
        assert np.abs(W - tW).max() <= 1e-10 * scale and np.abs(b - tb).max() <= 1e-10 * scale


def test_the_ctrl_c_handler_is_put_back_when_fit_raises():
    """fit puts back whatever SIGINT handler it found, also when it ends by an exception (a divergence, a
    callback's error): the oracle is a handler this test installs."""
    X, Y = data()

    def mine(signum, frame):  # pragma: no cover - never called
        pass

    def boom(net, history):
        raise RuntimeError("from the callback")

    before = signal.signal(signal.SIGINT, mine)
    try:
        net = network("loops", activation="identity", output_activation="identity", loss="sse")
        with pytest.raises(loopnet.DivergenceError):
            net.fit(X * 1e3, Y, epochs=50, lr=10.0)
        assert signal.getsignal(signal.SIGINT) is mine
        with pytest.raises(RuntimeError, match="from the callback"):
            training.fit(network("loops"), X, Y, 10, 0.1, None, callbacks=boom, chunk_seconds=1e-9)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, before)
