"""The ``fastann`` command (also ``python -m fastann``).

    fastann info                      # the build: version, compiler, SIMD path, CPU, caches, GEMM blocking, CUDA
    fastann train                     # 784-300-100-10 ReLU MLP, Adam, Fashion-MNIST, 10 epochs
    fastann train --model cnn         # Conv32-BN-ReLU-Pool-Conv64-BN-ReLU-Pool-Dense128-Dropout-Dense10 (NCHW)
    fastann train --model lstm        # each image as 28 steps of 28 pixels: LSTM(128) -> Dense10 (also gru, rnn)
    fastann train --model autoencoder [--noise 0.3] [--normal-class K] [--plot FILE.png]
                                      # convolutional (denoising) autoencoder; anomaly detection (fastann._jobs)
    fastann train --model gan [--samples-out FILE.npy] [--plot FILE.png]   # DCGAN (fastann._jobs.gan)
    fastann train --dataset mnist --epochs 10 --batch-size 128 --optimizer adam --lr 1e-3 --seed 0 \\
                  [--lr-schedule cosine|constant] [--data-dir DIR] [--threads N] [--metrics-out FILE]
                  [--save FILE.keras] [--plot FILE.png]   # the trained model; the training curves

``train`` scales the images to [0, 1], holds out the last 10% of the training set for validation, decays the
learning rate from --lr to 0 along a half cosine over the run (``--lr-schedule constant`` keeps it at --lr;
the README says why cosine is the default), shows a progress bar per epoch, then prints the test accuracy
and loss, the training throughput (samples/s over the training part of the epochs, validation excluded) and
the wall time. ``--metrics-out`` writes them as JSON (keys test_accuracy, test_loss, train_samples_per_s,
epochs, history, lr, lr_schedule, and a few more describing the run). The autoencoder and the GAN report
their own fields instead of the accuracy (docs/generative.md).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

MODELS = ("mlp", "cnn", "lstm", "gru", "rnn", "autoencoder", "gan")
GENERATIVE = ("autoencoder", "gan")
RECURRENT = {"lstm": "LSTM", "gru": "GRU", "rnn": "SimpleRNN"}
LR_SCHEDULES = ("cosine", "constant")


def build_mlp(input_dim: int, classes: int, seed, hidden=(300, 100)):
    """The default model: Dense(300, relu) -> Dense(100, relu) -> Dense(classes, softmax)."""
    from . import Sequential, layers  # noqa: PLC0415

    model = Sequential([layers.Input((input_dim,))], seed=seed, name="mlp")
    for units in hidden:
        model.add(layers.Dense(units, activation="relu"))
    model.add(layers.Dense(classes, activation="softmax"))
    return model


def build_cnn(image_shape, classes: int, seed, data_format="channels_first"):
    """The default CNN (``--model cnn``): Conv(32, 3x3, same)-BN-ReLU-MaxPool2 - Conv(64, 3x3, same)-BN-ReLU-
    MaxPool2 - Flatten - Dense(128, relu) - Dropout(0.25) - Dense(classes, softmax).

    ``image_shape``: per-sample (H, W) (one channel, as the (N, H, W) Fashion-MNIST arrays), or (C, H, W) /
    (H, W, C) for ``data_format`` "channels_first" (the CLI's, the kernels' own layout) / "channels_last"
    (Keras's default; ``benchmarks/bench_data_format.py`` compares the two).
    The convolutions carry no bias: the batch normalization after each subtracts the mean anyway (its beta
    is the bias), as is usual for Conv-BN blocks.
    """
    from . import Sequential, layers  # noqa: PLC0415

    f, axis = data_format, (1 if data_format == "channels_first" else -1)
    return Sequential([
        layers.Input(tuple(image_shape)),
        layers.Conv2D(32, 3, padding="same", use_bias=False, data_format=f), layers.BatchNormalization(axis=axis),
        layers.Activation("relu"), layers.MaxPooling2D(2, data_format=f),
        layers.Conv2D(64, 3, padding="same", use_bias=False, data_format=f), layers.BatchNormalization(axis=axis),
        layers.Activation("relu"), layers.MaxPooling2D(2, data_format=f),
        layers.Flatten(data_format=f), layers.Dense(128, activation="relu"), layers.Dropout(0.25),
        layers.Dense(classes, activation="softmax"),
    ], seed=seed, name="cnn")


def build_recurrent(kind: str, sequence_shape, classes: int, seed, units: int = 128):
    """The recurrent model (``--model lstm|gru|rnn``): each sample a sequence (T, F) (a 28x28 image read as
    28 steps of 28 pixels, row-sequential MNIST), RNN(units) -> its last state -> Dense(classes, softmax).
    ``kind``: "lstm" (layers.LSTM), "gru" (layers.GRU, reset_after=True) or "rnn" (layers.SimpleRNN, tanh)."""
    from . import Sequential, layers  # noqa: PLC0415

    rnn = getattr(layers, RECURRENT[kind])
    return Sequential([layers.Input(tuple(sequence_shape)), rnn(units),
                       layers.Dense(classes, activation="softmax")], seed=seed, name=kind)


def _parser() -> argparse.ArgumentParser:
    from . import optimizers  # noqa: PLC0415

    from . import __version__  # noqa: PLC0415

    p = argparse.ArgumentParser(prog="fastann", description="fastann: hand-written C++/CUDA neural-network "
                                "kernels under a Keras-like API.")
    p.add_argument("--version", action="version", version=f"fastann {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="print the build information (fastann.build_info())")
    info.add_argument("--json", action="store_true", help="print it as JSON")

    t = sub.add_parser("train", help="train a model on MNIST-style data and report test accuracy and speed",
                       formatter_class=_HelpFormatter)
    t.add_argument("--model", choices=MODELS, default="mlp",
                   help="mlp: 784-300-100-10 ReLU MLP; cnn: Conv32-BN-ReLU-Pool-Conv64-BN-ReLU-Pool-"
                        "Dense128-Dropout-Dense10, channels_first (N, C, H, W) layers; lstm, gru, rnn: each image as "
                        "28 steps of 28 pixels, LSTM/GRU/SimpleRNN(--units) -> last state -> Dense10; "
                        "autoencoder: convolutional (denoising) autoencoder; gan: DCGAN (docs/generative.md)")
    t.add_argument("--units", type=int, default=128, help="units of the recurrent layer (--model lstm|gru|rnn)")
    t.add_argument("--dataset", choices=("fashion-mnist", "mnist"), default="fashion-mnist", help="which data")
    t.add_argument("--epochs", type=int, default=10, help="passes over the training set (>= 1)")
    t.add_argument("--batch-size", type=int, default=128, help="samples per step (>= 1)")
    t.add_argument("--optimizer", choices=sorted(optimizers._BY_NAME), default="adam", help="Keras optimizer")
    t.add_argument("--lr", type=float, default=None, help="learning rate; with the cosine schedule, the rate "
                   "of the first step (default: 0.001; 0.0002 for --model gan, the DCGAN recipe)")
    t.add_argument("--lr-schedule", choices=LR_SCHEDULES, default="cosine",
                   help="cosine: the rate falls from --lr to 0 along a half cosine over all the training steps "
                        "(schedules.CosineDecay); constant: --lr throughout")
    t.add_argument("--seed", type=int, default=0, help="seeds init, shuffling, dropout")
    t.add_argument("--validation-split", type=float, default=None,
                   help="fraction of the training set held out for validation (the last samples) (default: 0.1; "
                        "--model gan trains on every training image and takes none)")
    t.add_argument("--data-dir", default=None, help="directory with the four IDX files; when given, that "
                   "directory or an error (default: the search order of fastann.datasets, download last)")
    t.add_argument("--device", default="cpu",
                   help="where to train: cpu, cuda or cuda:N (needs fastann built with CUDA and CuPy)")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for the kernels (default: "
                   "OMP_NUM_THREADS, else all cores)")
    t.add_argument("--metrics-out", default=None, help="write the results as JSON to this file (checked to be "
                   "writable before training)")
    t.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1,
                   help="0 quiet, 1 a progress bar per epoch, 2 one line per epoch")
    t.add_argument("--plot", default=None, help="write a PNG: mlp, cnn, lstm, gru, rnn: the training curves "
                   "(fastann.utils.plot_history); autoencoder: clean / noisy / reconstructed test images; gan: a "
                   "10x10 grid of samples and the loss curves (needs matplotlib: the plot extra)")
    t.add_argument("--save", default=None, help="mlp, cnn, lstm, gru, rnn: write the trained model to this .keras "
                   "file (Keras 3's format; fastann.models.load_model and keras.saving.load_model read it)")
    g = t.add_argument_group("generative models (--model autoencoder|gan)")
    g.add_argument("--noise", type=float, default=None, help="autoencoder: stddev of the Gaussian noise added to "
                   "the input images (clipped to [0, 1]); the target is the clean image (default: 0, a plain "
                   "autoencoder)")
    g.add_argument("--normal-class", type=int, default=None, help="autoencoder: train on this class only and "
                   "report the AUROC of the reconstruction error for the other classes against it")
    g.add_argument("--samples-out", default=None, help="gan: write 1,000 generated images to this .npy file, "
                   "float32 (1000, 28, 28) in [0, 1]")
    g.add_argument("--filters", type=int, default=None, help=argparse.SUPPRESS)  # tests: small models
    t.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)  # tests: first N train/test samples
    return p


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where it is None (the help text then says what None means)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def _check_model_options(args) -> str:
    """What is wrong with the options that apply to some models only (the generative ones, --save, --plot) for
    ``args.model``, or "" (fills their defaults)."""
    ae, gan = args.model == "autoencoder", args.model == "gan"
    for flag, value, ok, which in (("--noise", args.noise, ae, "autoencoder"),
                                   ("--normal-class", args.normal_class, ae, "autoencoder"),
                                   ("--samples-out", args.samples_out, gan, "gan"),
                                   ("--save", args.save, not (ae or gan), "mlp, cnn, lstm, gru or rnn"),
                                   ("--filters", args.filters, ae or gan, "autoencoder or gan")):
        if value is not None and not ok:
            return f"{flag} applies to --model {which}, not --model {args.model}"
    if args.noise is not None and not (args.noise >= 0 and args.noise < float("inf")):
        return f"--noise must be a finite stddev >= 0, got {args.noise}"
    if args.save is not None and not args.save.endswith(".keras"):
        return f"--save writes Keras 3's .keras format: the file name must end in .keras, got {args.save!r}"
    if args.normal_class is not None and not 0 <= args.normal_class <= 9:
        return f"--normal-class must be a class of {args.dataset}, 0 to 9, got {args.normal_class}"
    if args.filters is not None and args.filters < 1:
        return f"--filters must be >= 1, got {args.filters}"
    if gan and args.optimizer != "adam":
        return f"--model gan trains with Adam (beta_1=0.5, the DCGAN recipe), got --optimizer {args.optimizer}"
    if args.plot is not None:
        from ._jobs import plots  # noqa: PLC0415

        if not plots.available():
            return plots.MISSING
    args.noise = 0.0 if args.noise is None else args.noise
    args.filters = args.filters or (64 if gan else 32)
    return ""


def _unwritable(path: str) -> str:
    """Why ``path`` cannot be written, or "" when it can: it is opened for appending (its missing parent
    directories created), so the answer is the operating system's; a file that did not exist is removed."""
    existed = os.path.exists(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    if not existed:
        os.remove(path)
    return ""


def _info(args) -> int:
    from . import build_info  # noqa: PLC0415

    info = build_info()
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        width = max(len(k) for k in info)
        for k, v in info.items():
            print(f"{k.ljust(width)}  {_info_value(k, v)}")
    return 0


def _kib(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n >> 10} KiB"


def _info_value(key: str, v) -> str:
    """One line of `fastann info`: the CPU's caches in KiB/MiB, the GEMM blocking per dtype."""
    if key == "cpu_caches":
        l3 = f", L3 {_kib(v['l3'])} (shared by {v['l3_shared_cpus']} CPUs)" if v["l3"] else ", no L3"
        return f"L1d {_kib(v['l1d'])}, L2 {_kib(v['l2'])}{l3} (from {v['source']})"
    if key == "cpu_id":
        return f"{v['vendor']} family {v['family']} model {v['model']} stepping {v['stepping']}"
    if key == "gemm_blocking":
        return "; ".join(f"{dt}: MR x NR {b['mr']} x {b['nr']}, KC {b['kc']}, MC {b['mc']}, NC {b['nc']} ({b['rule']})"
                         for dt, b in v.items())
    return str(v)


def _train(args) -> int:
    from . import datasets, optimizers, set_num_threads, get_num_threads, build_info  # noqa: PLC0415

    t_start = time.perf_counter()
    for name, v, lo in (("--epochs", args.epochs, 1), ("--batch-size", args.batch_size, 1),
                        ("--units", args.units, 1)):
        if v < lo:
            print(f"fastann train: {name} must be >= {lo}, got {v}", file=sys.stderr)
            return 2
    if args.lr is None:
        args.lr = 2e-4 if args.model == "gan" else 1e-3
    if not args.lr > 0:
        print(f"fastann train: --lr must be > 0, got {args.lr}", file=sys.stderr)
        return 2
    if args.model == "gan" and args.validation_split is not None:
        print("fastann train: --validation-split does not apply to --model gan (it trains on every training "
              "image)", file=sys.stderr)
        return 2
    args.validation_split = 0.1 if args.validation_split is None else args.validation_split
    if not 0.0 <= args.validation_split < 1.0:
        print(f"fastann train: --validation-split must be in [0, 1), got {args.validation_split}", file=sys.stderr)
        return 2
    try:  # check the device before loading any data: asking for a GPU that is not usable fails fast
        from . import _device  # noqa: PLC0415

        _device.resolve(f"--device {args.device}", args.device)
    except (ValueError, TypeError, RuntimeError) as exc:
        print(f"fastann train: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, (ValueError, TypeError)) else 1
    if args.threads is not None:
        if args.threads < 1:
            print(f"fastann train: --threads must be >= 1, got {args.threads}", file=sys.stderr)
            return 2
        set_num_threads(args.threads)

    problem = _check_model_options(args)
    if problem:
        print(f"fastann train: {problem}", file=sys.stderr)
        return 2
    for flag, path in (("--metrics-out", args.metrics_out), ("--plot", args.plot), ("--samples-out", args.samples_out),
                       ("--save", args.save)):
        problem = _unwritable(path) if path else ""
        if problem:
            print(f"fastann train: {flag} {path}: {problem}", file=sys.stderr)
            return 2

    spec = datasets.DATASETS[args.dataset].SPEC
    try:
        paths = datasets._fetch.locate(spec, args.data_dir, only_path=args.data_dir is not None)
        (x_train, y_train), (x_test, y_test) = datasets._fetch.read(spec, paths)
    except (FileNotFoundError, ValueError) as exc:
        print(f"fastann train: cannot load {args.dataset}: {exc}", file=sys.stderr)
        return 1
    if args.verbose:
        print(f"data: {args.dataset} from {os.path.dirname(paths[0])}", file=sys.stderr)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    # Scale the pixels to [0, 1] in float32, once. The MLP takes flat 784-vectors; the CNN the (N, 28, 28)
    # images as they are (read as one channel); the recurrent models the same arrays as (N, T=28, F=28).
    if args.model == "mlp":
        x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0
    if args.model in GENERATIVE:
        return _train_generative(args, x_train, y_train, x_test, y_test, t_start)

    if args.model == "cnn":
        model = build_cnn(x_train.shape[1:], 10, args.seed)
    elif args.model in RECURRENT:
        model = build_recurrent(args.model, x_train.shape[1:], 10, args.seed, args.units)
    else:
        model = build_mlp(x_train.shape[1], 10, args.seed)
    n_fit = int(len(x_train) * (1.0 - args.validation_split)) if args.validation_split > 0 else len(x_train)
    lr = args.lr
    if args.lr_schedule == "cosine":
        steps = -(-n_fit // args.batch_size) * args.epochs
        lr = optimizers.schedules.CosineDecay(args.lr, decay_steps=max(1, steps))
    model.compile(optimizer=optimizers.get(args.optimizer, learning_rate=lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"], device=args.device)
    threads = get_num_threads()
    if args.verbose:
        print(f"fastann {build_info()['version']}: {args.model} on {args.dataset} ({n_fit} train / "
              f"{len(x_train) - n_fit} validation / {len(x_test)} test), {args.optimizer} lr={args.lr} ({args.lr_schedule}), batch {args.batch_size}, "
              f"{args.epochs} epochs, seed {args.seed}, device {model.device}, {threads} thread(s), "
              f"SIMD {build_info()['simd']}",
              file=sys.stderr)
        model.summary(print_fn=lambda s: print(s, file=sys.stderr))
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=args.verbose,
                        validation_split=args.validation_split, shuffle=True)
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=1024)
    train_seconds = sum(history.epoch_seconds)
    samples_per_s = n_fit * len(history.epoch_seconds) / train_seconds if train_seconds > 0 else 0.0
    wall = time.perf_counter() - t_start

    print(f"test accuracy: {test_acc:.4f}   test loss: {test_loss:.4f}")
    where = f"{threads} thread(s)" if model.device == "cpu" else model.device
    print(f"training throughput: {samples_per_s:,.0f} samples/s ({where}, batch {args.batch_size}, "
          f"validation excluded)")
    print(f"wall time: {wall:.1f} s")
    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")
    if args.plot:
        from . import utils  # noqa: PLC0415

        utils.plot_history(history, args.plot)
        print(f"wrote the training curves to {args.plot}")
    if args.metrics_out:
        result = {
            "test_accuracy": test_acc, "test_loss": test_loss, "train_samples_per_s": samples_per_s,
            "epochs": len(history.epoch_seconds), "history": history.history,
            "epoch_seconds": history.epoch_seconds, "wall_time_s": wall, "model": args.model,
            "dataset": args.dataset, "optimizer": args.optimizer, "lr": args.lr,
            "lr_schedule": args.lr_schedule, "batch_size": args.batch_size,
            "seed": args.seed, "threads": threads, "device": model.device, "train_samples": n_fit,
            "test_samples": len(x_test),
        }
        if args.model in RECURRENT:
            result["units"] = args.units
        with open(args.metrics_out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def _train_generative(args, x_train, y_train, x_test, y_test, t_start) -> int:
    """``--model autoencoder|gan`` (fastann._jobs): train, print the results, write --metrics-out, --plot,
    --samples-out."""
    import numpy as np  # noqa: PLC0415

    from . import build_info, get_num_threads, optimizers  # noqa: PLC0415
    from ._jobs import plots  # noqa: PLC0415

    def rate(steps):  # --lr, decayed to 0 over the run's optimizer steps with the cosine schedule
        return (optimizers.schedules.CosineDecay(args.lr, decay_steps=max(1, steps))
                if args.lr_schedule == "cosine" else args.lr)

    threads = get_num_threads()
    if args.verbose:
        print(f"fastann {build_info()['version']}: {args.model} on {args.dataset}, lr={args.lr} "
              f"({args.lr_schedule}), batch {args.batch_size}, {args.epochs} epochs, seed {args.seed}, device "
              f"{args.device}, {threads} thread(s), SIMD {build_info()['simd']}", file=sys.stderr)
    try:
        if args.model == "autoencoder":
            from ._jobs import generative  # noqa: PLC0415

            def make_optimizer(n_fit):  # for n_fit training images: ceil(n_fit / batch) steps per epoch
                return optimizers.get(args.optimizer, learning_rate=rate(-(-n_fit // args.batch_size) * args.epochs))

            result = generative.run_autoencoder(args, x_train, y_train, x_test, y_test, make_optimizer)
            generative.report_autoencoder(result)
            clean, noisy, recon = result.pop("_arrays")
            if args.plot:
                what = f"noise stddev {args.noise}" + (f", class {args.normal_class} normal"
                                                        if args.normal_class is not None else "")
                plots.reconstructions(args.plot, clean, noisy, recon, title=f"{args.dataset} autoencoder, {what}")
        else:
            from ._jobs import gan  # noqa: PLC0415

            result = gan.run_gan(args, x_train, lambda steps: optimizers.Adam(rate(steps), beta_1=0.5))
            samples = result.pop("_samples")
            print(f"final epoch: d_loss {result['d_loss'][-1]:.4f}   g_loss {result['g_loss'][-1]:.4f}")
            if args.samples_out:
                np.save(args.samples_out, samples)
            if args.plot:
                plots.gan_figure(args.plot, samples, result["d_loss_steps"], result["g_loss_steps"],
                                 len(result["d_loss_steps"]) // max(1, args.epochs))
    except ValueError as exc:
        print(f"fastann train: {exc}", file=sys.stderr)
        return 2
    train_seconds = sum(result["epoch_seconds"])
    samples_per_s = result["train_samples"] * args.epochs / train_seconds if train_seconds > 0 else 0.0
    wall = time.perf_counter() - t_start
    print(f"training throughput: {samples_per_s:,.0f} samples/s ({threads} thread(s), batch {args.batch_size})")
    print(f"wall time: {wall:.1f} s")
    if args.metrics_out:
        result.update({"train_samples_per_s": samples_per_s, "epochs": args.epochs, "wall_time_s": wall,
                       "model": args.model, "dataset": args.dataset, "lr": args.lr, "lr_schedule":
                       args.lr_schedule, "batch_size": args.batch_size, "seed": args.seed, "threads": threads,
                       "device": args.device})
        with open(args.metrics_out, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def main(argv=None) -> int:
    """Entry point of the ``fastann`` console script; returns the exit status (0 ok, 1 data error,
    2 bad arguments)."""
    args = _parser().parse_args(argv)
    if args.command == "info":
        return _info(args)
    return _train(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
