"""``fastann train --model gan``: a DCGAN (Radford, Metz & Chintala 2016) on 28x28 images.

Generator (z ~ N(0, I) of ``latent_dim`` = 100 numbers -> a (28, 28, 1) image in (-1, 1)):

    Dense(7*7*2f, no bias) - BatchNormalization - ReLU - Reshape(7, 7, 2f)
    Conv2DTranspose(f, 4, strides=2, same, no bias) - BatchNormalization - ReLU      -> (14, 14, f)
    Conv2DTranspose(1, 4, strides=2, same, tanh)                                    -> (28, 28, 1)

Discriminator ((28, 28, 1) -> the probability that the image is real):

    Conv2D(f, 4, strides=2, same) - LeakyReLU(0.2)                                  -> (14, 14, f)
    Conv2D(2f, 4, strides=2, same) - LeakyReLU(0.2)                                 -> (7, 7, 2f)
    Flatten - Dense(1, sigmoid)

as the paper: strided convolutions instead of pooling, BatchNormalization in the generator except at its
output, ReLU in the generator and LeakyReLU(0.2) in the discriminator, tanh output with the images scaled to
[-1, 1], weights drawn from N(0, 0.02), Adam with learning rate 2e-4 and beta_1 = 0.5 for both. The
discriminator has no BatchNormalization (as keras.io's DCGAN example): in the combined model it is frozen,
and a frozen BatchNormalization runs in inference mode (Keras 3's rule), so it would score the generator's
images with its moving statistics in the generator's step and with the batch's in its own step, and the
generator would be trained against a different function than the one the discriminator learned (PyTorch's
DCGAN keeps D in training mode for the generator's step; the Keras pattern cannot).

Training follows the Keras GAN pattern (docs/models.md): the discriminator is compiled, frozen, and the
combined model z -> D(G(z)) compiled; each step trains D on a batch of real images (label 1) and as many
generated ones (label 0) with ``D.train_on_batch``, then G through the frozen D with
``combined.train_on_batch(z, ones)``: binary cross-entropy against "real", which is the non-saturating
generator loss -log D(G(z)) of Goodfellow et al. (2014).
"""
from __future__ import annotations

import sys
import time

import numpy as np

LATENT_DIM = 100


def build_generator(latent_dim: int = LATENT_DIM, filters: int = 64, seed=None):
    """The DCGAN generator of this module's docstring: (N, latent_dim) -> (N, 28, 28, 1) in (-1, 1).
    ``filters`` is f (the first transposed convolution's channels; the 7x7 stage has 2f). Uncompiled."""
    from .. import Sequential, initializers, layers  # noqa: PLC0415

    init = initializers.RandomNormal(stddev=0.02)
    return Sequential([
        layers.Input((latent_dim,)),
        layers.Dense(7 * 7 * 2 * filters, use_bias=False, kernel_initializer=init),
        layers.BatchNormalization(), layers.Activation("relu"), layers.Reshape((7, 7, 2 * filters)),
        layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False, kernel_initializer=init),
        layers.BatchNormalization(), layers.Activation("relu"),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh", kernel_initializer=init),
    ], seed=seed, name="generator")


def build_discriminator(filters: int = 64, seed=None):
    """The DCGAN discriminator of this module's docstring: (N, 28, 28, 1) in [-1, 1] -> (N, 1), the
    probability of "real". Uncompiled."""
    from .. import Sequential, initializers, layers  # noqa: PLC0415

    init = initializers.RandomNormal(stddev=0.02)
    return Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(filters, 4, strides=2, padding="same", kernel_initializer=init), layers.LeakyReLU(0.2),
        layers.Conv2D(2 * filters, 4, strides=2, padding="same", kernel_initializer=init), layers.LeakyReLU(0.2),
        layers.Flatten(), layers.Dense(1, activation="sigmoid", kernel_initializer=init),
    ], seed=seed, name="discriminator")


def run_gan(args, x_train, make_optimizer, log=print) -> dict:
    """Train the DCGAN on x_train (N, 28, 28) float32 in [0, 1] for ``args.epochs`` passes (batch
    ``args.batch_size``; the last partial batch of each shuffled pass is dropped, so every step has the
    same size). ``make_optimizer(steps)`` returns a fresh
    Adam (beta_1 = 0.5) for that many steps; D and the combined model each get one.

    Returns the JSON fields: per-epoch ``d_loss`` / ``g_loss`` (the means of the steps' losses), the per-step
    losses ``d_loss_steps`` / ``g_loss_steps``, ``epoch_seconds`` (wall clock), ``epoch_cpu_seconds`` (this
    process's CPU time), ``train_samples``, and ``"_samples"``:
    1,000 images (1000, 28, 28) float32 in [0, 1] from the trained generator (inference mode, z drawn from
    the run's seed)."""
    from .. import Model, Input  # noqa: PLC0415

    if len(x_train) < 2:
        raise ValueError(f"--model gan needs at least 2 training images, got {len(x_train)}")
    rng = np.random.default_rng(args.seed)
    batch = min(args.batch_size, len(x_train))
    steps_per_epoch = len(x_train) // batch
    generator = build_generator(LATENT_DIM, args.filters, seed=args.seed)
    discriminator = build_discriminator(args.filters, seed=args.seed + 1)
    if args.verbose:
        log(f"DCGAN: {len(x_train)} training images, {steps_per_epoch} steps of {batch} per epoch",
            file=sys.stderr)
        generator.summary(print_fn=lambda s: log(s, file=sys.stderr))
        discriminator.summary(print_fn=lambda s: log(s, file=sys.stderr))
    discriminator.compile(optimizer=make_optimizer(steps_per_epoch * args.epochs), loss="binary_crossentropy",
                          device=args.device)
    discriminator.trainable = False                      # frozen in the combined model, compiled after this
    z = Input((LATENT_DIM,))
    combined = Model(z, discriminator(generator(z)), name="dcgan")
    combined.compile(optimizer=make_optimizer(steps_per_epoch * args.epochs), loss="binary_crossentropy",
                     device=args.device)

    real_images = (x_train * 2.0 - 1.0).astype(np.float32)[..., None]   # the tanh range
    labels_d = np.concatenate([np.ones((batch, 1), np.float32), np.zeros((batch, 1), np.float32)])
    ones = np.ones((batch, 1), np.float32)
    d_steps, g_steps, d_epoch, g_epoch, seconds, cpu_seconds = [], [], [], [], [], []
    for epoch in range(args.epochs):
        t0, c0 = time.perf_counter(), time.process_time()
        order = rng.permutation(len(x_train))
        for s in range(steps_per_epoch):
            real = real_images[order[s * batch:(s + 1) * batch]]
            noise = rng.standard_normal((batch, LATENT_DIM), dtype=np.float32)
            fake = generator(noise, training=True)   # BatchNormalization on the batch's statistics
            fake = fake.get() if hasattr(fake, "get") else fake   # a CuPy array back to the host
            d_steps.append(float(discriminator.train_on_batch(np.concatenate([real, fake]), labels_d)))
            noise = rng.standard_normal((batch, LATENT_DIM), dtype=np.float32)
            g_steps.append(float(combined.train_on_batch(noise, ones)))
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
        d_epoch.append(float(np.mean(d_steps[-steps_per_epoch:])))
        g_epoch.append(float(np.mean(g_steps[-steps_per_epoch:])))
        if args.verbose:
            log(f"Epoch {epoch + 1}/{args.epochs}: d_loss {d_epoch[-1]:.4f}  g_loss {g_epoch[-1]:.4f}  "
                f"({seconds[-1]:.1f} s)", file=sys.stderr)

    z_samples = np.random.default_rng([args.seed, 2]).standard_normal((1000, LATENT_DIM), dtype=np.float32)
    samples = generator.predict(z_samples, batch_size=250)[..., 0]
    samples = np.clip((samples.astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return {"d_loss": d_epoch, "g_loss": g_epoch, "d_loss_steps": d_steps, "g_loss_steps": g_steps,
            "epoch_seconds": seconds, "epoch_cpu_seconds": cpu_seconds, "train_samples": steps_per_epoch * batch, "filters": args.filters,
            "latent_dim": LATENT_DIM, "_samples": samples}
