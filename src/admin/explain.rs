//! `GET /v1/explain`: the decision for one query, step by step. It runs the
//! answering path's own code (`dns::answer`, hence `policy::decide`) with a
//! trace, so what it shows is what a resolver would get.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{Query, State};
use hickory_proto::rr::{Name, RecordType};

use super::{ApiError, ExplainQuery, Rt, api};
use crate::geo::map::MapRule;
use crate::policy::Trace;

pub(super) async fn explain(
    State(rt): State<Rt>,
    Query(q): Query<ExplainQuery>,
) -> Result<Json<api::Explain>, ApiError> {
    let name = q
        .name
        .ok_or_else(|| ApiError::bad_request("name is required, e.g. name=www.gslb.example"))?;
    let qname = Name::from_ascii(&name)
        .map(|mut n| {
            n.set_fqdn(true);
            n
        })
        .map_err(|e| ApiError::bad_request(format!("name {name:?}: {e}")))?;
    let type_text = q.qtype.unwrap_or_else(|| "A".into());
    let qtype: RecordType = type_text
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| ApiError::bad_request(format!("type {type_text:?} is not a record type")))?;
    let client_text = q
        .client
        .ok_or_else(|| ApiError::bad_request("client is required, e.g. client=81.2.69.1/24"))?;
    let (addr, prefix) = parse_client(&client_text)?;

    let snap = rt.snapshot.load_full();
    let view = rt.health_view();
    let mut trace = Trace::default();
    let answered = crate::dns::answer(
        &snap,
        &view,
        &qname,
        qtype,
        addr,
        prefix == Some(0),
        Some(&mut trace),
    );
    let config = &snap.config;
    let mut out = api::Explain {
        name: qname.to_ascii(),
        qtype: qtype.to_string(),
        client: client_text,
        kind: match (answered.zone, answered.service) {
            (None, _) => "refused".into(),
            (Some(_), None) => "static".into(),
            (Some(_), Some(_)) => "service".into(),
        },
        service: None,
        policy: None,
        location: None,
        rule: None,
        tiers: Vec::new(),
        pools: Vec::new(),
        fail_open: trace.fail_open,
        shaping: trace.shaping.clone(),
        rcode: crate::metrics::rcode_name(answered.rcode),
        answer: answered
            .sections
            .answers
            .iter()
            .map(ToString::to_string)
            .collect(),
        scope: answered.scope,
    };
    if let Some((z, s)) = answered.service {
        let svc = &config.zones[z].services[s];
        let region_of = |p: usize| config.regions[svc.pools[p].region].name.clone();
        out.service = Some(svc.name.to_ascii());
        out.policy = Some(match svc.policy {
            crate::config::Policy::Geo(m) => format!("geo (map {})", config.geo_maps[m].name),
            crate::config::Policy::Nearest => "nearest".into(),
            crate::config::Policy::Weighted => "weighted".into(),
            crate::config::Policy::Failover => "failover".into(),
        });
        out.location = trace.location.map(|l| api::ExplainLocation {
            country: l.country,
            continent: l.continent,
            subdivision: l.subdivision,
            coordinates: l.coordinates.map(|(a, b)| [a, b]),
            network: l.network.map(|n| n.to_string()),
        });
        out.rule = trace.rule.map(|r| match r {
            MapRule::Net(n) => format!("nets {n}"),
            MapRule::Asn(a) => format!("asn AS{a}"),
            MapRule::Subdivision(k) => format!("subdivision {k}"),
            MapRule::Country(k) => format!("country {k}"),
            MapRule::Continent(k) => format!("continent {k}"),
            MapRule::Default => "default".into(),
        });
        out.tiers = trace
            .tiers
            .iter()
            .map(|t| t.iter().map(|&p| region_of(p)).collect())
            .collect();
        out.pools = trace
            .pools
            .iter()
            .map(|(p, ok, why)| api::ExplainPool {
                region: region_of(*p),
                available: *ok,
                reason: why.clone(),
            })
            .collect();
    }
    Ok(Json(out))
}

/// `IP` or `IP/PREFIX`; the address is masked to the prefix, as ECS is.
fn parse_client(text: &str) -> Result<(IpAddr, Option<u8>), ApiError> {
    let bad = || ApiError::bad_request(format!("client {text:?}: expected IP or IP/PREFIX"));
    match text.split_once('/') {
        None => Ok((text.parse().map_err(|_| bad())?, None)),
        Some((ip, prefix)) => {
            let ip: IpAddr = ip.parse().map_err(|_| bad())?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            let net = ipnet::IpNet::new(ip, prefix).map_err(|_| bad())?;
            Ok((net.network(), Some(prefix)))
        }
    }
}
