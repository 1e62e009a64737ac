"""Issue 24's first measurement: where Keras ``fit`` loses time against a lean compiled loop.

    python benchmarks/lean_loop.py 128 32 fit,fit_xla,fit_unroll8,fit_nometric,lean,lean_xla
    ONEDNN=1 python benchmarks/lean_loop.py 512,256,128,24,10 32 fit,lean,lean_xla

One model shape (hidden sizes, batch size), one thread, 20,000 training images; each mode
trains one epoch to warm up (tracing, compiling) and times the second; the ratio is to the FLOP
bound 6 × parameters × images at the 1024³ matmul rate measured in the same process. Modes:
``fit`` (our compile settings: 32 steps per execution, accuracy metric), ``fit_xla``,
``fit_unroll8`` (Keras's ``unrolled_steps_per_execution``), ``fit_nometric``; ``lean``: one
``tf.function`` running up to 32 steps on batches gathered from the data held as one tensor
(no tf.data, no nested function call per step, running loss and accuracy summed in the loop),
``lean_xla`` the same XLA-compiled. No validation pass in any mode. A measurement script, not
the pipeline's code.
"""
import os, sys, time
os.environ["TF_ENABLE_ONEDNN_OPTS"] = os.environ.get("ONEDNN", "0"); os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np, tensorflow as tf, keras
tf.config.threading.set_intra_op_parallelism_threads(1); tf.config.threading.set_inter_op_parallelism_threads(1)
tf.config.experimental.enable_op_determinism()
from pathlib import Path
d = np.load(Path(__file__).resolve().parents[1] / "data/dataset.npz")
N = 20000
x = (d["x_train"][:N].astype("float32") / 255.); y = d["y_train"][:N].astype("int64")
hidden = [int(h) for h in sys.argv[1].split(",")]; B = int(sys.argv[2]); modes = sys.argv[3].split(",")
def build():
    keras.utils.set_random_seed(1)
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten()] + [keras.layers.Dense(h, activation="relu") for h in hidden] + [keras.layers.Dense(10, activation="softmax")])
s = [784, *hidden, 10]; P = sum(a * b + b for a, b in zip(s, s[1:]))
def fit(metrics, spe, jit=False, unroll=1):
    m = build(); m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=metrics, steps_per_execution=spe, jit_compile=False); m._jit_compile = jit
    m.unrolled_steps_per_execution = unroll
    m.fit(x, y, epochs=1, batch_size=B, verbose=0)
    t = time.perf_counter(); m.fit(x, y, epochs=1, batch_size=B, verbose=0); return time.perf_counter() - t
def lean(jit=False, K=32):
    m = build(); opt = keras.optimizers.Adam(); lossf = keras.losses.SparseCategoricalCrossentropy(); opt.build(m.trainable_variables)
    xs = tf.constant(x); ys = tf.constant(y)
    @tf.function(jit_compile=jit, reduce_retracing=True)
    def steps(idx):
        tot = tf.constant(0.0); cor = tf.constant(0.0)
        for k in tf.range(tf.shape(idx)[0]):
            xb = tf.gather(xs, idx[k]); yb = tf.gather(ys, idx[k])
            with tf.GradientTape() as tape:
                p = m(xb, training=True); l = lossf(yb, p)
            g = tape.gradient(l, m.trainable_variables); opt.apply(g, m.trainable_variables)
            tot += l; cor += tf.reduce_sum(tf.cast(tf.equal(tf.argmax(p, 1), yb), tf.float32))
        return tot, cor
    rng = np.random.default_rng(0); nb = N // B
    def epoch():
        perm = rng.permutation(N)
        for st in range(0, nb, K):
            steps(tf.constant(perm[st * B:min(st + K, nb) * B].reshape(-1, B)))
    epoch(); t = time.perf_counter(); epoch(); return time.perf_counter() - t
a = tf.constant(np.random.default_rng(0).standard_normal((1024, 1024)).astype("float32")); f = tf.function(lambda: tf.matmul(a, a)); f()
t = time.perf_counter(); [f().numpy() for _ in range(20)]; rate = 20 * 2 * 1024 ** 3 / (time.perf_counter() - t)
bound = 6 * P * N / rate
print(f"model {hidden} B {B} params {P} matmul {rate/1e9:.1f} GFLOP/s bound {bound:.2f}s onednn={os.environ['TF_ENABLE_ONEDNN_OPTS']}", flush=True)
table = {"fit": lambda: fit(["accuracy"], 32), "fit_xla": lambda: fit(["accuracy"], 32, True),
         "fit_unroll8": lambda: fit(["accuracy"], 32, False, 8), "fit_nometric": lambda: fit([], 32),
         "fit_spe1": lambda: fit(["accuracy"], 1), "lean": lambda: lean(), "lean_xla": lambda: lean(True)}
for name in modes:
    sec = table[name](); print(f"  {name:14s} {sec:6.2f}s  {sec/bound:5.1f}x bound", flush=True)
