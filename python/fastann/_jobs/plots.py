"""The figures of ``fastann train --plot FILE.png`` (matplotlib, the ``plot`` extra: ``pip install
'fastann[plot]'``). matplotlib is imported only here and only when a figure is asked for."""
from __future__ import annotations

import numpy as np

MISSING = "--plot needs matplotlib, which is not installed: pip install 'fastann[plot]' (or pip install matplotlib)"


def pyplot():
    """matplotlib.pyplot with the non-interactive Agg backend (files only, no display needed). ImportError
    with ``MISSING``'s message when matplotlib is absent."""
    try:
        import matplotlib  # noqa: PLC0415

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        raise ImportError(MISSING) from exc
    return plt


def available() -> bool:
    """Whether matplotlib can be imported (checked before training, so a run does not fail at its end)."""
    try:
        pyplot()
    except ImportError:
        return False
    return True


def reconstructions(path: str, clean, noisy, recon, n: int = 10, title: str = "") -> None:
    """Three rows of n test images (H, W) in [0, 1]: clean, noisy (the model's input), reconstructed."""
    plt = pyplot()
    n = min(n, len(clean))
    fig, axes = plt.subplots(3, n, figsize=(1.2 * n, 4.0), squeeze=False)
    for row, (name, images) in enumerate((("clean", clean), ("noisy", noisy), ("reconstructed", recon))):
        for i in range(n):
            ax = axes[row][i]
            ax.imshow(np.asarray(images[i]), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def gan_figure(path: str, samples, d_loss_steps, g_loss_steps, steps_per_epoch: int) -> None:
    """A 10x10 grid of the first 100 samples (H, W) in [0, 1] beside the discriminator's and generator's
    loss per step (with the epoch boundaries)."""
    plt = pyplot()
    samples = np.asarray(samples)[:100]
    h, w = samples.shape[1:3]
    grid = np.ones((10 * (h + 1) - 1, 10 * (w + 1) - 1), np.float32)
    for k, img in enumerate(samples):
        r, c = divmod(k, 10)
        grid[r * (h + 1):r * (h + 1) + h, c * (w + 1):c * (w + 1) + w] = img
    fig, (ax_img, ax_loss) = plt.subplots(1, 2, figsize=(12, 5.5), gridspec_kw={"width_ratios": [1, 1.2]})
    ax_img.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0)
    ax_img.set_axis_off()
    ax_img.set_title("generated samples")
    steps = np.arange(1, len(d_loss_steps) + 1)
    ax_loss.plot(steps, d_loss_steps, label="discriminator", linewidth=0.7)
    ax_loss.plot(steps, g_loss_steps, label="generator (non-saturating)", linewidth=0.7)
    for e in range(steps_per_epoch, len(steps), max(steps_per_epoch, 1)):
        ax_loss.axvline(e, color="gray", linewidth=0.5, alpha=0.5)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("binary cross-entropy")
    ax_loss.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
