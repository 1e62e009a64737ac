"""Results without training: the DVC remote a clone pulls from (``remotes``).

No stage imports this package, so editing it re-runs nothing.
"""
