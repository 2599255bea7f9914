"""Callbacks: EarlyStopping with restore_best_weights, ReduceLROnPlateau, a one-argument
LearningRateScheduler, CSVLogger, TerminateOnNaN and a custom Callback subclass."""
import os
import tempfile

import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(42)
(X_train_full, y_train_full), _ = keras.datasets.fashion_mnist.load_data()
X_train, y_train = X_train_full[:3000] / 255.0, y_train_full[:3000]
X_valid, y_valid = X_train_full[-600:] / 255.0, y_train_full[-600:]


class PrintValTrainRatioCallback(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ratios = []

    def on_epoch_end(self, epoch, logs=None):
        self.ratios.append(logs["val_loss"] / logs["loss"])


def exponential_decay(epoch):
    return 0.01 * 0.1 ** (epoch / 20)


model = keras.Sequential([
    layers.Input(shape=[28, 28]),
    layers.Flatten(),
    layers.Dense(100, activation="relu", kernel_initializer="he_normal"),
    layers.Dense(10, activation="softmax"),
])
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.01),
              metrics=["accuracy"])
log_dir = tempfile.mkdtemp()
csv_path = os.path.join(log_dir, "training.csv")
ratio_cb = PrintValTrainRatioCallback()
callbacks = [
    keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
    keras.callbacks.LearningRateScheduler(exponential_decay),
    keras.callbacks.CSVLogger(csv_path),
    keras.callbacks.TerminateOnNaN(),
    ratio_cb,
]
history = model.fit(X_train, y_train, epochs=4, validation_data=(X_valid, y_valid), callbacks=callbacks,
                    verbose=0)
with open(csv_path) as f:
    csv_header = f.readline().strip().split(",")
    csv_rows = sum(1 for _ in f)

plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0)
model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=10.0))
model.fit(X_train[:200], y_train[:200], epochs=2, callbacks=[plateau, keras.callbacks.TerminateOnNaN()],
          verbose=0)

RESULT = dict(
    history_keys=sorted(history.history),
    epochs=len(history.history["loss"]),
    csv_header=sorted(csv_header),
    csv_rows=csv_rows,
    ratios=len(ratio_cb.ratios),
    first_lr=float(history.history["learning_rate"][0]),
)
