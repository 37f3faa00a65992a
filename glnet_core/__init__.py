"""Core of glnet that needs neither torch nor QGIS, in subpackages by role.

Imports point down this list only:

- :mod:`.cli`: the ``glnet`` command, one module per command;
- :mod:`.products`: what is made from a class mask (polygons, accuracy,
  zonal statistics) and the segment-then-vectorize pipeline;
- :mod:`.samples`: synthetic scenes and the demo (not part of the plugin);
- :mod:`.engine`: model bundles, modes, windows and patches, the ONNX chain,
  ``segment()``;
- :mod:`.formats` and :mod:`.geo`: raster input, the class-mask format, class
  tables, vector layers, styles, output paths; CRS, units and areas;
- :mod:`.errors`, :mod:`.callbacks`, :mod:`.progress_bar`: used at every level.

Nothing is imported here so that ``import glnet.glnet_core.X`` loads only X.
"""
