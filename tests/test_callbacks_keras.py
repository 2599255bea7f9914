"""keras.callbacks CSVLogger and TerminateOnNaN in fit."""
import csv

import numpy as np
import pytest

import fastann
from fastann import callbacks


def _model(rng):
    x = rng.standard_normal((40, 3)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [0.5]], np.float32)).astype(np.float32)
    m = fastann.Sequential([fastann.layers.Dense(1)])
    m.compile(optimizer=fastann.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return m, x, y


def test_csv_logger_writes_sorted_keys_and_rows(rng, tmp_path):
    m, x, y = _model(rng)
    path = tmp_path / "log.csv"
    h = m.fit(x, y, epochs=3, batch_size=8, verbose=0, validation_split=0.25, callbacks=[callbacks.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    assert [float(r[1]) for r in rows[1:]] == pytest.approx(h.history["loss"], rel=1e-12)
    assert [float(r[3]) for r in rows[1:]] == pytest.approx(h.history["val_loss"], rel=1e-12)
    # a second fit overwrites; with append=True it adds rows and no second header
    m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";")])
    m.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.CSVLogger(path, separator=";", append=True)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch;loss;mae" and len(lines) == 4
    assert [ln.split(";")[0] for ln in lines[1:]] == ["0", "0", "1"]
    fresh = tmp_path / "new.csv"
    m.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.CSVLogger(fresh, append=True)])
    assert fresh.read_text().splitlines()[0] == "epoch,loss,mae"


def test_csv_logger_list_values_and_bad_arguments(tmp_path):
    cb = callbacks.CSVLogger(str(tmp_path / "l.csv"))
    cb.on_train_begin({})
    cb.on_epoch_end(0, {"precision": [0.5, 0.25], "loss": 1.0})
    cb.on_train_end({})
    rows = list(csv.reader(open(tmp_path / "l.csv", newline="")))
    assert rows == [["epoch", "loss", "precision"], ["0", "1.0", '"[0.5, 0.25]"']]
    with pytest.raises(TypeError, match="separator"):
        callbacks.CSVLogger("x.csv", separator=";;")
    with pytest.raises(TypeError, match="filename"):
        callbacks.CSVLogger(3)


def test_terminate_on_nan_stops_after_the_batch(rng, capsys):
    m, x, y = _model(rng)
    y[17] = np.nan  # batch 2 of 8-row batches
    seen = []
    h = m.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0,
              callbacks=[callbacks.TerminateOnNaN(),
                         callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(b))])
    assert seen == [0, 1, 2]  # no batch after the NaN one, no second epoch
    assert len(h.history["loss"]) == 1 and np.isnan(h.history["loss"][0])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out
    m2, x2, y2 = _model(rng)
    h = m2.fit(x2, y2, epochs=2, verbose=0, callbacks=[callbacks.TerminateOnNaN()])
    assert len(h.history["loss"]) == 2
