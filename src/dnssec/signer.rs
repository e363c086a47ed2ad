//! Making RRSIGs for one zone, online, from a bounded cache.
//!
//! A `ZoneSigner` holds the zone's keys and a signature cache keyed by the
//! RRset's canonical content (owner, type, TTL and sorted RDATA, RFC 4034
//! 6): two clients given the same answer share one signature, whatever
//! their address or ECS network, so the number of signing operations
//! follows the number of distinct answers, not of clients.
//!
//! Signatures start an hour back (clocks of validators run slow or fast)
//! and end `signature_validity` after signing; a cached one is re-made once
//! half of its validity has passed, so a resolver never holds one about to
//! expire. The cache is split in shards, each a `Mutex<HashMap>` held only
//! for one lookup or insertion (never while signing); a shard that reaches
//! its share of `signature_cache` entries is emptied, so memory stays
//! bounded under a flood of distinct answers.
//!
//! Never logs or exposes key material; never blocks beyond those short
//! critical sections.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_proto::dnssec::rdata::sig::SigInput;
use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::dnssec::{Algorithm, TBS};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::keys::ZoneKey;
use crate::metrics::DNSSEC as COUNTERS;

/// How far back inception is set, for validators whose clocks run behind.
pub const INCEPTION_OFFSET: u32 = 3600;
/// Cache shards.
const SHARDS: usize = 16;
/// RRsets larger than this (canonical bytes) are signed but not cached.
const MAX_CACHED_RRSET: usize = 8 * 1024;

/// Why an RRset could not be signed (never expected: a bug or a key the
/// crypto library refuses).
#[derive(Debug, thiserror::Error)]
#[error("signing {owner} {rtype}: {message}")]
pub struct SignError {
    owner: Name,
    rtype: RecordType,
    message: String,
}

/// Signatures of one RRset, by every key that signs its type.
#[derive(Debug)]
struct Cached {
    sigs: Vec<RRSIG>,
    /// Unix time after which the signatures are re-made.
    refresh_at: u32,
}

type Shard = Mutex<std::collections::HashMap<Box<[u8]>, Arc<Cached>, foldhash::fast::FixedState>>;

/// The keys of one zone and its signature cache.
pub struct ZoneSigner {
    apex: Name,
    keys: Vec<ZoneKey>,
    /// Keys that sign DNSKEY, CDS and CDNSKEY: the SEP keys when the zone
    /// has both SEP and other keys (a KSK/ZSK split), else every key.
    key_signing: Vec<usize>,
    /// Keys that sign every other RRset.
    zone_signing: Vec<usize>,
    validity: u32,
    shards: Box<[Shard]>,
    shard_cap: usize,
    hasher: foldhash::fast::FixedState,
}

impl fmt::Debug for ZoneSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key tags only: never the private keys.
        let tags: Vec<u16> = self.keys.iter().map(|k| k.public.key_tag()).collect();
        f.debug_struct("ZoneSigner")
            .field("apex", &self.apex)
            .field("key_tags", &tags)
            .field("validity_s", &self.validity)
            .finish_non_exhaustive()
    }
}

impl ZoneSigner {
    /// A signer for zone `apex` with `keys` (at least one, all for `apex`).
    pub fn new(apex: Name, keys: Vec<ZoneKey>, validity: Duration, cache_entries: usize) -> Self {
        let sep: Vec<usize> = (0..keys.len())
            .filter(|&i| keys[i].public.is_sep())
            .collect();
        let other: Vec<usize> = (0..keys.len())
            .filter(|&i| !keys[i].public.is_sep())
            .collect();
        let (key_signing, zone_signing) = if sep.is_empty() || other.is_empty() {
            let all: Vec<usize> = (0..keys.len()).collect();
            (all.clone(), all)
        } else {
            (sep, other)
        };
        Self {
            apex,
            keys,
            key_signing,
            zone_signing,
            validity: u32::try_from(validity.as_secs()).unwrap_or(u32::MAX),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            shard_cap: cache_entries.div_ceil(SHARDS).max(1),
            hasher: foldhash::fast::FixedState::with_seed(0x6d65_7269_6469_616e),
        }
    }

    pub fn apex(&self) -> &Name {
        &self.apex
    }

    pub fn keys(&self) -> &[ZoneKey] {
        &self.keys
    }

    /// Entries in the signature cache now (tests, metrics).
    pub fn cached(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len())
            .sum()
    }

    /// The RRSIG records for the RRset `records` (same owner, type and
    /// TTL), owned by `owner`, signed at `now` (Unix seconds), from the
    /// cache when a fresh signature of the same content is there.
    pub fn sign_rrset(
        &self,
        owner: &Name,
        records: &[&Record],
        now: u32,
    ) -> Result<Vec<Record>, SignError> {
        let Some(first) = records.first() else {
            return Ok(Vec::new());
        };
        let rtype = first.record_type();
        let ttl = first.ttl;
        let fail = |message: String| SignError {
            owner: owner.clone(),
            rtype,
            message,
        };
        let content = canonical_rrset(owner, rtype, ttl, records).map_err(fail)?;
        let shard = &self.shards[(self.hasher.hash_one(&content) as usize) % SHARDS];
        let hit = shard
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(content.as_slice())
            .filter(|c| serial_before(now, c.refresh_at))
            .cloned();
        let cached = match hit {
            Some(c) => {
                COUNTERS.cache_hits.fetch_add(1, Ordering::Relaxed);
                c
            }
            None => {
                COUNTERS.cache_misses.fetch_add(1, Ordering::Relaxed);
                let made = Arc::new(self.make(owner, rtype, ttl, &content, now).map_err(fail)?);
                if content.len() <= MAX_CACHED_RRSET {
                    let mut map = shard.lock().unwrap_or_else(|e| e.into_inner());
                    if map.len() >= self.shard_cap {
                        map.clear();
                    }
                    map.insert(content.into_boxed_slice(), made.clone());
                }
                made
            }
        };
        Ok(cached
            .sigs
            .iter()
            .map(|sig| {
                Record::from_rdata(
                    owner.clone(),
                    ttl,
                    RData::DNSSEC(DNSSECRData::RRSIG(sig.clone())),
                )
            })
            .collect())
    }

    /// Sign `content` (from `canonical_rrset`) with each key for `rtype`.
    fn make(
        &self,
        owner: &Name,
        rtype: RecordType,
        ttl: u32,
        content: &[u8],
        now: u32,
    ) -> Result<Cached, String> {
        let which = if matches!(
            rtype,
            RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY
        ) {
            &self.key_signing
        } else {
            &self.zone_signing
        };
        // The RRset's part of the data to sign follows the owner name,
        // which `canonical_rrset` wrote first (see there).
        let owner_len = owner_wire_len(content);
        let mut sigs = Vec::with_capacity(which.len());
        for &i in which {
            let key = &self.keys[i];
            let input = SigInput {
                type_covered: rtype,
                algorithm: algorithm_of(key),
                num_labels: owner.num_labels(),
                original_ttl: ttl,
                sig_expiration: SerialNumber::new(now.wrapping_add(self.validity)),
                sig_inception: SerialNumber::new(now.wrapping_sub(INCEPTION_OFFSET)),
                key_tag: key.public.key_tag(),
                signer_name: self.apex.to_lowercase(),
            };
            let mut tbs = Vec::with_capacity(content.len() * 2 + 64);
            {
                let mut enc = BinEncoder::new(&mut tbs);
                enc.set_canonical_form(true);
                enc.set_name_encoding(NameEncoding::Uncompressed);
                input.emit(&mut enc).map_err(|e| e.to_string())?;
            }
            // RFC 4034 3.1.8.1: each RR as owner | type | class | TTL |
            // RDATA length | RDATA, in canonical order.
            let owner_wire = &content[..owner_len];
            let mut at = owner_len + 6;
            while at + 2 <= content.len() {
                let len = usize::from(u16::from_be_bytes([content[at], content[at + 1]]));
                let rdata = content
                    .get(at + 2..at + 2 + len)
                    .ok_or("bad canonical form")?;
                tbs.extend_from_slice(owner_wire);
                tbs.extend_from_slice(&u16::from(rtype).to_be_bytes());
                tbs.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
                tbs.extend_from_slice(&ttl.to_be_bytes());
                tbs.extend_from_slice(&content[at..at + 2]);
                tbs.extend_from_slice(rdata);
                at += 2 + len;
            }
            let sig = key
                .signer
                .sign(&TBS::from(tbs.as_slice()))
                .map_err(|e| e.to_string())?;
            COUNTERS.signatures.fetch_add(1, Ordering::Relaxed);
            sigs.push(RRSIG::from_sig(input, sig));
        }
        Ok(Cached {
            sigs,
            refresh_at: now.wrapping_add(self.validity / 2),
        })
    }
}

fn algorithm_of(key: &ZoneKey) -> Algorithm {
    key.signer.algorithm()
}

/// `a` comes before `b` in serial number arithmetic (RFC 1982).
fn serial_before(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 0x8000_0000
}

/// The canonical form of an RRset, which is also the cache key: the owner
/// in lower case (uncompressed wire form), type and TTL, then each RDATA
/// as length and canonical bytes, sorted (RFC 4034 6.2, 6.3), duplicates
/// removed.
fn canonical_rrset(
    owner: &Name,
    rtype: RecordType,
    ttl: u32,
    records: &[&Record],
) -> Result<Vec<u8>, String> {
    let mut rdatas: Vec<Vec<u8>> = Vec::with_capacity(records.len());
    for r in records {
        let mut buf = Vec::with_capacity(32);
        {
            let mut enc = BinEncoder::new(&mut buf);
            enc.set_canonical_form(true);
            enc.set_name_encoding(NameEncoding::Uncompressed);
            r.data.emit(&mut enc).map_err(|e| e.to_string())?;
        }
        rdatas.push(buf);
    }
    rdatas.sort();
    rdatas.dedup();
    let mut out = Vec::with_capacity(64 + rdatas.iter().map(|r| r.len() + 2).sum::<usize>());
    for label in owner.iter() {
        out.push(u8::try_from(label.len()).map_err(|_| "label too long")?);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out.extend_from_slice(&u16::from(rtype).to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    for r in &rdatas {
        out.extend_from_slice(
            &u16::try_from(r.len())
                .map_err(|_| "RDATA too long")?
                .to_be_bytes(),
        );
        out.extend_from_slice(r);
    }
    Ok(out)
}

/// Length of the wire name at the start of `content`.
fn owner_wire_len(content: &[u8]) -> usize {
    let mut at = 0;
    while let Some(&len) = content.get(at) {
        at += 1 + usize::from(len);
        if len == 0 {
            break;
        }
    }
    at
}

#[cfg(test)]
mod tests;
