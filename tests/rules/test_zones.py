"""Zone geometry: point-in-polygon with an inclusive boundary, bottom-centre, masks."""

from __future__ import annotations

import pytest

from app.config import CameraConfig
from app.domain import Box
from app.rules import CameraZones, foot_point, point_in_polygon, zones_for_camera

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
# An L: the square [0.2, 0.6]² without its top-right quarter [0.4, 0.6] x [0.2, 0.4].
ELL = ((0.2, 0.2), (0.4, 0.2), (0.4, 0.4), (0.6, 0.4), (0.6, 0.6), (0.2, 0.6))


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (0.4, 0.4, True),
        (0.1, 0.4, False),
        (0.7, 0.4, False),
        (0.4, 0.1, False),
        (0.4, 0.7, False),
        (0.2, 0.4, True),  # on the left edge
        (0.6, 0.4, True),  # on the right edge
        (0.4, 0.6, True),  # on the bottom edge
        (0.6, 0.6, True),  # a vertex
        (0.6 + 1e-6, 0.4, False),  # just outside an edge
    ],
)
def test_square_with_inclusive_boundary(x: float, y: float, inside: bool) -> None:
    assert point_in_polygon(x, y, SQUARE) is inside


@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (0.3, 0.3, True),  # the L's upright
        (0.5, 0.5, True),  # its foot
        (0.5, 0.3, False),  # the notch: inside the bounding box, outside the shape
        (0.4, 0.3, True),  # on the notch's edge
        (0.5, 0.4, True),
    ],
)
def test_concave_polygon(x: float, y: float, inside: bool) -> None:
    assert point_in_polygon(x, y, ELL) is inside


def test_diagonal_edge_and_triangle() -> None:
    tri = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    assert point_in_polygon(0.5, 0.5, tri)  # on the hypotenuse
    assert point_in_polygon(0.2, 0.2, tri)
    assert not point_in_polygon(0.51, 0.51, tri)
    # Vertex order (clockwise or not) does not matter.
    assert point_in_polygon(0.2, 0.2, tri[::-1])
    assert not point_in_polygon(0.51, 0.51, tri[::-1])


def test_ray_through_a_vertex_counts_once() -> None:
    diamond = ((0.5, 0.1), (0.9, 0.5), (0.5, 0.9), (0.1, 0.5))
    # The horizontal ray from (0.3, 0.5) passes exactly through the vertex (0.9, 0.5).
    assert point_in_polygon(0.3, 0.5, diamond)
    assert not point_in_polygon(0.05, 0.5, diamond)
    assert not point_in_polygon(0.95, 0.5, diamond)


def test_foot_point_is_bottom_centre_normalized_and_clipped() -> None:
    assert foot_point(Box(100, 50, 300, 400), 1000, 500) == pytest.approx((0.2, 0.8))
    # A box hanging off the bottom-right of the frame stands on the frame edge.
    assert foot_point(Box(900, 300, 1300, 700), 1000, 500) == (1.0, 1.0)
    assert foot_point(Box(-300, -50, -100, -10), 1000, 500) == (0.0, 0.0)


def test_zone_drawn_to_frame_edge_holds_a_cut_off_object() -> None:
    porch = ((0.1, 0.55), (0.45, 0.55), (0.45, 1.0), (0.1, 1.0))
    zones = CameraZones({"porch": porch})
    x, y = foot_point(Box(200, 300, 400, 720), 1280, 720)  # feet at the very bottom row
    assert y == 1.0
    assert zones.zones_at(x, y) == {"porch"}


def test_camera_zones_and_mask() -> None:
    zones = CameraZones(
        {"left": ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), "square": SQUARE},
        mask=[((0.0, 0.0), (1.0, 0.0), (1.0, 0.1), (0.0, 0.1))],
    )
    assert zones.names == {"left", "square"}
    assert zones.zones_at(0.3, 0.3) == {"left", "square"}
    assert zones.zones_at(0.55, 0.3) == {"square"}
    assert zones.zones_at(0.9, 0.9) == frozenset()
    assert zones.masked(0.5, 0.05)
    assert zones.masked(0.5, 0.1)  # mask boundary is masked
    assert not zones.masked(0.5, 0.11)
    assert not CameraZones({}).masked(0.5, 0.5)


def test_zones_for_camera_uses_feet_config_order_and_mask() -> None:
    camera = CameraConfig.model_validate(
        {
            "source": "/dev/video0",
            "zones": {
                "yard": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]],
                "path": [[0.4, 0.0], [0.6, 0.0], [0.6, 1.0], [0.4, 1.0]],
            },
            "motion": {"mask": [[[0.0, 0.9], [0.2, 0.9], [0.2, 1.0], [0.0, 1.0]]]},
        }
    )
    zones_of = zones_for_camera(camera)
    assert zones_of(Box(450, 100, 550, 800), (1000, 1000)) == ("yard", "path")
    assert zones_of(Box(450, 100, 550, 300), (1000, 1000)) == ("path",)  # feet above the yard
    assert zones_of(Box(0, 600, 150, 950), (1000, 1000)) == ()  # feet under the mask
