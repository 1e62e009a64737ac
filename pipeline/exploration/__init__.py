"""Stage ``explore``: the numbers and figures of the data-exploration report (notebook 01)."""
