"""Great-circle distance and the bounding box used to prefilter stores in SQL."""
import math
from dataclasses import dataclass
from decimal import Decimal

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
KM_PER_DEGREE_LATITUDE = math.pi * EARTH_RADIUS_KM / 180  # ~111.195 km


def haversine_km(lat1, lon1, lat2, lon2) -> float:
    """Distance in km along the surface between two points given in degrees. Floats are
    fine here: this is a comparison against a radius, never money or a stored value."""
    phi1, phi2 = math.radians(float(lat1)), math.radians(float(lat2))
    d_phi = phi2 - phi1
    d_lambda = math.radians(float(lon2) - float(lon1))
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class Box:
    min_lat: Decimal
    max_lat: Decimal
    min_lon: Decimal | None  # None: the box spans every longitude (near a pole / the antimeridian)
    max_lon: Decimal | None


def bounding_box(lat, lon, radius_km) -> Box:
    """A lat/lon rectangle that contains every point within radius_km of (lat, lon),
    slightly enlarged so the exact haversine check decides the edge cases."""
    radius = float(radius_km) * 1.01 + 0.01
    d_lat = radius / KM_PER_DEGREE_LATITUDE
    lat_f, lon_f = float(lat), float(lon)
    min_lat, max_lat = max(-90.0, lat_f - d_lat), min(90.0, lat_f + d_lat)
    cos_lat = min(math.cos(math.radians(min_lat)), math.cos(math.radians(max_lat)))
    q = Decimal("0.000001")
    if cos_lat < 0.01:
        return Box(Decimal(min_lat).quantize(q), Decimal(max_lat).quantize(q), None, None)
    d_lon = d_lat / cos_lat
    if lon_f - d_lon < -180 or lon_f + d_lon > 180:
        return Box(Decimal(min_lat).quantize(q), Decimal(max_lat).quantize(q), None, None)
    return Box(Decimal(min_lat).quantize(q), Decimal(max_lat).quantize(q),
               Decimal(lon_f - d_lon).quantize(q), Decimal(lon_f + d_lon).quantize(q))
