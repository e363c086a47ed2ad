//! SPEC 3.3's fallback as `dig` and `/v1/explain` see it (issue 18): a
//! `nets` entry that names one region does not turn into SERVFAIL when an
//! operator sets that region's weight to 0; the service's other pools
//! follow, nearest first, and nothing is counted as failing open. With
//! `fallback: none` the list is strict.

mod common;

use common::{GSLB_TEST_ZONE, Server};

const CONFIG: &str = r#"
dns:
  listen: ["127.0.0.1:0"]
admin:
  listen: "127.0.0.1:0"
regions:
  us-east: { location: [39.04, -77.49] }
  eu-west: { location: [53.35, -6.26] }
  ap-northeast: { location: [35.68, 139.69] }
geo_maps:
  world:
    nets:
      "10.0.0.0/8": [us-east]
    default: [eu-west]
zones:
  - origin: gslb.test.
    file: gslb.test.zone
    services:
      www:
        policy: geo
        map: world
        pools:
          us-east: { endpoints: [192.0.2.10] }
          eu-west: { endpoints: [198.51.100.10] }
          ap-northeast: { endpoints: [203.0.113.10] }
      strict:
        policy: geo
        map: world
        fallback: none
        all_down: servfail
        pools:
          us-east: { endpoints: [192.0.2.20] }
          eu-west: { endpoints: [198.51.100.20] }
"#;

#[test]
fn weight_zero_on_the_only_listed_region_falls_back_instead_of_servfail() {
    let s = Server::start(CONFIG, &[("gslb.test.zone", GSLB_TEST_ZONE)]);
    let ask = |name: &str| s.dig(&[name, "A", "+subnet=10.1.2.0/24"]);
    assert_eq!(ask("www.gslb.test").answers("A"), vec!["192.0.2.10"]);
    for service in ["www.gslb.test.", "strict.gslb.test."] {
        let r = s.admin(
            "PUT",
            &format!("/v1/services/{service}/pools/us-east/weight"),
            Some(r#"{"weight":0}"#),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // The other pools follow the list, nearest to the client first; with
    // no location for 10.1.2.0, in the service's order: eu-west.
    let d = ask("www.gslb.test");
    assert_eq!(d.status, "NOERROR", "{}", d.raw);
    assert_eq!(d.answers("A"), vec!["198.51.100.10"], "{}", d.raw);
    let e = s
        .admin(
            "GET",
            "/v1/explain?name=www.gslb.test&type=A&client=10.1.2.0/24",
            None,
            None,
        )
        .json();
    assert_eq!(e["fail_open"], false, "{e}");
    assert_eq!(
        e["answer"][0], "www.gslb.test. 30 IN A 198.51.100.10",
        "{e}"
    );
    assert_eq!(
        e["tiers"],
        serde_json::json!([["us-east"], ["eu-west"], ["ap-northeast"]]),
        "the list, then the other pools"
    );
    // Strict geofencing: the list only.
    let d = ask("strict.gslb.test");
    assert_eq!(d.status, "SERVFAIL", "{}", d.raw);
}
