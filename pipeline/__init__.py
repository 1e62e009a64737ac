"""MNIST report pipeline: data, notebooks run by papermill, HTML reports.

Sub-packages (cookiecutter-data-science layout, cut along the import graph: every arrow
points down, to ``core`` or ``modeling``, never back up):

- ``core``          paths (and every stage's output files), params schema, file I/O,
                    dataset, statistics over repeats, provenance, offline assets, the
                    notebook runner, shared figures
- ``modeling``      Keras networks: building, seeded training, predicting your own images
- ``exploration``   stage ``explore`` (notebook 01)
- ``model_report``  stage ``model@NAME`` (notebook 02)
- ``classical_ml``  stage ``classical`` (notebook 03)
- ``loss_sweep``    stages ``sweep@LOSS`` and ``loss_comparison`` (notebooks 04, 05)
- ``site``          stages ``dvc_plots`` and ``site``, and ``make publish``
- ``cli``           ``python -m pipeline ...``: the verbs that the stages and users run

Each DVC stage depends on ``core``, its own family's folder (and ``modeling`` where it
trains), its notebook and this top level, so a new import inside a folder is covered
without editing ``dvc.yaml``; ``tests/test_dvc_graph.py`` checks it.
"""

__version__ = "0.1.0"
