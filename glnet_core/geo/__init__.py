"""Ground geometry: CRS and units (:mod:`.crs`), areas (:mod:`.areas`), a bounding-box index."""
