"""What is made from a class mask: sieve, polygons, accuracy (metrics,
references, reports), zonal statistics, and :mod:`.pipeline` (segment, then
sieve and vectorize, with one result).
"""
