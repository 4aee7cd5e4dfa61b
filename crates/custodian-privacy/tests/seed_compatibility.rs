//! The split rule matches the analytics seed's Python function on every id
//! of a fixture that function produced (tests/fixtures/gen_seed_splits.py).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_privacy::splits::{Split, SplitConfig};

#[test]
fn every_fixture_id_gets_the_split_the_python_seed_gave_it() {
    let fixture = include_str!("fixtures/seed_splits.tsv");
    let cfg = SplitConfig::default();
    let mut checked = 0;
    for line in fixture.lines() {
        let (id, want) = line.rsplit_once('\t').unwrap();
        let want: Split = want.parse().unwrap();
        assert_eq!(cfg.assign(id), want, "id {id:?}");
        checked += 1;
    }
    assert_eq!(checked, 2508);
}
