//! The DNS front end: sockets (`server`), the per-query decision from packet
//! to response (`handler`), and the wire encoding of responses (`wire`).
//! hickory-proto parses queries and encodes records; the loops are ours
//! (see docs/design.md for why hickory-server's `Server` is not used).

mod ecs;
mod handler;
pub mod rrl;
mod server;
mod udp;
mod wire;

pub(crate) use handler::answer;
pub use handler::{Transport, respond};
pub use server::{BindError, Bound, Published, TcpLimits, bind, serve};
