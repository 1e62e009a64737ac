"""Stages ``dvc_plots`` and ``site``, and ``make publish``: the front page (``index``),
DVC's plots rendered offline (``dvcplots``) and the publishable folder (``publish``)."""
