"""The validated contents of ``params.yaml``.

- ``schema``    the sections and their keys (pydantic), with the types they share
- ``messages``  ``ParamsError`` and ``parse_params``: a refused file in one line per problem
- ``loading``   ``load_params``: the hardened YAML loader, then ``parse_params``
- ``access``    what notebooks call: ``section``, ``value_at``, ``quick_sample``
"""

from pipeline.core.params.access import quick_sample, section, value_at
from pipeline.core.params.loading import load_params
from pipeline.core.params.messages import SHOW_CHARS, ParamsError, parse_params
from pipeline.core.params.schema import Params

__all__ = ["SHOW_CHARS", "Params", "ParamsError", "load_params", "parse_params", "quick_sample", "section",
           "value_at"]
