"""Running segment's windows on a Dask cluster (``--dask``): the cluster's address, the connection, the tasks.

* :mod:`.address`: what ``--dask`` names (``local:N``, ``tcp://HOST:PORT``,
  a scheduler file), checked without importing Dask;
* :mod:`.connect`: a ``distributed.Client`` for it (a LocalCluster on
  127.0.0.1 for ``local:N``), shared by the runs of one batch;
* :mod:`.window_tasks`: what a worker runs: one window, read by the worker
  itself, classified with the sessions the worker keeps per bundle;
* :mod:`.dispatch`: the client's side: windows submitted a bounded number
  ahead, results taken back in window order for the run's one writer.

Dask is an optional extra (``pip install 'glnet[dask]'``); only
:mod:`.connect` and :mod:`.dispatch` import it, when a run asks for a cluster.
"""
