"""Core of glnet that needs neither torch nor QGIS.

Pure, dependency-light modules shared by the command line, the onnxruntime
engine, the PyTorch model and the QGIS plugin: patch tiling
(:mod:`.tiling`), Pillow-exact resampling (:mod:`.resample`), class tables
(:mod:`.classes`), pre-processing (:mod:`.preprocess`), error types
(:mod:`.errors`) and the command line (:mod:`.cli`).

Nothing is imported here so that ``import glnet.glnet_core.X`` loads only X.
"""
