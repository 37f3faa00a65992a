"""Files glnet reads and writes: raster input (the one path for training and
inference), the class-mask format, class tables, vector layers, QGIS styles,
output paths and atomic writes, GDAL settings.
"""
