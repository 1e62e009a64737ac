"""Stage ``classical``: scikit-learn models on the networks' split (notebook 03)."""
