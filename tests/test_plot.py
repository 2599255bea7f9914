"""fastann.utils.plot_history: one panel per quantity, training and validation curves, a PNG on request."""
import builtins
import sys

import numpy as np
import pytest

import fastann
from fastann import layers


def _history():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.float32)[:, None]
    fastann.utils.set_random_seed(0)
    model = fastann.Sequential([layers.Input((4,)), layers.Dense(8, activation="relu"),
                                layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model.fit(x, y, epochs=4, batch_size=32, validation_split=0.25, verbose=0)


def test_plot_history_draws_a_panel_per_quantity_and_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = _history()
    path = tmp_path / "curves.png"
    fig = fastann.utils.plot_history(history, path=path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["loss", "accuracy"]
    for ax, name in zip(fig.axes, titles):
        train, val = ax.get_lines()
        np.testing.assert_allclose(train.get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(train.get_ydata(), history.history[name])
        np.testing.assert_allclose(val.get_ydata(), history.history["val_" + name])
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_plot_history_takes_the_dict_and_a_history_without_validation():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    fig = fastann.utils.plot_history({"loss": [1.0, 0.5, 0.25], "mae": [0.9, 0.6, 0.4]})
    assert [ax.get_title() for ax in fig.axes] == ["loss", "mae"]
    assert all(len(ax.get_lines()) == 1 for ax in fig.axes)
    plt.close(fig)


def test_plot_history_bad_input():
    with pytest.raises(TypeError, match="plot_history: history"):
        fastann.utils.plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match="no epochs"):
        fastann.utils.plot_history({})
    with pytest.raises(ValueError, match="differ in length"):
        fastann.utils.plot_history({"loss": [1.0, 0.5], "val_loss": [1.0]})
    with pytest.raises(TypeError, match=r"history\['loss'\]"):
        fastann.utils.plot_history({"loss": ["a", object()]})


def test_plot_history_without_matplotlib_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r'pip install "fastann\[plot\]"'):
        fastann.utils.plot_history({"loss": [1.0, 0.5]})
