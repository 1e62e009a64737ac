"""Stages ``sweep@LOSS`` and ``loss_comparison``: R4's loss sweep run by run with a result
cache (``runs``), its tables and files (``tables``), statistics (``stats``) and figures
(``plots``) (notebooks 04 and 05)."""
