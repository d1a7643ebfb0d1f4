"""Evaluation of search quality and speed, called by the notebooks in `notebooks/`.

Pure measures live in `metrics.py`; the other modules each run one kind of experiment against a
store (the embedded local stack or a real deployment) and return plain records that the notebooks
tabulate and plot.
"""
