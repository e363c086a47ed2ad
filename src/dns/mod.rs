//! The DNS front end: sockets (`server`), reading a query (`query`), the
//! per-query decision from packet to response (`handler`), and the wire
//! encoding of responses (`wire`). Queries of the common shape and the OPT
//! record are handled by hand; hickory-proto parses every other query and
//! encodes records. The loops are ours (see docs/design.md for why
//! hickory-server's `Server` is not used).

mod answer_cache;
mod ecs;
mod handler;
mod malformed;
mod query;
pub mod rrl;
mod server;
mod udp;
mod wire;

pub(crate) use handler::answer;
pub use handler::{Transport, respond};
pub use server::{BindError, Bound, Published, TcpLimits, bind, serve};
