//! Where a client is, compiled at load: the GeoIP database, a geo map's
//! `nets` and its subdivision/country/continent rules merged into one
//! binary network tree per map (and one for the `nearest` policy), as
//! gdnsd does. Each leaf holds what decides the answer for that network, an
//! [`Entry`] (the map's list of tiers and the regions' distance ranks from
//! the place's location), and the ECS scope to answer with (SPEC 3.1).
//!
//! A query walks one tree once ([`Tree::place`]): no database decode, no
//! per-thread cache, and the same function for DNS and `/v1/explain`.
//!
//! How a tree is built ([`Tree::build`]):
//! 1. every network of the database (with its record, or none) is inserted,
//!    IPv4 and IPv6 in their own subtrees;
//! 2. every `nets` entry of the map is inserted too, splitting database
//!    networks that hold it, so that every leaf lies inside or wholly
//!    outside each entry: what the map says and the scope are then the same
//!    for every address of a leaf, and are worked out once per leaf from
//!    its first address ([`Eval`]), by the map's own rules
//!    (`CompiledMap`);
//! 3. sibling leaves that say the same (entry and scope) are merged, and the
//!    tree is flattened into one array of nodes.
//!
//! The scope a leaf keeps is the database network's prefix length (or the
//! `nets` entry's), lengthened around more specific `nets` entries, exactly
//! as SPEC 3.1 and docs/geo.md say; merging leaves never changes it.
//!
//! IPv6 prefixes that the database aliases to its IPv4 space
//! (`::ffff:0:0/96`, and `2001::/32`, `2002::/16` in MaxMind's files) are
//! not copied: an address there walks the IPv4 data (without the map's
//! IPv4 `nets`, which an IPv6 address never matches) and its scope is the
//! alias prefix plus the IPv4 one, as the database reports it. Where the
//! map has IPv4 `nets`, the database networks that overlap them are built
//! once more without them (the alias tree), and the IPv4 tree's leaves
//! under those networks send an aliased address there
//! ([`Placed::alias`]); everywhere else the IPv4 tree says the same for
//! both, so the rest of the IPv4 data is not copied.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::distance;
use super::lookup::{GeoDb, GeoError};
use super::map::{CompiledMap, MapChoice};
use crate::config::{Region, RegionId, Tier};

/// What decides a client's regions, shared by every leaf that says the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The map's list of tiers for this place; `None` when the order is by
    /// distance alone (`default: nearest`, or the `nearest` policy).
    pub list: Option<Vec<Tier>>,
    /// Each region's rank (by region id) by distance from the place's
    /// location, nearest first; equal distances share a rank, and regions
    /// without a location (or every region, for a place without one) rank
    /// last.
    pub ranks: Vec<u16>,
}

/// What a leaf says: an index into [`Tree::entries`] and the ECS scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Placed {
    pub entry: u32,
    pub scope: u8,
    /// In the IPv4 tree: an aliased IPv6 address here walks the alias tree
    /// instead (the database network that holds the leaf overlaps one of
    /// the map's IPv4 `nets`, which an IPv6 address never matches).
    pub alias: bool,
}

/// A node's child: a node index, or with [`LEAF`] set an index into
/// `leaves`.
const LEAF: u32 = 1 << 31;

/// One compiled tree.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<[u32; 2]>,
    leaves: Vec<Placed>,
    /// Where the walk stands after the first bits of an address: one step
    /// for the first levels of each family's tree.
    v4_top: Top,
    v6_top: Top,
    /// IPv6 prefixes (bits, length) whose addresses walk the IPv4 data.
    aliases: Vec<(u128, u8)>,
    /// The IPv4 data where it differs for aliased addresses: the database
    /// networks that overlap the map's IPv4 `nets`, without them. Empty
    /// when the map has no IPv4 `nets`: the aliases walk `v4_top` alone.
    alias_top: Top,
    pub entries: Vec<Entry>,
}

/// A first-level table: where the walk stands after the first `bits` bits
/// of an address, by their value.
#[derive(Debug, Default)]
struct Top {
    table: Box<[u32]>,
    /// About log2 of the node count of the table's tree (8 to 16), so a
    /// table never outweighs its nodes (a family with few networks has a
    /// small one) and a database of 20,000 networks is mostly one step
    /// away.
    bits: u32,
}

/// The bounds of `Top::bits`.
const TOP_BITS: std::ops::RangeInclusive<u32> = 8..=16;

/// How a leaf's entry and scope are worked out.
pub enum Eval<'a> {
    /// A geo map.
    Map(&'a CompiledMap),
    /// The `nearest` policy: distance ranks only.
    Nearest,
}

/// A database network as inserted: its prefix length (in its family, the
/// scope before `nets` refine it) and record ([`NO_RECORD`] for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Source {
    base: u8,
    record: u32,
}

/// `Source::record` of a network without data.
const NO_RECORD: u32 = u32::MAX;

/// A node of the tree while it is built, as read and written; the arena
/// holds it [`Packed`].
#[derive(Clone, Copy)]
enum Node {
    Leaf(Source),
    Inner(u32, u32),
    Done(Placed),
}

/// A [`Node`] in 8 bytes (the enum takes 12): a database of millions of
/// networks is built in tens of megabytes, then flattened, and the
/// builder's arena is most of the peak memory of a load (issue 20). The
/// first word's top two bits say which: neither, an inner node (the
/// words are its children, below 2^30: an arena of 2^30 nodes would take
/// 8 GiB, far past any database); [`PACKED_LEAF`], a database
/// network (its prefix length and record); [`PACKED_DONE`], an evaluated
/// leaf (its scope and entry).
#[derive(Clone, Copy)]
struct Packed([u32; 2]);

const PACKED_LEAF: u32 = 1 << 31;
const PACKED_DONE: u32 = 1 << 30;
/// With [`PACKED_DONE`]: [`Placed::alias`].
const PACKED_ALIAS: u32 = 1 << 29;

impl Packed {
    fn pack(node: Node) -> Self {
        Self(match node {
            Node::Inner(l, r) => [l.min(PACKED_DONE - 1), r],
            Node::Leaf(src) => [PACKED_LEAF | u32::from(src.base), src.record],
            Node::Done(placed) => [
                PACKED_DONE | if placed.alias { PACKED_ALIAS } else { 0 } | u32::from(placed.scope),
                placed.entry,
            ],
        })
    }

    fn unpack(self) -> Node {
        let [first, second] = self.0;
        #[allow(clippy::cast_possible_truncation)]
        let low = first as u8;
        if first & PACKED_LEAF != 0 {
            Node::Leaf(Source {
                base: low,
                record: second,
            })
        } else if first & PACKED_DONE != 0 {
            Node::Done(Placed {
                entry: second,
                scope: low,
                alias: first & PACKED_ALIAS != 0,
            })
        } else {
            Node::Inner(first, second)
        }
    }
}

/// Where a database record places a client.
#[derive(Debug, Clone, Default)]
struct Located {
    asn: Option<u32>,
    country: Option<String>,
    subdivision: Option<String>,
    continent: Option<String>,
    coordinates: Option<(f64, f64)>,
}

struct Builder<'a> {
    nodes: Vec<Packed>,
    db: Option<&'a GeoDb>,
    /// The ASN database, when the map has `asns` keys.
    asn_db: Option<&'a GeoDb>,
    eval: &'a Eval<'a>,
    regions: &'a [Region],
    /// Entries worked out, by (record, `nets` entry, ASN).
    by_source: HashMap<(u32, u32, u32), u32>,
    /// Where the alias tree holds data of its own: for each IPv4 `nets`
    /// entry, the database network that holds it, or the entry itself
    /// (without a database, the whole IPv4 space; nothing without IPv4
    /// `nets`). The IPv4 leaves there send aliased addresses to the alias
    /// tree, and the ASN database's networks split it there.
    alias_cover: Vec<Ipv4Net>,
    entries: HashMap<Entry, u32>,
    list: Vec<Entry>,
}

/// The IPv6 prefixes MaxMind's writers alias to the IPv4 space.
const ALIAS_CANDIDATES: [(&str, u8); 3] = [("::ffff:0:0", 96), ("2001::", 32), ("2002::", 16)];

impl Tree {
    /// Compile the tree for `eval` over `db` (none: every client is
    /// unknown to the database), `asn_db` (for `asns` keys; none: the
    /// records' own numbers) and the regions' locations.
    pub fn build(
        eval: &Eval<'_>,
        db: Option<&GeoDb>,
        asn_db: Option<&GeoDb>,
        regions: &[Region],
    ) -> Result<Self, GeoError> {
        // ASNs matter only to a map with `asns` keys.
        let asn_db = asn_db.filter(|_| matches!(eval, Eval::Map(m) if m.has_asns()));
        let mut b = Builder {
            nodes: Vec::new(),
            db,
            asn_db,
            eval,
            regions,
            by_source: HashMap::new(),
            alias_cover: Vec::new(),
            entries: HashMap::new(),
            list: Vec::new(),
        };
        let none = Source {
            base: 0,
            record: NO_RECORD,
        };
        let v4 = b.push(Node::Leaf(none));
        let v6 = b.push(Node::Leaf(none));
        let alias = b.push(Node::Leaf(none));
        let mut aliases = Vec::new();
        let shares_v4 = match eval {
            Eval::Nearest => true,
            Eval::Map(map) => !map.nets().any(|n| matches!(n, IpNet::V4(_))),
        };
        if !shares_v4 {
            // Without a database, the alias tree's one leaf covers it all.
            b.alias_cover = vec![Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).unwrap_or_default()];
        }
        if let Some(db) = db {
            let v6_db = db.metadata().ip_version == 6;
            db.for_each_network(IpNet::V4(Default::default()), false, |net, record| {
                b.insert_db(v4, net, record);
            })?;
            // The IPv4 data once more, for aliased IPv6 addresses, where
            // IPv4 `nets` make the IPv4 tree differ (they never apply to an
            // IPv6 address): the database networks that overlap them (the
            // IPv4 tree's leaves there say so, `Placed::alias`). Elsewhere,
            // and without IPv4 `nets`, the IPv4 tree serves both.
            b.alias_cover.clear();
            for net in b.v4_nets() {
                // What the alias tree covers for this entry: the entry, or
                // the database network that holds it.
                let mut cover = net;
                db.for_each_network(IpNet::V4(net), false, |found, record| {
                    if let IpNet::V4(n) = found
                        && n.contains(&cover)
                    {
                        cover = n;
                    }
                    b.insert_db(alias, found, record);
                })?;
                b.alias_cover.push(cover);
            }
            if v6_db {
                // The IPv4 subtree sits at ::/96; its addresses walk the
                // IPv4 data like an alias, unless a `nets` entry lies there.
                let compat = alias_net("::", 96);
                let mut v4_subtree = false;
                let copy_compat = b.map_nets_overlap(compat);
                db.for_each_network(IpNet::V6(Default::default()), false, |net, record| {
                    if let IpNet::V6(n) = net
                        && compat.contains(&n)
                        && !copy_compat
                    {
                        v4_subtree = true;
                        return;
                    }
                    b.insert_db(v6, net, record);
                })?;
                if v4_subtree {
                    aliases.push((0, 96));
                }
                for (addr, len) in ALIAS_CANDIDATES {
                    let prefix = alias_net(addr, len);
                    if !db.is_alias(prefix)? {
                        continue;
                    }
                    if b.map_nets_overlap(prefix) {
                        // A `nets` entry inside the alias: copy the aliased
                        // networks so that entry splits them as usual.
                        db.for_each_network(IpNet::V6(prefix), true, |net, record| {
                            b.insert_db(v6, net, record);
                        })?;
                    } else {
                        aliases.push((u128::from(prefix.network()), len));
                    }
                }
            } else {
                // An IPv4-only database holds IPv4-mapped addresses only.
                aliases.push((
                    u128::from(Ipv6Addr::from([0, 0, 0, 0, 0, 0xffff, 0, 0])),
                    96,
                ));
            }
        }
        if let Eval::Map(map) = eval {
            for net in map.nets() {
                match net {
                    IpNet::V4(n) => {
                        b.split(v4, u128::from(u32::from(n.network())) << 96, n.prefix_len())
                    }
                    IpNet::V6(n) => b.split(v6, u128::from(n.network()), n.prefix_len()),
                };
            }
        }
        if let Some(asn_db) = asn_db {
            // Every leaf within one network of the ASN database too.
            let mut cuts = Vec::new();
            asn_db.for_each_network(IpNet::V4(Default::default()), false, |net, _| {
                cuts.push(net)
            })?;
            if asn_db.metadata().ip_version == 6 {
                asn_db.for_each_network(IpNet::V6(Default::default()), false, |net, _| {
                    if matches!(net, IpNet::V6(n) if !alias_net("::", 96).contains(&n)) {
                        cuts.push(net);
                    }
                })?;
            }
            for net in cuts {
                match net {
                    IpNet::V4(n) => {
                        let bits = u128::from(u32::from(n.network())) << 96;
                        b.split(v4, bits, n.prefix_len());
                        // The alias tree is split where it holds data.
                        if b.in_alias_cover(n) {
                            b.split(alias, bits, n.prefix_len());
                        }
                    }
                    IpNet::V6(n) => {
                        b.split(v6, u128::from(n.network()), n.prefix_len());
                    }
                }
            }
        }
        b.evaluate(v4, 0, 0, Family::V4);
        b.evaluate(v6, 0, 0, Family::V6);
        b.evaluate(alias, 0, 0, Family::Alias);
        let mut tree = Self {
            nodes: Vec::new(),
            leaves: Vec::new(),
            v4_top: Top::default(),
            v6_top: Top::default(),
            aliases,
            alias_top: Top::default(),
            entries: b.list,
        };
        let mut leaf_ids = HashMap::new();
        // Each family's root and how many nodes its tree took.
        let mut flatten = |tree: &mut Self, at| {
            let before = tree.nodes.len();
            let root = tree.flatten(&b.nodes, at, &mut leaf_ids);
            (root, tree.nodes.len() - before)
        };
        let v4_root = flatten(&mut tree, v4);
        let v6_root = flatten(&mut tree, v6);
        let alias_root = (!shares_v4).then(|| flatten(&mut tree, alias));
        // The arena goes before the tables are filled: it is the larger.
        drop(b.nodes);
        tree.nodes.shrink_to_fit();
        tree.leaves.shrink_to_fit();
        tree.v4_top = tree.top(v4_root);
        tree.v6_top = tree.top(v6_root);
        if let Some(root) = alias_root {
            tree.alias_top = tree.top(root);
        }
        Ok(tree)
    }

    /// The first-level table of the tree at `root`, of `nodes` nodes.
    fn top(&self, (root, nodes): (u32, usize)) -> Top {
        let bits = nodes
            .max(1)
            .ilog2()
            .clamp(*TOP_BITS.start(), *TOP_BITS.end());
        let table = (0..1u64 << bits)
            .map(|value| self.descend(root, value << (64 - bits), bits))
            .collect();
        Top { table, bits }
    }

    /// The entry and scope for `ip`: one walk down the tree.
    #[inline]
    pub fn place(&self, ip: IpAddr) -> Placed {
        match ip {
            IpAddr::V4(a) => self.walk(&self.v4_top, u128::from(u32::from(a)) << 96),
            IpAddr::V6(a) => {
                let bits = u128::from(a);
                for &(prefix, len) in &self.aliases {
                    if (bits ^ prefix).checked_shr(128 - u32::from(len)) == Some(0) {
                        let v4 = bits.checked_shl(u32::from(len)).unwrap_or(0)
                            & (u128::from(u32::MAX) << 96);
                        let mut found = self.walk(&self.v4_top, v4);
                        // (Never set without an alias tree: its table is
                        // empty only when the map has no IPv4 `nets`.)
                        if found.alias && !self.alias_top.table.is_empty() {
                            found = self.walk(&self.alias_top, v4);
                        }
                        return Placed {
                            scope: found.scope.saturating_add(len).min(128),
                            ..found
                        };
                    }
                }
                self.walk(&self.v6_top, bits)
            }
        }
    }

    /// How many nodes and leaves the tree holds (the log line at load).
    pub fn size(&self) -> (usize, usize) {
        (self.nodes.len(), self.leaves.len())
    }

    fn walk(&self, top: &Top, bits: u128) -> Placed {
        // Two 64-bit halves: a 128-bit shift per level cost more than the
        // rest of the step.
        #[allow(clippy::cast_possible_truncation)]
        let (high, low) = ((bits >> 64) as u64, bits as u64);
        #[allow(clippy::cast_possible_truncation)]
        let bits = top.bits;
        let first = top
            .table
            .get((high >> (64 - bits)) as usize)
            .copied()
            .unwrap_or(u32::MAX);
        let mut at = self.descend(first, high << bits, 64 - bits);
        if at & LEAF == 0 {
            at = self.descend(at, low, 64);
        }
        self.leaves
            .get((at & !LEAF) as usize)
            .copied()
            .unwrap_or_default()
    }

    /// Follow up to `depth` bits of `word` (from its top bit) down from
    /// node `at`; where it stops (a leaf, or the node after `depth` bits).
    #[inline]
    fn descend(&self, mut at: u32, mut word: u64, depth: u32) -> u32 {
        let mut left = depth;
        while at & LEAF == 0 && left > 0 {
            // Out of range never happens in a built tree; it ends at no leaf.
            let Some(node) = self.nodes.get(at as usize) else {
                return u32::MAX;
            };
            at = node[usize::from(word >> 63 == 1)];
            word <<= 1;
            left -= 1;
        }
        at
    }

    /// Copy the built subtree at `at` into the flat arrays; its reference.
    fn flatten(&mut self, built: &[Packed], at: usize, leaf_ids: &mut HashMap<Placed, u32>) -> u32 {
        match built[at].unpack() {
            Node::Done(placed) => {
                let next = u32::try_from(self.leaves.len()).unwrap_or(0);
                let id = *leaf_ids.entry(placed).or_insert_with(|| {
                    self.leaves.push(placed);
                    next
                });
                LEAF | id
            }
            Node::Inner(l, r) => {
                let me = self.nodes.len();
                self.nodes.push([0, 0]);
                let left = self.flatten(built, l as usize, leaf_ids);
                let right = self.flatten(built, r as usize, leaf_ids);
                self.nodes[me] = [left, right];
                u32::try_from(me).unwrap_or(0)
            }
            // `evaluate` leaves no unevaluated leaf.
            Node::Leaf(_) => LEAF,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    V4,
    V6,
    /// IPv4 data reached through an IPv6 alias: no `nets`, no refinement.
    Alias,
}

/// A node index as stored in the builder (the arena never reaches 2^32).
fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

fn alias_net(addr: &str, len: u8) -> Ipv6Net {
    let addr: Ipv6Addr = addr.parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    Ipv6Net::new(addr, len).unwrap_or_default()
}

impl Builder<'_> {
    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(Packed::pack(node));
        self.nodes.len() - 1
    }

    fn node(&self, at: usize) -> Node {
        self.nodes[at].unpack()
    }

    fn set(&mut self, at: usize, node: Node) {
        self.nodes[at] = Packed::pack(node);
    }

    /// Insert a database network under `root`.
    fn insert_db(&mut self, root: usize, net: IpNet, record: Option<usize>) {
        let (bits, len) = match net {
            IpNet::V4(n) => (u128::from(u32::from(n.network())) << 96, n.prefix_len()),
            IpNet::V6(n) => (u128::from(n.network()), n.prefix_len()),
        };
        let record = record
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(NO_RECORD);
        let at = self.split(root, bits, len);
        self.set(at, Node::Leaf(Source { base: len, record }));
    }

    /// Walk from `root` to the node at depth `len` along `bits`, splitting
    /// leaves on the way (both halves keep the leaf's source); that node.
    fn split(&mut self, root: usize, bits: u128, len: u8) -> usize {
        let mut at = root;
        for depth in 0..len.min(128) {
            let bit = usize::from((bits >> (127 - depth)) & 1 == 1);
            let children = match self.node(at) {
                Node::Inner(l, r) => [l as usize, r as usize],
                Node::Leaf(src) => {
                    let l = self.push(Node::Leaf(src));
                    let r = self.push(Node::Leaf(src));
                    self.set(at, Node::Inner(index(l), index(r)));
                    [l, r]
                }
                Node::Done(_) => return at,
            };
            at = children[bit];
        }
        at
    }

    /// The map's IPv4 `nets`.
    fn v4_nets(&self) -> Vec<Ipv4Net> {
        match self.eval {
            Eval::Map(map) => map
                .nets()
                .filter_map(|n| match n {
                    IpNet::V4(n) => Some(*n),
                    IpNet::V6(_) => None,
                })
                .collect(),
            Eval::Nearest => Vec::new(),
        }
    }

    /// Whether `net` holds, or lies in, part of [`Self::alias_cover`].
    fn in_alias_cover(&self, net: Ipv4Net) -> bool {
        self.alias_cover
            .iter()
            .any(|c| c.contains(&net) || net.contains(c))
    }

    fn map_nets_overlap(&self, prefix: Ipv6Net) -> bool {
        match self.eval {
            Eval::Map(map) => map.nets().any(|n| match n {
                IpNet::V6(n) => n.contains(&prefix) || prefix.contains(n),
                IpNet::V4(_) => false,
            }),
            Eval::Nearest => false,
        }
    }

    /// Work out every leaf under `at` (at `depth`, address `bits`), then
    /// merge siblings that say the same.
    fn evaluate(&mut self, at: usize, bits: u128, depth: u8, family: Family) {
        match self.node(at) {
            Node::Inner(l, r) => {
                let (l, r) = (l as usize, r as usize);
                self.evaluate(l, bits, depth + 1, family);
                let right = bits | (1u128 << (127 - u32::from(depth)));
                self.evaluate(r, right, depth + 1, family);
                if let (Node::Done(a), Node::Done(b)) = (self.node(l), self.node(r))
                    && a == b
                {
                    self.set(at, Node::Done(a));
                }
            }
            Node::Leaf(src) => {
                let ip = match family {
                    Family::V4 | Family::Alias => {
                        IpAddr::V4(Ipv4Addr::from(u32::try_from(bits >> 96).unwrap_or(0)))
                    }
                    Family::V6 => IpAddr::V6(Ipv6Addr::from(bits)),
                };
                let placed = self.leaf(ip, src, family);
                self.set(at, Node::Done(placed));
            }
            Node::Done(_) => {}
        }
    }

    /// The entry and scope of the leaf whose first address is `ip`.
    fn leaf(&mut self, ip: IpAddr, src: Source, family: Family) -> Placed {
        // The client's autonomous system from the ASN database, and that
        // network's prefix (without one, the record's own number decides,
        // which the record's entry already reflects).
        let (asn, asn_base) = match self.asn_db.map(|db| db.lookup(ip)) {
            Some(Ok(found)) => (found.asn, found.network.prefix_len()),
            _ => (None, 0),
        };
        let net = match self.eval {
            Eval::Map(map) if family != Family::Alias => map.match_net_index(ip),
            _ => None,
        };
        let scope = match (self.eval, net) {
            (Eval::Nearest, _) => src.base,
            (Eval::Map(map), Some((_, net))) => map.refine_scope(ip, net.prefix_len()),
            (Eval::Map(_), None) if family == Family::Alias => src.base.max(asn_base),
            (Eval::Map(map), None) => map.refine_scope(ip, src.base.max(asn_base)),
        };
        // What the leaf says depends on its record, the `nets` entry that
        // holds it and its ASN only: worked out once for each of those.
        let key = (
            src.record,
            net.map_or(u32::MAX, |(i, _)| index(i)),
            asn.unwrap_or(u32::MAX),
        );
        let entry = match self.by_source.get(&key) {
            Some(&entry) => entry,
            None => {
                let entry = self.entry(ip, src.record, net.map(|(i, _)| i), asn);
                self.by_source.insert(key, entry);
                entry
            }
        };
        // An aliased address walks the alias tree where the IPv4 tree
        // differs from it: under a database network that overlaps an IPv4
        // `nets` entry (elsewhere the entry and scope are the same).
        let alias = match (family, ip) {
            (Family::V4, IpAddr::V4(a)) => {
                Ipv4Net::new(a, src.base).is_ok_and(|n| self.in_alias_cover(n.trunc()))
            }
            _ => false,
        };
        Placed {
            entry,
            scope,
            alias,
        }
    }

    /// The entry for a leaf with database record `record` (whose first
    /// address is `ip`), in `nets` entry `net`, of autonomous system `asn`
    /// (from the ASN database).
    fn entry(&mut self, ip: IpAddr, record: u32, net: Option<usize>, asn: Option<u32>) -> u32 {
        let located = self.located(ip, record);
        let ranks = ranks(self.regions, located.coordinates);
        let list = match (self.eval, net) {
            (Eval::Nearest, _) => None,
            (Eval::Map(map), Some(i)) => map.net_tiers(i).map(<[Tier]>::to_vec),
            (Eval::Map(map), None) => {
                let (choice, _) = map.by_location(
                    asn.or(located.asn),
                    located.country.as_deref(),
                    located.subdivision.as_deref(),
                    located.continent.as_deref(),
                );
                match choice {
                    MapChoice::Tiers(t) => Some(t.to_vec()),
                    MapChoice::Nearest => None,
                }
            }
        };
        let entry = Entry { list, ranks };
        let next = index(self.list.len());
        let id = *self.entries.entry(entry.clone()).or_insert(next);
        if id == next && self.list.len() == next as usize {
            self.list.push(entry);
        }
        id
    }

    /// What the database record `record` says.
    fn located(&self, ip: IpAddr, record: u32) -> Located {
        let (Some(db), false) = (self.db, record == NO_RECORD) else {
            return Located::default();
        };
        match db.lookup(ip) {
            Ok(found) if found.found => Located {
                asn: found.asn,
                country: found.country,
                subdivision: found.subdivision,
                continent: found.continent,
                coordinates: found.location,
            },
            _ => Located::default(),
        }
    }
}

/// Each region's distance rank from `from` (see [`Entry::ranks`]).
fn ranks(regions: &[Region], from: Option<(f64, f64)>) -> Vec<u16> {
    let distances: Vec<f64> = regions
        .iter()
        .map(|r| match (from, r.location) {
            (Some(a), Some(b)) => distance::km(a, b),
            _ => f64::INFINITY,
        })
        .collect();
    let mut sorted = distances.clone();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup_by(|a, b| a.total_cmp(b).is_eq());
    distances
        .iter()
        .map(|d| {
            let rank = sorted.partition_point(|s| s.total_cmp(d).is_lt());
            u16::try_from(rank).unwrap_or(u16::MAX)
        })
        .collect()
}

/// Regions by distance: `pools` (region ids, in the service's order)
/// ordered by rank, ties in the service's order.
pub fn nearest(pools: &[RegionId], ranks: &[u16]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pools.len()).collect();
    order.sort_by_key(|&i| ranks.get(pools[i]).copied().unwrap_or(u16::MAX));
    order
}

/// Every tree a configuration needs: one per geo map that a service uses,
/// and one for the `nearest` policy when a service uses it.
#[derive(Debug, Default)]
pub struct Places {
    /// By map index; `None` for a map no service uses.
    pub maps: Vec<Option<Tree>>,
    pub nearest: Option<Tree>,
}

impl Places {
    /// Compile the trees `config` needs over `db`.
    pub fn build(
        config: &crate::config::Config,
        db: Option<&GeoDb>,
        asn_db: Option<&GeoDb>,
    ) -> Result<Self, GeoError> {
        use crate::config::Policy;
        let uses = |wanted: &dyn Fn(&Policy) -> bool| {
            config
                .zones
                .iter()
                .flat_map(|z| &z.services)
                .any(|s| wanted(&s.policy))
        };
        let maps = config
            .geo_maps
            .iter()
            .enumerate()
            .map(|(i, map)| {
                if !uses(&|p| *p == Policy::Geo(i)) {
                    return Ok(None);
                }
                let compiled = CompiledMap::new(map);
                Tree::build(&Eval::Map(&compiled), db, asn_db, &config.regions).map(Some)
            })
            .collect::<Result<_, _>>()?;
        let nearest = if uses(&|p| *p == Policy::Nearest) {
            Some(Tree::build(&Eval::Nearest, db, None, &config.regions)?)
        } else {
            None
        };
        Ok(Self { maps, nearest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GeoMap, MapDefault};
    use crate::geo::build::build_bytes;
    use rand::{Rng, SeedableRng};
    use std::path::Path;

    const CSV: &str = "network,country,continent,latitude,longitude,subdivision\n\
        10.0.0.0/8,US,NA,38.9,-77.0,VA\n\
        10.1.0.0/16,JP,AS,35.6,139.7,\n\
        81.2.69.0/24,GB,EU,51.5,-0.09,\n\
        81.2.70.0/23,GB,EU,51.5,-0.09,\n\
        192.0.2.0/24,US,NA,37.39,-122.08,CA\n\
        198.51.100.0/25,FR,EU,48.8,2.3,\n\
        2001:db8:1::/48,GB,EU,51.5,-0.12,\n\
        2001:db8::/32,DE,EU,52.5,13.4,\n";

    fn regions() -> Vec<Region> {
        vec![
            Region {
                name: "us-east".into(),
                location: Some((39.04, -77.49)),
            },
            Region {
                name: "eu-west".into(),
                location: Some((53.35, -6.26)),
            },
            Region {
                name: "ap".into(),
                location: Some((35.68, 139.69)),
            },
        ]
    }

    fn map() -> CompiledMap {
        CompiledMap::new(&GeoMap {
            name: "m".into(),
            nets: vec![
                ("10.1.2.0/24".parse().unwrap(), vec![vec![1]]),
                ("81.2.0.0/16".parse().unwrap(), vec![vec![2]]),
                ("2001:db8:1:5::/64".parse().unwrap(), vec![vec![2]]),
                ("::ffff:192.0.2.0/120".parse().unwrap(), vec![vec![1]]),
            ],
            asns: Vec::new(),
            countries: vec![
                ("US-CA".into(), vec![vec![2, 0]]),
                ("JP".into(), vec![vec![2]]),
            ],
            continents: vec![("EU".into(), vec![vec![1], vec![0]])],
            default: MapDefault::Nearest,
        })
    }

    /// What the map's rules say for `ip` without a tree: the most specific
    /// `nets` entry, else the database record, and the scope refined around
    /// `nets` entries (docs/geo.md).
    fn direct(map: &CompiledMap, db: &GeoDb, ip: IpAddr) -> (Option<Vec<Tier>>, Vec<u16>, u8) {
        let found = db.lookup(ip).unwrap();
        let located = found.found.then_some(found.location).flatten();
        let ranks = ranks(&regions(), located);
        if let Some((net, tiers)) = map.match_net(ip) {
            return (
                Some(tiers.to_vec()),
                ranks,
                map.refine_scope(ip, net.prefix_len()),
            );
        }
        let scope = map.refine_scope(ip, found.network.prefix_len());
        let (choice, _) = map.by_location(
            found.asn,
            found.country.as_deref(),
            found.subdivision.as_deref(),
            found.continent.as_deref(),
        );
        let list = match choice {
            MapChoice::Tiers(t) => Some(t.to_vec()),
            MapChoice::Nearest => None,
        };
        (list, ranks, scope)
    }

    #[test]
    fn the_tree_says_what_the_rules_say_for_every_address() {
        let (bytes, _) = build_bytes(CSV, Path::new("t.csv")).unwrap();
        let db = GeoDb::from_bytes(bytes).unwrap();
        let map = map();
        let tree = Tree::build(&Eval::Map(&map), Some(&db), None, &regions()).unwrap();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut ips: Vec<IpAddr> = Vec::new();
        for _ in 0..4000 {
            // Mostly near the interesting networks.
            let base: [u32; 5] = [
                0x0a01_0200,
                0x5102_4500,
                0xc000_0200,
                0xc633_6400,
                0x0800_0000,
            ];
            let b = base[rng.random_range(0..base.len())];
            let bits: u32 = rng.random_range(0..24);
            let v4 = Ipv4Addr::from(b ^ rng.random_range(0..1u32 << bits));
            ips.push(IpAddr::V4(v4));
            ips.push(IpAddr::V6(v4.to_ipv6_mapped()));
            // IPv4-compatible (the IPv4 subtree itself, ::/96), and the same
            // bits at the top of the IPv6 space.
            ips.push(IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(v4)))));
            ips.push(IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(v4)) << 96)));
            let bits: u32 = rng.random_range(0..100);
            let v6 =
                0x2001_0db8_0001_0005_0000_0000_0000_0000u128 ^ rng.random_range(0..1u128 << bits);
            ips.push(IpAddr::V6(Ipv6Addr::from(v6)));
        }
        for ip in ips {
            let placed = tree.place(ip);
            let entry = &tree.entries[placed.entry as usize];
            let (list, ranks, scope) = direct(&map, &db, ip);
            assert_eq!(
                (&entry.list, &entry.ranks, placed.scope),
                (&list, &ranks, scope),
                "{ip}"
            );
        }
    }

    #[test]
    fn without_a_database_only_the_nets_place_a_client() {
        let map = map();
        let tree = Tree::build(&Eval::Map(&map), None, None, &regions()).unwrap();
        let p = tree.place("10.1.2.3".parse().unwrap());
        assert_eq!(tree.entries[p.entry as usize].list, Some(vec![vec![1]]));
        assert_eq!(p.scope, 24);
        // Outside every net: the default (nearest, no location), the scope
        // lengthened so it does not cover 10.1.2.0/24.
        let p = tree.place("10.1.3.1".parse().unwrap());
        assert_eq!(tree.entries[p.entry as usize].list, None);
        assert_eq!(p.scope, 24);
        let p = tree.place("172.16.0.1".parse().unwrap());
        assert_eq!(p.scope, 1);
    }
}
