"""A lean compiled training loop for the Keras models of ``train.py`` (issue 24).

``model.fit`` at batch 32 ran at 5.6–6.6 times the FLOP bound of its arithmetic on one CPU
thread here, a loop that does only the model's work at 2.0–2.8 times, and the same loop
XLA-compiled at 1.2–1.6 times (``benchmarks/lean_loop.py``, ``benchmarks/results.md``). What
``fit`` adds per step is its data adapter, its metric objects and its callbacks.

This loop trains the Keras model's own variables with the model's own (compiled) optimizer,
so the result is the same ``keras.Model``, saved as ``.keras`` as before:

- the fitted images and their labels are held as two tensors for the whole fit; each step
  gathers its batch by index (no ``tf.data``, no slicing adapter);
- one ``tf.function`` runs up to ``steps_per_call`` steps in a loop (``steps_per_execution``
  in ``params.yaml``), optionally XLA-compiled (``jit_compile``); every call has the same
  shape, so it is traced and compiled once per fit;
- the epoch's loss and accuracy are summed inside that loop (mean over the epoch's images,
  weighted by batch size, as ``fit`` reports them), and the validation loss and accuracy are
  measured once per epoch in inference mode;
- each epoch's order is a permutation drawn from the run's seed; the last batch may be
  smaller, as in ``fit`` (it is padded to the batch size, and the padding has weight 0). Dropout draws from Keras's seeded generator, so with op
  determinism the same seed gives the same weights, bit for bit.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

EpochHook = Callable[[int, dict], None]  # (epoch index, that epoch's history entries)


def first_argmax(values):
    """The index of each row's largest value, the first one where several are equal (as NumPy's
    ``argmax``, which the reports' confusion matrices use). R2's sigmoid outputs tie at exactly
    1.0 in about 2 % of the test images, and inside a ``tf.function`` TensorFlow's graph
    optimiser rewrites ``argmax(sigmoid(z))`` as ``argmax(z)``: a plain ``tf.argmax`` there
    breaks those ties by the logits, and one model's test accuracy read 0.9711 instead of the
    confusion matrix's 0.9649."""
    import tensorflow as tf

    classes = tf.shape(values)[-1]
    top = tf.equal(values, tf.reduce_max(values, axis=-1, keepdims=True))
    index = tf.broadcast_to(tf.range(classes, dtype=tf.int64), tf.shape(values, out_type=tf.int64))
    return tf.reduce_min(tf.where(top, index, tf.cast(classes, tf.int64)), axis=-1)


def _hits(one_hot: bool):
    """Per-image 1.0/0.0: the predicted class (``first_argmax``) is the label."""
    import tensorflow as tf

    def hits(t, p):
        label = first_argmax(t) if one_hot else tf.cast(t, tf.int64)
        return tf.cast(tf.equal(first_argmax(p), label), tf.float32)

    return hits


def compiled_steps(model, loss: str, one_hot: bool, jit_compile: bool):
    """``steps(x, t, batches, counts) -> (loss × images, correct)``: one optimizer step per
    row ``k`` of ``batches`` (indices into ``x`` and ``t``) whose ``counts[k]`` is not 0, on
    that row's first ``counts[k]`` images, summed over those steps.

    Every call has the same shape (``epoch_batches`` pads), so the function is traced, and
    XLA-compiled, once per fit: each new shape cost another 1.1–1.4 s of XLA compilation."""
    import keras
    import tensorflow as tf

    loss_fn, hits, optimizer = keras.losses.get(loss), _hits(one_hot), model.optimizer
    variables = model.trainable_variables
    optimizer.build(variables)

    @tf.function(jit_compile=jit_compile, reduce_retracing=True)
    def steps(x, t, batches, counts):
        loss_sum = tf.zeros((), tf.float32)
        correct = tf.zeros((), tf.float32)
        slots = tf.range(tf.shape(batches)[1])
        for k in tf.range(tf.math.count_nonzero(counts, dtype=tf.int32)):
            xb, tb = tf.gather(x, batches[k]), tf.gather(t, batches[k])
            used = tf.cast(slots < counts[k], tf.float32)  # 0 for the padding of a smaller batch
            images = tf.cast(counts[k], tf.float32)
            with tf.GradientTape() as tape:
                p = model(xb, training=True)
                batch_loss = tf.reduce_sum(loss_fn(tb, p) * used) / images
            optimizer.apply(tape.gradient(batch_loss, variables), variables)
            loss_sum += batch_loss * images
            correct += tf.reduce_sum(hits(tb, p) * used)
        return loss_sum, correct

    return steps


def compiled_evaluation(model, loss: str, one_hot: bool, batch: int):
    """``evaluate(x, t) -> (mean loss, accuracy)`` in inference mode, ``batch`` images at a time."""
    import keras
    import tensorflow as tf

    loss_fn, hits = keras.losses.get(loss), _hits(one_hot)

    @tf.function(reduce_retracing=True)
    def sums(x, t):
        p = model(x, training=False)
        return tf.reduce_sum(loss_fn(t, p)), tf.reduce_sum(hits(t, p))

    def evaluate(x: np.ndarray, t: np.ndarray) -> tuple[float, float]:
        total = correct = 0.0
        for start in range(0, len(x), batch):
            s, c = sums(x[start:start + batch], t[start:start + batch])
            total, correct = total + float(s), correct + float(c)
        return total / len(x), correct / len(x)

    return evaluate


def epoch_batches(n: int, batch_size: int, steps_per_call: int,
                  rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch's calls of ``compiled_steps``, as ``(batches, counts)`` pairs of one shape.

    ``batches`` (steps, batch_size) holds indices into the fitted images, ``counts`` (steps,)
    how many of each row are real: ``batch_size``, then the smaller last batch (if any), then
    0 for rows that only pad the last call. steps = ``steps_per_call``, or fewer when the whole
    epoch has fewer batches. Padding indices are 0 and are never trained on."""
    order = rng.permutation(n).astype(np.int32)
    n_batches = -(-n // batch_size)
    rows = min(steps_per_call, n_batches)
    calls = []
    for first in range(0, n_batches, rows):
        batches = np.zeros((rows, batch_size), np.int32)
        counts = np.zeros(rows, np.int32)
        for row, b in enumerate(range(first, min(first + rows, n_batches))):
            chunk = order[b * batch_size:(b + 1) * batch_size]
            batches[row, :len(chunk)], counts[row] = chunk, len(chunk)
        calls.append((batches, counts))
    return calls


def fit(model, data, *, loss: str, one_hot: bool, epochs: int, batch_size: int, seed: int,
        steps_per_call: int, jit_compile: bool, evaluate,
        on_epoch_end: EpochHook | None = None) -> tuple[dict[str, list[float]], list[float]]:
    """Train ``model`` (compiled: its optimizer is used) on ``data.x_fit``/``data.t_fit``,
    validating on ``data.x_val``/``data.t_val`` after every epoch with ``evaluate`` (from
    ``compiled_evaluation``: the caller reuses it, already traced, for its own measurements).

    Returns the history (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy`` per epoch, the
    keys ``fit`` uses) and the wall seconds of each epoch's training (without validation).
    """
    import tensorflow as tf

    if len(data.x_fit) == 0:
        raise ValueError("no images to fit")
    steps = compiled_steps(model, loss, one_hot, jit_compile)
    x, t = tf.convert_to_tensor(data.x_fit), tf.convert_to_tensor(data.t_fit)
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {"loss": [], "accuracy": [], "val_loss": [], "val_accuracy": []}
    seconds: list[float] = []
    for epoch in range(epochs):
        start = time.perf_counter()
        sums = [steps(x, t, tf.constant(batches), tf.constant(counts))
                for batches, counts in epoch_batches(len(x), batch_size, steps_per_call, rng)]
        loss_sum = sum(float(s) for s, _ in sums)
        correct = sum(float(c) for _, c in sums)
        seconds.append(time.perf_counter() - start)
        val_loss, val_accuracy = evaluate(data.x_val, data.t_val)
        entries = {"loss": loss_sum / len(x), "accuracy": correct / len(x),
                   "val_loss": val_loss, "val_accuracy": val_accuracy}
        for key, value in entries.items():
            history[key].append(float(value))
        if on_epoch_end is not None:
            on_epoch_end(epoch, entries)
    return history, seconds
