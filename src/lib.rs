//! meridian: an authoritative DNS server for global server load balancing.
//!
//! The binary (`src/main.rs`) is a thin shell over [`cli::run`]; everything
//! else lives here so that tests and fuzz targets can reach it.

pub mod admin;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod ctl;
pub mod dist;
pub mod dns;
pub mod dnssec;
pub mod events;
pub mod geo;
pub mod handout;
pub mod health;
pub mod metrics;
pub mod policy;
pub mod preflight;
pub mod runtime;
pub mod state;
pub mod zone;
