//! The hash used by the maps that the answering path looks names up in
//! (zone origins, owner names): foldhash with a fixed seed, which costs a
//! few cycles for a short name where the standard library's SipHash costs
//! far more per call (it showed in the profile, issue 6).
//!
//! It is not keyed per process, which is safe here: only configuration and
//! zone files put keys into these maps; a query only looks one up, so a
//! client cannot fill a bucket with colliding names.

use std::collections::HashMap;

/// A `HashMap` with name keys from configuration, looked up per query.
pub(crate) type NameMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;
