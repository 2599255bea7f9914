"""Transfer learning by freezing: reuse model A's layers in model B, train B's new head with the reused
layers frozen (compile after freezing), then unfreeze them and train again with a low learning rate."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(42)
(X_train_full, y_train_full), _ = keras.datasets.fashion_mnist.load_data()
X = X_train_full[:6000] / 255.0
y = y_train_full[:6000]
a_rows = y != 6           # model A: the 9 classes other than shirt (relabelled 0..8)
X_A, y_A = X[a_rows], np.where(y[a_rows] > 6, y[a_rows] - 1, y[a_rows])
b_rows = np.isin(y, (0, 6))  # model B: T-shirt (0) or shirt (1), 200 images
X_B, y_B = X[b_rows][:200], (y[b_rows][:200] == 6).astype("float32")

model_A = keras.Sequential([
    layers.Input(shape=[28, 28]),
    layers.Flatten(),
    layers.Dense(100, activation="relu"),
    layers.Dense(50, activation="relu"),
    layers.Dense(9, activation="softmax"),
])
model_A.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
model_A.fit(X_A, y_A, epochs=2, verbose=0)

model_B_on_A = keras.Sequential(model_A.layers[:-1])
model_B_on_A.add(layers.Dense(1, activation="sigmoid"))
for layer in model_B_on_A.layers[:-1]:
    layer.trainable = False
model_B_on_A.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["accuracy"])
frozen_before = [w.copy() for w in model_B_on_A.layers[1].get_weights()]
model_B_on_A.fit(X_B, y_B, epochs=2, verbose=0)
n_trainable_frozen = len(model_B_on_A.trainable_weights)  # the new head's kernel and bias
n_frozen_params = sum(int(np.prod(w.shape)) for w in model_B_on_A.non_trainable_weights)
frozen_unchanged = all(np.array_equal(a, b) for a, b in zip(frozen_before, model_B_on_A.layers[1].get_weights()))

for layer in model_B_on_A.layers[:-1]:
    layer.trainable = True
model_B_on_A.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=1e-3),
                     metrics=["accuracy"])
model_B_on_A.fit(X_B, y_B, epochs=1, verbose=0)
unfrozen_changed = not all(np.array_equal(a, b)
                           for a, b in zip(frozen_before, model_B_on_A.layers[1].get_weights()))

RESULT = dict(
    layers_B=len(model_B_on_A.layers),
    trainable_while_frozen=n_trainable_frozen,
    trainable_after=len(model_B_on_A.trainable_weights),
    non_trainable_while_frozen_params=n_frozen_params,
    frozen_unchanged=frozen_unchanged,
    unfrozen_changed=unfrozen_changed,
)
