"""Bad input at every public entry point, in one table; and the odd but valid arrays that must be accepted.

``CASES`` is the one place that lists every public entry point -- ``Network`` and each of its methods,
``fit`` and its options, the optimizers, ``EarlyStopping``, ``learning_rates``, ``History.plot``, the
estimators, ``save``/``load``/``read_header``, ``demos.run`` and every CLI command -- each with the inputs
that must be refused: one call with one bad input, the exception it must raise (for the CLI: the exit
status, 2 for usage and 1 for data) and a fragment of its message, which names the argument, says what it
got and what was expected. One test runs every case and holds, besides the exception and the fragment:

* the error comes from loopnet's own checks, before any compiled code runs: never a Numba error, never a
  NumPy warning, nothing printed;
* the message is one line (the CLI's: one ``loopnet CMD: error: ...`` line after argparse's usage block,
  no traceback, nothing on stdout). The estimators keep scikit-learn's own messages where its estimator
  checks match them (``sk=True``), and some of those span lines;
* nothing the caller handed in changed: every array (values, dtype, shape, strides, flags), every list,
  the network's parameters, a fitted estimator's weights and an estimator's hyperparameters, every file
  in the case's directory (bytes and mtime), and no file appeared (``--out`` included).

A case's inputs are built lazily from a fresh :class:`World` in the case's own directory, so no case
can see another's leftovers. ``test_odd_but_valid_arrays_are_accepted_and_left_untouched`` holds the
other side: integer, boolean, float32, non-contiguous, Fortran-order, read-only arrays and lists go
through and give the results of a plain C-contiguous float64 copy.

Four cases were defects this table found in ``loopnet/plots.py`` and ``loopnet/demos.py`` (a missing
folder reported under the temporary file's name, an empty History's KeyError, an unchecked ``ax``, a
list looked up as a demo's name); they are ordinary cases now.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest

import loopnet
from loopnet import cli, demos
from loopnet.estimators import ConvergenceWarning, NotFittedError
from loopnet.network import read_header

# --- the records ------------------------------------------------------------------------------------


@dataclass
class Call:
    """One call of a public function: what the table's lambdas build from a world."""

    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


def call(fn, *args, **kwargs) -> Call:
    return Call(fn, args, kwargs)


@dataclass
class CliCall:
    argv: list[str]


@dataclass(frozen=True)
class Exit:
    """What a CLI case must end with: its exit status."""

    status: int


USAGE, DATA = Exit(2), Exit(1)


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[World], Call | CliCall]
    exc: type[BaseException] | tuple[type[BaseException], ...] | Exit
    match: str  # a regular expression, searched in the message (the CLI: in the error line)
    sk: bool = False  # scikit-learn's own message, kept as it words it (its estimator checks match it)
    marks: tuple = ()


CASES: list[Case] = []


def case(id: str, build, exc, match: str, *, sk: bool = False, marks=()) -> None:
    marks = tuple(marks) if isinstance(marks, list | tuple) else (marks,)
    CASES.append(Case(id, build, exc, match, sk, marks))


# --- the world: every input a case may use, built on first use in the case's directory -------------

SMALL_CSV = "x1,x2,label\n1,2,a\n2,3,b\n3,1,a\n4,5,b\n5,5,a\n6,1,b\n"
NUMBERS_CSV = "x1,x2,y\n1,2,1.5\n2,3,2.25\n3,1,0.5\n4,5,7.75\n5,5,3.5\n6,1,9.125\n"

FILES: dict[str, str | bytes] = {
    "small.csv": SMALL_CSV,
    "numbers.csv": NUMBERS_CSV,
    "empty.csv": "",
    "blank-lines.csv": "\n\n   \n",
    "header-only.csv": "x1,x2,label\n",
    "ragged.csv": "x1,x2,label\n1,2,a\n2,3,b,9\n",
    "short-row.csv": "x1,x2,label\n1,2,a\n2,b\n",
    "text-cell.csv": "x1,x2,label\n1,2,a\nfive,3,b\n",
    "nan-cell.csv": "x1,x2,label\n1,2,a\nnan,3,b\n",
    "inf-cell.csv": "x1,x2,label\n1,2,a\n2,-inf,b\n",
    "empty-cell.csv": "x1,x2,label\n1,2,a\n,3,b\n",
    "empty-target.csv": "x1,x2,label\n1,2,a\n2,3,\n",
    "nan-target.csv": "x1,x2,y\n1,2,1.5\n2,3,nan\n",
    "one-class.csv": "x1,x2,label\n1,2,a\n2,3,a\n",
    "three-classes.csv": "x1,x2,label\n1,2,a\n2,3,b\n3,4,c\n",
    "target-only.csv": "label\na\nb\n",
    "duplicate-header.csv": "x1,x1,label\n1,2,a\n2,3,b\n",
    "nameless-column.csv": "x1,,label\n1,2,a\n2,3,b\n",
    "unclosed-quote.csv": 'x1,x2,label\n1,2,"a\n',
    "stray-quote.csv": 'x1,x2,label\n1,"2"x,a\n',
    "latin-1.csv": b"x1,x2,label\n1,2,caf\xe9\n",
    "missing-feature.csv": "x1,label\n1,a\n",
    "extra-column.csv": "x1,x2,label,x3\n1,2,a,3\n",
    "text.txt": "hello, not a model\n",
    "empty.npz": b"",
}
"""The files a case may name: a token of a CLI case's command line that is one of these is written first."""


SMALL_ESTIMATOR = {"hidden_layer_sizes": (4,), "max_iter": 2, "random_state": 0}


def _with(a: np.ndarray, at: tuple, value) -> np.ndarray:
    out = np.array(a, dtype=np.result_type(a, type(value)))
    out[at] = value
    return out


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a)
    a.flags.writeable = False
    return a


class World:
    """A fresh set of inputs for one case: arrays, networks, estimators and files, each made on first use."""

    def __init__(self, root: Path, models: dict[str, bytes]) -> None:
        self.root = root
        self._models = models

    # arrays for a [3, 4, 2] network: 4 rows
    @cached_property
    def X(self) -> np.ndarray:
        return np.random.default_rng(1).normal(size=(4, 3))

    @cached_property
    def Y(self) -> np.ndarray:  # in [0, 1]: targets for sse, mse and bce alike
        return np.random.default_rng(2).random((4, 2))

    @cached_property
    def Y_onehot(self) -> np.ndarray:
        return np.eye(2)[[0, 1, 1, 0]]

    @cached_property
    def Y_counts(self) -> np.ndarray:
        return np.array([[0.0, 3.0], [1.0, 2.0], [0.0, 0.0], [5.0, 1.0]])

    def net_of(self, loss: str = "sse", dtype: str = "float64") -> loopnet.Network:
        out = {"sse": "sigmoid", "bce": "sigmoid", "cross_entropy": "softmax", "poisson": "exp"}[loss]
        return loopnet.Network([3, 4, 2], output_activation=out, loss=loss, dtype=dtype, seed=0)

    @cached_property
    def net(self) -> loopnet.Network:
        return self.net_of()

    def good_Y(self, net: loopnet.Network) -> np.ndarray:
        return {"cross_entropy": self.Y_onehot, "poisson": self.Y_counts}.get(net.loss_name, self.Y)

    @cached_property
    def history(self) -> loopnet.History:
        return loopnet.History(loss=np.array([1.0, 0.5, 0.25]))

    # estimator data: 20 rows, 3 features
    @cached_property
    def Xe(self) -> np.ndarray:
        return np.random.default_rng(3).normal(size=(20, 3))

    @cached_property
    def ye(self) -> np.ndarray:
        return np.arange(20) % 2

    @cached_property
    def yr(self) -> np.ndarray:
        return np.random.default_rng(4).normal(size=20)

    def clf(self, **params) -> loopnet.MLPClassifier:
        return loopnet.MLPClassifier(**{**SMALL_ESTIMATOR, **params})

    def reg(self, **params) -> loopnet.MLPRegressor:
        return loopnet.MLPRegressor(**{**SMALL_ESTIMATOR, **params})

    @cached_property
    def fitted_clf(self) -> loopnet.MLPClassifier:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.clf().fit(self.Xe, self.ye)

    @cached_property
    def fitted_reg(self) -> loopnet.MLPRegressor:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self.reg().fit(self.Xe, self.yr)

    # files in the case's directory (the working directory)
    def file(self, name: str) -> str:
        path = self.root / name
        if not path.exists():
            if name in self._models:
                path.write_bytes(self._models[name])
            else:
                content = FILES[name]
                path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return name

    def dir(self, name: str) -> str:
        (self.root / name).mkdir(exist_ok=True)
        return name

    def cli(self, line: str) -> CliCall:
        """A command line; every word naming a known file is written first (words hold no spaces)."""
        argv = line.split()
        for word in argv:
            if word in FILES or word in self._models:
                self.file(word)
        return CliCall(argv)


# --- Network(...): the definition -------------------------------------------------------------------

N = loopnet.Network

for _id, _kwargs, _exc, _match in [
    ("sizes-one-layer", {"sizes": [3]}, ValueError,
     r"sizes needs at least an input and an output size, like \[3, 1\]; got \[3\]"),
    ("sizes-empty", {"sizes": []}, ValueError, r"sizes needs at least an input and an output size.*got \[\]"),
    ("sizes-zero-units", {"sizes": [3, 0, 1]}, ValueError,
     r"every layer needs at least one unit; got sizes \[3, 0, 1\]"),
    ("sizes-zero-inputs", {"sizes": [0, 2]}, ValueError,
     r"every layer needs at least one unit; got sizes \[0, 2\]"),
    ("sizes-negative", {"sizes": [3, -2]}, ValueError,
     r"every layer needs at least one unit; got sizes \[3, -2\]"),
    ("sizes-float", {"sizes": [2.5, 1]}, TypeError, r"sizes must hold integers, got 2.5 in \[2.5, 1\]"),
    ("sizes-float-array", {"sizes": np.array([3.0, 2.0])}, TypeError,
     r"sizes must hold integers, got np.float64\(3.0\)"),
    ("sizes-bool", {"sizes": [True, 1]}, TypeError, r"sizes must hold integers, got True"),
    ("sizes-str-item", {"sizes": ["3", 2]}, TypeError, r"sizes must hold integers, got '3'"),
    ("sizes-None-item", {"sizes": [None, 2]}, TypeError, r"sizes must hold integers, got None"),
    ("sizes-2-D", {"sizes": np.array([[3, 2]])}, TypeError,
     r"sizes must hold integers, got array\(\[3, 2\]\)"),
    ("sizes-str", {"sizes": "abc"}, TypeError,
     r"sizes must be a sequence of layer widths like \[2, 2, 1\], got 'abc'"),
    ("sizes-int", {"sizes": 3}, TypeError, r"sizes must be a sequence of layer widths .*, got 3"),
    ("sizes-None", {"sizes": None}, TypeError, r"sizes must be a sequence of layer widths .*, got None"),
    ("sizes-dict", {"sizes": {3: 1, 2: 1}}, TypeError,
     r"sizes must be a sequence of layer widths .*, got \{3: 1, 2: 1\}"),
    ("activation-unknown", {"activation": "swish"}, ValueError,
     r"unknown activation 'swish'; expected one of identity, sigmoid"),
    ("activation-unknown-no-hidden", {"sizes": [3, 2], "activation": "swish"}, ValueError,
     r"unknown activation 'swish'"),
    ("activation-list-unknown", {"sizes": [3, 4, 4, 2], "activation": ["tanh", "swish"]}, ValueError,
     r"unknown activation 'swish'"),
    ("activation-int", {"activation": 5}, TypeError,
     r"activation must be a name like 'relu' or a list of names.*got int 5"),
    ("activation-None", {"activation": None}, TypeError, r"activation must be a name .*got NoneType None"),
    ("activation-bytes", {"activation": b"relu"}, TypeError,
     r"activation must be a name .*got bytes b'relu'"),
    ("activation-dict", {"activation": {"a": 1}}, TypeError, r"activation must be a name .*got dict"),
    ("activation-list-int", {"activation": [5]}, TypeError, r"activation names must be strings, got int 5"),
    ("activation-too-few", {"sizes": [3, 4, 4, 2], "activation": ["tanh"]}, ValueError,
     r"activation needs one name per hidden layer: 2 for sizes \[3, 4, 4, 2\]; got 1"),
    ("activation-too-many", {"activation": ["tanh", "relu"]}, ValueError,
     r"activation needs one name per hidden layer: 1 .*got 2"),
    ("activation-softmax-hidden",
     {"activation": "softmax", "output_activation": "softmax", "loss": "cross_entropy"}, ValueError,
     r"softmax is only allowed on the output layer"),
    ("activation-exp-hidden", {"sizes": [3, 4, 4, 2], "activation": ["exp", "tanh"]}, ValueError,
     r"exp is only allowed on the output layer"),
    ("output-unknown", {"output_activation": "swish"}, ValueError,
     r"unknown activation 'swish'; expected one of .*softmax"),
    ("output-None", {"output_activation": None}, TypeError,
     r"activation names must be strings, got NoneType None"),
    ("output-list", {"output_activation": ["sigmoid"]}, TypeError,
     r"activation names must be strings, got list"),
    ("softmax-one-unit",
     {"sizes": [3, 4, 1], "output_activation": "softmax", "loss": "cross_entropy"}, ValueError,
     r"a softmax output needs at least 2 output units \(1 unit is always 1.0\)"),
    ("loss-unknown", {"loss": "hinge"}, ValueError,
     r"unknown loss 'hinge'; expected one of sse, mse, bce, cross_entropy, poisson"),
    ("loss-None", {"loss": None}, TypeError, r"loss must be a string, got NoneType None"),
    ("loss-int", {"loss": 5}, TypeError, r"loss must be a string, got int 5"),
    ("bce-tanh", {"output_activation": "tanh", "loss": "bce"}, ValueError,
     r"loss 'bce' needs output_activation='sigmoid' \(got 'tanh'\)"),
    ("cross_entropy-sigmoid", {"loss": "cross_entropy"}, ValueError,
     r"loss 'cross_entropy' needs output_activation='softmax' \(got 'sigmoid'\)"),
    ("poisson-identity", {"output_activation": "identity", "loss": "poisson"}, ValueError,
     r"loss 'poisson' needs output_activation='exp' \(got 'identity'\)"),
    ("backend-unknown", {"backend": "cuda"}, ValueError,
     r"unknown backend 'cuda'; expected one of loops, numpy, plain"),
    ("backend-None", {"backend": None}, ValueError, r"unknown backend None; expected one of"),
    ("backend-list", {"backend": ["loops"]}, ValueError, r"unknown backend \['loops'\]"),
    ("dtype-int32", {"dtype": "int32"}, ValueError, r"dtype must be 'float64' or 'float32', got 'int32'"),
    ("dtype-float16", {"dtype": np.float16}, ValueError,
     r"dtype must be 'float64' or 'float32', got 'float16'"),
    ("dtype-complex", {"dtype": "complex128"}, ValueError,
     r"dtype must be 'float64' or 'float32', got 'complex128'"),
    ("dtype-unknown", {"dtype": "floaty"}, TypeError, r"dtype must be 'float64' or 'float32', got 'floaty'"),
    ("dtype-int", {"dtype": 5}, TypeError, r"dtype must be 'float64' or 'float32', got 5"),
    ("init-unknown", {"init": "zeros"}, ValueError,
     r"unknown init 'zeros'; expected one of auto, glorot, he, normal"),
    ("init-None", {"init": None}, ValueError, r"unknown init None; expected one of"),
    ("seed-negative", {"seed": -1}, ValueError, r"seed must be >= 0, got -1"),
    ("seed-float", {"seed": 1.5}, TypeError, r"seed must be an integer, got float 1.5"),
    ("seed-str", {"seed": "0"}, TypeError, r"seed must be an integer, got str '0'"),
    ("seed-bool", {"seed": True}, TypeError, r"seed must be an integer, got bool True"),
]:  # fmt: skip
    case(f"Network-{_id}", lambda w, kw=_kwargs: call(N, **{"sizes": [3, 4, 2], **kw}), _exc, _match)

for _id, _value, _match in [
    ("unknown", "gpu", r"unknown backend 'gpu'; expected one of loops, numpy, plain"),
    ("None", None, r"unknown backend None"),
    ("int", 1, r"unknown backend 1"),
    ("list", ["loops"], r"unknown backend \['loops'\]"),
]:
    case(f"Network.backend-{_id}", lambda w, v=_value: call(setattr, w.net, "backend", v), ValueError, _match)


# --- X and Y through every method that reads them ---------------------------------------------------
#
# <X> and <Y> stand for the argument's name: X and Y, or X_val and Y_val through fit's validation.

BAD_X = [
    ("1-D", lambda w: w.X[:, 0], ValueError,
     r"<X> must be a 2-D array of shape \(n_samples, 3\); got 1-D array of shape \(4,\); for one sample "
     r"use <X>.reshape\(1, -1\)"),
    ("3-D", lambda w: w.X[:, :, None], ValueError,
     r"<X> must be a 2-D array of shape \(n_samples, 3\); got 3-D array of shape \(4, 3, 1\)"),
    ("scalar", lambda w: 1.5, ValueError,
     r"<X> must be a 2-D array of shape \(n_samples, 3\); got 0-D array of shape \(\)"),
    ("0-rows", lambda w: w.X[:0], ValueError, r"<X> has no rows: at least one sample is needed"),
    ("0-features", lambda w: w.X[:, :0], ValueError,
     r"<X> must have 3 columns \(the network's layer size\); got shape \(4, 0\)"),
    ("5-features", lambda w: np.ones((4, 5)), ValueError,
     r"<X> must have 3 columns \(the network's layer size\); got shape \(4, 5\)"),
    ("empty-list", lambda w: [], ValueError, r"<X> must be a 2-D array .*got 1-D array of shape \(0,\)"),
    ("ragged-list", lambda w: [[1, 2, 3], [1, 2], [1, 2, 3], [1, 2, 3]], ValueError,
     r"<X> must be a rectangular array of numbers"),
    ("nan", lambda w: _with(w.X, (1, 2), np.nan), ValueError,
     r"<X> must hold only finite numbers; <X>\[1, 2\] is nan"),
    ("inf", lambda w: _with(w.X, (2, 0), np.inf), ValueError,
     r"<X> must hold only finite numbers; <X>\[2, 0\] is inf"),
    ("-inf", lambda w: _with(w.X, (3, 1), -np.inf), ValueError,
     r"<X> must hold only finite numbers; <X>\[3, 1\] is -inf"),
    ("nan-in-list", lambda w: [[1.0, float("nan"), 3.0]] * 4, ValueError,
     r"<X> must hold only finite numbers; <X>\[0, 1\] is nan"),
    ("str", lambda w: "abc", TypeError, r"<X> must be an array of numbers, got a string"),
    ("bytes", lambda w: b"abc", TypeError, r"<X> must be an array of numbers, got a string"),
    ("str-array", lambda w: np.full((4, 3), "a"), TypeError,
     r"<X> must hold numbers; got an array of dtype <U1"),
    ("numeric-strings", lambda w: [["1", "2", "3"]] * 4, TypeError,
     r"<X> must hold numbers; got an array of dtype <U1"),
    ("None", lambda w: None, TypeError, r"<X> must be an array of numbers, got None"),
    ("None-inside", lambda w: [[1.0, None, 3.0]] * 4, TypeError,
     r"<X> must hold numbers only; it holds None or strings"),
    ("objects", lambda w: np.array([[{}] * 3] * 4, dtype=object), TypeError,
     r"<X> must hold numbers; got an array of dtype object"),
    ("complex", lambda w: w.X.astype(complex), TypeError, r"<X> must be real; got complex dtype complex128"),
    ("datetime", lambda w: np.zeros((4, 3), "datetime64[s]"), TypeError,
     r"<X> must hold numbers; got an array of dtype datetime64\[s\]"),
    ("timedelta", lambda w: np.zeros((4, 3), "timedelta64[s]"), TypeError,
     r"<X> must hold numbers; got an array of dtype timedelta64\[s\]"),
]  # fmt: skip

BAD_Y = [
    ("3-rows", lambda w: w.Y[:3], ValueError,
     r"<X> and <Y> must have the same number of samples; got 4 and 3"),
    ("5-rows", lambda w: np.zeros((5, 2)), ValueError,
     r"<X> and <Y> must have the same number of samples; got 4 and 5"),
    ("3-columns", lambda w: np.zeros((4, 3)), ValueError,
     r"<Y> must have 2 columns \(the network's layer size\); got shape \(4, 3\)"),
    ("0-columns", lambda w: np.zeros((4, 0)), ValueError, r"<Y> must have 2 columns .*; got shape \(4, 0\)"),
    ("1-D", lambda w: w.Y[:, 0], ValueError,
     r"<Y> must be a 2-D array of shape \(n_samples, 2\); got 1-D array of shape \(4,\); a 1-D array is "
     r"only accepted for a network with one output"),
    ("3-D", lambda w: w.Y[:, :, None], ValueError,
     r"<Y> must be a 2-D array of shape \(n_samples, 2\); got 3-D array of shape \(4, 2, 1\)"),
    ("scalar", lambda w: 0.5, ValueError, r"<Y> must be a 2-D array .*got 0-D array"),
    ("0-rows", lambda w: w.Y[:0], ValueError, r"<Y> has no rows: at least one sample is needed"),
    ("nan", lambda w: _with(w.Y, (0, 1), np.nan), ValueError,
     r"<Y> must hold only finite numbers; <Y>\[0, 1\] is nan"),
    ("inf", lambda w: _with(w.Y, (3, 0), np.inf), ValueError,
     r"<Y> must hold only finite numbers; <Y>\[3, 0\] is inf"),
    ("str", lambda w: "abc", TypeError, r"<Y> must be an array of numbers, got a string"),
    ("str-array", lambda w: np.full((4, 2), "a"), TypeError,
     r"<Y> must hold numbers; got an array of dtype <U1"),
    ("None", lambda w: None, TypeError, r"<Y> must be an array of numbers, got None"),
    ("objects", lambda w: np.array([[{}, 1]] * 4, dtype=object), TypeError,
     r"<Y> must hold numbers; got an array of dtype object"),
    ("complex", lambda w: w.Y.astype(complex), TypeError, r"<Y> must be real; got complex dtype complex128"),
    ("datetime", lambda w: np.zeros((4, 2), "datetime64[D]"), TypeError,
     r"<Y> must hold numbers; got an array of dtype datetime64\[D\]"),
]  # fmt: skip

BAD_TARGETS = [  # (loss, id, Y from the world, fragment): what each loss's targets must be
    ("bce", "above-1", lambda w: _with(w.Y, (2, 1), 1.5),
     r"loss 'bce' needs targets in \[0, 1\]; <Y>\[2, 1\] is 1.5"),
    ("bce", "below-0", lambda w: _with(w.Y, (0, 0), -0.1),
     r"loss 'bce' needs targets in \[0, 1\]; <Y>\[0, 0\] is -0.1"),
    ("bce", "labels-1-2", lambda w: w.Y_onehot + 1,
     r"loss 'bce' needs targets in \[0, 1\]; <Y>\[0, 0\] is 2.0"),
    ("cross_entropy", "negative", lambda w: _with(_with(w.Y_onehot, (1, 1), 1.5), (1, 0), -0.5),
     r"loss 'cross_entropy' needs non-negative targets \(one-hot rows\); <Y>\[1, 0\] is -0.5"),
    ("cross_entropy", "rows-of-0.3", lambda w: np.full((4, 2), 0.3),
     r"loss 'cross_entropy' needs probability rows in <Y> \(one-hot, or non-negative numbers summing to "
     r"1\); <Y>\[0\] sums to 0.6"),
    ("cross_entropy", "two-ones", lambda w: _with(w.Y_onehot, (2, 0), 1.0),
     r"needs probability rows in <Y> .*; <Y>\[2\] sums to 2.0"),
    ("cross_entropy", "zero-row", lambda w: _with(w.Y_onehot, (3, 0), 0.0),
     r"needs probability rows in <Y> .*; <Y>\[3\] sums to 0.0"),
    ("cross_entropy", "off-by-1e-3", lambda w: _with(w.Y_onehot, (1, 0), 1e-3),
     r"needs probability rows in <Y> .*; <Y>\[1\] sums to 1.001"),
    ("cross_entropy", "scores-not-probabilities", lambda w: np.full((4, 2), [2.0, 3.0]),
     r"needs probability rows in <Y> .*; <Y>\[0\] sums to 5.0"),
    ("poisson", "negative", lambda w: _with(w.Y_counts, (1, 0), -0.5),
     r"loss 'poisson' needs non-negative targets \(counts or rates\); <Y>\[1, 0\] is -0.5"),
]  # fmt: skip


def _names(pattern: str, X: str, Y: str) -> str:
    return pattern.replace("<X>", X).replace("<Y>", Y)


METHODS_X: dict[str, Callable] = {  # (world, network, X, Y) -> the call; the names X and Y go by
    "forward": lambda w, net, X, Y: call(net.forward, X),
    "predict": lambda w, net, X, Y: call(net.predict, X),
    "loss": lambda w, net, X, Y: call(net.loss, X, Y),
    "gradients": lambda w, net, X, Y: call(net.gradients, X, Y),
    "fit": lambda w, net, X, Y: call(net.fit, X, Y, epochs=2),
    "explain": lambda w, net, X, Y: call(net.explain, X, Y),
}
METHODS_XY = {k: v for k, v in METHODS_X.items() if k not in ("forward", "predict")}


def _validation(w, net, X, Y) -> Call:
    return call(net.fit, w.X, w.good_Y(net), epochs=2, validation=(X, Y))


for _kind, _make, _exc, _match in BAD_X:
    for _method, _build in METHODS_X.items():
        case(f"Network.{_method}-X-{_kind}", lambda w, b=_build, m=_make: b(w, w.net, m(w), w.Y), _exc,
             _names(_match, "X", "Y"))  # fmt: skip
    case(f"Network.fit-validation-X-{_kind}", lambda w, m=_make: _validation(w, w.net, m(w), w.Y), _exc,
         _names(_match, "X_val", "Y_val"))  # fmt: skip

for _kind, _make, _exc, _match in BAD_Y:
    for _method, _build in METHODS_XY.items():
        case(f"Network.{_method}-Y-{_kind}", lambda w, b=_build, m=_make: b(w, w.net, w.X, m(w)), _exc,
             _names(_match, "X", "Y"))  # fmt: skip
    case(f"Network.fit-validation-Y-{_kind}", lambda w, m=_make: _validation(w, w.net, w.X, m(w)), _exc,
         _names(_match, "X_val", "Y_val"))  # fmt: skip

for _loss, _kind, _make, _match in BAD_TARGETS:
    for _method, _build in METHODS_XY.items():
        case(f"Network.{_method}-{_loss}-{_kind}",
             lambda w, b=_build, m=_make, l=_loss: b(w, w.net_of(l), w.X, m(w)), ValueError,
             _names(_match, "X", "Y"))  # fmt: skip
    case(f"Network.fit-validation-{_loss}-{_kind}",
         lambda w, m=_make, l=_loss: _validation(w, w.net_of(l), w.X, m(w)), ValueError,
         _names(_match, "X_val", "Y_val"))  # fmt: skip

for _method in ("forward", "loss", "fit"):  # finite in float64, infinite once cast to a float32 network
    case(f"Network.{_method}-X-too-big-for-float32",
         lambda w, m=_method: METHODS_X[m](w, w.net_of(dtype="float32"), _with(w.X, (0, 1), 1e300), w.Y),
         ValueError, r"X\[0, 1\] = 1e\+300 does not fit in float32")  # fmt: skip
for _method in ("loss", "gradients"):
    case(f"Network.{_method}-Y-too-big-for-float32",
         lambda w, m=_method: METHODS_X[m](w, w.net_of(dtype="float32"), w.X, _with(w.Y, (1, 0), 1e39)),
         ValueError, r"Y\[1, 0\] = 1e\+39 does not fit in float32")  # fmt: skip


# --- sample weights: loss, gradients, fit and fit's validation ----------------------------------------

BAD_WEIGHTS = [
    ("nan", lambda w: np.array([1.0, np.nan, 1.0, 1.0]), ValueError,
     r"<W> must hold only finite numbers; <W>\[1\] is nan"),
    ("inf", lambda w: np.array([1.0, 1.0, np.inf, 1.0]), ValueError,
     r"<W> must hold only finite numbers; <W>\[2\] is inf"),
    ("negative", lambda w: np.array([1.0, -2.0, 1.0, 1.0]), ValueError,
     r"<W> must be >= 0; <W>\[1\] is negative \(-2.0\)"),
    ("all-zero", lambda w: np.zeros(4), ValueError,
     r"<W> is zero everywhere: at least one row needs a positive weight"),
    ("3-long", lambda w: np.ones(3), ValueError,
     r"<W> must have shape \(4,\), one weight per row; got shape \(3,\)"),
    ("2-D", lambda w: np.ones((4, 1)), ValueError,
     r"<W> must have shape \(4,\), one weight per row; got shape \(4, 1\)"),
    ("scalar", lambda w: 2.0, ValueError, r"<W> must have shape \(4,\), one weight per row; got shape \(\)"),
    ("ragged", lambda w: [1, [1, 2], 1, 1], ValueError, r"<W> must be a 1-D array of 4 numbers"),
    ("str", lambda w: "abc", TypeError, r"<W> must be an array of numbers, got a string"),
    ("str-array", lambda w: np.array(["1"] * 4), TypeError, r"<W> must hold real numbers, got dtype <U1"),
    ("complex", lambda w: np.ones(4, complex), TypeError,
     r"<W> must hold real numbers, got dtype complex128"),
    ("None-inside", lambda w: [1.0, None, 1.0, 1.0], TypeError,
     r"<W> must hold real numbers, got dtype object"),
]  # fmt: skip

for _kind, _make, _exc, _match in BAD_WEIGHTS:
    for _method in ("loss", "gradients"):
        case(f"Network.{_method}-sample_weight-{_kind}",
             lambda w, m=_make, me=_method: call(getattr(w.net, me), w.X, w.Y, sample_weight=m(w)), _exc,
             _match.replace("<W>", "sample_weight"))  # fmt: skip
    case(f"Network.fit-sample_weight-{_kind}",
         lambda w, m=_make: call(w.net.fit, w.X, w.Y, epochs=2, sample_weight=m(w)), _exc,
         _match.replace("<W>", "sample_weight"))  # fmt: skip
    case(f"Network.fit-validation-weights-{_kind}",
         lambda w, m=_make: call(w.net.fit, w.X, w.Y, epochs=2, validation=(w.X, w.Y, m(w))), _exc,
         _match.replace("<W>", "validation weights"))  # fmt: skip


# --- fit's options ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lazy:
    """An argument built from the case's world when the case runs (fresh each time)."""

    make: Callable[[World], object]


def _adam_of_another_network(w):
    opt = loopnet.Adam()
    w.other = w.net_of()  # kept alive: the optimizer holds its state by a weak reference
    w.other.fit(w.X, w.Y, epochs=1, optimizer=opt)
    return opt


FIT_OPTIONS = [
    ("epochs-negative", {"epochs": -1}, ValueError, r"epochs must be >= 0, got -1"),
    ("epochs-float", {"epochs": 2.0}, TypeError, r"epochs must be an integer, got float 2.0"),
    ("epochs-numpy-float", {"epochs": np.float64(2)}, TypeError, r"epochs must be an integer, got float64"),
    ("epochs-bool", {"epochs": True}, TypeError, r"epochs must be an integer, got bool True"),
    ("epochs-None", {"epochs": None}, TypeError, r"epochs must be an integer, got NoneType None"),
    ("epochs-str", {"epochs": "2"}, TypeError, r"epochs must be an integer, got str '2'"),
    ("epochs-beyond-int64", {"epochs": 10**20}, ValueError,
     r"epochs must be <= 9223372036854775807, got 100000000000000000000"),
    ("lr-zero", {"lr": 0.0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
    ("lr-negative", {"lr": -0.1}, ValueError, r"lr must be a finite number > 0, got -0.1"),
    ("lr-nan", {"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
    ("lr-inf", {"lr": float("inf")}, ValueError, r"lr must be a finite number > 0, got inf"),
    ("lr-bool", {"lr": True}, TypeError, r"lr must be a real number, got bool True"),
    ("lr-str", {"lr": "0.1"}, TypeError, r"lr must be a real number, got str '0.1'"),
    ("lr-complex", {"lr": 1j}, TypeError, r"lr must be a real number, got complex 1j"),
    ("batch_size-zero", {"batch_size": 0}, ValueError, r"batch_size must be >= 1, got 0"),
    ("batch_size-negative", {"batch_size": -4}, ValueError, r"batch_size must be >= 1, got -4"),
    ("batch_size-float", {"batch_size": 2.0}, TypeError, r"batch_size must be an integer, got float 2.0"),
    ("batch_size-nan", {"batch_size": float("nan")}, TypeError,
     r"batch_size must be an integer, got float nan"),
    ("batch_size-bool", {"batch_size": False}, TypeError, r"batch_size must be an integer, got bool False"),
    ("batch_size-str", {"batch_size": "2"}, TypeError, r"batch_size must be an integer, got str '2'"),
    ("optimizer-name", {"optimizer": "adam"}, TypeError,
     r"optimizer must be loopnet.SGD, loopnet.Adam or loopnet.AdamW, got 'adam'"),
    ("optimizer-class", {"optimizer": loopnet.Adam}, TypeError,
     r"optimizer must be loopnet.SGD, loopnet.Adam or loopnet.AdamW, got <class"),
    ("optimizer-and-lr", {"optimizer": Lazy(lambda w: loopnet.Adam()), "lr": 0.1}, ValueError,
     r"pass the learning rate to the optimizer \(Adam\(lr=...\)\), not to fit"),
    ("optimizer-of-another-network", {"optimizer": Lazy(_adam_of_another_network)}, ValueError,
     r"this Adam holds the state of another network; use one optimizer object per network"),
    ("schedule-unknown", {"schedule": "warm"}, ValueError,
     r"unknown schedule 'warm'; expected one of constant, invscaling, step, cosine or an array"),
    ("schedule-too-short", {"schedule": np.ones(1)}, ValueError,
     r"a schedule array needs one learning rate per epoch: shape \(2,\), got \(1,\)"),
    ("schedule-2-D", {"schedule": np.ones((2, 1))}, ValueError, r"shape \(2,\), got \(2, 1\)"),
    ("schedule-scalar", {"schedule": 0.1}, ValueError, r"shape \(2,\), got \(\)"),
    ("schedule-negative", {"schedule": np.array([0.1, -1.0])}, ValueError,
     r"every learning rate in the schedule must be a finite number > 0"),
    ("schedule-zero", {"schedule": np.array([0.1, 0.0])}, ValueError,
     r"every learning rate in the schedule must be a finite number > 0"),
    ("schedule-nan", {"schedule": np.array([np.nan, 0.1])}, ValueError,
     r"every learning rate in the schedule must be a finite number > 0"),
    ("schedule-str-array", {"schedule": np.array(["a", "b"])}, TypeError,
     r"schedule must be a name \(constant, invscaling, step, cosine\) or an array of learning rates"),
    ("schedule-object", {"schedule": object()}, TypeError,
     r"schedule must be a name .* or an array of learning rates"),
    ("shuffle-str", {"shuffle": "yes"}, TypeError, r"shuffle must be True or False, got 'yes'"),
    ("shuffle-None", {"shuffle": None}, TypeError, r"shuffle must be True or False, got None"),
    ("shuffle-int", {"shuffle": 1}, TypeError, r"shuffle must be True or False, got 1"),
    ("validation-array", {"validation": Lazy(lambda w: w.X)}, TypeError,
     r"validation must be a pair \(X_val, Y_val\) or a triple \(X_val, Y_val, sample_weight\)"),
    ("validation-one", {"validation": Lazy(lambda w: (w.X,))}, TypeError,
     r"validation must be a pair \(X_val, Y_val\)"),
    ("validation-four", {"validation": Lazy(lambda w: (w.X, w.Y, None, None))}, TypeError,
     r"validation must be a pair \(X_val, Y_val\)"),
    ("validation-dict", {"validation": Lazy(lambda w: {"X": w.X, "Y": w.Y})}, TypeError,
     r"validation must be a pair \(X_val, Y_val\)"),
    ("early_stopping-int", {"early_stopping": 5}, TypeError,
     r"early_stopping must be a loopnet.EarlyStopping, got 5"),
    ("early_stopping-class", {"early_stopping": loopnet.EarlyStopping}, TypeError,
     r"early_stopping must be a loopnet.EarlyStopping, got <class"),
    ("early_stopping-without-validation",
     {"early_stopping": Lazy(lambda w: loopnet.EarlyStopping())}, ValueError,
     r"EarlyStopping\(monitor='val_loss'\) needs validation=\(X_val, Y_val\); or monitor='loss'"),
    ("l2-negative", {"l2": -1}, ValueError, r"l2 must be in \[0, inf\), got -1.0"),
    ("l2-nan", {"l2": float("nan")}, ValueError, r"l2 must be in \[0, inf\), got nan"),
    ("l2-inf", {"l2": float("inf")}, ValueError, r"l2 must be in \[0, inf\), got inf"),
    ("l2-str", {"l2": "a"}, TypeError, r"l2 must be a real number, got str 'a'"),
    ("l2-bool", {"l2": True}, TypeError, r"l2 must be a real number, got bool True"),
    ("l2-None", {"l2": None}, TypeError, r"l2 must be a real number, got NoneType None"),
    ("callbacks-str", {"callbacks": "abc"}, TypeError,
     r"callbacks must be a list of functions f\(network, history\), got 'abc'"),
    ("callbacks-int", {"callbacks": 5}, TypeError,
     r"callbacks must be a list of functions f\(network, history\), got 5"),
    ("callbacks-list-of-int", {"callbacks": [1]}, TypeError,
     r"every callback must be callable as f\(network, history\); got 1"),
    ("progress-str", {"progress": "yes"}, TypeError, r"progress must be True or False, got 'yes'"),
    ("progress-None", {"progress": None}, TypeError, r"progress must be True or False, got None"),
    ("progress-int", {"progress": 1}, TypeError, r"progress must be True or False, got 1"),
    ("unknown-keyword", {"learning_rate": 0.1}, TypeError,
     r"fit\(\) got an unexpected keyword argument 'learning_rate'"),
]  # fmt: skip


def _fit_with(w, options: dict) -> Call:
    kwargs = {key: value.make(w) if isinstance(value, Lazy) else value for key, value in options.items()}
    return call(w.net.fit, w.X, w.Y, **{"epochs": 2, **kwargs})


for _id, _options, _exc, _match in FIT_OPTIONS:
    case(f"Network.fit-{_id}", lambda w, o=_options: _fit_with(w, o), _exc, _match)


# --- explain, set_weights, save, load, read_header ---------------------------------------------------

for _id, _kwargs, _exc, _match in [
    ("lr-zero", {"lr": 0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
    ("lr-str", {"lr": "a"}, TypeError, r"lr must be a real number, got str 'a'"),
    ("sample-past-the-rows", {"sample": 4}, ValueError, r"sample must be a row of X, 0 to 3; got 4"),
    ("sample-negative", {"sample": -1}, ValueError, r"sample must be a row of X, 0 to 3; got -1"),
    ("sample-str", {"sample": "1"}, TypeError,
     r"sample must be a row number of X \(an integer\), got str '1'"),
    ("sample-float", {"sample": 1.0}, TypeError,
     r"sample must be a row number of X \(an integer\), got float 1.0"),
    ("sample-bool", {"sample": True}, TypeError,
     r"sample must be a row number of X \(an integer\), got bool True"),
    ("unknown-keyword", {"epochs": 2}, TypeError, r"explain\(\) got an unexpected keyword argument 'epochs'"),
]:  # fmt: skip
    case(f"Network.explain-{_id}", lambda w, kw=_kwargs: call(w.net.explain, w.X, w.Y, **kw), _exc, _match)

for _id, _kwargs, _exc, _match in [
    ("max_values-zero", {"max_values": 0}, ValueError, r"max_values must be a whole number >= 1, got 0"),
    ("digits-str", {"digits": "5"}, ValueError, r"digits must be a whole number >= 1, got '5'"),
    ("sample-past-the-rows", {"sample": 9}, ValueError, r"sample must be a row of X, 0 to 3; got 9"),
]:  # fmt: skip
    case(f"Explanation.format-{_id}", lambda w, kw=_kwargs: call(w.net.explain(w.X, w.Y).format, **kw),
         _exc, _match)  # fmt: skip


def _weights(w, layer: int | None = None, W=None, b=None) -> list:
    ws = w.net.weights
    if layer is not None:
        W0, b0 = ws[layer]
        ws[layer] = (W0 if W is None else W(W0), b0 if b is None else b(b0))
    return ws


for _id, _make, _exc, _match in [
    ("None", lambda w: None, TypeError,
     r"weights must be a list of 2 \(W, b\) pairs, one per layer, like net.weights; got NoneType"),
    ("dict", lambda w: {}, TypeError, r"weights must be a list of 2 \(W, b\) pairs.*; got dict"),
    ("str", lambda w: "ab", TypeError, r"weights must be a list of 2 \(W, b\) pairs.*; got str"),
    ("iterator", lambda w: iter(w.net.weights), TypeError,
     r"weights must be a list of 2 \(W, b\) pairs.*; got list_iterator"),
    ("one-layer", lambda w: w.net.weights[:1], ValueError,
     r"weights must be a list of 2 \(W, b\) pairs.*; got 1 items"),
    ("three-layers", lambda w: [*w.net.weights, w.net.weights[1]], ValueError,
     r"weights must be a list of 2 \(W, b\) pairs.*; got 3 items"),
    ("ints", lambda w: [1, 2], ValueError, r"weights\[0\] must be a \(W, b\) pair; got int"),
    ("strs", lambda w: ["ab", "cd"], ValueError, r"weights\[0\] must be a \(W, b\) pair; got str"),
    ("triple", lambda w: [(*w.net.weights[0], w.net.weights[0][1]), w.net.weights[1]], ValueError,
     r"weights\[0\] must be a \(W, b\) pair; got 3 items"),
    ("W-transposed", lambda w: _weights(w, 0, W=lambda W: W.T), ValueError,
     r"layer 0 W must have shape \(3, 4\), got \(4, 3\)"),
    ("b-2-D", lambda w: _weights(w, 1, b=lambda b: b[None]), ValueError,
     r"layer 1 b must have shape \(2,\), got \(1, 2\)"),
    ("W-nan", lambda w: _weights(w, 1, W=lambda W: _with(W, (1, 1), np.nan)), ValueError,
     r"layer 1 W must hold only finite numbers; W\[1, 1\] is nan"),
    ("b-inf", lambda w: _weights(w, 0, b=lambda b: _with(b, (2,), -np.inf)), ValueError,
     r"layer 0 b must hold only finite numbers; b\[2\] is -inf"),
    ("W-complex", lambda w: _weights(w, 0, W=lambda W: W.astype(complex)), TypeError,
     r"layer 0 W must hold real numbers, got dtype complex128"),
    ("W-str", lambda w: _weights(w, 0, W=lambda W: W.astype(str)), TypeError,
     r"layer 0 W must hold real numbers, got dtype <U"),
    ("W-None", lambda w: _weights(w, 0, W=lambda W: None), TypeError,
     r"layer 0 W must hold real numbers, got dtype object"),
    ("W-ragged", lambda w: _weights(w, 0, W=lambda W: [[1.0, 2.0], [3.0]]), ValueError,
     r"layer 0 W must be a rectangular array of numbers"),
    ("W-datetime", lambda w: _weights(w, 0, W=lambda W: np.zeros((3, 4), "datetime64[s]")), TypeError,
     r"layer 0 W must hold real numbers, got dtype datetime64\[s\]"),
]:  # fmt: skip
    case(f"Network.set_weights-{_id}", lambda w, m=_make: call(w.net.set_weights, m(w)), _exc, _match)
case("Network.set_weights-too-big-for-float32",
     lambda w: call(w.net_of(dtype="float32").set_weights,
                    [(np.full((3, 4), 1e300), np.zeros(4)), w.net.weights[1]]),
     ValueError, r"layer 0 W has values that do not fit in float32")  # fmt: skip


def _with_metadata(w, metadata) -> loopnet.Network:
    net = w.net_of()
    net.metadata = metadata
    return net


for _id, _make, _exc, _match in [
    ("metadata-nan", lambda w: call(_with_metadata(w, {"a": float("nan")}).save, "m.npz"), ValueError,
     r"network.metadata must hold only JSON values \(str, finite numbers.*Out of range float values"),
    ("metadata-object", lambda w: call(_with_metadata(w, {"a": object()}).save, "m.npz"), ValueError,
     r"network.metadata must hold only JSON values .*Object of type object is not JSON serializable"),
    ("metadata-list", lambda w: call(_with_metadata(w, [1, 2]).save, "m.npz"), TypeError,
     r"network.metadata must be a dict, got list"),
    ("path-is-a-directory", lambda w: call(w.net.save, w.dir("models")), IsADirectoryError,
     r"is a directory; Network.save needs a file name: 'models'"),
    ("folder-missing", lambda w: call(w.net.save, "nowhere/m.npz"), FileNotFoundError,
     r"no such directory to save the model in: '.*nowhere'"),
    ("path-None", lambda w: call(w.net.save, None), TypeError,
     r"path must be a file name \(a str or os.PathLike\), got NoneType None"),
    ("path-int", lambda w: call(w.net.save, 5), TypeError,
     r"path must be a file name \(a str or os.PathLike\), got int 5"),
]:  # fmt: skip
    case(f"Network.save-{_id}", _make, _exc, _match)


def _npy(w) -> str:
    np.save(w.root / "array.npy", np.ones(3))
    return "array.npy"


def _other_npz(w) -> str:
    np.savez(w.root / "other.npz", a=np.ones(3))
    return "other.npz"


def _pickle(w) -> str:
    import pickle

    (w.root / "pickle.npz").write_bytes(pickle.dumps({"params": [1.0]}))
    return "pickle.npz"


def _truncated(w) -> str:
    w.file("m.npz")
    (w.root / "truncated.npz").write_bytes((w.root / "m.npz").read_bytes()[:300])
    return "truncated.npz"


LOAD_CASES = [
    ("missing", lambda w: "missing.npz", FileNotFoundError, r"No such file or directory: 'missing.npz'"),
    ("directory", lambda w: w.dir("models"), IsADirectoryError, r"Is a directory: 'models'"),
    ("empty-file", lambda w: w.file("empty.npz"), ValueError,
     r"'empty.npz' is empty \(0 bytes\), not a loopnet model file"),
    ("dev-null", lambda w: os.devnull, ValueError, r"'/dev/null' is empty \(0 bytes\)"),
    ("csv", lambda w: w.file("small.csv"), ValueError,
     r"'small.csv' is not a loopnet model file \(write one with Network.save\): it is not a NumPy .npz "
     r"file \(it starts with b'x1,x2,la'\)"),
    ("text", lambda w: w.file("text.txt"), ValueError,
     r"'text.txt' is not a loopnet model file .*: it is not a NumPy .npz file"),
    ("pickle", _pickle, ValueError,
     r"'pickle.npz' is not a loopnet model file .*: it holds pickled objects, which loopnet never loads"),
    ("npy", _npy, ValueError, r"'array.npy' is not a loopnet model file \(write one with Network.save\)"),
    ("other-npz", _other_npz, ValueError,
     r"'other.npz' is not a loopnet model file .*: it has no loopnet header and parameters"),
    ("truncated", _truncated, ValueError,
     r"'truncated.npz' is not a whole loopnet model file \(truncated or corrupted\?\)"),
    ("None", lambda w: None, TypeError,
     r"path must be a file name \(a str or os.PathLike\), got NoneType None"),
    ("int", lambda w: 3, TypeError, r"path must be a file name \(a str or os.PathLike\), got int 3"),
]  # fmt: skip
for _id, _make, _exc, _match in LOAD_CASES:
    case(f"load-{_id}", lambda w, m=_make: call(loopnet.load, m(w)), _exc, _match)
    case(f"read_header-{_id}", lambda w, m=_make: call(read_header, m(w)), _exc, _match)


# --- the optimizers, EarlyStopping, learning_rates ---------------------------------------------------

for _cls in (loopnet.SGD, loopnet.Adam, loopnet.AdamW):
    for _id, _kwargs, _exc, _match in [
        ("lr-zero", {"lr": 0}, ValueError, r"lr must be a finite number > 0, got 0.0"),
        ("lr-negative", {"lr": -1}, ValueError, r"lr must be a finite number > 0, got -1.0"),
        ("lr-nan", {"lr": float("nan")}, ValueError, r"lr must be a finite number > 0, got nan"),
        ("lr-inf", {"lr": float("inf")}, ValueError, r"lr must be a finite number > 0, got inf"),
        ("lr-bool", {"lr": True}, TypeError, r"lr must be a real number, got bool True"),
        ("lr-str", {"lr": "0.1"}, TypeError, r"lr must be a real number, got str '0.1'"),
        ("lr-None", {"lr": None}, TypeError, r"lr must be a real number, got NoneType None"),
        ("weight_decay-negative", {"weight_decay": -1}, ValueError,
         r"weight_decay must be in \[0, inf\), got -1.0"),
        ("weight_decay-nan", {"weight_decay": float("nan")}, ValueError,
         r"weight_decay must be in \[0, inf\), got nan"),
        ("weight_decay-inf", {"weight_decay": float("inf")}, ValueError,
         r"weight_decay must be in \[0, inf\), got inf"),
        ("weight_decay-str", {"weight_decay": "a"}, TypeError,
         r"weight_decay must be a real number, got str 'a'"),
        ("weight_decay-bool", {"weight_decay": True}, TypeError,
         r"weight_decay must be a real number, got bool True"),
        ("weight_decay-None", {"weight_decay": None}, TypeError,
         r"weight_decay must be a real number, got NoneType None"),
    ]:  # fmt: skip
        case(f"{_cls.__name__}-{_id}", lambda w, c=_cls, kw=_kwargs: call(c, **kw), _exc, _match)

for _id, _cls, _kwargs, _exc, _match in [
    ("momentum-negative", loopnet.SGD, {"momentum": -0.1}, ValueError,
     r"momentum must be in \[0, 1\], got -0.1"),
    ("momentum-above-1", loopnet.SGD, {"momentum": 1.5}, ValueError,
     r"momentum must be in \[0, 1\], got 1.5"),
    ("momentum-nan", loopnet.SGD, {"momentum": float("nan")}, ValueError,
     r"momentum must be in \[0, 1\], got nan"),
    ("momentum-str", loopnet.SGD, {"momentum": "0.9"}, TypeError,
     r"momentum must be a real number, got str '0.9'"),
    ("momentum-bool", loopnet.SGD, {"momentum": True}, TypeError,
     r"momentum must be a real number, got bool True"),
    ("momentum-None", loopnet.SGD, {"momentum": None}, TypeError,
     r"momentum must be a real number, got NoneType None"),
    ("dampening-above-1", loopnet.SGD, {"dampening": 2}, ValueError,
     r"dampening must be in \[0, 1\], got 2.0"),
    ("dampening-negative", loopnet.SGD, {"dampening": -1}, ValueError,
     r"dampening must be in \[0, 1\], got -1.0"),
    ("nesterov-int", loopnet.SGD, {"nesterov": 1}, TypeError, r"nesterov must be True or False, got 1"),
    ("nesterov-str", loopnet.SGD, {"nesterov": "yes"}, TypeError,
     r"nesterov must be True or False, got 'yes'"),
    ("nesterov-without-momentum", loopnet.SGD, {"nesterov": True}, ValueError,
     r"Nesterov momentum needs momentum > 0 and dampening = 0"),
    ("nesterov-with-dampening", loopnet.SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
     ValueError,
     r"Nesterov momentum needs momentum > 0 and dampening = 0"),
    ("betas-one", loopnet.Adam, {"betas": (0.9,)}, TypeError,
     r"betas must be a pair \(beta1, beta2\), got \(0.9,\)"),
    ("betas-three", loopnet.Adam, {"betas": (0.9, 0.999, 0.1)}, TypeError,
     r"betas must be a pair \(beta1, beta2\), got \(0.9, 0.999, 0.1\)"),
    ("betas-str", loopnet.Adam, {"betas": "ab"}, TypeError,
     r"betas must be a pair \(beta1, beta2\), got 'ab'"),
    ("betas-float", loopnet.Adam, {"betas": 0.9}, TypeError,
     r"betas must be a pair \(beta1, beta2\), got 0.9"),
    ("betas-None", loopnet.Adam, {"betas": None}, TypeError,
     r"betas must be a pair \(beta1, beta2\), got None"),
    ("beta1-1", loopnet.Adam, {"betas": (1.0, 0.999)}, ValueError, r"beta1 must be in \[0, 1\), got 1.0"),
    ("beta1-negative", loopnet.Adam, {"betas": (-0.1, 0.999)}, ValueError,
     r"beta1 must be in \[0, 1\), got -0.1"),
    ("beta1-nan", loopnet.Adam, {"betas": (float("nan"), 0.999)}, ValueError,
     r"beta1 must be in \[0, 1\), got nan"),
    ("beta1-str", loopnet.Adam, {"betas": ("a", 0.999)}, TypeError,
     r"beta1 must be a real number, got str 'a'"),
    ("beta2-1", loopnet.AdamW, {"betas": (0.9, 1.0)}, ValueError, r"beta2 must be in \[0, 1\), got 1.0"),
    ("beta2-bool", loopnet.AdamW, {"betas": (0.9, True)}, TypeError,
     r"beta2 must be a real number, got bool True"),
    ("eps-negative", loopnet.Adam, {"eps": -1}, ValueError, r"eps must be in \[0, inf\), got -1.0"),
    ("eps-nan", loopnet.Adam, {"eps": float("nan")}, ValueError, r"eps must be in \[0, inf\), got nan"),
    ("eps-inf", loopnet.AdamW, {"eps": float("inf")}, ValueError, r"eps must be in \[0, inf\), got inf"),
    ("eps-str", loopnet.Adam, {"eps": "1e-8"}, TypeError, r"eps must be a real number, got str '1e-8'"),
    ("eps-None", loopnet.AdamW, {"eps": None}, TypeError, r"eps must be a real number, got NoneType None"),
    ("eps_hat-int", loopnet.Adam, {"eps_hat": 1}, TypeError, r"eps_hat must be True or False, got 1"),
    ("eps_hat-unknown", loopnet.AdamW, {"eps_hat": True}, TypeError,
     r"got an unexpected keyword argument 'eps_hat'"),
]:  # fmt: skip
    case(f"{_cls.__name__}-{_id}", lambda w, c=_cls, kw=_kwargs: call(c, **kw), _exc, _match)

for _id, _kwargs, _exc, _match in [
    ("patience-zero", {"patience": 0}, ValueError, r"patience must be >= 1, got 0"),
    ("patience-negative", {"patience": -1}, ValueError, r"patience must be >= 1, got -1"),
    ("patience-float", {"patience": 1.5}, TypeError, r"patience must be an integer, got float 1.5"),
    ("patience-inf", {"patience": float("inf")}, TypeError, r"patience must be an integer, got float inf"),
    ("patience-str", {"patience": "3"}, TypeError, r"patience must be an integer, got str '3'"),
    ("patience-bool", {"patience": True}, TypeError, r"patience must be an integer, got bool True"),
    ("patience-None", {"patience": None}, TypeError, r"patience must be an integer, got NoneType None"),
    ("patience-beyond-int64", {"patience": 2**64}, ValueError,
     r"patience must be <= 9223372036854775807, got 18446744073709551616"),
    ("min_delta-negative", {"min_delta": -1}, ValueError, r"min_delta must be in \[0, inf\), got -1.0"),
    ("min_delta-nan", {"min_delta": float("nan")}, ValueError, r"min_delta must be in \[0, inf\), got nan"),
    ("min_delta-inf", {"min_delta": float("inf")}, ValueError, r"min_delta must be in \[0, inf\), got inf"),
    ("min_delta-str", {"min_delta": "a"}, TypeError, r"min_delta must be a real number, got str 'a'"),
    ("min_delta-None", {"min_delta": None}, TypeError, r"min_delta must be a real number, got NoneType None"),
    ("restore_best-int", {"restore_best": 1}, TypeError, r"restore_best must be True or False, got 1"),
    ("restore_best-str", {"restore_best": "yes"}, TypeError,
     r"restore_best must be True or False, got 'yes'"),
    ("monitor-unknown", {"monitor": "accuracy"}, ValueError,
     r"monitor must be 'val_loss' or 'loss', got 'accuracy'"),
    ("monitor-None", {"monitor": None}, ValueError, r"monitor must be 'val_loss' or 'loss', got None"),
    ("monitor-list", {"monitor": ["loss"]}, ValueError,
     r"monitor must be 'val_loss' or 'loss', got \['loss'\]"),
]:  # fmt: skip
    case(f"EarlyStopping-{_id}", lambda w, kw=_kwargs: call(loopnet.EarlyStopping, **kw), _exc, _match)

for _id, _args, _kwargs, _exc, _match in [
    ("schedule-unknown", ("warm", 0.1, 10), {}, ValueError,
     r"unknown schedule 'warm'; expected one of constant, invscaling, step, cosine"),
    ("schedule-None", (None, 0.1, 10), {}, ValueError, r"unknown schedule None"),
    ("lr-zero", ("constant", 0, 10), {}, ValueError, r"lr must be a finite number > 0, got 0.0"),
    ("lr-str", ("cosine", "a", 10), {}, TypeError, r"lr must be a real number, got str 'a'"),
    ("epochs-negative", ("constant", 0.1, -1), {}, ValueError, r"epochs must be >= 0, got -1"),
    ("epochs-float", ("constant", 0.1, 2.5), {}, TypeError, r"epochs must be an integer, got float 2.5"),
    ("epochs-str", ("cosine", 0.1, "10"), {}, TypeError, r"epochs must be an integer, got str '10'"),
    ("epochs-beyond-int64", ("constant", 0.1, 10**20), {}, ValueError,
     r"epochs must be <= 9223372036854775807"),
    ("n_samples-zero", ("invscaling", 0.1, 10), {"n_samples": 0}, ValueError,
     r"n_samples must be >= 1, got 0"),
    ("power_t-negative", ("invscaling", 0.1, 10), {"power_t": -1}, ValueError,
     r"power_t must be in \[0, inf\), got -1.0"),
    ("power_t-nan", ("invscaling", 0.1, 10), {"power_t": float("nan")}, ValueError,
     r"power_t must be in \[0, inf\), got nan"),
    ("step_size-zero", ("step", 0.1, 10), {"step_size": 0}, ValueError, r"step_size must be >= 1, got 0"),
    ("step_size-float", ("step", 0.1, 10), {"step_size": 2.5}, TypeError,
     r"step_size must be an integer, got float 2.5"),
    ("gamma-zero", ("step", 0.1, 10), {"gamma": 0}, ValueError,
     r"gamma must be > 0: a learning rate of 0 does not train"),
    ("gamma-above-1", ("step", 0.1, 10), {"gamma": 2}, ValueError, r"gamma must be in \[0, 1\], got 2.0"),
    ("gamma-str", ("step", 0.1, 10), {"gamma": "a"}, TypeError, r"gamma must be a real number, got str 'a'"),
]:  # fmt: skip
    case(f"learning_rates-{_id}", lambda w, a=_args, kw=_kwargs: call(loopnet.learning_rates, *a, **kw),
         _exc, _match)  # fmt: skip


# --- History.plot and demos.run -----------------------------------------------------------------------


def _plot(w, *args, **kwargs) -> Call:
    pytest.importorskip("matplotlib")
    return call(w.history.plot, *args, **kwargs)


case("History.plot-log-str", lambda w: _plot(w, log="yes"), TypeError,
     r"log must be True or False, got 'yes'")  # fmt: skip
case("History.plot-folder-missing", lambda w: _plot(w, "nowhere/loss.png"), FileNotFoundError,
     r"nowhere/loss\.png")  # fmt: skip
case("History.plot-no-epochs", lambda w: (pytest.importorskip("matplotlib"), call(loopnet.History().plot))[1],
     ValueError, r"nothing to plot: no epochs were run")  # fmt: skip
case("History.plot-ax-int", lambda w: _plot(w, ax=5), TypeError, r"ax must be a matplotlib Axes")  # fmt: skip

for _id, _args, _kwargs, _exc, _match in [
    ("name-unknown", ("nope",), {}, ValueError,
     r"unknown demo 'nope'; expected one of and, three-bit, xor, perceptron"),
    ("name-None", (None,), {}, ValueError,
     r"unknown demo None; expected one of and, three-bit, xor, perceptron"),
    ("epochs-negative", ("and",), {"epochs": -1}, ValueError, r"epochs must be >= 0, got -1"),
    ("epochs-str", ("and",), {"epochs": "5"}, TypeError, r"epochs must be an integer, got str '5'"),
    ("epochs-float", ("xor",), {"epochs": 5.0}, TypeError, r"epochs must be an integer, got float 5.0"),
    ("backend-unknown", ("and",), {"backend": "gpu"}, ValueError,
     r"unknown backend 'gpu'; expected one of loops, numpy, plain"),
    ("as_published-not-perceptron", ("and",), {"as_published": True}, ValueError,
     r"--as-published exists only for the perceptron demo \(seed 003\)"),
]:  # fmt: skip
    case(f"demos.run-{_id}", lambda w, a=_args, kw=_kwargs: call(demos.run, *a, out=None, **kw), _exc, _match)
case("demos.run-name-list", lambda w: call(demos.run, ["and"], out=None), ValueError,
     r"unknown demo \['and'\]")  # fmt: skip


# --- the estimators ---------------------------------------------------------------------------------

C, R = loopnet.MLPClassifier, loopnet.MLPRegressor

HYPERPARAMETERS = [  # (parameter, value, exception, fragment), checked by fit before the data
    ("hidden_layer_sizes", 0, ValueError, r"hidden_layer_sizes must be > 0, got \[0\]"),
    ("hidden_layer_sizes", (4, -1), ValueError, r"hidden_layer_sizes must be > 0, got \[4, -1\]"),
    ("hidden_layer_sizes", "10", TypeError, r"hidden_layer_sizes must hold integers, got '10'"),
    ("hidden_layer_sizes", None, TypeError,
     r"hidden_layer_sizes must be an int or a sequence of ints, got None"),
    ("hidden_layer_sizes", 2.5, TypeError,
     r"hidden_layer_sizes must be an int or a sequence of ints, got 2.5"),
    ("hidden_layer_sizes", True, TypeError,
     r"hidden_layer_sizes must be an int or a sequence of ints, got True"),
    ("hidden_layer_sizes", (4, 2.5), TypeError, r"hidden_layer_sizes must hold integers, got \(4, 2.5\)"),
    ("activation", "softmax", ValueError,
     r"The 'activation' parameter must be one of 'identity', 'logistic', 'tanh', 'relu'.*; got 'softmax'"),
    ("activation", None, TypeError, r"activation must be a name or a list of names, got None"),
    ("activation", 5, TypeError, r"activation must be a name or a list of names, got 5"),
    ("activation", ["relu", "tanh"], ValueError,
     r"activation has 2 names for 1 hidden layers; give one name, or one per layer"),
    ("solver", "rmsprop", ValueError,
     r"The 'solver' parameter must be one of 'sgd', 'adam', 'lbfgs'; got 'rmsprop'"),
    ("solver", None, ValueError, r"The 'solver' parameter must be one of .*; got None"),
    ("learning_rate", "cyclic", ValueError,
     r"The 'learning_rate' parameter must be one of 'constant', 'invscaling', 'adaptive'; got 'cyclic'"),
    ("alpha", -1, ValueError, r"alpha must be in \[0, inf\), got -1.0"),
    ("alpha", float("nan"), ValueError, r"alpha must be in \[0, inf\), got nan"),
    ("alpha", float("inf"), ValueError, r"alpha must be in \[0, inf\), got inf"),
    ("alpha", "a", TypeError, r"alpha must be a real number, got str 'a'"),
    ("alpha", True, TypeError, r"alpha must be a real number, got bool True"),
    ("alpha", None, TypeError, r"alpha must be a real number, got NoneType None"),
    ("learning_rate_init", 0, ValueError, r"learning_rate_init must be in \(0, inf\), got 0.0"),
    ("learning_rate_init", -1, ValueError, r"learning_rate_init must be in \(0, inf\), got -1.0"),
    ("learning_rate_init", float("inf"), ValueError, r"learning_rate_init must be in \(0, inf\), got inf"),
    ("learning_rate_init", float("nan"), ValueError, r"learning_rate_init must be in \(0, inf\), got nan"),
    ("learning_rate_init", "a", TypeError, r"learning_rate_init must be a real number, got str 'a'"),
    ("power_t", -1, ValueError, r"power_t must be in \[0, inf\], got -1.0"),
    ("power_t", float("nan"), ValueError, r"power_t must be in \[0, inf\], got nan"),
    ("max_iter", 0, ValueError, r"max_iter must be >= 1, got 0"),
    ("max_iter", 1.5, TypeError, r"max_iter must be an integer, got float 1.5"),
    ("max_iter", "5", TypeError, r"max_iter must be an integer, got str '5'"),
    ("max_iter", True, TypeError, r"max_iter must be an integer, got bool True"),
    ("max_iter", None, TypeError, r"max_iter must be an integer, got NoneType None"),
    ("max_fun", 0, ValueError, r"max_fun must be >= 1, got 0"),
    ("batch_size", 0, ValueError, r"batch_size must be >= 1, got 0"),
    ("batch_size", 1.5, TypeError, r"batch_size must be an integer, got float 1.5"),
    ("batch_size", None, TypeError, r"batch_size must be an integer, got NoneType None"),
    ("batch_size", "big", ValueError, r"batch_size must be 'auto' or an integer >= 1, got 'big'"),
    ("tol", -1, ValueError, r"tol must be in \[0, inf\], got -1.0"),
    ("tol", float("nan"), ValueError, r"tol must be in \[0, inf\], got nan"),
    ("tol", None, TypeError, r"tol must be a real number, got NoneType None"),
    ("momentum", 1.1, ValueError, r"momentum must be in \[0, 1\], got 1.1"),
    ("momentum", -0.1, ValueError, r"momentum must be in \[0, 1\], got -0.1"),
    ("beta_1", 1.0, ValueError, r"beta_1 must be in \[0, 1\), got 1.0"),
    ("beta_2", float("nan"), ValueError, r"beta_2 must be in \[0, 1\), got nan"),
    ("epsilon", 0, ValueError, r"epsilon must be in \(0, inf\), got 0.0"),
    ("epsilon", float("inf"), ValueError, r"epsilon must be in \(0, inf\), got inf"),
    ("validation_fraction", 0, ValueError, r"validation_fraction must be in \(0, 1\), got 0.0"),
    ("validation_fraction", 1, ValueError, r"validation_fraction must be in \(0, 1\), got 1.0"),
    ("validation_fraction", float("nan"), ValueError, r"validation_fraction must be in \(0, 1\), got nan"),
    ("validation_fraction", "a", TypeError, r"validation_fraction must be a real number, got str 'a'"),
    ("n_iter_no_change", 0, ValueError, r"n_iter_no_change must be >= 1, got 0"),
    ("n_iter_no_change", 1.5, TypeError, r"n_iter_no_change must be an integer, got float 1.5"),
    ("shuffle", 1, TypeError, r"shuffle must be True or False, got 1"),
    ("warm_start", "yes", TypeError, r"warm_start must be True or False, got 'yes'"),
    ("nesterovs_momentum", None, TypeError, r"nesterovs_momentum must be True or False, got None"),
    ("early_stopping", 1, TypeError, r"early_stopping must be True or False, got 1"),
    ("random_state", "a", ValueError,
     r"random_state must be None, an int or a numpy.random.RandomState: 'a' cannot be used to seed"),
    ("random_state", 1.5, ValueError,
     r"random_state must be None, an int or a numpy.random.RandomState: 1.5 cannot"),
    ("random_state", True, ValueError,
     r"random_state must be None, an int or a numpy.random.RandomState: True cannot"),
    ("random_state", -1, ValueError, r"random_state must be an int between 0 and 2\*\*32 - 1, got -1"),
    ("random_state", 2**32, ValueError,
     r"random_state must be an int between 0 and 2\*\*32 - 1, got 4294967296"),
    ("dtype", "float16", ValueError, r"dtype must be 'float64' or 'float32', got 'float16'"),
    ("dtype", "floaty", TypeError, r"dtype must be 'float64' or 'float32', got 'floaty'"),
    ("backend", "plain", ValueError, r"backend must be 'loops' or 'numpy', got 'plain'"),
    ("backend", None, ValueError, r"backend must be 'loops' or 'numpy', got None"),
]  # fmt: skip

for _param, _value, _exc, _match in HYPERPARAMETERS:
    case(f"MLPClassifier.fit-{_param}-{_value!r}",
         lambda w, p=_param, v=_value: call(w.clf(**{p: v}).fit, w.Xe, w.ye),
         _exc, _match)  # fmt: skip
for _param, _value, _exc, _match in [
    ("loss", "huber", ValueError,
     r"The 'loss' parameter must be one of 'squared_error', 'poisson'; got 'huber'"),
    ("loss", None, ValueError, r"The 'loss' parameter must be one of 'squared_error', 'poisson'; got None"),
    ("alpha", float("inf"), ValueError, r"alpha must be in \[0, inf\), got inf"),
    ("epsilon", -1, ValueError, r"epsilon must be in \(0, inf\), got -1.0"),
    ("random_state", "a", ValueError, r"random_state must be None, an int or a numpy.random.RandomState"),
]:  # fmt: skip
    case(f"MLPRegressor.fit-{_param}-{_value!r}",
         lambda w, p=_param, v=_value: call(w.reg(**{p: v}).fit, w.Xe, w.yr),
         _exc, _match)  # fmt: skip
for _value, _exc, _match in [
    ("auto", ValueError, r"class_weight must be None, 'balanced' or a dict, got 'auto'"),
    (5, TypeError, r"class_weight must be None, 'balanced' or a dict, got 5"),
    ({0: -1.0}, ValueError, r"class_weight values must be finite and >= 0, got \{0: -1.0\}"),
    ({1: float("nan")}, ValueError, r"class_weight values must be finite and >= 0, got \{1: nan\}"),
    ({0: "a"}, TypeError, r"class_weight values must be numbers, got 'a' in \{0: 'a'\}"),
]:  # fmt: skip
    case(f"MLPClassifier.fit-class_weight-{_value!r}",
         lambda w, v=_value: call(w.clf(class_weight=v).fit, w.Xe, w.ye),
         _exc, _match)  # fmt: skip

# X for fit, predict and the rest: scikit-learn's validation and its messages (sk=True), plus loopnet's
EST_BAD_X = [
    ("1-D", lambda w: w.Xe[:, 0], ValueError, r"Expected 2D array, got 1D array instead", True),
    ("3-D", lambda w: w.Xe[:, :, None], ValueError,
     r"Found array with dim 3, while dim <= 2 is required by MLP", True),
    ("scalar", lambda w: 1.0, ValueError, r"Expected 2D array, got scalar array instead", True),
    ("None", lambda w: None, ValueError, r"Expected 2D array, got scalar array instead", True),
    ("0-rows", lambda w: w.Xe[:0], ValueError,
     r"Found array with 0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required", True),
    ("0-features", lambda w: w.Xe[:, :0], ValueError,
     r"Found array with 0 feature\(s\) \(shape=\(20, 0\)\) while a minimum of 1 is required", True),
    ("nan", lambda w: _with(w.Xe, (3, 1), np.nan), ValueError, r"Input X contains NaN", True),
    ("inf", lambda w: _with(w.Xe, (0, 0), np.inf), ValueError,
     r"Input X contains infinity or a value too large for dtype\('float64'\)", True),
    ("str-array", lambda w: np.full((20, 3), "a"), ValueError,
     r"could not convert string to float: np.str_\('a'\)", True),
    ("objects", lambda w: np.array([[{}] * 3] * 20, dtype=object), TypeError,
     r"float\(\) argument must be a string or a real number, not 'dict'", True),
    ("complex", lambda w: w.Xe.astype(complex), ValueError, r"Complex data not supported", True),
    ("datetime", lambda w: np.zeros((20, 3), "datetime64[s]"), TypeError,
     r"X must hold numbers; got an array of dtype datetime64\[s\]", False),
    ("timedelta", lambda w: np.zeros((20, 3), "timedelta64[ms]"), TypeError,
     r"X must hold numbers; got an array of dtype timedelta64\[ms\]", False),
]  # fmt: skip
for _kind, _make, _exc, _match, _sk in EST_BAD_X:
    case(f"MLPClassifier.fit-X-{_kind}", lambda w, m=_make: call(w.clf().fit, m(w), w.ye),
         _exc, _match, sk=_sk)  # fmt: skip
    case(f"MLPRegressor.fit-X-{_kind}", lambda w, m=_make: call(w.reg().fit, m(w), w.yr),
         _exc, _match, sk=_sk)  # fmt: skip
    case(f"MLPClassifier.partial_fit-X-{_kind}",
         lambda w, m=_make: call(w.clf().partial_fit, m(w), w.ye, classes=[0, 1]),
         _exc, _match, sk=_sk)  # fmt: skip
    case(f"MLPClassifier.fit-validation_data-X-{_kind}",
         lambda w, m=_make: call(w.clf().fit, w.Xe, w.ye, validation_data=(m(w), w.ye)),
         _exc, _match, sk=_sk)  # fmt: skip
    for _method in ("predict", "predict_proba", "score"):
        extra = (lambda w: (w.ye,)) if _method == "score" else (lambda w: ())
        case(f"MLPClassifier.{_method}-X-{_kind}",
             lambda w, m=_make, me=_method, e=extra: call(getattr(w.fitted_clf, me), m(w), *e(w)),
             _exc, _match, sk=_sk)  # fmt: skip
    case(f"MLPRegressor.predict-X-{_kind}", lambda w, m=_make: call(w.fitted_reg.predict, m(w)),
         _exc, _match, sk=_sk)  # fmt: skip

for _id, _method, _args, _match in [
    ("2-features", "predict", lambda w: (w.Xe[:, :2],),
     r"X has 2 features, but MLPClassifier is expecting 3 features as input"),
    ("4-features", "predict_proba", lambda w: (np.ones((5, 4)),),
     r"X has 4 features, but MLPClassifier is expecting 3 features as input"),
    ("1-feature", "predict_log_proba", lambda w: (w.Xe[:, :1],),
     r"X has 1 features, but MLPClassifier is expecting 3 features"),
    ("2-features", "score", lambda w: (w.Xe[:, :2], w.ye),
     r"X has 2 features, but MLPClassifier is expecting 3 features"),
    ("2-features", "partial_fit", lambda w: (w.Xe[:, :2], w.ye),
     r"X has 2 features, but MLPClassifier is expecting 3 features"),
    ("y-5-rows", "score", lambda w: (w.Xe, w.ye[:5]),
     r"Found input variables with inconsistent numbers of samples: \[5, 20\]"),
    ("y-nan", "score", lambda w: (w.Xe, _with(w.ye, (0,), np.nan)), r"Input y_true contains NaN"),
    ("new-class", "partial_fit", lambda w: (w.Xe, w.ye + 1),
     r"`y` has classes not in `self.classes_`. `self.classes_` has \[0 1\]. 'y' has \[1 2\]"),
    ("other-classes", "partial_fit", lambda w: (w.Xe, w.ye, None, [0, 1, 2]),
     r"`classes=\[0, 1, 2\]` is not the same as on last call to partial_fit, was: \[0 1\]"),
]:  # fmt: skip
    case(f"MLPClassifier.{_method}-fitted-{_id}",
         lambda w, me=_method, a=_args: call(getattr(w.fitted_clf, me), *a(w)),
         ValueError, _match, sk=True)  # fmt: skip
for _id, _method, _args, _match in [
    ("2-features", "predict", lambda w: (w.Xe[:, :2],),
     r"X has 2 features, but MLPRegressor is expecting 3 features as input"),
    ("y-5-rows", "score", lambda w: (w.Xe, w.yr[:5]),
     r"Found input variables with inconsistent numbers of samples: \[5, 20\]"),
    ("y-nan", "score", lambda w: (w.Xe, _with(w.yr, (2,), np.nan)), r"Input contains NaN"),
    ("2-outputs", "partial_fit", lambda w: (w.Xe, np.ones((20, 2))),
     r"y has 2 outputs; the estimator was fitted on 1"),
]:  # fmt: skip
    case(f"MLPRegressor.{_method}-fitted-{_id}",
         lambda w, me=_method, a=_args: call(getattr(w.fitted_reg, me), *a(w)),
         ValueError, _match, sk=True)  # fmt: skip

for _cls, _method in [("clf", "predict"), ("clf", "predict_proba"), ("clf", "score"), ("reg", "predict"),
                      ("reg", "score")]:  # fmt: skip
    _name = "MLPClassifier" if _cls == "clf" else "MLPRegressor"
    case(f"{_name}.{_method}-before-fit",
         lambda w, c=_cls, me=_method: call(getattr(getattr(w, c)(), me), w.Xe, *[w.ye][: me == "score"]),
         NotFittedError,
         rf"This {_name} instance is not fitted yet. Call 'fit' with appropriate arguments")  # fmt: skip

EST_BAD_Y = [  # (estimator, id, y, exception, fragment, sk)
    ("clf", "19-rows", lambda w: w.ye[:19], ValueError,
     r"Found input variables with inconsistent numbers of samples: \[20, 19\]", True),
    ("reg", "21-rows", lambda w: np.r_[w.yr, 0.0], ValueError,
     r"Found input variables with inconsistent numbers of samples: \[20, 21\]", True),
    ("clf", "None", lambda w: None, ValueError,
     r"This MLPClassifier estimator requires y to be passed, but the target y is None", True),
    ("reg", "None", lambda w: None, ValueError, r"This MLPRegressor estimator requires y to be passed", True),
    ("clf", "3-D", lambda w: w.ye[:, None, None], ValueError,
     r"Found array with dim 3, while dim <= 2 is required", True),
    ("reg", "nan", lambda w: _with(w.yr, (0,), np.nan), ValueError, r"Input y contains NaN", True),
    ("clf", "nan", lambda w: _with(w.ye, (0,), np.nan), ValueError, r"Input y contains NaN", True),
    ("reg", "inf", lambda w: _with(w.yr, (5,), np.inf), ValueError, r"Input y contains infinity", True),
    ("reg", "str", lambda w: np.array(["a", "b"] * 10), ValueError,
     r"could not convert string to float: np.str_\('a'\)", True),
    ("reg", "complex", lambda w: w.yr.astype(complex), ValueError, r"Complex data not supported", True),
    ("reg", "datetime", lambda w: np.zeros(20, "datetime64[D]"), TypeError,
     r"y must hold numbers; got an array of dtype datetime64\[D\]", False),
    ("clf", "continuous", lambda w: w.yr, ValueError,
     r"Unknown label type: continuous. Maybe you are trying to fit a classifier", True),
    ("clf", "objects", lambda w: np.array([{}] * 20, dtype=object), ValueError,
     r"Unknown label type: unknown", True),
    ("clf", "one-class", lambda w: np.zeros(20), ValueError,
     r"Classifier can't train when only one class is present: y holds the one class", True),
    ("clf", "multilabel-not-0-1", lambda w: np.full((20, 2), 2), ValueError,
     r"a 2-D y must be a multilabel indicator: 0 and 1, one column per label", False),
]  # fmt: skip
for _est, _kind, _make, _exc, _match, _sk in EST_BAD_Y:
    _name = "MLPClassifier" if _est == "clf" else "MLPRegressor"
    case(f"{_name}.fit-y-{_kind}", lambda w, e=_est, m=_make: call(getattr(w, e)().fit, w.Xe, m(w)),
         _exc, _match, sk=_sk)  # fmt: skip
case("MLPRegressor.fit-poisson-negative-y", lambda w: call(w.reg(loss="poisson").fit, w.Xe, w.yr), ValueError,
     r"loss='poisson' needs non-negative targets; y has negative values")  # fmt: skip

EST_BAD_WEIGHTS = [
    ("nan", lambda w: _with(np.ones(20), (3,), np.nan), ValueError,
     r"sample_weight must hold only finite numbers; sample_weight\[3\] is nan"),
    ("negative", lambda w: _with(np.ones(20), (0,), -1.0), ValueError,
     r"sample_weight must be >= 0; sample_weight\[0\] is negative \(-1.0\)"),
    ("19-long", lambda w: np.ones(19), ValueError,
     r"sample_weight must have shape \(20,\), one weight per row; got shape \(19,\)"),
    ("str", lambda w: "abc", TypeError, r"sample_weight must be an array of numbers, got a string"),
    ("scalar-nan", lambda w: float("nan"), ValueError,
     r"sample_weight must hold only finite numbers; sample_weight\[0\] is nan"),
    ("scalar-zero", lambda w: 0.0, ValueError,
     r"sample_weight is zero everywhere: at least one row needs a positive weight"),
]  # fmt: skip
for _kind, _make, _exc, _match in EST_BAD_WEIGHTS:
    case(f"MLPClassifier.fit-sample_weight-{_kind}",
         lambda w, m=_make: call(w.clf().fit, w.Xe, w.ye, sample_weight=m(w)), _exc, _match)  # fmt: skip
    case(f"MLPRegressor.partial_fit-sample_weight-{_kind}",
         lambda w, m=_make: call(w.reg().partial_fit, w.Xe, w.yr, sample_weight=m(w)),
         _exc, _match)  # fmt: skip


def _clf_val(w, validation_data) -> Call:
    return call(w.clf().fit, w.Xe, w.ye, validation_data=validation_data)


def _reg_val(w, validation_data) -> Call:
    return call(w.reg().fit, w.Xe, w.yr, validation_data=validation_data)


for _id, _build, _exc, _match in [
    ("partial_fit-without-classes", lambda w: call(w.clf().partial_fit, w.Xe, w.ye), ValueError,
     r"classes must be passed on the first call to partial_fit"),
    ("partial_fit-one-class", lambda w: call(w.clf().partial_fit, w.Xe, w.ye, classes=[0]), ValueError,
     r"a classifier needs at least two"),
    ("partial_fit-early_stopping",
     lambda w: call(w.clf(early_stopping=True).partial_fit, w.Xe, w.ye, classes=[0, 1]), ValueError,
     r"partial_fit does not support early_stopping=True"),
    ("partial_fit-lbfgs", lambda w: call(getattr, w.clf(solver="lbfgs"), "partial_fit"), AttributeError,
     r"partial_fit is only available for stochastic optimizers. lbfgs is not stochastic"),
    ("validation_data-array", lambda w: _clf_val(w, w.Xe), TypeError,
     r"validation_data must be a pair \(X_val, y_val\) or a triple \(X_val, y_val, sample_weight\)"),
    ("validation_data-one", lambda w: _clf_val(w, (w.Xe,)), TypeError,
     r"validation_data must be a pair \(X_val, y_val\)"),
    ("validation_data-rows", lambda w: _clf_val(w, (w.Xe[:5], w.ye[:4])), ValueError,
     r"validation_data: X_val has 5 rows but y_val has 4"),
    ("validation_data-unseen-labels", lambda w: _clf_val(w, (w.Xe, w.ye + 5)), ValueError,
     r"validation_data: y_val has labels the classifier was not fitted on: \[5, 6\]; its classes_ are "
     r"\[0, 1\]"),
    ("validation_data-y-scalar", lambda w: _clf_val(w, (w.Xe, 1)), ValueError,
     r"validation_data: y_val must be a 1-D or 2-D array like y; got shape \(\)"),
    ("validation_data-y-2-D", lambda w: _clf_val(w, (w.Xe, np.zeros((20, 2)))), ValueError,
     r"validation_data: y_val must hold one label per row, like y; got shape \(20, 2\)"),
    ("validation_data-weights-nan", lambda w: _clf_val(w, (w.Xe, w.ye, _with(np.ones(20), (1,), np.nan))),
     ValueError,
     r"sample_weight must hold only finite numbers; sample_weight\[1\] is nan"),
]:  # fmt: skip
    case(f"MLPClassifier-{_id}", _build, _exc, _match)
for _id, _build, _exc, _match in [
    ("validation_data-y-nan", lambda w: _reg_val(w, (w.Xe, _with(w.yr, (0,), np.nan))), ValueError,
     r"validation_data: y_val contains NaN or infinity"),
    ("validation_data-y-str", lambda w: _reg_val(w, (w.Xe, np.array(["a"] * 20))), TypeError,
     r"validation_data: y_val must hold numbers; got an array of dtype <U1"),
    ("validation_data-y-datetime", lambda w: _reg_val(w, (w.Xe, np.zeros(20, "M8[D]"))), TypeError,
     r"validation_data: y_val must hold numbers; got an array of dtype datetime64\[D\]"),
    ("validation_data-y-2-outputs", lambda w: _reg_val(w, (w.Xe, np.ones((20, 2)))), ValueError,
     r"validation_data: y_val has 2 outputs; y has 1"),
    ("validation_data-X-features", lambda w: _reg_val(w, (w.Xe[:, :2], w.yr)), ValueError,
     r"X has 2 features, but MLPRegressor is expecting 3 features as input"),
]:  # fmt: skip
    case(f"MLPRegressor-{_id}", _build, _exc, _match)


# --- the command line -------------------------------------------------------------------------------
#
# Each case is a command line run by loopnet.cli.main in the case's directory. Words naming a file of
# FILES (or m.npz, a classifier trained by loopnet train, and reg.npz, a regressor) are written first.

QUIET = "--epochs 2 --no-progress --out out.npz"
TRAIN = f"train small.csv --target label {QUIET}"

CLI = [
    # loopnet itself
    ("no-command", "", USAGE, r"loopnet: error: the following arguments are required: command"),
    ("unknown-command", "fit", USAGE,
     r"argument command: invalid choice: 'fit' \(choose from 'demo', 'bench'"),
    # demo
    ("demo-unknown", "demo nope", USAGE,
     r"argument name: invalid choice: 'nope' \(choose from 'and', 'three-bit', 'xor', 'perceptron'\)"),
    ("demo-epochs-zero", "demo and --epochs 0", USAGE, r"argument --epochs: expected at least 1, got 0"),
    ("demo-epochs-negative", "demo and --epochs -3", USAGE,
     r"argument --epochs: expected at least 1, got -3"),
    ("demo-epochs-text", "demo and --epochs x", USAGE,
     r"argument --epochs: expected a whole number, got 'x'"),
    ("demo-epochs-float", "demo and --epochs 2.5", USAGE,
     r"argument --epochs: expected a whole number, got '2.5'"),
    ("demo-epochs-beyond-int64", "demo and --epochs 99999999999999999999", USAGE,
     r"argument --epochs: expected at most 9223372036854775807, got 99999999999999999999"),
    ("demo-backend", "demo and --backend gpu", USAGE,
     r"argument --backend: invalid choice: 'gpu' \(choose from 'loops', 'numpy'\)"),
    ("demo-as-published-not-perceptron", "demo and --as-published", USAGE,
     r"--as-published goes with the perceptron demo: loopnet demo perceptron --as-published"),
    ("demo-plot-without-name", "demo --plot err.png", USAGE, r"--plot draws one demo's error curve: name it"),
    ("demo-plot-folder-missing", "demo and --epochs 2 --plot nowhere/err.png", USAGE,
     r"argument --plot: no such directory 'nowhere'"),
    ("demo-plot-directory", "demo and --epochs 2 --plot .", USAGE,
     r"argument --plot: '.' is a directory; give a file name like err.png"),
    ("demo-plot-format", "demo and --epochs 2 --plot err.xyz", USAGE,
     r"argument --plot: 'err.xyz': matplotlib writes no .xyz files; use one of .*png"),
    ("demo-unknown-option", "demo and --bogus", USAGE, r"unrecognized arguments: --bogus"),
    # bench (each refused before anything is timed)
    ("bench-sweep", "bench --sweep nope", USAGE,
     r"argument --sweep: invalid choice: 'nope' \(choose from 'tiny', 'quick', 'full'\)"),
    ("bench-dtype", "bench --dtype float16", USAGE,
     r"argument --dtype: invalid choice: 'float16' \(choose from 'float64', 'float32'\)"),
    ("bench-contenders", "bench --contenders nope", USAGE, r"argument --contenders: invalid choice: 'nope'"),
    ("bench-cases", "bench --cases nope", USAGE, r"argument --cases: invalid choice: 'nope'"),
    ("bench-out-file", "bench --out small.csv", USAGE,
     r"argument --out: 'small.csv' is a file; give a directory for bench.json and bench.png"),
    ("bench-estimators-with-contenders", "bench --estimators --contenders loops --out b", USAGE,
     r"--estimators races two fixed estimators; drop --contenders"),
    ("bench-unknown-option", "bench --bogus", USAGE, r"unrecognized arguments: --bogus"),
    # warmup
    ("warmup-dtype", "warmup --dtype float16", USAGE,
     r"argument --dtype: invalid choice: 'float16' \(choose from 'float64', 'float32'\)"),
    ("warmup-unknown-option", "warmup --bogus", USAGE, r"unrecognized arguments: --bogus"),
    # explain
    ("explain-sizes-one", "explain --sizes 2", USAGE,
     r"argument --sizes: expected at least an input and an output width, like 2,1; got '2'"),
    ("explain-sizes-text", "explain --sizes a,b", USAGE,
     r"argument --sizes: expected whole numbers separated by commas like 2,3,1; got 'a,b'"),
    ("explain-sizes-gap", "explain --sizes 2,,1", USAGE,
     r"argument --sizes: expected layer widths separated by commas like 2,3,1; got '2,,1'"),
    ("explain-sizes-zero", "explain --sizes 0,1", USAGE,
     r"argument --sizes: every layer needs at least 1 unit; got '0,1'"),
    ("explain-sizes-negative", "explain --sizes 2,-1", USAGE,
     r"argument --sizes: every layer needs at least 1 unit; got '2,-1'"),
    ("explain-sizes-float", "explain --sizes 2.5,1", USAGE,
     r"argument --sizes: expected whole numbers .*; got '2.5,1'"),
    ("explain-softmax-one-unit", "explain --sizes 2,1 --loss cross_entropy", USAGE,
     r"a softmax output needs at least 2 output units \(1 unit is always 1.0\)"),
    ("explain-sample-past-the-rows", "explain --sample 4", USAGE,
     r"--sample must be a row of the data, 0 to 3; got 4"),
    ("explain-sample-negative", "explain --sample -1", USAGE,
     r"argument --sample: expected at least 0, got -1"),
    ("explain-sample-text", "explain --sample x", USAGE,
     r"argument --sample: expected a whole number, got 'x'"),
    ("explain-lr-zero", "explain --lr 0", USAGE, r"argument --lr: expected a finite number > 0, got '0'"),
    ("explain-lr-nan", "explain --lr nan", USAGE, r"argument --lr: expected a finite number > 0, got 'nan'"),
    ("explain-lr-inf", "explain --lr inf", USAGE, r"argument --lr: expected a finite number > 0, got 'inf'"),
    ("explain-lr-text", "explain --lr x", USAGE, r"argument --lr: expected a number, got 'x'"),
    ("explain-max-values-zero", "explain --max-values 0", USAGE,
     r"argument --max-values: expected at least 1, got 0"),
    ("explain-activation-softmax", "explain --activation softmax", USAGE,
     r"argument --activation: 'softmax' is not a hidden activation; expected one of identity, sigmoid"),
    ("explain-activation-count", "explain --activation relu,tanh", USAGE,
     r"activation needs one name per hidden layer: 1 for sizes \[2, 2, 1\]; got 2"),
    ("explain-loss", "explain --loss hinge", USAGE, r"argument --loss: invalid choice: 'hinge'"),
    ("explain-loss-output", "explain --loss cross_entropy --output-activation sigmoid", USAGE,
     r"loss 'cross_entropy' needs output_activation='softmax' \(got 'sigmoid'\)"),
    ("explain-seed-negative", "explain --seed -1", USAGE, r"argument --seed: expected at least 0, got -1"),
    ("explain-init", "explain --init zeros", USAGE, r"argument --init: invalid choice: 'zeros'"),
    ("explain-unknown-option", "explain --bogus", USAGE, r"unrecognized arguments: --bogus"),
    # train: usage
    ("train-no-arguments", "train", USAGE, r"the following arguments are required: DATA.csv, --target"),
    ("train-no-target", "train small.csv", USAGE, r"the following arguments are required: --target"),
    ("train-missing-file", "train missing.csv --target label", USAGE,
     r"argument DATA.csv: no such file: 'missing.csv'"),
    ("train-directory", "train . --target label", USAGE,
     r"argument DATA.csv: '.' is a directory, not a file"),
    ("train-unknown-option", f"{TRAIN} --bogus", USAGE, r"unrecognized arguments: --bogus"),
    ("train-lr-text", f"{TRAIN} --lr abc", USAGE, r"argument --lr: expected a number, got 'abc'"),
    ("train-lr-zero", f"{TRAIN} --lr 0", USAGE, r"argument --lr: expected a finite number > 0, got '0'"),
    ("train-lr-nan", f"{TRAIN} --lr nan", USAGE, r"argument --lr: expected a finite number > 0, got 'nan'"),
    ("train-lr-inf", f"{TRAIN} --lr inf", USAGE, r"argument --lr: expected a finite number > 0, got 'inf'"),
    ("train-layers-gap", f"{TRAIN} --layers 16,,8", USAGE,
     r"argument --layers: expected the hidden layers' widths separated by commas, like 16,8; got '16,,8'"),
    ("train-layers-zero", f"{TRAIN} --layers 16,0", USAGE,
     r"argument --layers: every hidden layer needs at least 1 unit; got '16,0'"),
    ("train-layers-float", f"{TRAIN} --layers 1.5", USAGE,
     r"argument --layers: expected the hidden layers' widths .*; got '1.5'"),
    ("train-epochs-zero", f"{TRAIN} --epochs 0", USAGE, r"argument --epochs: expected at least 1, got 0"),
    ("train-epochs-float", f"{TRAIN} --epochs 1.5", USAGE,
     r"argument --epochs: expected a whole number, got '1.5'"),
    ("train-epochs-beyond-int64", f"{TRAIN} --epochs 99999999999999999999", USAGE,
     r"argument --epochs: expected at most 9223372036854775807"),
    ("train-batch-size-zero", f"{TRAIN} --batch-size 0", USAGE,
     r"argument --batch-size: expected at least 1, got 0"),
    ("train-batch-size-text", f"{TRAIN} --batch-size x", USAGE,
     r"argument --batch-size: expected a whole number, got 'x'"),
    ("train-patience-zero", f"{TRAIN} --patience 0", USAGE,
     r"argument --patience: expected at least 1, got 0"),
    ("train-patience-beyond-int64", f"{TRAIN} --patience 99999999999999999999999", USAGE,
     r"argument --patience: expected at most 9223372036854775807"),
    ("train-validation-one", f"{TRAIN} --validation 1", USAGE,
     r"argument --validation: expected a fraction of the rows in \[0, 1\), got '1'"),
    ("train-validation-negative", f"{TRAIN} --validation -0.1", USAGE,
     r"argument --validation: expected a fraction of the rows in \[0, 1\), got '-0.1'"),
    ("train-validation-nan", f"{TRAIN} --validation nan", USAGE,
     r"argument --validation: expected a fraction of the rows in \[0, 1\), got 'nan'"),
    ("train-validation-text", f"{TRAIN} --validation some", USAGE,
     r"argument --validation: expected a fraction of the rows like 0.1, got 'some'"),
    ("train-seed-negative", f"{TRAIN} --seed -3", USAGE, r"argument --seed: expected 0 or more, got -3"),
    ("train-seed-text", f"{TRAIN} --seed x", USAGE, r"argument --seed: expected a whole number, got 'x'"),
    ("train-loss", f"{TRAIN} --loss hinge", USAGE,
     r"argument --loss: invalid choice: 'hinge' \(choose from 'mse', 'bce', 'cross_entropy'\)"),
    ("train-optimizer", f"{TRAIN} --optimizer lbfgs", USAGE,
     r"argument --optimizer: invalid choice: 'lbfgs'"),
    ("train-activation", f"{TRAIN} --activation softmax", USAGE,
     r"argument --activation: invalid choice: 'softmax'"),
    ("train-dtype", f"{TRAIN} --dtype float16", USAGE, r"argument --dtype: invalid choice: 'float16'"),
    ("train-out-folder-missing", "train small.csv --target label --out nowhere/m.npz", USAGE,
     r"argument --out: no such directory 'nowhere'"),
    ("train-out-directory", "train small.csv --target label --out .", USAGE,
     r"argument --out: '.' is a directory; give a file name"),
    ("train-out-is-the-data", "train small.csv --target label --out small.csv", USAGE,
     r"argument --out: 'small.csv' is the input file 'small.csv'; it would be overwritten"),
    ("train-plot-format", f"{TRAIN} --plot loss.jpg", USAGE,
     r"argument --plot: 'loss.jpg' does not end in .png, .svg, .pdf"),
    ("train-plot-folder-missing", f"{TRAIN} --plot nowhere/loss.png", USAGE,
     r"argument --plot: no such directory 'nowhere'"),
    ("train-plot-not-an-image", f"{TRAIN} --plot out.npz", USAGE,
     r"argument --plot: 'out.npz' does not end in .png"),
    ("train-plot-is-the-out", "train small.csv --target label --out same.png --plot same.png", USAGE,
     r"argument --plot: the same file as --out"),
    ("train-plot-is-the-data", f"{TRAIN} --plot small.csv", USAGE,
     r"argument --plot: 'small.csv' is the input file 'small.csv'"),
    # train: data
    ("train-target-unknown", f"train small.csv --target nope {QUIET}", DATA,
     r"'small.csv' has no column 'nope'; its columns are 'x1', 'x2', 'label'"),
    ("train-empty-csv", f"train empty.csv --target label {QUIET}", DATA,
     r"'empty.csv' is empty: it needs a header row and at least one data row"),
    ("train-blank-csv", f"train blank-lines.csv --target label {QUIET}", DATA,
     r"'blank-lines.csv' is empty"),
    ("train-header-only", f"train header-only.csv --target label {QUIET}", DATA,
     r"'header-only.csv' has a header \(line 1\) but no data rows"),
    ("train-ragged-long", f"train ragged.csv --target label {QUIET}", DATA,
     r"'ragged.csv' line 3 has 4 fields; the header \(line 1\) has 3"),
    ("train-ragged-short", f"train short-row.csv --target label {QUIET}", DATA,
     r"'short-row.csv' line 3 has 2 fields; the header \(line 1\) has 3"),
    ("train-text-cell", f"train text-cell.csv --target label {QUIET}", DATA,
     r"'text-cell.csv' line 3, column 'x1': 'five' is not a number"),
    ("train-nan-cell", f"train nan-cell.csv --target label {QUIET}", DATA,
     r"'nan-cell.csv' line 3, column 'x1': 'nan' is not a finite number"),
    ("train-inf-cell", f"train inf-cell.csv --target label {QUIET}", DATA,
     r"'inf-cell.csv' line 3, column 'x2': '-inf' is not a finite number"),
    ("train-empty-cell", f"train empty-cell.csv --target label {QUIET}", DATA,
     r"'empty-cell.csv' line 3, column 'x1': the cell is empty; a number is needed"),
    ("train-empty-target", f"train empty-target.csv --target label {QUIET}", DATA,
     r"'empty-target.csv' line 3, column 'label': the target cell is empty"),
    ("train-nan-target", f"train nan-target.csv --target y {QUIET}", DATA,
     r"'nan-target.csv' line 3, column 'y': 'nan' is not a finite number"),
    ("train-one-class", f"train one-class.csv --target label {QUIET}", DATA,
     r"target column 'label' of 'one-class.csv' holds one class only \('a'\): nothing to tell apart"),
    ("train-target-only", f"train target-only.csv --target label {QUIET}", DATA,
     r"'target-only.csv' has no column besides the target 'label': nothing to learn from"),
    ("train-duplicate-header", f"train duplicate-header.csv --target label {QUIET}", DATA,
     r"'duplicate-header.csv' line 1: the header names column 'x1' twice"),
    ("train-nameless-column", f"train nameless-column.csv --target label {QUIET}", DATA,
     r"'nameless-column.csv' line 1: column 2 of the header has no name"),
    ("train-unclosed-quote", f"train unclosed-quote.csv --target label {QUIET}", DATA,
     r"'unclosed-quote.csv' line 2: not valid CSV: unexpected end of data"),
    ("train-stray-quote", f"train stray-quote.csv --target label {QUIET}", DATA,
     r"'stray-quote.csv' line 2: not valid CSV: ',' expected after '\"'"),
    ("train-not-utf-8", f"train latin-1.csv --target label {QUIET}", DATA,
     r"'latin-1.csv' is not UTF-8 text: invalid continuation byte at byte \d+"),
    ("train-model-file-as-data", f"train m.npz --target label {QUIET}", DATA,
     r"'m.npz' is not UTF-8 text"),
    ("train-bce-three-classes", f"train three-classes.csv --target label --loss bce {QUIET}", DATA,
     r"--loss bce needs exactly 2 classes; target column 'label' holds 3 \('a', 'b', 'c'\): use --loss "
     r"cross_entropy"),
    ("train-mse-on-labels", f"{TRAIN} --loss mse", DATA,
     r"--loss mse needs numbers in the target column; 'small.csv' line 2, column 'label': 'a' is not a "
     r"number"),
    ("train-validation-too-small", f"{TRAIN} --validation 0.01", DATA,
     r"--validation 0.01 of 6 rows holds out 0; both the training and the validation rows need at least one"),
    ("train-validation-too-large", f"{TRAIN} --validation 0.99", DATA,
     r"--validation 0.99 of 6 rows holds out 6"),
    # predict
    ("predict-no-arguments", "predict", USAGE, r"the following arguments are required: MODEL.npz, DATA.csv"),
    ("predict-no-data", "predict m.npz", USAGE, r"the following arguments are required: DATA.csv"),
    ("predict-missing-model", "predict missing.npz small.csv", USAGE,
     r"argument MODEL.npz: no such file: 'missing.npz'"),
    ("predict-missing-data", "predict m.npz missing.csv", USAGE,
     r"argument DATA.csv: no such file: 'missing.csv'"),
    ("predict-model-directory", "predict . small.csv", USAGE,
     r"argument MODEL.npz: '.' is a directory, not a file"),
    ("predict-unknown-option", "predict m.npz small.csv --bogus", USAGE, r"unrecognized arguments: --bogus"),
    ("predict-proba-regressor", "predict reg.npz numbers.csv --proba", USAGE,
     r"argument --proba: 'reg.npz' is a regressor \(of 'y'\): no classes"),
    ("predict-out-directory", "predict m.npz small.csv --out .", USAGE,
     r"argument --out: '.' is a directory; give a file name"),
    ("predict-out-folder-missing", "predict m.npz small.csv --out nowhere/p.csv", USAGE,
     r"argument --out: no such directory 'nowhere'"),
    ("predict-out-is-the-data", "predict m.npz small.csv --out small.csv", USAGE,
     r"argument --out: 'small.csv' is the input file 'small.csv'; it would be overwritten"),
    ("predict-out-is-the-model", "predict m.npz small.csv --out m.npz", USAGE,
     r"argument --out: 'm.npz' is the input file 'm.npz'"),
    ("predict-missing-feature", "predict m.npz missing-feature.csv --out p.csv", DATA,
     r"'missing-feature.csv' has no column 'x2', a feature of 'm.npz'"),
    ("predict-extra-column", "predict m.npz extra-column.csv --out p.csv", DATA,
     r"'extra-column.csv' has column 'x3', which 'm.npz' was not trained on \(its features: 'x1', 'x2'"),
    ("predict-empty-csv", "predict m.npz empty.csv --out p.csv", DATA,
     r"'empty.csv' is empty: it needs a header row and at least one data row"),
    ("predict-header-only", "predict m.npz header-only.csv --out p.csv", DATA,
     r"'header-only.csv' has a header \(line 1\) but no data rows"),
    ("predict-ragged", "predict m.npz ragged.csv --out p.csv", DATA,
     r"'ragged.csv' line 3 has 4 fields; the header \(line 1\) has 3"),
    ("predict-text-cell", "predict m.npz text-cell.csv --out p.csv", DATA,
     r"'text-cell.csv' line 3, column 'x1': 'five' is not a number"),
    ("predict-nan-cell", "predict m.npz nan-cell.csv --out p.csv", DATA,
     r"'nan-cell.csv' line 3, column 'x1': 'nan' is not a finite number"),
    ("predict-empty-cell", "predict m.npz empty-cell.csv --out p.csv", DATA,
     r"'empty-cell.csv' line 3, column 'x1': the cell is empty"),
    ("predict-not-utf-8", "predict m.npz latin-1.csv --out p.csv", DATA, r"'latin-1.csv' is not UTF-8 text"),
    ("predict-csv-as-model", "predict small.csv small.csv --out p.csv", DATA,
     r"'small.csv' is not a loopnet model file \(write one with Network.save\): it is not a NumPy .npz file"),
    ("predict-empty-model", "predict empty.npz small.csv --out p.csv", DATA,
     r"'empty.npz' is empty \(0 bytes\), not a loopnet model file"),
    ("predict-plain-network", "predict plain.npz small.csv --out p.csv", DATA,
     r"'plain.npz' holds a network but no column names or scaling: it was not written by loopnet train"),
    ("predict-truncated-model", "predict truncated.npz small.csv --out p.csv", DATA,
     r"'truncated.npz' is not a whole loopnet model file \(truncated or corrupted\?\)"),
    ("predict-wrong-model-kind", "predict reg.npz small.csv --out p.csv", DATA,
     r"'small.csv' has column 'label', which 'reg.npz' was not trained on \(its features: 'x1', 'x2'; its "
     r"target 'y' may be present"),
    # show
    ("show-no-arguments", "show", USAGE, r"the following arguments are required: MODEL.npz"),
    ("show-missing", "show missing.npz", USAGE, r"argument MODEL.npz: no such file: 'missing.npz'"),
    ("show-directory", "show .", USAGE, r"argument MODEL.npz: '.' is a directory, not a file"),
    ("show-unknown-option", "show m.npz --bogus", USAGE, r"unrecognized arguments: --bogus"),
    ("show-csv", "show small.csv", DATA,
     r"'small.csv' is not a loopnet model file \(write one with Network.save\): it is not a NumPy .npz "
     r"file \(it starts with b'x1,x2,la'\)"),
    ("show-csv-json", "show small.csv --json", DATA, r"'small.csv' is not a loopnet model file"),
    ("show-empty", "show empty.npz", DATA, r"'empty.npz' is empty \(0 bytes\), not a loopnet model file"),
    ("show-truncated", "show truncated.npz", DATA,
     r"'truncated.npz' is not a whole loopnet model file \(truncated or corrupted\?\)"),
]  # fmt: skip
for _id, _line, _exit, _match in CLI:
    case(f"cli-{_id}", lambda w, line=_line: w.cli(line), _exit, _match)


# --- running the table --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, bytes]:
    """Model files for the CLI: a classifier and a regressor by loopnet train, a plain Network, a cut one."""
    root = tmp_path_factory.mktemp("models")
    (root / "small.csv").write_text(SMALL_CSV)
    (root / "numbers.csv").write_text(NUMBERS_CSV)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        for data, target, out in (("small.csv", "label", "m.npz"), ("numbers.csv", "y", "reg.npz")):
            argv = ["train", str(root / data), "--target", target, "--epochs", "2", "--no-progress"]
            assert cli.main([*argv, "--out", str(root / out)]) == 0, sink.getvalue()
    loopnet.Network([2, 1], seed=0).save(root / "plain.npz")
    files = {name: (root / name).read_bytes() for name in ("m.npz", "reg.npz", "plain.npz")}
    files["truncated.npz"] = files["m.npz"][:300]
    return files


@pytest.fixture
def world(tmp_path, monkeypatch, models) -> World:
    monkeypatch.chdir(tmp_path)
    return World(tmp_path, models)


FLAGS = ("C_CONTIGUOUS", "F_CONTIGUOUS", "WRITEABLE", "ALIGNED", "OWNDATA")


class Untouched:
    """What a call was handed and what it must leave as it was: arrays, lists, networks, estimators, files."""

    def __init__(self, inputs, root: Path | None) -> None:
        self.inputs = inputs
        self.arrays = [(a, a.copy(), a.dtype, a.shape, a.strides, _flags(a)) for a in _arrays(inputs)]
        self.plain = repr(_plain(inputs))
        self.owners = [(o, _state(o)) for o in _owners(inputs)]
        self.root = root
        self.files = None if root is None else _files(root)

    def check(self) -> None:
        for a, before, dtype, shape, strides, flags in self.arrays:
            assert (a.dtype, a.shape, a.strides) == (dtype, shape, strides), "an input array was reshaped"
            assert _flags(a) == flags, "an input array's flags changed"
            np.testing.assert_array_equal(a, before, err_msg="an input array was written")
        assert repr(_plain(self.inputs)) == self.plain, "a list, tuple or dict argument was changed"
        for owner, state in self.owners:
            assert _same_state(_state(owner), state), f"the {type(owner).__name__} changed"
        if self.root is not None:
            assert _files(self.root) == self.files, "a file was written, changed or removed"


def _flags(a: np.ndarray) -> dict:
    return {flag: a.flags[flag] for flag in FLAGS}


def _arrays(obj) -> list[np.ndarray]:
    if isinstance(obj, np.ndarray):
        return [obj]
    if isinstance(obj, list | tuple):
        return [a for item in obj for a in _arrays(item)]
    if isinstance(obj, dict):
        return [a for item in obj.values() for a in _arrays(item)]
    return []


def _plain(obj):
    """Nested lists, tuples and dicts of plain values as they are now (arrays and objects by identity)."""
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(item) for item in obj)
    if isinstance(obj, dict):
        return {key: _plain(value) for key, value in obj.items()}
    if isinstance(obj, int | float | complex | str | bytes | type(None)):
        return obj
    return ("object", id(obj))


def _owners(obj) -> list:
    """The networks and estimators among the inputs (the bound method's object included)."""
    found = []
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, loopnet.Network | loopnet.MLPClassifier | loopnet.MLPRegressor):
            found.append(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif hasattr(item, "__self__"):
            stack.append(item.__self__)
    return found


def _state(owner) -> dict:
    if isinstance(owner, loopnet.Network):
        return {"params": owner.params.copy(), "config": owner.config(), "metadata": repr(owner.metadata)}
    state = {"params": repr(owner.get_params())}  # a failed fit leaves the hyperparameters as they were
    if hasattr(owner, "coefs_"):
        state["weights"] = [w.copy() for w in (*owner.coefs_, *owner.intercepts_)]
        state["n_iter_"] = owner.n_iter_
    return state


def _same_state(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            if not (x.dtype == y.dtype and np.array_equal(x, y, equal_nan=True)):
                return False
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            if len(x) != len(y) or not all(np.array_equal(p, q, equal_nan=True) for p, q in zip(x, y)):
                return False
        elif repr(x) != repr(y):
            return False
    return True


def _files(root: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(root.rglob("*")):
        stat = path.stat()
        name = str(path.relative_to(root))
        out[name] = ("dir",) if path.is_dir() else (path.read_bytes(), stat.st_mtime_ns)
    return out


def _run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's usage errors
        status = exc.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _check_cli(case_: Case, status: int, out: str, err: str) -> None:
    assert "Traceback" not in err, err
    assert status == case_.exc.status, f"exit status {status}, expected {case_.exc.status}: {err}"
    assert out == "", f"a refused command printed to stdout: {out!r}"
    lines = err.splitlines()
    assert lines, "no error message"
    last = lines[-1]
    assert re.match(r"loopnet( \w+)?: error: ", last), f"the error line is not loopnet's: {last!r}"
    assert re.search(case_.match, last), f"{case_.match!r} not in {last!r}"
    before = lines[:-1]
    if case_.exc.status == 2:  # argparse's usage block, or nothing, above the error
        usage = not before or (
            before[0].startswith("usage: loopnet") and all(l[:1] == " " for l in before[1:])
        )
        assert usage, err
    else:  # at most the line saying what train makes of the target
        assert all(line.startswith("loopnet train: --target ") for line in before), err


@pytest.mark.parametrize("case_", [pytest.param(c, id=c.id, marks=c.marks) for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(case_: Case, world: World, capsys):
    built = case_.build(world)
    if isinstance(built, CliCall):
        untouched = Untouched(built.argv, world.root)
        status, out, err = _run_cli(built.argv, capsys)
        _check_cli(case_, status, out, err)
        untouched.check()
        return
    untouched = Untouched((built.fn, built.args, built.kwargs), world.root)
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(case_.exc, match=case_.match) as info:
            built.fn(*built.args, **built.kwargs)
    message = str(info.value)
    assert not type(info.value).__module__.startswith("numba"), repr(info.value)
    if not case_.sk:
        assert "\n" not in message, f"a message of more than one line: {message!r}"
    if not case_.sk:  # scikit-learn's own checks may warn on their way to their error (score's y_true)
        numpy_warnings = [w for w in caught if issubclass(w.category, RuntimeWarning | DeprecationWarning)]
        assert not numpy_warnings, [str(w.message) for w in numpy_warnings]
    assert capsys.readouterr() == ("", ""), "a refused call printed something"
    untouched.check()


def test_the_table_covers_every_entry_point():
    """The table's promise, checked: each public entry point has cases, and the CLI each command."""
    ids = [c.id for c in CASES]
    entry_points = [
        "Network-", "Network.backend-", "Network.forward-", "Network.predict-", "Network.loss-",
        "Network.gradients-", "Network.fit-", "Network.fit-validation-", "Network.explain-",
        "Explanation.format-", "Network.set_weights-", "Network.save-", "load-", "read_header-", "SGD-",
        "Adam-", "AdamW-", "EarlyStopping-", "learning_rates-", "History.plot-", "demos.run-",
        "MLPClassifier.fit-", "MLPClassifier.partial_fit-", "MLPClassifier.predict-",
        "MLPClassifier.predict_proba-", "MLPClassifier.score-", "MLPRegressor.fit-",
        "MLPRegressor.partial_fit-",
        "MLPRegressor.predict-", "MLPRegressor.score-",
        *(f"cli-{cmd}-" for cmd in ("demo", "bench", "warmup", "explain", "train", "predict", "show")),
    ]  # fmt: skip
    missing = [prefix for prefix in entry_points if not any(i.startswith(prefix) for i in ids)]
    assert not missing, missing
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    kinds = ["1-D", "3-D", "scalar", "0-rows", "0-features", "nan", "inf", "objects", "complex", "datetime"]
    prefixes = ("Network.forward-X-", "Network.fit-X-", "Network.fit-validation-X-", "MLPClassifier.fit-X-",
                "MLPClassifier.predict-X-")  # fmt: skip
    for prefix in prefixes:
        assert all(f"{prefix}{kind}" in ids for kind in kinds), prefix


# --- odd but valid arrays: accepted, untouched, the same results as a plain float64 copy ----------------


def _spread(a: np.ndarray, axis: int) -> np.ndarray:
    """The same numbers as a strided view: every other row (axis 0) or column (axis 1) of a bigger array."""
    if a.ndim == 1 or axis == 0:
        big = np.zeros((2 * a.shape[0], *a.shape[1:]), dtype=a.dtype)
        big[::2] = a
        return big[::2]
    big = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    big[:, 1::2] = a
    return big[:, 1::2]


def _reversed(a: np.ndarray) -> np.ndarray:
    return a[::-1].copy()[::-1]


VARIANTS: dict[str, Callable[[np.ndarray], object]] = {  # each holds the same numbers as its float64 input
    "int64": lambda a: a.astype(np.int64),
    "int32": lambda a: a.astype(np.int32),
    "uint8-and-bool": lambda a: (a != 0) if a.ndim == 2 and a.shape[1] == 2 else np.abs(a).astype(np.uint8),
    "float32": lambda a: a.astype(np.float32),
    "every-other-column": lambda a: _spread(a, 1),
    "every-other-row": lambda a: _spread(a, 0),
    "negative-strides": _reversed,
    "fortran": np.asfortranarray,
    "read-only": _read_only,
    "read-only-fortran": lambda a: _read_only(np.asfortranarray(a)),
    "lists": lambda a: a.tolist(),
}


def _data(rng, variant: str):
    """Whole numbers (exact in every dtype above): X in [-3, 3] (0..3 for uint8), Y 0/1, weights 1..3."""
    low = 0 if variant == "uint8-and-bool" else -3
    X = rng.integers(low, 4, (6, 3)).astype(np.float64)
    Y = rng.integers(0, 2, (6, 2)).astype(np.float64)
    weights = rng.integers(1, 4, 6).astype(np.float64)
    return X, Y, weights


def _network_results(net_dtype: str, X, Y, weights) -> dict:
    net = loopnet.Network([3, 4, 2], activation="tanh", dtype=net_dtype, seed=0)
    out = {"forward": net.forward(X), "loss": net.loss(X, Y, sample_weight=weights)}
    gradients = net.gradients(X, Y, sample_weight=weights)
    out["gradients"] = np.concatenate([np.r_[dW.ravel(), db] for dW, db in gradients])
    history = net.fit(X, Y, epochs=3, batch_size=4, sample_weight=weights, validation=(X, Y, weights))
    out["fit"] = np.r_[net.params, history["loss"], history["val_loss"]]
    return out


def _estimator_results(net_dtype: str, X, Y, weights) -> dict:
    y = np.asarray(Y)[:, 0] if not isinstance(Y, list) else [row[0] for row in Y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = loopnet.MLPClassifier((4,), max_iter=3, batch_size=4, random_state=0, dtype=net_dtype)
        clf.fit(X, y, sample_weight=weights)
        reg = loopnet.MLPRegressor(
            hidden_layer_sizes=(4,), max_iter=3, batch_size=4, random_state=0, dtype=net_dtype
        )
        reg.fit(X, Y, sample_weight=weights)
    return {
        "classifier": np.r_[np.concatenate([w.ravel() for w in clf.coefs_]), clf.predict_proba(X).ravel()],
        "regressor": np.r_[np.concatenate([w.ravel() for w in reg.coefs_]), reg.predict(X).ravel()],
    }


@pytest.mark.parametrize("net_dtype", ["float64", "float32"])
@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("entry", ["Network", "estimators"])
def test_odd_but_valid_arrays_are_accepted_and_left_untouched(entry, variant, net_dtype):
    X, Y, weights = _data(np.random.default_rng(7), variant)
    make = VARIANTS[variant]
    inputs = (make(X), make(Y), make(weights))
    if variant == "uint8-and-bool":
        assert inputs[1].dtype == bool  # the targets as booleans; X and the weights as uint8
    run = _network_results if entry == "Network" else _estimator_results
    untouched = Untouched(inputs, None)
    results = run(net_dtype, *inputs)
    untouched.check()
    plain = tuple(np.array(a, dtype=np.float64, order="C") for a in inputs)  # passed on uncopied: held too
    untouched = Untouched(plain, None)
    reference = run(net_dtype, *plain)
    untouched.check()
    rtol = 1e-12 if net_dtype == "float64" else 1e-5
    for key, value in reference.items():
        np.testing.assert_allclose(results[key], value, rtol=rtol, atol=rtol * 1e-3, err_msg=key)
