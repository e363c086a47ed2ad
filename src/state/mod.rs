//! Run-time state shared between the answering path and the tasks that
//! change it: the immutable [`Snapshot`] published through `arc-swap`, and
//! how one is loaded from a configuration file.

pub mod alerts;
pub mod drains;
pub mod overrides;
pub mod registry;
pub mod rollout;
pub mod runtime;
mod snapshot;

pub use overrides::{OverrideSet, unix_now};
pub use snapshot::{Snapshot, Summary, load};
