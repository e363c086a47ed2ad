//! A small MaxMind DB 2.0 writer: search tree, data section and metadata.
//!
//! This module owns the binary format only. It knows nothing about CSV or
//! about the GeoIP2 record layout (that is `build.rs`), and it never does I/O:
//! it turns `(network, value)` pairs into the bytes of a `.mmdb` file.
//!
//! # Why our own writer and not the `mmdb-writer` crate
//!
//! The crate is young (one 0.1.0 release) and pulls in `bon`; what we need
//! from the format is small and fully described by the public spec
//! (`MaxMind-DB-spec.md`). Writing it here gives us, under our own tests:
//! - **the overlap rule** of SPEC 2.5 (the more specific network wins,
//!   whatever the order of the rows): networks are inserted shortest prefix
//!   first, so a later, longer prefix splits the record it lands in;
//! - **IPv4 aliasing as MaxMind does it**: the IPv4 networks form one subtree
//!   at `::/96`; the records for `::ffff:0:0/96` (IPv4-mapped) and `2002::/16`
//!   (6to4) point at that same subtree. IPv6 networks inside those three
//!   ranges are refused ([`aliased_range`]); an IPv6 network that *covers*
//!   them (say `::/0`) never leaks into IPv4 space, because the alias records
//!   are more specific and are set last;
//! - **deterministic output**: the same networks and values give the same
//!   bytes, whatever order they were inserted in.
//!
//! # Layout choices
//! - Always an IPv6 tree (`ip_version` 6), so one file answers both families.
//! - Record size 24, 28 or 32 bits: the smallest that holds the largest
//!   record value (`node_count + 16 + data section length`).
//! - Values are deduplicated: an identical value (a whole record, a map such
//!   as `{"code": "EU"}`, a repeated key string) is written once and reached
//!   through a pointer where the pointer is shorter than the value.
//! - Adjacent networks with the same value are *not* merged, so a lookup
//!   reports a network no larger than the row it came from.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::{IpNet, Ipv6Net};

/// Marks the start of the metadata section (spec: "Database Metadata").
const METADATA_MARKER: &[u8] = b"\xAB\xCD\xEFMaxMind.com";
/// Zero bytes between the search tree and the data section.
const DATA_SECTION_SEPARATOR: usize = 16;
/// Largest payload size a control byte can express (spec: "Payload Size").
const MAX_PAYLOAD: usize = 16_843_036;

/// The IPv6 ranges whose records point at the IPv4 subtree, each with how
/// users see it (std would print `::ffff:0.0.0.0/96`). `::/96` is where the
/// IPv4 subtree itself lives.
const ALIASES: [(Ipv6Addr, u8, &str); 3] = [
    (
        Ipv6Addr::UNSPECIFIED,
        96,
        "::/96, where the IPv4 networks live",
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
        96,
        "::ffff:0:0/96, the IPv4-mapped range, an alias of the IPv4 networks",
    ),
    (
        Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0),
        16,
        "2002::/16, the 6to4 range, an alias of the IPv4 networks",
    ),
];

/// If `net` lies inside (or is) one of the ranges that mirror the IPv4
/// networks, describes that range (`"::ffff:0:0/96, the IPv4-mapped ..."`).
pub(crate) fn aliased_range(net: &Ipv6Net) -> Option<&'static str> {
    ALIASES.iter().find_map(|&(addr, len, what)| {
        let range = Ipv6Net::new(addr, len).ok()?;
        range.contains(net).then_some(what)
    })
}

/// A value of the data section. Only the types meridian writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Map(Vec<(String, Self)>),
    Array(Vec<Self>),
    String(String),
    Double(f64),
    U16(u16),
    U32(u32),
    U64(u64),
}

impl Value {
    /// A map from string keys, in the given order.
    pub(crate) fn map<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Self)>) -> Self {
        Self::Map(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub(crate) fn string(s: impl Into<String>) -> Self {
        Self::String(s.into())
    }
}

/// Why a database could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteError {
    /// The same network was inserted twice.
    Duplicate(IpNet),
    /// An IPv6 network inside a range that mirrors the IPv4 networks.
    Aliased {
        network: Ipv6Net,
        range: &'static str,
    },
    /// A string, map or array longer than the format allows.
    ValueTooLarge,
    /// The tree or the data section outgrew 32-bit records or pointers.
    DatabaseTooLarge,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate(net) => write!(f, "network {net} inserted twice"),
            Self::Aliased { network, range } => {
                write!(f, "{network} is inside {range}")
            }
            Self::ValueTooLarge => f.write_str("a value is longer than 16,843,036 items or bytes"),
            Self::DatabaseTooLarge => {
                f.write_str("the database is too large for 32-bit MaxMind DB records")
            }
        }
    }
}

impl std::error::Error for WriteError {}

/// The metadata keys that the caller chooses.
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) database_type: String,
    pub(crate) languages: Vec<String>,
    /// Language code → description.
    pub(crate) description: Vec<(String, String)>,
    pub(crate) build_epoch: u64,
}

/// What [`Writer::to_bytes`] produced besides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TreeStats {
    pub(crate) node_count: u32,
    pub(crate) record_size: u16,
}

/// Collects networks and values; [`Writer::to_bytes`] lays out the file.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    entries: Vec<(IpNet, Value)>,
    /// Lets tests exercise the 28- and 32-bit layouts on small trees.
    min_record_size: u16,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    #[cfg(test)]
    pub(crate) fn set_min_record_size(&mut self, bits: u16) {
        self.min_record_size = bits;
    }

    /// Adds a network. Host bits are ignored (the network is truncated).
    /// Order does not matter: overlaps are resolved in [`Writer::to_bytes`].
    pub(crate) fn insert(&mut self, network: IpNet, value: Value) -> Result<(), WriteError> {
        let network = network.trunc();
        if let IpNet::V6(v6) = network
            && let Some(range) = aliased_range(&v6)
        {
            return Err(WriteError::Aliased { network: v6, range });
        }
        self.entries.push((network, value));
        Ok(())
    }

    /// Serialises the tree, the data section and the metadata.
    pub(crate) fn to_bytes(&self, meta: &Metadata) -> Result<(Vec<u8>, TreeStats), WriteError> {
        // Canonical order: shortest prefix first (so more specific networks
        // split less specific ones), then by address. This also makes the
        // output independent of insertion order.
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        order.sort_by_key(|&i| {
            let (net, _) = &self.entries[i];
            (net.prefix_len(), family(net), addr_bits(net))
        });
        for pair in order.windows(2) {
            if let [a, b] = *pair
                && self.entries[a].0 == self.entries[b].0
            {
                return Err(WriteError::Duplicate(self.entries[b].0));
            }
        }

        // Data section first: tree records need the offsets, and the record
        // size depends on the data section's length.
        let mut data = DataSection::default();
        let mut offsets = vec![0_u32; self.entries.len()];
        for &i in &order {
            offsets[i] = data.add_record(&self.entries[i].1)?;
        }

        let mut tree = Tree::default();
        let mut v4_root = Rec::Empty;
        let mut v6_root = Rec::Empty;
        for &i in &order {
            let value = Rec::Data(offsets[i]);
            match self.entries[i].0 {
                IpNet::V4(n) => {
                    let bits = u128::from(u32::from(n.network()));
                    v4_root = tree.set(v4_root, bits, 32, n.prefix_len(), value);
                }
                IpNet::V6(n) => {
                    let bits = u128::from(n.network());
                    v6_root = tree.set(v6_root, bits, 128, n.prefix_len(), value);
                }
            }
        }
        for (addr, len, _) in ALIASES {
            v6_root = tree.set(v6_root, u128::from(addr), 128, len, v4_root);
        }

        let tree_bytes = tree.serialise(v6_root, data.buf.len(), self.min_record_size)?;
        let mut out = tree_bytes.bytes;
        out.resize(out.len() + DATA_SECTION_SEPARATOR, 0);
        out.extend_from_slice(&data.buf);
        out.extend_from_slice(METADATA_MARKER);
        let stats = TreeStats {
            node_count: tree_bytes.node_count,
            record_size: tree_bytes.record_size,
        };
        encode_plain(&metadata_value(meta, stats), &mut out)?;
        Ok((out, stats))
    }
}

fn family(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(_) => 4,
        IpNet::V6(_) => 6,
    }
}

fn addr_bits(net: &IpNet) -> u128 {
    match net.network() {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn metadata_value(meta: &Metadata, stats: TreeStats) -> Value {
    Value::map([
        ("binary_format_major_version", Value::U16(2)),
        ("binary_format_minor_version", Value::U16(0)),
        ("build_epoch", Value::U64(meta.build_epoch)),
        ("database_type", Value::string(&meta.database_type)),
        (
            "description",
            Value::map(
                meta.description
                    .iter()
                    .map(|(lang, text)| (lang.clone(), Value::string(text))),
            ),
        ),
        ("ip_version", Value::U16(6)),
        (
            "languages",
            Value::Array(meta.languages.iter().map(Value::string).collect()),
        ),
        ("node_count", Value::U32(stats.node_count)),
        ("record_size", Value::U16(stats.record_size)),
    ])
}

// ---------------------------------------------------------------------------
// Search tree

/// One record of a node: nothing, a data-section offset, or a child node
/// (an index into [`Tree::nodes`], not yet the node number in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rec {
    Empty,
    Data(u32),
    Node(usize),
}

#[derive(Debug, Default)]
struct Tree {
    /// `[left (bit 0), right (bit 1)]`.
    nodes: Vec<[Rec; 2]>,
}

struct TreeBytes {
    bytes: Vec<u8>,
    node_count: u32,
    record_size: u16,
}

impl Tree {
    fn node(&mut self, both: Rec) -> usize {
        self.nodes.push([both, both]);
        self.nodes.len() - 1
    }

    /// Sets the record for the network of `prefix` bits of `bits` (an
    /// address `width` bits wide) in the tree under `root`, and returns the
    /// new root. A data record met on the way is split: its node gets that
    /// record on both sides, so the rest of the covering network keeps it.
    fn set(&mut self, root: Rec, bits: u128, width: u8, prefix: u8, value: Rec) -> Rec {
        if prefix == 0 {
            return value;
        }
        let root = match root {
            Rec::Node(n) => n,
            other => self.node(other),
        };
        let mut node = root;
        for depth in 0..prefix {
            let side = usize::from((bits >> (width - 1 - depth)) & 1 == 1);
            if depth + 1 == prefix {
                self.nodes[node][side] = value;
                break;
            }
            node = match self.nodes[node][side] {
                Rec::Node(child) => child,
                other => {
                    let child = self.node(other);
                    self.nodes[node][side] = Rec::Node(child);
                    child
                }
            };
        }
        Rec::Node(root)
    }

    /// Numbers the nodes reachable from `root` breadth first (node 0 is the
    /// root; a node reached twice through an alias is numbered once) and
    /// writes them with the smallest record size that fits.
    fn serialise(
        &mut self,
        root: Rec,
        data_len: usize,
        min_record_size: u16,
    ) -> Result<TreeBytes, WriteError> {
        let root = match root {
            Rec::Node(n) => n,
            // Unreachable in practice (the aliases always create nodes), but a
            // tree must start with a node.
            other => self.node(other),
        };
        let mut number = vec![u32::MAX; self.nodes.len()];
        let mut queue = vec![root];
        number[root] = 0;
        let mut next = 0;
        while let Some(&n) = queue.get(next) {
            next += 1;
            for rec in self.nodes[n] {
                if let Rec::Node(child) = rec
                    && number[child] == u32::MAX
                {
                    number[child] =
                        u32::try_from(queue.len()).map_err(|_| WriteError::DatabaseTooLarge)?;
                    queue.push(child);
                }
            }
        }
        let node_count = u32::try_from(queue.len()).map_err(|_| WriteError::DatabaseTooLarge)?;

        let max_value = u64::from(node_count) + DATA_SECTION_SEPARATOR as u64 + data_len as u64;
        let record_size: u16 = match max_value {
            v if v < 1 << 24 && min_record_size <= 24 => 24,
            v if v < 1 << 28 && min_record_size <= 28 => 28,
            v if v <= u64::from(u32::MAX) => 32,
            _ => return Err(WriteError::DatabaseTooLarge),
        };
        let value = |rec: Rec| -> u32 {
            match rec {
                Rec::Empty => node_count,
                Rec::Node(child) => number[child],
                // Fits: checked against max_value above.
                Rec::Data(offset) => node_count + DATA_SECTION_SEPARATOR as u32 + offset,
            }
        };

        let mut bytes = Vec::with_capacity(queue.len() * usize::from(record_size) / 4);
        for &n in &queue {
            let [l, r] = self.nodes[n].map(value);
            match record_size {
                24 => {
                    bytes.extend_from_slice(&l.to_be_bytes()[1..]);
                    bytes.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    bytes.extend_from_slice(&l.to_be_bytes()[1..]);
                    // The top nibbles of both records share the middle byte.
                    let middle = (((l >> 24) & 0x0f) << 4) | ((r >> 24) & 0x0f);
                    bytes.push(middle.to_be_bytes()[3]);
                    bytes.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => {
                    bytes.extend_from_slice(&l.to_be_bytes());
                    bytes.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        Ok(TreeBytes {
            bytes,
            node_count,
            record_size,
        })
    }
}

// ---------------------------------------------------------------------------
// Data section

/// The data section being built, with a cache of values already written
/// (keyed by their plain encoding) so repeats become pointers.
#[derive(Debug, Default)]
struct DataSection {
    buf: Vec<u8>,
    cache: HashMap<Vec<u8>, u32>,
}

impl DataSection {
    /// Writes a top-level record (or finds an identical one) and returns its
    /// offset. The tree points at it directly, never at a pointer.
    fn add_record(&mut self, value: &Value) -> Result<u32, WriteError> {
        let mut plain = Vec::new();
        encode_plain(value, &mut plain)?;
        if let Some(&offset) = self.cache.get(&plain) {
            return Ok(offset);
        }
        let offset = self.offset()?;
        self.write_inline(value)?;
        self.cache.insert(plain, offset);
        Ok(offset)
    }

    fn offset(&self) -> Result<u32, WriteError> {
        u32::try_from(self.buf.len()).map_err(|_| WriteError::DatabaseTooLarge)
    }

    /// Writes `value` as a pointer to an earlier copy if that is shorter,
    /// else inline (remembering where, for later copies).
    fn write_child(&mut self, value: &Value) -> Result<(), WriteError> {
        let mut plain = Vec::new();
        encode_plain(value, &mut plain)?;
        if let Some(&target) = self.cache.get(&plain) {
            let pointer = pointer_bytes(target);
            if pointer.len() < plain.len() {
                self.buf.extend_from_slice(&pointer);
                return Ok(());
            }
        }
        let offset = self.offset()?;
        self.write_inline(value)?;
        if plain.len() > 2 {
            self.cache.entry(plain).or_insert(offset);
        }
        Ok(())
    }

    fn write_inline(&mut self, value: &Value) -> Result<(), WriteError> {
        match value {
            Value::Map(pairs) => {
                control(&mut self.buf, TYPE_MAP, pairs.len())?;
                for (key, v) in pairs {
                    self.write_child(&Value::String(key.clone()))?;
                    self.write_child(v)?;
                }
                Ok(())
            }
            Value::Array(items) => {
                control(&mut self.buf, TYPE_ARRAY, items.len())?;
                items.iter().try_for_each(|v| self.write_child(v))
            }
            scalar => encode_plain(scalar, &mut self.buf),
        }
    }
}

const TYPE_POINTER: u8 = 1;
const TYPE_STRING: u8 = 2;
const TYPE_DOUBLE: u8 = 3;
const TYPE_U16: u8 = 5;
const TYPE_U32: u8 = 6;
const TYPE_MAP: u8 = 7;
const TYPE_U64: u8 = 9;
const TYPE_ARRAY: u8 = 11;

/// Encodes `value` with no pointers (used for the metadata, for scalars and
/// as the dedup key).
fn encode_plain(value: &Value, out: &mut Vec<u8>) -> Result<(), WriteError> {
    match value {
        Value::Map(pairs) => {
            control(out, TYPE_MAP, pairs.len())?;
            for (key, v) in pairs {
                control(out, TYPE_STRING, key.len())?;
                out.extend_from_slice(key.as_bytes());
                encode_plain(v, out)?;
            }
        }
        Value::Array(items) => {
            control(out, TYPE_ARRAY, items.len())?;
            for v in items {
                encode_plain(v, out)?;
            }
        }
        Value::String(s) => {
            control(out, TYPE_STRING, s.len())?;
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(out, TYPE_DOUBLE, 8)?;
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::U16(n) => uint(out, TYPE_U16, &n.to_be_bytes())?,
        Value::U32(n) => uint(out, TYPE_U32, &n.to_be_bytes())?,
        Value::U64(n) => uint(out, TYPE_U64, &n.to_be_bytes())?,
    }
    Ok(())
}

/// An unsigned integer in as few bytes as it needs (0 is zero bytes).
fn uint(out: &mut Vec<u8>, type_num: u8, be: &[u8]) -> Result<(), WriteError> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    control(out, type_num, be.len() - start)?;
    out.extend_from_slice(&be[start..]);
    Ok(())
}

/// The control byte (type in the top 3 bits, or 0 plus an extended type
/// byte), then the size extension bytes (spec: "Data Field Format").
fn control(out: &mut Vec<u8>, type_num: u8, size: usize) -> Result<(), WriteError> {
    if size > MAX_PAYLOAD {
        return Err(WriteError::ValueTooLarge);
    }
    let (size_bits, extra): (u8, Vec<u8>) = match size {
        0..29 => (size as u8, Vec::new()),
        29..285 => (29, vec![(size - 29) as u8]),
        285..65_821 => (30, ((size - 285) as u16).to_be_bytes().to_vec()),
        _ => (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec()),
    };
    if type_num <= 7 {
        out.push((type_num << 5) | size_bits);
    } else {
        out.push(size_bits);
        out.push(type_num - 7);
    }
    out.extend_from_slice(&extra);
    Ok(())
}

/// A pointer to `target` in the shortest form (spec: "Pointers",
/// `001SSVVV` plus 1 to 4 bytes).
fn pointer_bytes(target: u32) -> Vec<u8> {
    let t = target;
    let head = TYPE_POINTER << 5;
    match t {
        0..2_048 => vec![head | (t >> 8) as u8, t as u8],
        2_048..526_336 => {
            let v = t - 2_048;
            vec![head | (1 << 3) | (v >> 16) as u8, (v >> 8) as u8, v as u8]
        }
        526_336..134_744_064 => {
            let v = t - 526_336;
            vec![
                head | (2 << 3) | (v >> 24) as u8,
                (v >> 16) as u8,
                (v >> 8) as u8,
                v as u8,
            ]
        }
        _ => {
            let mut p = vec![head | (3 << 3)];
            p.extend_from_slice(&t.to_be_bytes());
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_plain(v, &mut out).unwrap();
        out
    }

    #[test]
    fn control_bytes_follow_the_spec_examples() {
        // "01000010: UTF-8 string - 2 bytes long"
        assert_eq!(plain(&Value::string("ab"))[0], 0b0100_0010);
        // "01011101 00110011: UTF-8 string - 80 bytes long"
        assert_eq!(
            &plain(&Value::string("x".repeat(80)))[..2],
            &[0b0101_1101, 51]
        );
        // "01011110 00110011 00110011: 13,392 bytes long"
        assert_eq!(
            &plain(&Value::string("x".repeat(13_392)))[..3],
            &[0b0101_1110, 0x33, 0x33]
        );
        // "01011111 00110011 00110011 00110011: 3,421,264 bytes long"
        assert_eq!(
            &plain(&Value::string("x".repeat(3_421_264)))[..4],
            &[0b0101_1111, 0x33, 0x33, 0x33]
        );
        // Extended type: array is 0 then 11 - 7 = 4.
        assert_eq!(plain(&Value::Array(vec![])), vec![0, 4]);
        assert_eq!(plain(&Value::U64(0)), vec![0, 2]);
    }

    #[test]
    fn payload_size_limit_is_enforced() {
        let mut out = Vec::new();
        assert_eq!(
            control(&mut out, TYPE_STRING, MAX_PAYLOAD + 1),
            Err(WriteError::ValueTooLarge)
        );
        assert!(control(&mut out, TYPE_STRING, MAX_PAYLOAD).is_ok());
    }

    #[test]
    fn integers_use_the_fewest_bytes() {
        assert_eq!(plain(&Value::U32(0)), vec![0b1100_0000]);
        assert_eq!(plain(&Value::U32(255)), vec![0b1100_0001, 255]);
        assert_eq!(plain(&Value::U32(256)), vec![0b1100_0010, 1, 0]);
        assert_eq!(plain(&Value::U16(6)), vec![0b1010_0001, 6]);
        assert_eq!(plain(&Value::Double(1.0))[0], 0b0110_1000);
    }

    #[test]
    fn pointers_use_each_size_class() {
        // Decode with the spec's formula and compare.
        fn decode(p: &[u8]) -> u32 {
            let ss = (p[0] >> 3) & 3;
            let vvv = u32::from(p[0] & 7);
            let rest = p[1..]
                .iter()
                .fold(0_u32, |acc, &b| (acc << 8) | u32::from(b));
            match ss {
                0 => (vvv << 8) | rest,
                1 => ((vvv << 16) | rest) + 2_048,
                2 => ((vvv << 24) | rest) + 526_336,
                _ => rest,
            }
        }
        for (target, len) in [
            (0, 2),
            (2_047, 2),
            (2_048, 3),
            (526_335, 3),
            (526_336, 4),
            (134_744_063, 4),
            (134_744_064, 5),
            (u32::MAX, 5),
        ] {
            let p = pointer_bytes(target);
            assert_eq!(p.len(), len, "pointer to {target}");
            assert_eq!(p[0] >> 5, TYPE_POINTER);
            assert_eq!(decode(&p), target, "pointer to {target}");
        }
    }

    #[test]
    fn repeated_values_become_pointers() {
        let rec =
            |cc: &str| Value::map([("country", Value::map([("iso_code", Value::string(cc))]))]);
        let mut data = DataSection::default();
        let a = data.add_record(&rec("GB")).unwrap();
        let len_after_first = data.buf.len();
        let b = data.add_record(&rec("DE")).unwrap();
        let again = data.add_record(&rec("GB")).unwrap();
        assert_eq!(a, again, "identical records share one offset");
        assert_ne!(a, b);
        // The second record reuses "country" and "iso_code" through pointers.
        assert!(data.buf.len() - len_after_first < len_after_first);
    }

    #[test]
    fn aliased_ranges_are_refused() {
        let mut w = Writer::new();
        for net in [
            "::ffff:1.2.3.0/120",
            "2002:102:300::/40",
            "::1/128",
            "::/96",
        ] {
            let err = w.insert(net.parse().unwrap(), Value::U16(1)).unwrap_err();
            assert!(matches!(err, WriteError::Aliased { .. }), "{net}: {err}");
        }
        assert!(w.insert("::/0".parse().unwrap(), Value::U16(1)).is_ok());
        assert!(w.insert("2000::/3".parse().unwrap(), Value::U16(1)).is_ok());
    }

    #[test]
    fn duplicate_networks_are_refused() {
        let mut w = Writer::new();
        w.insert("10.0.0.0/8".parse().unwrap(), Value::U16(1))
            .unwrap();
        w.insert("10.0.0.0/8".parse().unwrap(), Value::U16(2))
            .unwrap();
        let meta = Metadata {
            database_type: "t".into(),
            languages: vec![],
            description: vec![("en".into(), "t".into())],
            build_epoch: 0,
        };
        assert!(matches!(w.to_bytes(&meta), Err(WriteError::Duplicate(_))));
    }
}
