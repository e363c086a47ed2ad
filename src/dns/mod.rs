//! The DNS front end: sockets (`server`, `udp`), and the answer pipeline
//! from packet to response (`handler`), which reads a query (`read`),
//! rate-limits (`rrl`) and renders the response (`wire`). Queries of the
//! common shape and the OPT record are handled by hand; hickory-proto
//! parses every other query and encodes records. The loops are ours (see
//! docs/design.md for why hickory-server's `Server` is not used).

mod handler;
mod malformed;
mod read;
pub mod rrl;
mod server;
mod udp;
pub mod verdicts;
mod wire;

pub(crate) use handler::answer;
pub use handler::{Handled, Transport, Via, handle, respond};
pub use server::{BindError, Bound, Published, TcpLimits, bind, serve};
