"""A binary classifier: y of shape (N,), a sigmoid output, accuracy, AUC, precision and recall."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(7)
(X_train_full, y_train_full), (X_test_full, y_test_full) = keras.datasets.fashion_mnist.load_data()
# T-shirt/top (0) against shirt (6): the hardest pair of Fashion-MNIST
train = np.isin(y_train_full, (0, 6))
test = np.isin(y_test_full, (0, 6))
X_train = X_train_full[train][:4000].reshape(-1, 784).astype("float32") / 255.0
y_train = (y_train_full[train][:4000] == 6).astype("float32")
X_test = X_test_full[test].reshape(-1, 784).astype("float32") / 255.0
y_test = (y_test_full[test] == 6).astype("float32")

model = keras.Sequential([
    layers.Input(shape=(784,)),
    layers.Dense(64, activation="relu"),
    layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="binary_crossentropy",
              metrics=["accuracy", keras.metrics.AUC(), keras.metrics.Precision(), keras.metrics.Recall()])
history = model.fit(X_train, y_train, epochs=3, batch_size=64, validation_split=0.2, verbose=0)
results = model.evaluate(X_test, y_test, verbose=0, return_dict=True)
proba = model.predict(X_test[:4], verbose=0)

RESULT = dict(
    weight_shapes=[tuple(w.shape) for w in model.get_weights()],
    params=model.count_params(),
    history_keys=sorted(history.history),
    evaluate_keys=sorted(results),
    proba_shape=tuple(proba.shape),
    accuracy=float(results["accuracy"]),
    auc=float(results["auc"]),
)
