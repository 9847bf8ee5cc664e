import numpy as np

from jaxbrain.lm.dashboard import moving_average, write_dashboard


def test_moving_average_trailing_mean():
    np.testing.assert_allclose(moving_average([1, 2, 3, 4], 2), [1, 1.5, 2.5, 3.5])
    assert len(moving_average([], 5)) == 0


def test_dashboard_writes_png(tmp_path):
    hist = [{"step": s, "loss": 4.0 - s / 100, "accuracy": s / 200, "tokens_per_s": 1000.0,
             "lr": 1e-3} for s in range(1, 60)]
    hist[-1]["val_loss"] = 3.5
    samples = [{"step": 59, "accuracy": 0.2, "input": "To be, or not", "predicted": "to  ee",
                "generation": "to be the"}]
    p = write_dashboard(hist, samples, tmp_path / "d.png", title="t")
    import matplotlib.image as mpimg
    img = mpimg.imread(p)
    assert img.shape[0] > 500 and img.shape[1] > 800
