"""Keras models built from a ``models`` entry of ``params.yaml``.

Every configuration is ``Input(28, 28) → Flatten → Dense(h, activation) … → [Dropout] →
Dense(10, output_activation)``: the architectures of the five source reports differ only in
these values, so one builder serves them all.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # pinned: it changes TensorFlow's numerics
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from pipeline.config import ModelConfig  # noqa: E402

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)


def build_model(cfg: ModelConfig, num_classes: int = NUM_CLASSES) -> keras.Model:
    """The (uncompiled) Keras model of ``cfg``."""
    layers = [keras.Input(shape=IMAGE_SHAPE, name="image"), keras.layers.Flatten(name="flatten")]
    for i, units in enumerate(cfg.hidden, start=1):
        layers.append(keras.layers.Dense(units, activation=cfg.activation, name=f"hidden_{i}"))
    if cfg.dropout > 0:
        layers.append(keras.layers.Dropout(cfg.dropout, name="dropout"))
    layers.append(keras.layers.Dense(num_classes, activation=cfg.output_activation, name="output"))
    return keras.Sequential(layers, name=cfg.source.replace(" ", "_"))


def expected_parameter_count(cfg: ModelConfig, inputs: int = 28 * 28, num_classes: int = NUM_CLASSES) -> int:
    """Weights + biases of the Dense stack, by hand: sum of (fan_in + 1) × units."""
    sizes = [inputs, *cfg.hidden, num_classes]
    return sum((fan_in + 1) * units for fan_in, units in zip(sizes, sizes[1:]))


def make_optimizer(cfg: ModelConfig) -> keras.optimizers.Optimizer:
    """The optimizer by name, with Keras's default learning rate unless ``cfg`` sets one."""
    kwargs = {} if cfg.learning_rate is None else {"learning_rate": cfg.learning_rate}
    return {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD,
            "rmsprop": keras.optimizers.RMSprop}[cfg.optimizer](**kwargs)
