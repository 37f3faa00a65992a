"""Adversarial tests (issue #13): glnet used as a hostile or clumsy user would.

One module per class of the hardening contract:

* ``test_data_loss.py``: no input is ever destroyed; outputs are distinct,
  checked up front, committed all or none; ``--overwrite`` limits.
* ``test_bad_values.py``: every bad value or usage error is one
  ``glnet: error:`` line (exit 2), in the CLI and the Processing algorithms.
* ``test_lying_bundles.py``: bundles and checkpoints that disagree with
  themselves, escape their folder or inflate are refused before anything runs.
* ``test_faults.py``: concurrent runs, full disks, damaged resume states,
  changed inputs, GCP georeferencing.
* ``test_bookkeeping.py``: sparse rasters cost what their valid data costs.
"""
