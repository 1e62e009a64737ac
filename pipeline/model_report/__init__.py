"""Stage ``model@NAME``: tables, claim check, metrics files and figures of one model report
(notebook 02)."""
