"""The jobs behind ``fastann train --model autoencoder|gan`` (the command itself is ``fastann.cli``).

``generative``: the convolutional (denoising) autoencoder, anomaly detection with it, and the metrics they
report (MSE, PSNR, AUROC); ``gan``: the DCGAN; ``plots``: the optional matplotlib figures (the ``plot`` extra).
"""
