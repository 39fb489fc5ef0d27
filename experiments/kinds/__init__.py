"""One module per config ``kind``: each computes its experiment and returns its data (records,
rows); :mod:`experiments.report` turns the data into files and tables, and
:mod:`experiments.runner` dispatches on the kind."""
