"""The losses and metrics of the course's lists: Huber, categorical focal cross-entropy, label smoothing,
KL divergence; top-k accuracy, with an L2-regularized, max-norm-constrained MLP."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(3)
(X_train_full, y_train_full), _ = keras.datasets.fashion_mnist.load_data()
X = X_train_full[:2000].reshape(-1, 784).astype("float32") / 255.0
y = y_train_full[:2000]
Y = keras.utils.to_categorical(y, 10)


def make_model():
    return keras.Sequential([
        layers.Input(shape=(784,)),
        layers.Dense(64, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4),
                     kernel_constraint=keras.constraints.max_norm(3.0)),
        layers.Dense(10, activation="softmax"),
    ])


results = {}
for name, loss in [
    ("focal", keras.losses.CategoricalFocalCrossentropy(gamma=2.0)),
    ("smoothed", keras.losses.CategoricalCrossentropy(label_smoothing=0.1)),
    ("kld", keras.losses.KLDivergence()),
    ("huber", keras.losses.Huber(delta=1.0)),
]:
    model = make_model()
    model.compile(optimizer="adam", loss=loss,
                  metrics=["accuracy", keras.metrics.TopKCategoricalAccuracy(k=3)])
    history = model.fit(X, Y, epochs=2, batch_size=64, verbose=0)
    results[name] = dict(keys=sorted(history.history),
                         loss_finite=bool(np.all(np.isfinite(history.history["loss"]))),
                         loss_fell=history.history["loss"][-1] < history.history["loss"][0])

RESULT = dict(
    history_keys={k: v["keys"] for k, v in results.items()},
    losses_finite=all(v["loss_finite"] for v in results.values()),
    losses_fell=[k for k, v in results.items() if v["loss_fell"]],
)
