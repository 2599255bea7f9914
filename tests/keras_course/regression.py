"""Regression: y of shape (N,), one linear output unit, MSE loss and MAE metric."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 8)).astype("float32")
true_w = rng.normal(size=8).astype("float32")
y = (X @ true_w + 0.5 * np.sin(3 * X[:, 0]) + 0.1 * rng.normal(size=2000)).astype("float32")
X_train, y_train, X_test, y_test = X[:1600], y[:1600], X[1600:], y[1600:]

model = keras.Sequential([
    layers.Input(shape=X_train.shape[1:]),
    layers.Dense(30, activation="relu"),
    layers.Dense(1),
])
model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e-2), metrics=["mae"])
history = model.fit(X_train, y_train, epochs=20, batch_size=32, validation_split=0.2, verbose=0)
mse_test, mae_test = model.evaluate(X_test, y_test, verbose=0)
y_pred = model.predict(X_test[:3], verbose=0)

RESULT = dict(
    weight_shapes=[tuple(w.shape) for w in model.get_weights()],
    params=model.count_params(),
    history_keys=sorted(history.history),
    pred_shape=tuple(y_pred.shape),
    mse_test=float(mse_test),
    baseline_mse=float(np.var(y_test)),
)
