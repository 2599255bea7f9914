"""``fastann train --model autoencoder``: a convolutional (denoising) autoencoder on 28x28 images, and
anomaly detection with it (``--normal-class K``); the metrics they report (MSE, PSNR, AUROC).

The model (``build_autoencoder``) is the Keras example's shape with strided convolutions for the pooling:

    encoder  Conv2D(f, 3, strides=2, same, relu)           (28, 28, 1)  -> (14, 14, f)
             Conv2D(2f, 3, strides=2, same, relu)                       -> (7, 7, 2f)
    decoder  Conv2DTranspose(2f, 3, strides=2, same, relu)              -> (14, 14, 2f)
             Conv2DTranspose(f, 3, strides=2, same, relu)               -> (28, 28, f)
             Conv2D(1, 3, same, sigmoid)                                -> (28, 28, 1)

trained with binary cross-entropy on pixel intensities in [0, 1] (the loss of the Keras denoising example,
keras.io/examples/vision/autoencoder), noisy input -> clean target. The noise is Vincent et al. (2008)'s
additive Gaussian corruption: x_noisy = clip(x + stddev * N(0, 1), 0, 1), drawn once per image (training and
test copies from the run's seed), so ``--noise 0`` trains a plain autoencoder.
"""
from __future__ import annotations

import sys
import time

import numpy as np


def build_autoencoder(image_shape=(28, 28, 1), filters: int = 32, seed=None):
    """The convolutional autoencoder of this module's docstring, as one Sequential (channels_last).

    image_shape: (H, W, 1) with H and W divisible by 4; filters: f, the channels of the first convolution
    (the second and the first transposed convolution have 2f). Returns an uncompiled ``fastann.Sequential``
    mapping (N, H, W, 1) float32 in [0, 1] to (N, H, W, 1) in (0, 1). ValueError for H or W not divisible
    by 4 (the two stride-2 stages must invert exactly)."""
    from .. import Sequential, layers  # noqa: PLC0415

    h, w = image_shape[:2]
    if h % 4 or w % 4:
        raise ValueError(f"build_autoencoder: image height and width must be divisible by 4, got {image_shape}")
    return Sequential([
        layers.Input(tuple(image_shape)),
        layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(2 * filters, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(2 * filters, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2DTranspose(filters, 3, strides=2, padding="same", activation="relu"),
        layers.Conv2D(1, 3, padding="same", activation="sigmoid"),
    ], seed=seed, name="autoencoder")


def add_noise(x, stddev: float, rng):
    """Gaussian corruption clipped to the pixel range: clip(x + stddev * N(0, 1), 0, 1), float32, same shape
    as x. ``stddev == 0`` returns a float32 copy of x."""
    x = np.asarray(x, np.float32)
    if stddev == 0:
        return x.copy()
    noisy = x + np.float32(stddev) * rng.standard_normal(x.shape, dtype=np.float32)
    return np.clip(noisy, 0.0, 1.0, out=noisy)


def psnr_db(mse: float, peak: float = 1.0):
    """Peak signal-to-noise ratio 10 log10(peak² / mse) in dB of a mean squared error over images in
    [0, peak]; None for mse == 0 (infinite: identical images)."""
    return None if mse <= 0 else float(10.0 * np.log10(peak * peak / mse))


def auroc(scores, positive) -> float:
    """Area under the ROC curve of ``scores`` (higher = more likely positive) for the 0/1 labels
    ``positive``: the Mann-Whitney U statistic over n_pos * n_neg (Hanley & McNeil 1982), with tied scores
    given their average rank, so it equals the trapezoidal area under the exact ROC curve. Vectorized:
    O(n log n). ValueError when the lengths differ or one class is empty."""
    s = np.asarray(scores, np.float64).ravel()
    pos = np.asarray(positive).ravel().astype(bool)
    if s.shape != pos.shape:
        raise ValueError(f"auroc: scores and labels must have the same length, got {s.size} and {pos.size}")
    n_pos = int(pos.sum())
    n_neg = s.size - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"auroc: needs both classes, got {n_pos} positive and {n_neg} negative samples")
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)                       # the 1-based rank of each distinct score's last copy
    ranks = (ends - (counts - 1) / 2.0)[inverse]   # the average rank of each group of ties
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def run_autoencoder(args, x_train, y_train, x_test, y_test, make_optimizer, log=print) -> dict:
    """Train the autoencoder of ``args`` (noise, normal_class, filters, epochs, batch_size, seed, device,
    validation_split, verbose) on x_train (N, H, W) float32 in [0, 1] and evaluate it on x_test.

    With ``args.normal_class`` K, only the training images of class K are used, and every test image is
    scored by its reconstruction error (the mean squared error between the clean image and the model's
    reconstruction of it): ``test_auroc`` is the AUROC of that score for "not class K" (the anomalies)
    against class K. ``make_optimizer(n_fit)`` returns the optimizer for n_fit training samples.
    Returns the job's fields of the JSON (test_mse, noisy_mse, test_psnr_db, noisy_psnr_db, ...), plus
    ``"_arrays"``: the clean, noisy and reconstructed test images for the plot."""
    rng = np.random.default_rng(args.seed)
    if args.normal_class is not None:
        x_train = x_train[y_train == args.normal_class]
    x_train_noisy = add_noise(x_train, args.noise, rng)
    x_test_noisy = add_noise(x_test, args.noise, np.random.default_rng([args.seed, 1]))
    n_fit = int(len(x_train) * (1.0 - args.validation_split)) if args.validation_split > 0 else len(x_train)
    if n_fit < 1:
        raise ValueError(f"--validation-split {args.validation_split} leaves no training images of "
                         f"{len(x_train)}")

    model = build_autoencoder(x_train.shape[1:] + (1,), args.filters, seed=args.seed)
    model.compile(optimizer=make_optimizer(n_fit), loss="binary_crossentropy", device=args.device)
    if args.verbose:
        what = "denoising autoencoder" if args.noise > 0 else "autoencoder"
        only = f", class {args.normal_class} only" if args.normal_class is not None else ""
        log(f"{what}, noise stddev {args.noise}{only}: {n_fit} train / {len(x_train) - n_fit} validation / "
            f"{len(x_test)} test images", file=sys.stderr)
        model.summary(print_fn=lambda s: log(s, file=sys.stderr))
    history = model.fit(x_train_noisy[..., None], x_train[..., None], batch_size=args.batch_size,
                        epochs=args.epochs, verbose=args.verbose, validation_split=args.validation_split,
                        shuffle=True)

    t0 = time.perf_counter()
    recon = model.predict(x_test_noisy[..., None], batch_size=512)[..., 0]
    test_mse = float(np.mean((recon.astype(np.float64) - x_test) ** 2))
    noisy_mse = float(np.mean((x_test_noisy.astype(np.float64) - x_test) ** 2))
    result = {
        "test_mse": test_mse, "noisy_mse": noisy_mse, "test_psnr_db": psnr_db(test_mse),
        "noisy_psnr_db": psnr_db(noisy_mse), "noise": args.noise, "filters": args.filters,
        "normal_class": args.normal_class, "train_samples": n_fit, "test_samples": len(x_test),
        "history": history.history, "epoch_seconds": history.epoch_seconds,
    }
    if args.normal_class is not None:
        clean = recon if args.noise == 0 else model.predict(x_test[..., None], batch_size=512)[..., 0]
        scores = np.mean((clean.astype(np.float64) - x_test) ** 2, axis=(1, 2))
        result["test_auroc"] = auroc(scores, y_test != args.normal_class)
        result["mean_score_normal"] = float(scores[y_test == args.normal_class].mean())
        result["mean_score_anomalous"] = float(scores[y_test != args.normal_class].mean())
    result["evaluate_seconds"] = time.perf_counter() - t0
    result["_arrays"] = (x_test, x_test_noisy, recon)
    return result


def report_autoencoder(result: dict, log=print) -> None:
    """The lines ``fastann train --model autoencoder`` prints on stdout."""
    gain = ""
    if result["noisy_psnr_db"] is not None:
        gain = (f"   noisy input: MSE {result['noisy_mse']:.5f}, PSNR {result['noisy_psnr_db']:.2f} dB "
                f"(+{result['test_psnr_db'] - result['noisy_psnr_db']:.2f} dB)")
    log(f"test reconstruction: MSE {result['test_mse']:.5f}, PSNR {result['test_psnr_db']:.2f} dB{gain}")
    if "test_auroc" in result:
        log(f"anomaly detection, class {result['normal_class']} normal: AUROC {result['test_auroc']:.4f}")
