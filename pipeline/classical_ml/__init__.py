"""Stage ``classical``: scikit-learn models on the networks' split, chosen by validation accuracy (notebook 03)."""
