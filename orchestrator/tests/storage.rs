//! The storage contract, held against SQLite and against the PostgreSQL server the test
//! command starts: migrations, the queue, conditional moves, event deduplication,
//! trigger keys, API keys, and that everything is there after the database is opened
//! again.

use std::collections::BTreeMap;

use aqueducts_orchestrator::db::keys::{self, Role};
use aqueducts_orchestrator::db::runs::{self, NewRun, RunState, Work};
use aqueducts_orchestrator::db::{Backend, Db};

fn new_run(trigger_key: Option<&str>) -> NewRun {
    NewRun {
        pipeline: Some(("daily".into(), 1)),
        trigger_kind: "api".into(),
        trigger_key: trigger_key.map(str::to_string),
        work: Work::Spec { text: "stages: []".into(), format: "yaml".into(), name: "daily.yml".into() },
        params: BTreeMap::from([("day".into(), "2026-12-07".into())]),
        labels: BTreeMap::from([("pool".into(), "eu".into())]),
        retries: 2,
    }
}

async fn storage_contract(url: &str, backend: Backend) {
    let db = aqueducts_orchestrator::db::open(url).await.unwrap();
    assert_eq!(db.backend, backend);

    // The queue is first in, first out; the stored run is what was queued.
    let first = runs::insert(&db, &new_run(None), None).await.unwrap().unwrap();
    let artifact = NewRun { work: Work::Artifact(vec![0, 1, 2, 255]), pipeline: None, ..new_run(None) };
    let second = runs::insert(&db, &artifact, None).await.unwrap().unwrap();
    assert_eq!(first.state, RunState::Queued);
    assert_eq!(first.params["day"], "2026-12-07");
    assert_eq!(first.labels["pool"], "eu");
    assert_eq!(first.retries, 2);
    assert_eq!(first.attempt, 0);
    assert_eq!(second.work, Work::Artifact(vec![0, 1, 2, 255]));
    assert_eq!(runs::artifact(&db, &second.id).await.unwrap(), Some(vec![0, 1, 2, 255]));
    assert_eq!(runs::artifact(&db, &first.id).await.unwrap(), None);
    assert_eq!(second.pipeline, None);
    let queued: Vec<String> = runs::queued(&db, 0, 10).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(queued, [first.id.clone(), second.id.clone()]);
    // Lists leave the artifact's bytes in the database.
    let light = runs::queued(&db, first.seq, 10).await.unwrap();
    assert_eq!(
        light.iter().map(|r| (r.id.clone(), r.work.clone())).collect::<Vec<_>>(),
        [(second.id.clone(), Work::Artifact(Vec::new()))]
    );

    // One trigger key queues one run.
    assert!(runs::insert(&db, &new_run(Some("schedule:1@1000")), None).await.unwrap().is_some());
    assert!(runs::insert(&db, &new_run(Some("schedule:1@1000")), None).await.unwrap().is_none());
    assert!(runs::insert(&db, &new_run(Some("schedule:1@2000")), None).await.unwrap().is_some());

    // Moves happen only from the state they were seen in.
    assert_eq!(runs::assign(&db, &first.id, "exec-a").await.unwrap(), Some(1));
    assert_eq!(runs::assign(&db, &first.id, "exec-b").await.unwrap(), None, "assigned twice");
    assert!(runs::transition(&db, &first.id, 1, RunState::Assigned, RunState::Running, None).await.unwrap());
    assert!(!runs::transition(&db, &first.id, 1, RunState::Assigned, RunState::Running, None).await.unwrap());
    let running = runs::get(&db, &first.id).await.unwrap().unwrap();
    assert_eq!(
        (running.state, running.attempt, running.executor_id.as_deref()),
        (RunState::Running, 1, Some("exec-a"))
    );
    assert!(running.started_ms.is_some() && running.ended_ms.is_none());

    // A lost attempt goes back to the queue, behind nothing it was ahead of.
    assert!(runs::requeue(&db, &first.id, 1, RunState::Running, 0).await.unwrap());
    assert_eq!(runs::assign(&db, &first.id, "exec-b").await.unwrap(), Some(2));
    // A late report of the first attempt moves nothing.
    assert!(!runs::transition(&db, &first.id, 1, RunState::Assigned, RunState::Failed, Some("{}")).await.unwrap());
    assert!(runs::transition(&db, &first.id, 2, RunState::Assigned, RunState::Running, None).await.unwrap());
    let outcome = r#"{"status":"succeeded"}"#;
    assert!(runs::transition(&db, &first.id, 2, RunState::Running, RunState::Succeeded, Some(outcome)).await.unwrap());
    let done = runs::get(&db, &first.id).await.unwrap().unwrap();
    assert_eq!((done.state, done.attempt), (RunState::Succeeded, 2));
    assert_eq!(done.outcome.as_deref(), Some(outcome));
    assert!(done.ended_ms.is_some());
    let attempts: Vec<_> = runs::attempts(&db, &first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.attempt, a.executor_id, a.state, a.ended_ms.is_some()))
        .collect();
    assert_eq!(
        attempts,
        [(1, "exec-a".to_string(), RunState::Lost, true), (2, "exec-b".to_string(), RunState::Succeeded, true)]
    );
    assert_eq!(runs::attempt_executor(&db, &first.id, 2).await.unwrap().as_deref(), Some("exec-b"));

    // An executor that was busy gives the run back as if it had not been tried.
    assert_eq!(runs::assign(&db, &second.id, "exec-a").await.unwrap(), Some(1));
    assert!(runs::unassign(&db, &second.id, 1).await.unwrap());
    let back = runs::get(&db, &second.id).await.unwrap().unwrap();
    assert_eq!((back.state, back.attempt, back.executor_id), (RunState::Queued, 0, None));
    assert!(runs::attempts(&db, &second.id).await.unwrap().is_empty());
    assert_eq!(runs::queue_position(&db, back.seq).await.unwrap(), 1);
    assert!(runs::request_cancel(&db, &second.id).await.unwrap());
    assert!(runs::get(&db, &second.id).await.unwrap().unwrap().cancel_requested);
    assert!(!runs::request_cancel(&db, &first.id).await.unwrap(), "a final run cannot be cancelled");

    // Events: an executor's report sent twice is stored once; orchestrator events have
    // no source number and are all kept.
    let e1 = runs::append_event(&db, &first.id, 2, Some(1), r#"{"kind":"started"}"#).await.unwrap();
    let again = runs::append_event(&db, &first.id, 2, Some(1), r#"{"kind":"started"}"#).await.unwrap();
    let other_attempt = runs::append_event(&db, &first.id, 1, Some(1), r#"{"kind":"started"}"#).await.unwrap();
    let note1 = runs::append_event(&db, &first.id, 2, None, r#"{"kind":"note"}"#).await.unwrap();
    let note2 = runs::append_event(&db, &first.id, 2, None, r#"{"kind":"note"}"#).await.unwrap();
    assert!(e1.is_some() && other_attempt.is_some() && note1.is_some() && note2.is_some());
    assert_eq!(again, None);
    let all = runs::events(&db, &first.id, None, 100).await.unwrap();
    assert_eq!(all.len(), 4);
    let after_first = runs::events(&db, &first.id, e1, 100).await.unwrap();
    assert_eq!(after_first.len(), 3);
    assert_eq!(after_first[0].attempt, 1);

    // Listing: newest first, by state and pipeline, paged by `seq`.
    let succeeded = runs::list(&db, Some(RunState::Succeeded), None, None, 10).await.unwrap();
    assert_eq!(succeeded.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), [first.id.as_str()]);
    let daily = runs::list(&db, None, Some("daily"), None, 10).await.unwrap();
    assert_eq!(daily.len(), 3);
    let page = runs::list(&db, None, None, Some(daily[0].seq), 10).await.unwrap();
    assert_eq!(page.len(), 3, "{page:?}");
    let counts = runs::counts(&db).await.unwrap();
    assert_eq!((counts["queued"], counts["succeeded"]), (3, 1));

    // Keys: the key is returned once, only its digest is stored.
    let key = keys::create(&db, "ci-viewer", Role::Viewer).await.unwrap();
    assert!(key.starts_with("aq_viewer_") && key.len() == "aq_viewer_".len() + 64);
    assert_eq!(keys::lookup(&db, &key).await.unwrap(), Some(("ci-viewer".into(), Role::Viewer)));
    assert_eq!(keys::lookup(&db, "aq_viewer_guess").await.unwrap(), None);
    assert!(keys::create(&db, "ci-viewer", Role::Operator).await.is_err(), "names are unique");
    drop(db);

    // Opened again (migrations run again and change nothing): everything is there.
    let db = aqueducts_orchestrator::db::open(url).await.unwrap();
    assert_eq!(runs::get(&db, &first.id).await.unwrap().unwrap().state, RunState::Succeeded);
    assert_eq!(runs::queued(&db, 0, 10).await.unwrap().len(), 3);
    assert!(keys::revoke(&db, "ci-viewer").await.unwrap());
    assert_eq!(keys::lookup(&db, &key).await.unwrap(), None);
    assert!(!keys::revoke(&db, "ci-viewer").await.unwrap());
    let listed = keys::list(&db).await.unwrap();
    assert_eq!((listed.len(), listed[0].revoked), (1, true));
}

#[tokio::test]
async fn sqlite_keeps_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract(&Db::sqlite_url(dir.path()), Backend::Sqlite).await;
}

/// A variable the test command sets when it starts PostgreSQL.
fn service_var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests with scripts/test.sh, which starts PostgreSQL"))
}

#[tokio::test]
async fn postgres_keeps_the_storage_contract() {
    let (port, password) = (service_var("AQUEDUCTS_TEST_PG_PORT"), service_var("AQUEDUCTS_TEST_PG_PASSWORD"));
    let server = format!("postgres://aqueducts:{password}@127.0.0.1:{port}");
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&format!("{server}/postgres")).await.unwrap();
    let database = format!("orchestrator_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {database}")).execute(&admin).await.unwrap();
    storage_contract(&format!("{server}/{database}"), Backend::Postgres).await;
    sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)")).execute(&admin).await.unwrap();
}
