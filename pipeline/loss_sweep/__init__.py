"""Stages ``sweep@LOSS`` and ``loss_comparison``: R4's loss sweep run by run with a result
cache (``runs``), its tables and files (``sweep_tables``), statistics (``families``) and
figures (``sweep_figures``) (notebooks 04 and 05)."""
