//! Great-circle distance between two points on the Earth, for the
//! `nearest` order (SPEC 3.3).

/// Mean Earth radius in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// Haversine distance in kilometres between (latitude, longitude) points
/// given in degrees.
pub fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let dlat = lat2 - lat1;
    let dlon = lon2 - lon1;
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::km;

    #[test]
    fn known_distances() {
        // Dublin to Ashburn, VA: about 5,460 km.
        let d = km((53.35, -6.26), (39.04, -77.49));
        assert!((d - 5460.0).abs() < 60.0, "{d}");
        // Tokyo to Ashburn: about 10,900 km.
        let d = km((35.68, 139.69), (39.04, -77.49));
        assert!((d - 10_900.0).abs() < 150.0, "{d}");
        assert!(km((1.0, 2.0), (1.0, 2.0)).abs() < 1e-9);
        // Antipodes: half the circumference.
        let d = km((0.0, 0.0), (0.0, 180.0));
        assert!((d - std::f64::consts::PI * 6371.0).abs() < 1.0, "{d}");
    }

    #[test]
    fn symmetric_and_across_the_date_line() {
        let a = (35.0, 179.5);
        let b = (35.0, -179.5);
        assert!((km(a, b) - km(b, a)).abs() < 1e-9);
        assert!(km(a, b) < 100.0);
    }
}
