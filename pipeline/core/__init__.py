"""What every stage uses: paths, params schema, file I/O, the dataset, statistics over
repeats, provenance, offline assets, the notebook runner and the shared figures.
Nothing here imports from the stage families."""
