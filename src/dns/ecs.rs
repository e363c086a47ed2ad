//! EDNS Client Subnet (RFC 7871): finding the option in a query's raw
//! bytes, the validity checks of SPEC 3.1, and the option echoed back.
//!
//! The option is read from the wire rather than from hickory's parsed
//! `ClientSubnet` because hickory accepts address bytes beyond what the
//! source prefix needs and address bits set past it, both of which SPEC
//! 3.1 answers with FORMERR.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// EDNS option code of Client Subnet.
const OPTION_ECS: u16 = 8;
/// RR type of OPT.
const TYPE_OPT: u16 = 41;

/// The Client Subnet option of a query, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientSubnet {
    /// The address with every bit past `source_prefix` clear.
    pub(crate) addr: IpAddr,
    pub(crate) source_prefix: u8,
}

/// What a query says about Client Subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ecs {
    Absent,
    Present(ClientSubnet),
    /// Present but malformed: the query gets FORMERR.
    Malformed,
}

/// Find and check the ECS option of `packet`, a query that hickory has
/// already parsed successfully (so its structure is sound).
pub(crate) fn find(packet: &[u8]) -> Ecs {
    match find_inner(packet) {
        Some(ecs) => ecs,
        None => Ecs::Absent,
    }
}

fn find_inner(packet: &[u8]) -> Option<Ecs> {
    let count = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *packet.get(i)?,
            *packet.get(i + 1)?,
        ])))
    };
    let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(packet, pos)? + 4;
    }
    for _ in 0..an + ns {
        pos = skip_record(packet, pos)?.1;
    }
    for _ in 0..ar {
        let (rtype, next, rdata) = skip_record(packet, pos)?;
        if rtype == TYPE_OPT {
            return Some(find_in_opt(rdata));
        }
        pos = next;
    }
    Some(Ecs::Absent)
}

fn find_in_opt(mut options: &[u8]) -> Ecs {
    while options.len() >= 4 {
        let code = u16::from_be_bytes([options[0], options[1]]);
        let len = usize::from(u16::from_be_bytes([options[2], options[3]]));
        let Some(data) = options.get(4..4 + len) else {
            return Ecs::Malformed;
        };
        if code == OPTION_ECS {
            return parse_option(data);
        }
        options = &options[4 + len..];
    }
    Ecs::Absent
}

/// Check one ECS option body (RFC 7871 section 6).
pub(crate) fn parse_option(data: &[u8]) -> Ecs {
    let Some(&[f0, f1, source_prefix, _scope]) = data.get(..4) else {
        return Ecs::Malformed;
    };
    let family = u16::from_be_bytes([f0, f1]);
    let address = &data[4..];
    let max_prefix = match family {
        1 => 32,
        2 => 128,
        _ => return Ecs::Malformed,
    };
    if source_prefix > max_prefix {
        return Ecs::Malformed;
    }
    let needed = usize::from(source_prefix).div_ceil(8);
    if address.len() != needed {
        return Ecs::Malformed;
    }
    // Bits past the source prefix in the last address byte must be zero.
    if let Some(&last) = address.last() {
        let used = source_prefix % 8;
        if used != 0 && last & (0xff >> used) != 0 {
            return Ecs::Malformed;
        }
    }
    let addr = if family == 1 {
        let mut octets = [0u8; 4];
        octets[..needed].copy_from_slice(address);
        IpAddr::V4(Ipv4Addr::from(octets))
    } else {
        let mut octets = [0u8; 16];
        octets[..needed].copy_from_slice(address);
        IpAddr::V6(Ipv6Addr::from(octets))
    };
    Ecs::Present(ClientSubnet {
        addr,
        source_prefix,
    })
}

/// Offset just past the (possibly compressed) name at `pos`.
fn skip_name(packet: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *packet.get(pos)?;
        match len & 0xc0 {
            0x00 if len == 0 => return Some(pos + 1),
            0x00 => pos += 1 + usize::from(len),
            0xc0 => return Some(pos + 2),
            _ => return None,
        }
    }
}

/// Type, offset past the record, and rdata of the record at `pos`.
fn skip_record(packet: &[u8], pos: usize) -> Option<(u16, usize, &[u8])> {
    let pos = skip_name(packet, pos)?;
    let fixed = packet.get(pos..pos + 10)?;
    let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
    let rdlen = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    let rdata = packet.get(pos + 10..pos + 10 + rdlen)?;
    Some((rtype, pos + 10 + rdlen, rdata))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(family: u16, source: u8, addr: &[u8]) -> Vec<u8> {
        let mut v = family.to_be_bytes().to_vec();
        v.push(source);
        v.push(0);
        v.extend_from_slice(addr);
        v
    }

    #[test]
    fn valid_ipv4_and_ipv6_options_parse() {
        assert_eq!(
            parse_option(&option(1, 24, &[203, 0, 113])),
            Ecs::Present(ClientSubnet {
                addr: "203.0.113.0".parse().unwrap(),
                source_prefix: 24
            })
        );
        assert_eq!(
            parse_option(&option(2, 48, &[0x20, 0x01, 0x0d, 0xb8, 0, 1])),
            Ecs::Present(ClientSubnet {
                addr: "2001:db8:1::".parse().unwrap(),
                source_prefix: 48
            })
        );
        assert!(matches!(parse_option(&option(1, 0, &[])), Ecs::Present(_)));
    }

    #[test]
    fn source_prefix_longer_than_family_is_malformed() {
        assert_eq!(
            parse_option(&option(1, 33, &[1, 2, 3, 4, 5])),
            Ecs::Malformed
        );
        assert_eq!(parse_option(&option(2, 129, &[0; 17])), Ecs::Malformed);
    }

    #[test]
    fn address_longer_than_prefix_needs_is_malformed() {
        assert_eq!(
            parse_option(&option(1, 24, &[203, 0, 113, 0])),
            Ecs::Malformed
        );
        assert_eq!(parse_option(&option(1, 24, &[203, 0])), Ecs::Malformed);
    }

    #[test]
    fn bits_past_the_source_prefix_are_malformed() {
        assert_eq!(
            parse_option(&option(1, 20, &[203, 0, 0x71])),
            Ecs::Malformed
        );
        assert!(matches!(
            parse_option(&option(1, 20, &[203, 0, 0x70])),
            Ecs::Present(_)
        ));
    }

    #[test]
    fn unknown_family_is_malformed() {
        assert_eq!(parse_option(&option(3, 0, &[])), Ecs::Malformed);
        assert_eq!(parse_option(&[0, 1, 24]), Ecs::Malformed);
    }
}
