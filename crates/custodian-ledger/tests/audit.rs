//! The audit chain on both backends: no forks under concurrency, every
//! tamper case named by verification, checkpoints, append-only triggers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step should fail the test loudly

use custodian_core::{Error, Store, migrate::Migrator, testing::TestDb};
use custodian_ledger::{
    audit::{self, Break, CheckpointError},
    testing::{
        append_audit as append, drop_audit_triggers as drop_triggers, sample_change as change,
    },
};
use sea_orm::{ConnectionTrait, EntityTrait};

async fn migrated(db: &TestDb) -> Store {
    Migrator::new(vec![custodian_ledger::migrations()])
        .unwrap()
        .up(&db.store)
        .await
        .unwrap();
    db.store.clone()
}

async fn verify(store: &Store, cp: Option<&audit::Checkpoint>) -> audit::Verification {
    audit::verify(store.conn(), cp, |_| {}).await.unwrap()
}

fn broken_at(v: &audit::Verification) -> (i64, Break) {
    let b = v.first_break.clone().expect("verification must fail");
    (b.seq, b.reason)
}

custodian_core::backend_tests! {
    eight_writers_of_five_hundred_make_one_unbroken_chain => concurrent_appends,
    an_edited_field_is_named_as_a_hash_mismatch => edited_field,
    a_deleted_row_is_named_as_a_gap => deleted_row,
    swapped_seqs_are_named => swapped_seq,
    a_truncated_tail_is_caught_by_the_checkpoint => truncated_tail,
    a_forged_head_is_caught_by_the_checkpoint => forged_head,
    checkpoints_verify_only_with_the_signing_key => checkpoint_signatures,
    the_database_refuses_update_and_delete_of_audit_entries => append_only,
    an_entry_rolls_back_with_its_write => rolls_back_together,
    an_empty_chain_verifies_and_cannot_be_checkpointed => empty_chain,
    a_row_slipped_in_below_seq_one_is_a_break => row_below_one,
    a_broken_chain_is_not_checkpointed => no_checkpoint_of_a_broken_chain,
    one_edited_entry_in_the_middle_of_a_long_chain_is_named_exactly => long_chain_tamper,
}

async fn long_chain_tamper(db: TestDb) {
    // More than one verification batch, written a few thousand per
    // transaction so the test stays quick.
    const N: usize = 12_000;
    let store = migrated(&db).await;
    for start in (0..N).step_by(3_000) {
        store
            .transaction(|tx| {
                Box::pin(async move {
                    for i in start..start + 3_000 {
                        audit::record(tx, &change(i)).await?;
                    }
                    Ok::<_, Error>(())
                })
            })
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let v = audit::verify(store.conn(), None, |n| seen.push(n))
        .await
        .unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.entries, v.head_seq), (N as u64, Some(N as i64)));
    assert!(
        seen.is_sorted() && seen.last() == Some(&(N as u64)),
        "{seen:?}"
    );

    drop_triggers(&store).await;
    let edit = "UPDATE audit_log SET entity_id = 'case-x' WHERE seq = 6001";
    store.conn().execute_unprepared(edit).await.unwrap();
    let v = verify(&store, None).await;
    assert_eq!(broken_at(&v), (6001, Break::HashMismatch));
    assert_eq!(v.entries, 6000);
    assert_eq!(v.head_seq, Some(6000));
}

async fn row_below_one(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 5).await;
    drop_triggers(&store).await;
    // A copy of entry 1 at seq 0 (its hash column must differ to be stored).
    store
        .conn()
        .execute_unprepared(
            "INSERT INTO audit_log (seq, at, actor, action, entity, entity_id, changed, \
             request_id, prev_hash, hash) SELECT 0, at, actor, action, entity, entity_id, \
             changed, request_id, prev_hash, 'x' || substr(hash, 2) FROM audit_log WHERE seq = 1",
        )
        .await
        .unwrap();
    let (seq, reason) = broken_at(&verify(&store, None).await);
    assert_eq!((seq, reason), (0, Break::Gap { expected: 1 }));
}

async fn no_checkpoint_of_a_broken_chain(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 5).await;
    drop_triggers(&store).await;
    store
        .conn()
        .execute_unprepared("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3")
        .await
        .unwrap();
    let (secret, _) = audit::generate_key().unwrap();
    match audit::checkpoint(store.conn(), &secret).await {
        Err(CheckpointError::Broken(b)) => assert_eq!(b.seq, 3),
        other => panic!("a broken chain was signed: {other:?}"),
    }
}

async fn concurrent_appends(db: TestDb) {
    let store = migrated(&db).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move { append(&store, 500).await }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Entries queued while the chain was busy are linked now.
    audit::link_pending(&store).await.unwrap();
    let v = verify(&store, None).await;
    assert!(v.ok(), "{v:?}");
    assert_eq!(v.entries, 4000);
    assert_eq!(v.head_seq, Some(4000));
}

async fn edited_field(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 20).await;
    drop_triggers(&store).await;
    store
        .conn()
        .execute_unprepared("UPDATE audit_log SET actor = 'mallory' WHERE seq = 7")
        .await
        .unwrap();
    assert_eq!(
        broken_at(&verify(&store, None).await),
        (7, Break::HashMismatch)
    );
}

async fn deleted_row(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 20).await;
    drop_triggers(&store).await;
    store
        .conn()
        .execute_unprepared("DELETE FROM audit_log WHERE seq = 12")
        .await
        .unwrap();
    assert_eq!(
        broken_at(&verify(&store, None).await),
        (12, Break::Gap { expected: 12 })
    );
}

async fn swapped_seq(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 20).await;
    drop_triggers(&store).await;
    for sql in [
        "UPDATE audit_log SET seq = -1 WHERE seq = 5",
        "UPDATE audit_log SET seq = 5 WHERE seq = 6",
        "UPDATE audit_log SET seq = 6 WHERE seq = -1",
    ] {
        store.conn().execute_unprepared(sql).await.unwrap();
    }
    let (seq, _) = broken_at(&verify(&store, None).await);
    assert_eq!(seq, 5);
}

async fn truncated_tail(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 20).await;
    let (secret, public) = audit::generate_key().unwrap();
    let cp = audit::checkpoint(store.conn(), &secret).await.unwrap();
    cp.verify_signature(&public).unwrap();
    assert_eq!(cp.seq, 20);
    drop_triggers(&store).await;
    store
        .conn()
        .execute_unprepared("DELETE FROM audit_log WHERE seq > 17")
        .await
        .unwrap();
    assert!(
        verify(&store, None).await.ok(),
        "without a checkpoint a clean cut is invisible"
    );
    assert_eq!(
        broken_at(&verify(&store, Some(&cp)).await),
        (
            20,
            Break::Truncated {
                checkpoint_seq: 20,
                last_seq: 17
            }
        )
    );
}

async fn forged_head(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 10).await;
    let (secret, _) = audit::generate_key().unwrap();
    let cp = audit::checkpoint(store.conn(), &secret).await.unwrap();
    drop_triggers(&store).await;
    // Rewrite the head and re-hash it so the chain is self-consistent.
    let mut head = audit::entity::Entity::find_by_id(10)
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    head.actor = "mallory".into();
    let forged = audit::entry_hash(&head.prev_hash, &head);
    store
        .conn()
        .execute_unprepared(&format!(
            "UPDATE audit_log SET actor = 'mallory', hash = '{forged}' WHERE seq = 10"
        ))
        .await
        .unwrap();
    assert!(
        verify(&store, None).await.ok(),
        "a re-hashed head is consistent on its own"
    );
    assert_eq!(
        broken_at(&verify(&store, Some(&cp)).await),
        (10, Break::CheckpointMismatch)
    );
}

async fn checkpoint_signatures(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 3).await;
    let (secret, public) = audit::generate_key().unwrap();
    let (_, other_public) = audit::generate_key().unwrap();
    let cp = audit::checkpoint(store.conn(), &secret).await.unwrap();
    assert!(cp.verify_signature(&public).is_ok());
    assert!(matches!(
        cp.verify_signature(&other_public),
        Err(CheckpointError::BadSignature)
    ));
    let mut moved = cp.clone();
    moved.seq = 2;
    assert!(matches!(
        moved.verify_signature(&public),
        Err(CheckpointError::BadSignature)
    ));
    assert!(matches!(
        audit::checkpoint(store.conn(), "zz").await,
        Err(CheckpointError::BadKey(_))
    ));
    append(&store, 2).await;
    assert!(
        verify(&store, Some(&cp)).await.ok(),
        "appending after a checkpoint is normal"
    );
}

async fn append_only(db: TestDb) {
    let store = migrated(&db).await;
    append(&store, 2).await;
    for sql in [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log WHERE seq = 1",
    ] {
        let err = store
            .conn()
            .execute_unprepared(sql)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    assert!(verify(&store, None).await.ok());
}

async fn rolls_back_together(db: TestDb) {
    let store = migrated(&db).await;
    let result = store
        .transaction(|tx| {
            Box::pin(async move {
                audit::record(tx, &change(1)).await?;
                Err::<(), _>(Error::Conflict("the write failed".into()))
            })
        })
        .await;
    assert!(result.is_err());
    assert_eq!(audit::count(store.conn()).await.unwrap(), 0);
}

async fn empty_chain(db: TestDb) {
    let store = migrated(&db).await;
    let v = verify(&store, None).await;
    assert!(v.ok());
    assert_eq!((v.entries, v.head_seq), (0, None));
    let (secret, _) = audit::generate_key().unwrap();
    assert!(matches!(
        audit::checkpoint(store.conn(), &secret).await,
        Err(CheckpointError::Empty)
    ));
}

#[test]
fn the_first_entry_links_to_thirty_two_zero_bytes() {
    assert_eq!(audit::GENESIS.len(), 64);
    assert!(audit::GENESIS.bytes().all(|b| b == b'0'));
}
