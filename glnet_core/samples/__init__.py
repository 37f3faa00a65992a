"""Sample data: synthetic land-cover scenes (``glnet synth``) and the demo
(``glnet demo``) with its shipped files in ``data/``. Outside the engine, and
left out of the QGIS plugin zip.
"""
