"""The lean training loop (pipeline/modeling/lean_fit.py) on real MNIST images: every image once
per epoch, the history ``fit`` would report, seeded and bit-identical reruns with XLA on."""

import json
import subprocess
import sys

import numpy as np
import pytest

from pipeline.core import dataset
from pipeline.core.params.schema import ModelConfig, TrainingParams
from pipeline.modeling import lean_fit, train
from tests.conftest import REPO


@pytest.mark.parametrize("n, batch, per_call", [(300, 128, 2), (256, 128, 32), (50, 64, 4), (1000, 32, 7)])
def test_an_epoch_uses_every_image_once_in_calls_of_one_shape(n, batch, per_call):
    calls = lean_fit.epoch_batches(n, batch, per_call, np.random.default_rng(0))
    rows = min(per_call, -(-n // batch))
    assert all(b.shape == (rows, batch) and c.shape == (rows,) for b, c in calls)  # one trace per fit
    seen = np.concatenate([b[k, :c[k]] for b, c in calls for k in range(rows)])
    assert sorted(seen.tolist()) == list(range(n))
    counts = np.concatenate([c for _, c in calls])
    real = n // batch * [batch] + ([n % batch] if n % batch else [])
    assert counts.tolist() == real + [0] * (len(counts) - len(real))  # padding rows only at the end
    assert len(counts) - len(real) < rows


def test_each_epoch_draws_its_order_from_the_seed():
    a = lean_fit.epoch_batches(100, 32, 4, np.random.default_rng(5))
    b = lean_fit.epoch_batches(100, 32, 4, np.random.default_rng(5))
    c = lean_fit.epoch_batches(100, 32, 4, np.random.default_rng(6))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b))
    assert not all(np.array_equal(x[0], y[0]) for x, y in zip(a, c))


def _data(small, cfg, n_fit=300):
    x, t = dataset.scale(small.x_train), train.encode_labels(small.y_train, cfg)
    return train.Prepared(x[:n_fit], t[:n_fit], x[n_fit:], t[n_fit:], None, None, None)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_the_history_is_the_image_weighted_mean_that_fit_reports(small, loss):
    # With a learning rate of 0 the weights never move, so the epoch's training loss is the
    # loss of the fixed model over all fitted images: batches of 128, 128 and 44 must be
    # weighted by their sizes. Validation is the same model in inference mode.
    import keras

    cfg = ModelConfig(source="t", title="t", hidden=[16], loss=loss, epochs=1, batch_size=128)
    data = _data(small, cfg)
    keras.utils.set_random_seed(0)
    model = train.build_model(cfg)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss=loss, metrics=["accuracy"])
    history, seconds = lean_fit.fit(model, data, loss=loss, one_hot=cfg.one_hot, epochs=2, batch_size=128,
                                    seed=0, steps_per_call=2, jit_compile=False,
                                    evaluate=lean_fit.compiled_evaluation(model, loss, cfg.one_hot, 100))
    fit_loss, fit_acc = model.evaluate(data.x_fit, data.t_fit, batch_size=300, verbose=0)
    val_loss, val_acc = model.evaluate(data.x_val, data.t_val, batch_size=1000, verbose=0)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(seconds) == 2
    assert history["loss"] == pytest.approx([fit_loss] * 2, abs=1e-6)
    assert history["accuracy"] == pytest.approx([fit_acc] * 2, abs=1e-6)
    assert history["val_loss"] == pytest.approx([val_loss] * 2, abs=1e-6)
    assert history["val_accuracy"] == pytest.approx([val_acc] * 2, abs=1e-6)


def test_the_lean_loop_learns_as_fit_does(small):
    # Same configuration, seed and data: the lean loop and Keras's fit (plain_keras) shuffle
    # differently, so the weights differ, but both must learn to the same level.
    cfg = ModelConfig(source="t", title="t", hidden=[64], loss="sparse_categorical_crossentropy",
                      epochs=8, batch_size=32, validation_fraction=0.2)
    lean, model = train.fit_seed(cfg, small, TrainingParams(threads=0), 0, diagnostics=False)
    plain, _ = train.fit_seed(cfg, small, TrainingParams(threads=0, plain_keras=True), 0, diagnostics=False)
    assert set(lean.history) == set(plain.history)
    assert lean.history["loss"][-1] < 0.5 * lean.history["loss"][0]
    assert abs(lean.test_accuracy - plain.test_accuracy) < 0.05
    assert lean.test_accuracy > 0.75 and len(lean.epoch_seconds) == cfg.epochs
    assert model.optimizer.iterations.numpy() == cfg.epochs * -(-len(train.prepare(cfg, small, 0).x_fit) // 32)


RERUN = r"""
import json, sys
import numpy as np
from pipeline.core import dataset
from pipeline.core.params.schema import ModelConfig, TrainingParams
from pipeline.modeling import train
ds = dataset.load(sys.argv[1], sample_size=512)
cfg = ModelConfig(source="t", title="t", hidden=[64, 10], dropout=0.25,
                  loss="sparse_categorical_crossentropy", epochs=2, batch_size=32)
weights = {}
for jit in (True, True, False):
    settings = TrainingParams(jit_compile=jit, threads=int(sys.argv[2]), deterministic=True, steps_per_execution=4)
    run, model = train.fit_seed(cfg, ds, settings, 3, diagnostics=False)
    weights.setdefault(jit, []).append(np.concatenate([w.ravel() for w in model.get_weights()]))
print(json.dumps({"identical": bool(np.array_equal(*weights[True])),
                  "xla_changes_the_arithmetic": not np.array_equal(weights[True][0], weights[False][0]),
                  "trained": bool(run.history["loss"][1] < run.history["loss"][0])}))
"""


@pytest.mark.slow  # trains in a fresh process (thread settings are per process)
@pytest.mark.parametrize("threads", [1, 2])
def test_reruns_are_bit_identical_with_xla_and_dropout(mnist_file, threads):
    # The same seed must give the same weights with XLA on; that XLA's weights differ from the
    # plain loop's shows the setting reaches TensorFlow (Keras's fit silently dropped it
    # under op determinism).
    proc = subprocess.run([sys.executable, "-c", RERUN, str(mnist_file), str(threads)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"identical": True, "xla_changes_the_arithmetic": True, "trained": True}


def test_the_predicted_class_of_equal_outputs_is_the_first_as_numpy_says():
    # Saturated sigmoids (R2) tie at exactly 1.0 while their logits differ. Inside a
    # tf.function, TensorFlow's graph optimiser turns argmax(sigmoid(z)) into argmax(z), so a
    # plain tf.argmax breaks those ties by the logits, not as the confusion matrix (NumPy's
    # argmax of the outputs) does: on the committed R2 model 89 of 10,000 test images differed.
    import tensorflow as tf

    rng = np.random.default_rng(0)
    z = rng.uniform(17.0, 40.0, size=(2000, 10)).astype(np.float32)  # sigmoid(z) == 1.0 exactly
    z[:, :3] = rng.uniform(-5.0, 5.0, size=(2000, 3))
    outputs = tf.sigmoid(z).numpy()
    assert ((outputs == outputs.max(axis=1, keepdims=True)).sum(axis=1) > 1).mean() > 0.9  # ties
    ours = tf.function(lambda v: lean_fit.first_argmax(tf.sigmoid(v)))(tf.constant(z)).numpy()
    plain = tf.function(lambda v: tf.argmax(tf.sigmoid(v), axis=-1))(tf.constant(z)).numpy()
    assert (ours == outputs.argmax(axis=1)).all()
    assert (plain != outputs.argmax(axis=1)).any()  # the rewrite this guards against happens here