//! A crash between filing a document's PDF and recording it, or after recording it but
//! before the job heard so, is re-run safely: the job is redelivered, renders the same bytes,
//! finds them filed (no second version in the versioned bucket) or finds the record, and
//! every document ends filed once.

use std::sync::Arc;

use kopek_aws::faults::Faults;

use super::{closed_month, object_versions};

#[tokio::test]
async fn a_crash_around_recording_a_document_is_rerun_without_writing_anything_twice() {
    // The store writes of the jobs: each document's record (one conditional put each).
    for (n, after) in [
        (1, false),
        (1, true),
        (2, false),
        (2, true),
        (3, false),
        (4, true),
        // The UPD's XML and its printable form.
        (3, true),
        (4, false),
    ] {
        let (w, a, b) = closed_month(true).await;
        let services = w.app.state.services.clone();
        services.outbox().relay(10).await.expect("relayed");
        let faults: Arc<Faults> = Faults::new();
        let faulty = services
            .clone()
            .with_store(w.store().clone().with_faults(faults.clone()));
        if after {
            faults.fail_after_write(n);
        } else {
            faults.fail_write(n);
        }
        let queue = services
            .documents_queue()
            .cloned()
            .expect("the documents queue");
        let made = kopek_events::documents::drain(&faulty.documents(), &queue, 1, Some(10))
            .await
            .expect("drained");
        assert_eq!(
            made.failed, 1,
            "write {n} (after: {after}) failed once: {made:?}"
        );
        let versions = object_versions(&w.app).await;
        assert_eq!(
            versions.len(),
            8,
            "write {n} (after: {after}): {versions:?}"
        );
        for party in [&a, &b] {
            let filed = w
                .store()
                .documents_of(party.org, w.period)
                .await
                .expect("read");
            assert_eq!(filed.len(), 4, "write {n} (after: {after})");
            for d in filed {
                assert!(
                    versions
                        .iter()
                        .any(|v| v.starts_with(&format!("{}@", d.document.file.key))),
                    "{} has its object",
                    d.document.file.key
                );
            }
        }
    }
}
