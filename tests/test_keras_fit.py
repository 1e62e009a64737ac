"""Keras's own fit (pipeline/modeling/keras_fit.py) on real MNIST images, and the progress lines
that a long fit prints."""

import keras
import numpy as np

from pipeline.core import dataset
from pipeline.core.params.schema import ModelConfig
from pipeline.modeling import keras_fit, train


def test_plain_fit_returns_fits_history_and_one_time_per_epoch(small):
    cfg = ModelConfig(source="t", title="t", hidden=[16], loss="sparse_categorical_crossentropy", epochs=3,
                      batch_size=64)
    x, y = dataset.scale(small.x_train), small.y_train.astype(np.int64)
    data = train.Prepared(x[:400], y[:400], x[400:], y[400:], None, None, None)
    keras.utils.set_random_seed(0)
    model = train.compile_model(train.build_model(cfg), cfg)
    seen = []
    history, seconds = keras_fit.plain_fit(model, data, epochs=3, batch_size=64,
                                           on_epoch_end=lambda epoch, logs: seen.append(epoch))
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in history.values()) and seen == [0, 1, 2]
    assert len(seconds) == 3 and all(s > 0 for s in seconds)
    assert model.optimizer.iterations.numpy() == 3 * -(-400 // 64)  # Keras's own batching
    assert history["loss"][-1] < history["loss"][0]


def test_progress_prints_at_most_every_interval_and_never_after_the_last_epoch(capsys, monkeypatch):
    clock = iter([0.0, 10.0, 30.0, 40.0, 60.0, 100.0])
    monkeypatch.setattr(keras_fit.time, "perf_counter", lambda: next(clock))
    progress = keras_fit.EpochProgress("R1 seed 0", epochs=5, every=25.0)  # starts at 0 s
    for epoch in range(5):  # epochs end at 10, 30, 40, 60 and 100 s
        progress(epoch)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["  R1 seed 0: epoch 2/5, 15.0 s per epoch, about 45 s left",
                     "  R1 seed 0: epoch 4/5, 15.0 s per epoch, about 15 s left"]
