//! The data every answer and every operator change works from, and nothing
//! that runs: the immutable [`Snapshot`] published through `arc-swap` and
//! how one is built from a validated configuration ([`build`]; [`load`]
//! reads the file first), the operators' overrides and their state file,
//! drains, alerts, rollouts and registry endpoints as data. The tasks that
//! change these at run time are `crate::runtime`'s; nothing here imports
//! it, `admin` or `cluster` (see "Layering" in docs/design.md).

pub mod alerts;
pub mod drains;
pub mod overrides;
pub mod registry;
pub mod rollout;
mod snapshot;

pub use overrides::{ChangeError, OverrideSet, unix_now};
pub use snapshot::{Snapshot, Summary, build, load};
