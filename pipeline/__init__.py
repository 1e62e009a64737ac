"""MNIST report pipeline: data, notebooks run by papermill, HTML reports.

Modules (cookiecutter-data-science layout):

- ``config``   paths of the project and the validated ``params.yaml``
- ``fileio``   atomic writes (a killed run leaves the old file or the new one)
- ``dataset``  real MNIST / Fashion-MNIST from pinned, hash-checked sources
- ``explore``  numbers shown by the data-exploration notebook
- ``plots``    every figure of the reports
- ``assets``   offline JavaScript (MathJax) fetched from npm and pinned by hash
- ``runner``   papermill execution + nbconvert HTML rendering
- ``site``     ``reports/index.html`` from a jinja2 template
- ``cli``      ``python -m pipeline ...``
"""

__version__ = "0.1.0"
