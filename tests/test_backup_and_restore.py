"""keras.callbacks.BackupAndRestore: an interrupted fit, started again, ends where an uninterrupted one ends."""
import numpy as np
import pytest

import fastann
from fastann import callbacks, layers


class Interrupt(Exception):
    pass


class InterruptAt(callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt(epoch)


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def _model():
    model = fastann.Sequential([layers.Input((8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.2),
                                layers.Dense(2, activation="softmax")], seed=3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_interrupted_run_resumes_bit_identically(tmp_path):
    x, y = _data()
    straight = _model()
    straight.fit(x, y, epochs=4, batch_size=32, verbose=0)

    backup = tmp_path / "backup"
    model = _model()
    with pytest.raises(Interrupt):
        model.fit(x, y, epochs=4, batch_size=32, verbose=0,
                  callbacks=[callbacks.BackupAndRestore(backup), InterruptAt(2)])
    assert (backup / "latest.keras").exists()
    resumed = _model()  # a fresh process would build the model again from the same code
    history = resumed.fit(x, y, epochs=4, batch_size=32, verbose=0, callbacks=[callbacks.BackupAndRestore(backup)])
    assert len(history.history["loss"]) == 2  # epochs 2 and 3 only
    for a, b in zip(resumed.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not backup.exists()  # delete_checkpoint: a run that ends removes its backup


def test_keeps_the_backup_when_asked_and_checks_its_arguments(tmp_path):
    x, y = _data()
    model = _model()
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert (tmp_path / "latest.keras").exists() and (tmp_path / "training_metadata.json").exists()
    with pytest.raises(ValueError, match="backup_dir"):
        callbacks.BackupAndRestore("")
    with pytest.raises(NotImplementedError, match="save_freq"):
        callbacks.BackupAndRestore(tmp_path, save_freq=10)
    with pytest.raises(NotImplementedError, match="double_checkpoint"):
        callbacks.BackupAndRestore(tmp_path, double_checkpoint=True)


def test_a_backup_of_another_model_is_refused(tmp_path):
    x, y = _data()
    _model().fit(x, y, epochs=1, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path, delete_checkpoint=False)])
    other = fastann.Sequential([layers.Input((8,)), layers.Dense(4), layers.Dense(2, activation="softmax")])
    other.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError):
        other.fit(x, y, epochs=2, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path)])
