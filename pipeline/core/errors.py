"""The one base class of the errors a user can act on."""


class PipelineError(Exception):
    """A failure the user can act on: the CLI prints its message (no traceback) and exits 1."""
