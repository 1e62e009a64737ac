"""Keras networks: building and seeded training (``train``, used by the model reports and the
loss sweep) and classifying your own images with a trained model (``predict``)."""
