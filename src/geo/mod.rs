//! Where a client is: GeoIP databases and what they say about an address.
//!
//! `build` compiles meridian's GeoIP CSV into a MaxMind DB (through the
//! private `mmdb_writer`); `lookup` reads those files and MaxMind's own
//! GeoIP2/GeoLite2 City and Country databases. Nothing here touches DNS
//! messages or sockets.

pub mod build;
pub mod distance;
pub mod lookup;
pub mod map;
mod mmdb_writer;

#[cfg(test)]
mod tests;
