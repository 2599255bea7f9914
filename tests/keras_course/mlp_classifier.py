"""An MLP image classifier on Fashion-MNIST (the Sequential API, sparse labels, SGD)."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(42)
fashion_mnist = keras.datasets.fashion_mnist.load_data()
(X_train_full, y_train_full), (X_test, y_test) = fashion_mnist
X_train, y_train = X_train_full[:5000] / 255.0, y_train_full[:5000]
X_valid, y_valid = X_train_full[-1000:] / 255.0, y_train_full[-1000:]
X_test, y_test = X_test[:1000] / 255.0, y_test[:1000]

model = keras.Sequential([
    layers.Input(shape=[28, 28]),
    layers.Flatten(),
    layers.Dense(300, activation="relu"),
    layers.Dense(100, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.summary()
hidden1 = model.layers[1]
weights, biases = hidden1.get_weights()
model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
history = model.fit(X_train, y_train, epochs=4, validation_data=(X_valid, y_valid), verbose=0)
test_loss, test_accuracy = model.evaluate(X_test, y_test, verbose=0)
y_proba = model.predict(X_test[:3], verbose=0)
y_pred = y_proba.argmax(axis=-1)

RESULT = dict(
    weight_shapes=[tuple(w.shape) for w in model.get_weights()],
    params=model.count_params(),
    n_layers=len(model.layers),
    hidden1_kernel=tuple(weights.shape), hidden1_bias_zero=bool(np.all(biases == 0)),
    history_keys=sorted(history.history),
    epochs=len(history.history["loss"]),
    proba_shape=tuple(y_proba.shape),
    proba_rows_sum_to_one=bool(np.allclose(y_proba.sum(axis=1), 1.0, atol=1e-5)),
    pred_shape=tuple(y_pred.shape),
    evaluate_type=type(test_accuracy).__name__,
    accuracy=float(test_accuracy),
)
