use std::path::Path;
use std::str::FromStr;

use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

const ZONE: &str = r#"
$ORIGIN example.
$TTL 300
@       IN SOA ns1 hostmaster ( 1 3600 600 86400 60 )
@       IN NS  ns1
ns1     IN A   192.0.2.53
static  IN A   192.0.2.1
static  IN AAAA 2001:db8::1
alias   IN CNAME static
outside IN CNAME www.example.net.
loop1   IN CNAME loop2
loop2   IN CNAME loop1
dangling IN CNAME nothere
*.wild  IN A   192.0.2.99
a.b.deep IN TXT "deep"
sub     IN NS  ns.sub
sub     IN NS  ns.elsewhere.net.
ns.sub  IN A   192.0.2.54
mail    IN MX 10 static
"#;

fn zone(services: &[&str]) -> ZoneData {
    let origin = Name::from_str("example.").unwrap();
    let records = parse_zone_text(ZONE, Path::new("example.zone"), &origin).unwrap();
    let services: Vec<Name> = services
        .iter()
        .map(|s| Name::from_str(s).unwrap())
        .collect();
    ZoneData::build(origin, records, &services.iter().collect::<Vec<_>>()).unwrap()
}

fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

#[test]
fn exact_match_answers_the_rrset() {
    let z = zone(&[]);
    let a = z.lookup(&name("static.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Answer);
    assert_eq!(a.answers.len(), 1);
    assert!(matches!(a.answers[0].data, RData::A(_)));
}

#[test]
fn missing_type_is_nodata_with_negative_soa_ttl() {
    let z = zone(&[]);
    let a = z.lookup(&name("static.example."), RecordType::MX);
    assert_eq!(a.outcome, Outcome::NoData);
    assert_eq!(a.authority.len(), 1);
    // min(SOA TTL 300, minimum 60)
    assert_eq!(a.authority[0].ttl, 60);
}

#[test]
fn missing_name_is_nxdomain() {
    let z = zone(&[]);
    let a = z.lookup(&name("nope.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::NxDomain);
    assert_eq!(a.authority[0].record_type(), RecordType::SOA);
}

#[test]
fn empty_non_terminal_is_nodata_not_nxdomain() {
    let z = zone(&[]);
    let a = z.lookup(&name("b.deep.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::NoData);
}

#[test]
fn cname_is_chased_inside_the_zone() {
    let z = zone(&[]);
    let a = z.lookup(&name("alias.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Answer);
    let types: Vec<_> = a.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, vec![RecordType::CNAME, RecordType::A]);
}

#[test]
fn cname_out_of_zone_stops_at_the_cname() {
    let z = zone(&[]);
    let a = z.lookup(&name("outside.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Answer);
    assert_eq!(a.answers.len(), 1);
}

#[test]
fn cname_to_missing_name_is_nxdomain_with_the_chain() {
    let z = zone(&[]);
    let a = z.lookup(&name("dangling.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::NxDomain);
    assert_eq!(a.answers.len(), 1);
}

#[test]
fn cname_loop_ends() {
    let z = zone(&[]);
    let a = z.lookup(&name("loop1.example."), RecordType::A);
    assert!(a.answers.len() <= MAX_CNAME_CHAIN + 1);
}

#[test]
fn rfc4592_wildcard_synthesises_with_the_query_name() {
    let z = zone(&[]);
    let a = z.lookup(&name("host.wild.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Answer);
    assert_eq!(a.answers[0].name, name("host.wild.example."));
    // Not below a name that exists: x.y.wild has closest encloser wild, so it matches too.
    let b = z.lookup(&name("x.y.wild.example."), RecordType::A);
    assert_eq!(b.outcome, Outcome::Answer);
    // The wildcard does not match the name that owns it's parent.
    let c = z.lookup(&name("wild.example."), RecordType::A);
    assert_eq!(c.outcome, Outcome::NoData);
}

#[test]
fn referral_below_the_apex_carries_ns_and_glue() {
    let z = zone(&[]);
    let a = z.lookup(&name("www.sub.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Referral);
    assert_eq!(a.authority.len(), 2);
    assert_eq!(a.additional.len(), 1);
}

#[test]
fn ds_at_the_cut_is_answered_by_the_parent() {
    let z = zone(&[]);
    let a = z.lookup(&name("sub.example."), RecordType::DS);
    assert_eq!(a.outcome, Outcome::NoData);
}

#[test]
fn any_gets_one_rrset() {
    let z = zone(&[]);
    let a = z.lookup(&name("static.example."), RecordType::ANY);
    assert_eq!(a.outcome, Outcome::Answer);
    assert_eq!(a.answers.len(), 1);
}

#[test]
fn mx_answer_adds_in_zone_addresses() {
    let z = zone(&[]);
    let a = z.lookup(&name("mail.example."), RecordType::MX);
    assert_eq!(a.additional.len(), 2);
}

#[test]
fn service_names_exist_and_are_not_shadowed() {
    let z = zone(&["www.example.", "x.wild.example."]);
    let a = z.lookup(&name("www.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Service(0));
    let b = z.lookup(&name("x.wild.example."), RecordType::A);
    assert_eq!(b.outcome, Outcome::Service(1));
}

#[test]
fn service_clashing_with_static_records_is_an_error() {
    let origin = name("example.");
    let records = parse_zone_text(ZONE, Path::new("example.zone"), &origin).unwrap();
    let err = ZoneData::build(origin, records, &[&name("static.example.")]).unwrap_err();
    assert!(err[0].message.contains("both static records"), "{err:?}");
    assert_eq!(err[0].service, Some(0));
}

#[test]
fn zone_without_soa_is_an_error() {
    let origin = name("example.");
    let text = "$ORIGIN example.\n@ 300 IN NS ns1\nns1 300 IN A 192.0.2.1\n";
    let records = parse_zone_text(text, Path::new("x.zone"), &origin).unwrap();
    let err = ZoneData::build(origin, records, &[]).unwrap_err();
    assert!(err.iter().any(|e| e.message.contains("no SOA")), "{err:?}");
}

#[test]
fn parse_error_names_the_line() {
    let origin = name("example.");
    let text = "$ORIGIN example.\n$TTL 60\n@ IN SOA ns1 host ( 1 2 3 4 5 )\n@ IN NS ns1\nns1 IN A 192.0.2.300\nok IN A 192.0.2.1\n";
    let err = parse_zone_text(text, Path::new("bad.zone"), &origin).unwrap_err();
    assert_eq!((err.line, err.column), (Some(5), Some(10)), "{err}");
    assert!(err.to_string().starts_with("bad.zone:5:10: "), "{err}");
}

#[test]
fn out_of_zone_record_is_an_error() {
    let origin = name("example.");
    let text = "$TTL 60\n@ IN SOA ns1 host 1 2 3 4 5\n@ IN NS ns1\nwww.other. IN A 192.0.2.1\n";
    let records = parse_zone_text(text, Path::new("x.zone"), &origin).unwrap();
    let err = ZoneData::build(origin, records, &[]).unwrap_err();
    assert!(
        err.iter().any(|e| e.message.contains("outside the zone")),
        "{err:?}"
    );
}

const ALIASES: &str = r#"
$ORIGIN example.
$TTL 300
@        IN SOA ns1 hostmaster 1 3600 600 86400 60
@        IN NS  ns1
ns1      IN A   192.0.2.53
www      IN A   192.0.2.1
old      IN DNAME new
old      IN A   192.0.2.10
old2     600 IN DNAME new
new      IN A   192.0.2.11
www.new  IN A   192.0.2.12
far      IN DNAME example.net.
long     IN DNAME aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.
toref    IN CNAME host.sub
sub      IN NS  ns.sub
ns.sub   IN A   192.0.2.54
alias    IN CNAME www
unk      IN TYPE65432 \# 4 0a000001
"#;

fn aliases() -> ZoneData {
    let origin = name("example.");
    let records = parse_zone_text(ALIASES, Path::new("aliases.zone"), &origin).unwrap();
    ZoneData::build(origin, records, &[]).unwrap()
}

fn shown(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.record_type()))
        .collect()
}

#[test]
fn rfc6672_dname_synthesizes_a_cname_with_the_dname_ttl() {
    let z = aliases();
    let a = z.lookup(&name("www.old2.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::Answer);
    assert_eq!(
        shown(&a.answers),
        [
            "old2.example. 600 DNAME",
            "www.old2.example. 600 CNAME",
            "www.new.example. 300 A"
        ]
    );
    match &a.answers[1].data {
        RData::CNAME(c) => assert_eq!(c.0, name("www.new.example.")),
        other => panic!("{other:?}"),
    }
    // Asked for the CNAME: the synthesized one is the answer, not chased.
    let cname = z.lookup(&name("www.old2.example."), RecordType::CNAME);
    assert_eq!(
        shown(&cname.answers),
        ["old2.example. 600 DNAME", "www.old2.example. 600 CNAME"]
    );
    assert!(cname.authority.is_empty());
    // The owner itself is not redirected.
    let own = z.lookup(&name("old.example."), RecordType::A);
    assert_eq!(shown(&own.answers), ["old.example. 300 A"]);
    // Out of zone: the DNAME and the CNAME, for the resolver to follow.
    let far = z.lookup(&name("x.far.example."), RecordType::A);
    assert_eq!(far.answers.len(), 2);
    // Below the target but missing: NXDOMAIN after the substitution.
    let nx = z.lookup(&name("nothere.old.example."), RecordType::A);
    assert_eq!(nx.outcome, Outcome::NxDomain);
    assert_eq!(nx.answers.len(), 2);
}

#[test]
fn rfc6672_dname_substitution_too_long_is_yxdomain() {
    let z = aliases();
    let q = name(&format!(
        "{}.{}.long.example.",
        "b".repeat(63),
        "c".repeat(40)
    ));
    let a = z.lookup(&q, RecordType::A);
    assert_eq!(a.outcome, Outcome::YxDomain);
    assert_eq!(shown(&a.answers), ["long.example. 300 DNAME"]);
}

#[test]
fn rfc1034_cname_to_a_delegation_answers_cname_then_referral() {
    let z = aliases();
    let a = z.lookup(&name("toref.example."), RecordType::A);
    assert_eq!(a.outcome, Outcome::AnswerThenReferral);
    assert_eq!(shown(&a.answers), ["toref.example. 300 CNAME"]);
    assert_eq!(shown(&a.authority), ["sub.example. 300 NS"]);
    assert_eq!(shown(&a.additional), ["ns.sub.example. 300 A"]);
}

#[test]
fn any_and_rrsig_at_a_cname_owner_are_not_chased() {
    let z = aliases();
    let any = z.lookup(&name("alias.example."), RecordType::ANY);
    assert_eq!(shown(&any.answers), ["alias.example. 300 CNAME"]);
    let sig = z.lookup(&name("alias.example."), RecordType::RRSIG);
    assert_eq!(sig.outcome, Outcome::NoData);
    assert!(sig.answers.is_empty());
    let a = z.lookup(&name("alias.example."), RecordType::A);
    assert_eq!(a.answers.len(), 2);
}

#[test]
fn rfc3597_unknown_type_is_served_opaquely() {
    let z = aliases();
    let a = z.lookup(&name("unk.example."), RecordType::from(65432));
    assert_eq!(a.outcome, Outcome::Answer);
    match &a.answers[0].data {
        RData::Unknown { rdata, .. } => assert_eq!(rdata.anything, [10, 0, 0, 1]),
        other => panic!("{other:?}"),
    }
}
