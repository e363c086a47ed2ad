//! A geo map compiled for lookup (SPEC 3.2, 3.3): the most specific `nets`
//! entry, then subdivision, country, continent, default.
//!
//! Also works out the ECS scope a `nets` match may answer with: a scope
//! never so short that it would cover a more specific `nets` entry that
//! answers differently (see docs/geo.md).

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::{GeoMap, MapDefault, Tier};

/// What a map says for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapChoice<'a> {
    /// These tiers, in order.
    Tiers(&'a [Tier]),
    /// Order every pool by distance from the client.
    Nearest,
}

/// Which rule of the map decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapRule {
    Net(IpNet),
    Asn(u32),
    Subdivision(String),
    Country(String),
    Continent(String),
    Default,
}

#[derive(Debug)]
pub struct CompiledMap {
    /// Sorted by prefix length, longest first, so the first match is the
    /// most specific.
    nets: Vec<(IpNet, Vec<Tier>)>,
    asns: HashMap<u32, Vec<Tier>>,
    countries: HashMap<String, Vec<Tier>>,
    continents: HashMap<String, Vec<Tier>>,
    default: MapDefault,
}

impl CompiledMap {
    pub fn new(map: &GeoMap) -> Self {
        let mut nets: Vec<(IpNet, Vec<Tier>)> = map.nets.clone();
        nets.sort_by_key(|(net, _)| std::cmp::Reverse(net.prefix_len()));
        Self {
            nets,
            asns: map.asns.iter().cloned().collect(),
            countries: map.countries.iter().cloned().collect(),
            continents: map.continents.iter().cloned().collect(),
            default: map.default.clone(),
        }
    }

    /// Every `nets` entry's network.
    pub fn nets(&self) -> impl Iterator<Item = &IpNet> {
        self.nets.iter().map(|(net, _)| net)
    }

    /// The index (stable for this compiled map) and network of the most
    /// specific `nets` entry holding `ip`.
    pub fn match_net_index(&self, ip: IpAddr) -> Option<(usize, &IpNet)> {
        self.nets
            .iter()
            .position(|(net, _)| net.contains(&ip))
            .map(|i| (i, &self.nets[i].0))
    }

    /// The tiers of the `nets` entry with index `i` (as
    /// `match_net_index` gives).
    pub fn net_tiers(&self, i: usize) -> Option<&[Tier]> {
        self.nets.get(i).map(|(_, t)| t.as_slice())
    }

    /// The most specific `nets` entry holding `ip`.
    pub fn match_net(&self, ip: IpAddr) -> Option<(&IpNet, &[Tier])> {
        self.nets
            .iter()
            .find(|(net, _)| net.contains(&ip))
            .map(|(net, tiers)| (net, tiers.as_slice()))
    }

    /// Whether the map has `asns` keys (the placement tree then splits
    /// by the ASN database's networks too).
    pub fn has_asns(&self) -> bool {
        !self.asns.is_empty()
    }

    /// The choice for a client located by the database (or not at all):
    /// its autonomous system, then subdivision, country, continent.
    pub fn by_location(
        &self,
        asn: Option<u32>,
        country: Option<&str>,
        subdivision: Option<&str>,
        continent: Option<&str>,
    ) -> (MapChoice<'_>, MapRule) {
        if let Some(a) = asn
            && let Some(t) = self.asns.get(&a)
        {
            return (MapChoice::Tiers(t), MapRule::Asn(a));
        }
        if let (Some(c), Some(s)) = (country, subdivision) {
            let key = format!("{c}-{s}");
            if let Some(t) = self.countries.get(&key) {
                return (MapChoice::Tiers(t), MapRule::Subdivision(key));
            }
        }
        if let Some(c) = country
            && let Some(t) = self.countries.get(c)
        {
            return (MapChoice::Tiers(t), MapRule::Country(c.to_string()));
        }
        if let Some(c) = continent
            && let Some(t) = self.continents.get(c)
        {
            return (MapChoice::Tiers(t), MapRule::Continent(c.to_string()));
        }
        match &self.default {
            MapDefault::Nearest => (MapChoice::Nearest, MapRule::Default),
            MapDefault::Tiers(t) => (MapChoice::Tiers(t), MapRule::Default),
        }
    }

    /// Lengthen `scope` (a prefix length for `ip`) so that the network it
    /// names does not cover a more specific `nets` entry that `ip` is not
    /// in: a resolver caching the answer for that network would otherwise
    /// give it to clients the map sends elsewhere.
    pub fn refine_scope(&self, ip: IpAddr, scope: u8) -> u8 {
        let mut scope = scope;
        for (net, _) in &self.nets {
            if net.prefix_len() <= scope || net.contains(&ip) {
                continue;
            }
            if let Some(common) = common_prefix(ip, net.network()) {
                // The client's network of length `common` still holds (part
                // of) `net`: one more bit separates them.
                if common >= scope {
                    scope = (common + 1).min(net.prefix_len());
                }
            }
        }
        scope
    }
}

/// Number of leading bits `a` and `b` share; None across families.
fn common_prefix(a: IpAddr, b: IpAddr) -> Option<u8> {
    let bits = match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a) ^ u32::from(b)).leading_zeros(),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b)).leading_zeros(),
        _ => return None,
    };
    u8::try_from(bits).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(nets: &[&str]) -> CompiledMap {
        CompiledMap::new(&GeoMap {
            name: "m".into(),
            nets: nets
                .iter()
                .enumerate()
                .map(|(i, n)| (n.parse().unwrap(), vec![vec![i]]))
                .collect(),
            asns: vec![(64500, vec![vec![6]])],
            countries: vec![
                ("US-CA".into(), vec![vec![7]]),
                ("US".into(), vec![vec![8]]),
            ],
            continents: vec![("EU".into(), vec![vec![9]])],
            default: MapDefault::Nearest,
        })
    }

    #[test]
    fn most_specific_net_wins_whatever_the_order() {
        let m = map(&["10.0.0.0/8", "10.1.0.0/16"]);
        let (net, tiers) = m.match_net("10.1.2.3".parse().unwrap()).unwrap();
        assert_eq!(net.prefix_len(), 16);
        assert_eq!(tiers, &[vec![1]]);
        let (net, _) = m.match_net("10.2.0.1".parse().unwrap()).unwrap();
        assert_eq!(net.prefix_len(), 8);
        assert!(m.match_net("192.0.2.1".parse().unwrap()).is_none());
    }

    #[test]
    fn subdivision_before_country_before_continent_before_default() {
        let m = map(&[]);
        assert_eq!(
            m.by_location(None, Some("US"), Some("CA"), Some("NA")).1,
            MapRule::Subdivision("US-CA".into())
        );
        assert_eq!(
            m.by_location(None, Some("US"), Some("VA"), Some("NA")).1,
            MapRule::Country("US".into())
        );
        assert_eq!(
            m.by_location(None, Some("FR"), None, Some("EU")).1,
            MapRule::Continent("EU".into())
        );
        assert_eq!(
            m.by_location(None, Some("JP"), None, Some("AS")),
            (MapChoice::Nearest, MapRule::Default)
        );
        assert_eq!(m.by_location(None, None, None, None).1, MapRule::Default);
        // An ASN key comes before the subdivision, country and continent.
        assert_eq!(
            m.by_location(Some(64500), Some("US"), Some("CA"), Some("NA"))
                .1,
            MapRule::Asn(64500)
        );
        assert_eq!(
            m.by_location(Some(64501), Some("US"), Some("CA"), Some("NA"))
                .1,
            MapRule::Subdivision("US-CA".into())
        );
    }

    #[test]
    fn scope_is_lengthened_around_more_specific_nets() {
        let m = map(&["10.0.0.0/8", "10.1.0.0/16"]);
        // 10.2.x matches the /8 but its /8 would cover 10.1/16: the first
        // differing bit is bit 15 (10.2 = ...0010, 10.1 = ...0001).
        assert_eq!(m.refine_scope("10.2.0.1".parse().unwrap(), 8), 15);
        // 10.128.x differs from 10.1 at bit 9.
        assert_eq!(m.refine_scope("10.128.0.1".parse().unwrap(), 8), 9);
        // Inside the /16 itself nothing more specific exists.
        assert_eq!(m.refine_scope("10.1.9.9".parse().unwrap(), 16), 16);
        // A database network of /4 around 10.x is lengthened too.
        assert_eq!(m.refine_scope("11.0.0.1".parse().unwrap(), 4), 8);
    }
}
