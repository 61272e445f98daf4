//! Tests across phases: the documented examples, and property tests.

use super::testenv::doc_env;
use super::*;

#[test]
fn placeholder_public_api_round_trip() {
    let e = parse("resp_age >= 18 and sex == 2", 0).expect("parses");
    assert_eq!(check(&e, &doc_env()), Ok(Type::Bool));
    assert_eq!(eval(&e, &doc_env()), Value::Bool(true));
}
