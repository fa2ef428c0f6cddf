"""Building blocks of the training engine (:mod:`benchmark.training`), one job per module.

``recipe`` validates recipe overrides, ``device`` picks the device and measures memory, ``optim`` builds
optimisers, ``schedules`` gives the learning rate as a pure function of (epoch, iteration), ``batching``
turns in-memory tensors into device batches (crop-flip and normalisation on the device) and ``metrics``
computes accuracy, MAE and a rank-based AUROC without leaving the device.
"""
