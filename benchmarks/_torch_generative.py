"""The PyTorch twins of ``fastann train --model autoencoder`` and ``--model gan`` (``fastann/_jobs/``), shared
by bench_generative.py (speed) and generative_quality.py (quality): the same layers, initializers and
optimizer recipe, in ``torch.nn`` (NCHW modules; ``channels_last`` converts them).

Where the two cannot be identical, and why it does not matter for the comparisons:

* padding: Keras's "same" at stride 2 on a 28-pixel side pads 0 before and 1 after for a 3x3 kernel (the
  autoencoder's encoder); PyTorch pads symmetrically (``padding=1``). Same shapes and FLOPs, the sampling
  grid shifted by one pixel. The 4x4 stride-2 convolutions of the DCGAN pad (1, 1) in both.
* the discriminator ends in a logit and ``BCEWithLogitsLoss`` (the numerically stable form of fastann's
  Dense(1, sigmoid) + binary cross-entropy: the same function);
* the optimizers: ``torch.optim.Adam(fused=True)`` with Keras's eps 1e-7, the learning rate set before each
  step from the same half-cosine decay (Keras ``CosineDecay``, alpha 0) or kept constant.
"""
from __future__ import annotations

import math

import numpy as np

LATENT_DIM = 100


def autoencoder(filters=32):
    """The autoencoder of ``fastann._jobs.generative.build_autoencoder``: (N, 1, 28, 28) in [0, 1] ->
    (N, 1, 28, 28) logits (the sigmoid is in the loss, ``BCEWithLogitsLoss``, and applied for the images).
    Glorot-uniform kernels and zero biases (Keras's defaults)."""
    import torch
    from torch import nn

    f = filters
    model = nn.Sequential(
        nn.Conv2d(1, f, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(f, 2 * f, 3, stride=2, padding=1), nn.ReLU(),
        nn.ConvTranspose2d(2 * f, 2 * f, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(2 * f, f, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.Conv2d(f, 1, 3, padding=1))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def generator(filters=64):
    """The DCGAN generator of ``fastann._jobs.gan.build_generator`` as a torch module: (N, 100) ->
    (N, 1, 28, 28) in (-1, 1). BatchNormalization with Keras's eps 1e-3 and momentum 0.99 (PyTorch's
    momentum 0.01); weights from N(0, 0.02)."""
    import torch
    from torch import nn

    f = filters

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.dense = nn.Linear(LATENT_DIM, 7 * 7 * 2 * f, bias=False)
            self.bn1 = nn.BatchNorm1d(7 * 7 * 2 * f, eps=1e-3, momentum=0.01)
            self.up1 = nn.ConvTranspose2d(2 * f, f, 4, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(f, eps=1e-3, momentum=0.01)
            self.up2 = nn.ConvTranspose2d(f, 1, 4, stride=2, padding=1)

        def forward(self, z):
            h = torch.relu(self.bn1(self.dense(z)))
            # Keras's Reshape((7, 7, 2f)) reads the Dense output as channels_last; NCHW needs the permute
            h = h.view(-1, 7, 7, 2 * f).permute(0, 3, 1, 2)
            h = torch.relu(self.bn2(self.up1(h)))
            return torch.tanh(self.up2(h))

    net = Generator()
    for m in (net.dense, net.up1, net.up2):
        nn.init.normal_(m.weight, 0.0, 0.02)
    nn.init.zeros_(net.up2.bias)
    return net


def discriminator(filters=64):
    """The DCGAN discriminator of ``fastann._jobs.gan.build_discriminator``: (N, 1, 28, 28) in [-1, 1] ->
    (N, 1) logits. Weights from N(0, 0.02), zero biases."""
    from torch import nn

    f = filters
    model = nn.Sequential(
        nn.Conv2d(1, f, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(f, 2 * f, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Flatten(), nn.Linear(2 * f * 7 * 7, 1))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
    return model


def cosine_rate(lr, step, total_steps):
    """Keras ``CosineDecay(lr, decay_steps=total_steps)`` (alpha 0) at optimizer step ``step`` (0-based)."""
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))


class Clock:
    """Per-epoch wall-clock and process-CPU seconds: ``start()`` before an epoch, ``stop()`` after it."""

    def __init__(self):
        import time

        self._time = time
        self.wall, self.cpu = [], []

    def start(self):
        self.wall.append(-self._time.perf_counter())
        self.cpu.append(-self._time.process_time())

    def stop(self):
        self.wall[-1] += self._time.perf_counter()
        self.cpu[-1] += self._time.process_time()


def train_autoencoder(x_in, x_target, epochs, batch, lr, schedule, seed, channels_last=False, threads=None,
                      val=None):
    """Train the autoencoder on x_in -> x_target ((N, 28, 28) float32 in [0, 1]) with binary cross-entropy,
    Adam(lr, eps 1e-7) and ``schedule`` "cosine" (per step, to 0 over the run) or "constant", shuffling each
    epoch, the last batch partial (as Keras's fit). ``val``: optional (x_in, x_target) for a per-epoch
    validation loss. Returns (model, clock, losses, val_losses)."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = autoencoder().to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(x_in)
    xi = torch.from_numpy(np.ascontiguousarray(x_in, np.float32)).reshape(n, 1, 28, 28)
    xt = torch.from_numpy(np.ascontiguousarray(x_target, np.float32)).reshape(n, 1, 28, 28)
    steps_per_epoch = -(-n // batch)
    total = steps_per_epoch * epochs
    gen = torch.Generator().manual_seed(seed)
    clock, losses, val_losses, step = Clock(), [], [], 0
    for _ in range(epochs):
        model.train()
        clock.start()
        perm = torch.randperm(n, generator=gen)
        total_loss = 0.0
        for lo in range(0, n, batch):
            idx = perm[lo:lo + batch]
            if schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = cosine_rate(lr, step, total)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xi[idx].contiguous(memory_format=fmt)), xt[idx])
            loss.backward()
            opt.step()
            step += 1
            total_loss += float(loss.detach()) * len(idx)
        clock.stop()
        losses.append(total_loss / n)
        if val is not None:
            val_losses.append(float(loss_fn(torch.logit(predict_autoencoder(model, val[0]).clamp(1e-7, 1 - 1e-7)),
                                            torch.from_numpy(val[1]).reshape(-1, 1, 28, 28))))
    return model, clock, losses, val_losses


def predict_autoencoder(model, x, batch=512):
    """The trained autoencoder's images sigmoid(model(x)) for x (N, 28, 28) float32: a torch tensor
    (N, 1, 28, 28)."""
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for lo in range(0, len(x), batch):
            out.append(torch.sigmoid(model(torch.from_numpy(np.ascontiguousarray(x[lo:lo + batch])).reshape(-1, 1, 28, 28))))
    return torch.cat(out)


def train_gan(x_train, epochs, batch, lr, schedule, seed, channels_last=False, threads=None, filters=64):
    """The DCGAN recipe of ``fastann._jobs.gan.run_gan`` in PyTorch: per step, D on a batch of real images
    (label 1) and as many of G's (label 0, G in training mode), then G with a fresh z through D against
    label 1 (the non-saturating loss; D's gradients of that step are discarded). Adam(lr, beta_1 0.5, eps
    1e-7) for each, cosine decay or constant. x_train (N, 28, 28) float32 in [0, 1]; full batches only.
    Returns (generator, clock, d_losses, g_losses) with the per-epoch mean losses."""
    import torch
    from torch import nn

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    g, d = generator(filters).to(memory_format=fmt), discriminator(filters).to(memory_format=fmt)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-7, fused=True)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999), eps=1e-7, fused=True)
    loss_fn = nn.BCEWithLogitsLoss()
    n = len(x_train)
    batch = min(batch, n)
    real_all = torch.from_numpy(np.ascontiguousarray(x_train, np.float32) * 2.0 - 1.0).reshape(n, 1, 28, 28)
    steps_per_epoch = n // batch
    total = steps_per_epoch * epochs
    labels_d = torch.cat([torch.ones(batch, 1), torch.zeros(batch, 1)])
    ones = torch.ones(batch, 1)
    gen = torch.Generator().manual_seed(seed)
    clock, d_losses, g_losses, step = Clock(), [], [], 0
    g.train()
    d.train()
    for _ in range(epochs):
        clock.start()
        perm = torch.randperm(n, generator=gen)
        d_sum = g_sum = 0.0
        for s in range(steps_per_epoch):
            if schedule == "cosine":
                for o in (opt_g, opt_d):
                    for group in o.param_groups:
                        group["lr"] = cosine_rate(lr, step, total)
            real = real_all[perm[s * batch:(s + 1) * batch]]
            with torch.no_grad():
                fake = g(torch.randn(batch, LATENT_DIM, generator=gen))
            opt_d.zero_grad(set_to_none=True)
            d_loss = loss_fn(d(torch.cat([real, fake]).contiguous(memory_format=fmt)), labels_d)
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            g_loss = loss_fn(d(g(torch.randn(batch, LATENT_DIM, generator=gen))), ones)
            g_loss.backward()
            opt_g.step()
            step += 1
            d_sum += float(d_loss.detach())
            g_sum += float(g_loss.detach())
        clock.stop()
        d_losses.append(d_sum / steps_per_epoch)
        g_losses.append(g_sum / steps_per_epoch)
    return g, clock, d_losses, g_losses


def gan_samples(generator, seed, count=1000):
    """``count`` images (count, 28, 28) float32 in [0, 1] from the trained generator in inference mode."""
    import torch

    generator.eval()
    z = torch.randn(count, LATENT_DIM, generator=torch.Generator().manual_seed(seed + 2))
    with torch.no_grad():
        out = generator(z)
    return np.clip((out.reshape(count, 28, 28).numpy().astype(np.float32) + 1.0) / 2.0, 0.0, 1.0)
