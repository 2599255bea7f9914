"""A CNN on channels-last images (N, 28, 28, 1), one-hot labels, Adam, dropout."""
import numpy as np

import fastann as keras  # course import
from fastann import layers  # course import

keras.utils.set_random_seed(42)
(X_train_full, y_train_full), (X_test, y_test) = keras.datasets.fashion_mnist.load_data()
X_train = X_train_full[:3000][..., np.newaxis].astype("float32") / 255.0
y_train = keras.utils.to_categorical(y_train_full[:3000], 10)
X_test = X_test[:1000][..., np.newaxis].astype("float32") / 255.0
y_test = keras.utils.to_categorical(y_test[:1000], 10)

model = keras.Sequential([
    keras.Input(shape=(28, 28, 1)),
    layers.Conv2D(32, kernel_size=(3, 3), padding="same", activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Flatten(),
    layers.Dropout(0.5),
    layers.Dense(10, activation="softmax"),
])
model.summary()
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
history = model.fit(X_train, y_train, batch_size=128, epochs=3, validation_split=0.1, verbose=0)
score = model.evaluate(X_test, y_test, verbose=0)
probs = model.predict(X_test[:5], verbose=0)

RESULT = dict(
    weight_shapes=[tuple(w.shape) for w in model.get_weights()],
    params=model.count_params(),
    conv1_kernel=tuple(model.layers[0].get_weights()[0].shape),
    history_keys=sorted(history.history),
    evaluate_len=len(score),
    proba_shape=tuple(probs.shape),
    accuracy=float(score[1]),
)
