//! Where a client is: GeoIP databases and what they say about an address.
//!
//! `build` compiles meridian's GeoIP CSV into a MaxMind DB (through the
//! private `mmdb_writer`); `lookup` reads those files and MaxMind's own
//! GeoIP2/GeoLite2 City and Country databases; `map` holds a geo map's
//! rules and `place` compiles a map and the database into the network tree
//! that places a client at query time. Nothing here touches DNS
//! messages or sockets.

pub mod build;
pub mod distance;
pub mod lookup;
pub mod map;
mod mmdb_writer;
pub mod place;

#[cfg(test)]
mod tests;
