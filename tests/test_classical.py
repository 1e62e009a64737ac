"""The classical comparison on the first 600 real MNIST images with real scikit-learn models:
the chosen model is the best on the held-out validation images, only it predicts the test set,
and a tie goes to the model listed first."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import nbformat
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import KNeighborsClassifier

from pipeline.classical_ml import models
from pipeline.core import numbers, paths, runner
from pipeline.core.params import load_params
from pipeline.core.params.schema import ClassicalParams
from pipeline.core.dataset import validation_split
from pipeline.modeling import executor as executors
from tests.conftest import PROFILE_CLASSICAL, REPO, use_test_profile

PARAMS = ClassicalParams(**PROFILE_CLASSICAL)
SEEN = ("fit", "predict", "predict_proba", "decision_function", "score")  # methods that are given images


def recording(estimators: dict, calls: list) -> dict:
    """The same estimators as subclasses that append (model name, method, X) to ``calls``
    whenever one of ``SEEN`` is called (``clone`` keeps the subclass)."""

    def make(name, cls):
        def wrap(method):
            def seen(self, X, *args, **kwargs):
                calls.append((name, method, np.asarray(X)))
                return getattr(cls, method)(self, X, *args, **kwargs)
            return seen
        return type(cls.__name__, (cls,), {m: wrap(m) for m in SEEN})

    return {name: make(name, type(e))(**e.get_params()) for name, e in estimators.items()}


def run(ds, estimators=None):
    """In this process: the recording estimators append to a list of this process."""
    return models.run(ds, PARAMS, log=lambda _: None, estimators=estimators, executor=executors.InProcess())


@pytest.fixture(scope="module")
def recorded(small):
    """A run of the four models, the calls they received, and the arrays they should have seen."""
    calls: list = []
    comparison = run(small, recording(models.make_models(PARAMS), calls))
    return comparison, calls, models.split_arrays(small, PARAMS)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


def test_split_is_the_networks_validation_split(small):
    a = models.split_arrays(small, PARAMS)
    split = validation_split(small.y_train, PARAMS.validation_fraction, PARAMS.seed)
    x = models.flatten(small.x_train)
    assert _same(a.x_fit, x[split.fit]) and _same(a.y_fit, small.y_train[split.fit])
    assert _same(a.x_val, x[split.val]) and _same(a.y_val, small.y_train[split.val])
    assert len(a.y_val) == round(PARAMS.validation_fraction * len(small.y_train))
    assert _same(a.x_test, models.flatten(small.x_test))


def test_chosen_model_is_the_argmax_of_validation_accuracy(recorded):
    comparison, _, a = recorded
    assert [c.name for c in comparison.candidates] == list(models.make_models(PARAMS))
    for c in comparison.candidates:  # each validation accuracy, recomputed from the fitted model
        assert c.val_images == len(a.y_val)
        assert c.val_accuracy == np.mean(c.model.predict(a.x_val) == a.y_val)
    accs = [c.val_accuracy for c in comparison.candidates]
    first_best = int(np.argmax(accs))  # numpy's argmax also returns the first of equal maxima
    assert comparison.chosen.name == comparison.test.name == comparison.candidates[first_best].name
    assert comparison.test.test_accuracy == np.mean(comparison.chosen.model.predict(a.x_test) == a.y_test)


def test_only_the_chosen_model_sees_the_test_images(recorded):
    comparison, calls, a = recorded
    chosen = comparison.test.name
    for name in (c.name for c in comparison.candidates):
        seen = [(method, x) for n, method, x in calls if n == name]
        assert any(method == "fit" for method, _ in seen)
        assert all(_same(x, a.x_fit) for method, x in seen if method == "fit")
        shown = [x for method, x in seen if method != "fit"]
        on_test = [x for x in shown if _same(x, a.x_test)]
        assert all(_same(x, a.x_val) or _same(x, a.x_test) for x in shown), name
        assert any(_same(x, a.x_val) for x in shown), name
        assert bool(on_test) == (name == chosen), name
    # the results say the same: no test field per candidate, one test result
    assert not any("test" in f.name for f in dataclasses.fields(models.Candidate))
    assert len(comparison.test.predictions) == len(a.y_test)


def test_tie_goes_to_the_model_listed_first(small):
    knn = KNeighborsClassifier(n_neighbors=PARAMS.knn_neighbors, algorithm="brute")
    weak = RandomForestClassifier(n_estimators=1, max_depth=2, random_state=0)  # worse, listed before both
    forward = run(small, {"one tree": weak, "k-NN a": knn, "k-NN b": clone(knn)})
    accs = {c.name: c.val_accuracy for c in forward.candidates}
    assert accs["k-NN a"] == accs["k-NN b"] > accs["one tree"]  # a real tie at the top
    assert forward.test.name == "k-NN a"
    backward = run(small, {"one tree": weak, "k-NN b": clone(knn), "k-NN a": knn})
    assert backward.test.name == "k-NN b"
    assert models.choose(forward.candidates[::-1]).name == "k-NN b"


def test_metrics_are_deterministic_and_hold_the_rule(recorded, small, tmp_path):
    comparison, _, a = recorded
    m = models.metrics(comparison)
    assert m == models.metrics(run(small))  # a second run, without the recording: the same content
    assert list(m) == ["rule", "images", "models", "chosen"]
    assert m["images"] == {"fit": len(a.y_fit), "validation": len(a.y_val), "test": len(a.y_test)}
    assert list(m["models"]) == ["logistic_regression", "k_nearest_neighbours", "linear_svm", "random_forest"]
    assert all(set(v) == {"name", "val_accuracy"} for v in m["models"].values())  # no test accuracy
    chosen = m["chosen"]
    assert set(chosen) == {"model", "name", "val_accuracy", "test_accuracy"}
    assert m["models"][chosen["model"]] == {"name": chosen["name"], "val_accuracy": chosen["val_accuracy"]}
    assert chosen["val_accuracy"] == max(v["val_accuracy"] for v in m["models"].values())
    assert chosen["test_accuracy"] == round(comparison.test.test_accuracy, 6)
    assert f"validation accuracy on {len(a.y_val):,} held-out training images" in m["rule"]
    assert f"once, on the {len(a.y_test):,} test images" in m["rule"]
    assert m["rule"] in models.summary(comparison)
    text = json.dumps(m)
    assert "seconds" not in text and "time" not in text

    written = models.write_outputs(comparison, root=tmp_path)
    assert json.loads(written[0].read_text()) == m
    t = json.loads(written[1].read_text())
    assert t.pop("environment")["cpu"]  # where the stage ran (timing file, not the metrics)
    assert list(t) == list(m["models"])
    assert [k for k, v in t.items() if "test_predict_seconds" in v] == [chosen["model"]]


def test_two_workers_fit_side_by_side_and_learn_the_same(recorded, small):
    """The pipeline's own executor: two local worker processes, one thread each, and the
    same candidates, choice and test result as in this process (one BLAS thread there too)."""
    lines: list[str] = []
    pooled = models.run(small, PARAMS, log=lines.append, executor=executors.LocalPool(2))
    assert models.metrics(pooled) == models.metrics(recorded[0])
    assert [c.name for c in pooled.candidates] == list(models.make_models(PARAMS))
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 4 and all("validation accuracy" in line for line in progress)
    assert not any(f"pid {os.getpid()})" in line for line in progress), progress  # fitted in the workers
    assert lines[-1].startswith(f"chosen: {pooled.test.name}; test accuracy")


@pytest.mark.slow
def test_notebook_states_the_rule_and_the_one_test_accuracy(mnist_file, tmp_path):
    """Notebook 03 run as its stage runs it (papermill, nbconvert) on the test profile."""
    root = tmp_path
    shutil.copy(REPO / "params.yaml", root / "params.yaml")
    use_test_profile(root)
    (root / "notebooks").mkdir()
    notebook = root / "notebooks/03_classical_ml.ipynb"
    shutil.copy(REPO / notebook.relative_to(root), notebook)
    (root / "data").mkdir()
    (root / "data/dataset.npz").symlink_to(mnist_file)
    parameters = runner.stage_parameters(notebook, ["classical"], [], load_params(root / "params.yaml"))
    files = runner.run(notebook, parameters, root=root, progress=False)

    m = json.loads(paths.classical_files(root).metrics.read_text())
    n = PROFILE_CLASSICAL["sample_size"]
    assert m["images"] == {"fit": n - n // 10, "validation": n // 10, "test": n}
    nb = nbformat.read(files.notebook, as_version=4)
    shown = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not any(o.output_type == "error" for o in shown)
    markdown = " ".join(o.get("data", {}).get("text/markdown", "") for o in shown)
    chosen = m["chosen"]
    assert f"**{chosen['name']}** has the highest validation accuracy" in markdown
    assert f"**{numbers.num(chosen['test_accuracy'])}**" in markdown and m["rule"] in markdown
    assert f"validation accuracy, {numbers.num(chosen['val_accuracy'])} of the" in markdown
    assert " %" not in markdown  # fractions, as the model pages and the front page print them
    table = next(o["data"]["text/html"] for o in shown if "validation accuracy" in o.get("data", {}).get("text/html", ""))
    assert "test accuracy" not in table  # the other models have none
    for v in m["models"].values():  # the digits the front page prints (index.html.j2: |num)
        assert f">{numbers.num(v['val_accuracy'])}<" in table, v
    assert sum("image/png" in o.get("data", {}) for o in shown) == 2
    assert files.html.is_file()
