"""BoundsIndex: the rtree-free candidate search used by evaluate and stats."""

from shapely.geometry import Point, box

from glnet.glnet_core.geo.spatial_index import BoundsIndex


def test_bounds_index_matches_a_brute_force_search():
    geoms = [box(i, j, i + 1.5, j + 1.5) for i in range(10) for j in range(10)] + [Point(50, 50), None]
    idx = BoundsIndex(geoms)
    for q in [box(2.2, 3.1, 4.9, 3.3), box(-5, -5, -1, -1), box(49, 49, 51, 51), Point(0.5, 0.5)]:
        qb = q.bounds
        expected = [i for i, g in enumerate(geoms) if g is not None and
                    g.bounds[0] <= qb[2] and g.bounds[2] >= qb[0] and g.bounds[1] <= qb[3] and g.bounds[3] >= qb[1]]
        assert idx.query(q).tolist() == expected
