"""Keras's own ``model.fit`` (``training.plain_keras: true``, the sources' way) beside the lean
loop of ``lean_fit``, and the progress lines that both print during a long fit.

``plain_fit`` returns what ``lean_fit.fit`` returns, the history under ``fit``'s keys and the
seconds of each epoch, so ``train.fit_seed`` measures either in the same way.
"""

from __future__ import annotations

import sys
import time

import keras


class EpochProgress:
    """A line at most every ``every`` seconds during a long fit (epochs done, time left), so a
    stage is never silent for long; it only reads the clock, never the training. It goes to
    stderr: the terminal shows it once, and the reports (which leave stderr out) do not."""

    def __init__(self, label: str, epochs: int, every: float = 25.0):
        self.label, self.epochs, self.every = label, epochs, every
        self.start = self.last = time.perf_counter()

    def __call__(self, epoch: int, logs=None) -> None:
        now = time.perf_counter()
        if now - self.last >= self.every and epoch + 1 < self.epochs:
            per_epoch = (now - self.start) / (epoch + 1)
            print(f"  {self.label}: epoch {epoch + 1}/{self.epochs}, {per_epoch:.1f} s per epoch, "
                  f"about {per_epoch * (self.epochs - epoch - 1):.0f} s left", file=sys.stderr, flush=True)
            self.last = now


def plain_fit(model: keras.Model, data, *, epochs: int, batch_size: int,
              on_epoch_end=None) -> tuple[dict[str, list[float]], list[float]]:
    """``model.fit`` with every Keras default (``training.plain_keras: true``): the sources' way."""
    seconds: list[float] = []

    class Hooks(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t)  # (includes the validation pass)
            if on_epoch_end is not None:
                on_epoch_end(epoch, logs)

    hist = model.fit(data.x_fit, data.t_fit, epochs=epochs, batch_size=batch_size,
                     validation_data=(data.x_val, data.t_val), verbose=0, callbacks=[Hooks()])
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}, seconds
