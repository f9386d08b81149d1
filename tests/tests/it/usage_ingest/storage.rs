//! A message fails (and is retried) only when storage fails, alone in its batch; one that keeps
//! failing ends in the dead-letter queue.

use super::{FailOne, Party, Rig, Sample, TRAFFIC, closed_port, current, messages, report, rig};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{TimeDelta, Utc};
use kopek_aws::dynamo::Store;
use kopek_domain::clock::SystemClock;
use kopek_domain::usage::MeterUsage;
use kopek_services::usage::ingest::Message;
use kopek_tests::unique;
use rust_decimal::Decimal;
use serde_json::{Value, json};

// --- 2. partial batch failure ---------------------------------------------------------------

/// Three messages of valid events (one an array of two) for `party`; their TRAFFIC total.
fn valid_messages(party: &[Party], tag: &str) -> (Vec<Message>, Decimal) {
    let at = Utc::now() - TimeDelta::minutes(10);
    let samples = [
        Sample::new(&format!("{tag}-1"), TRAFFIC, "1.125", at),
        Sample::new(&format!("{tag}-2"), TRAFFIC, "2.5", at),
        Sample::new(&format!("{tag}-3"), TRAFFIC, "40", at),
        Sample::new(&format!("{tag}-4"), TRAFFIC, "0.375", at),
    ];
    let total = samples.iter().map(|s| s.quantity).sum();
    let [a, b, c, d] = samples.map(|s| s.render(party, false));
    let bodies = [a.to_string(), json!([b, c]).to_string(), d.to_string()];
    (messages(bodies), total)
}

#[tokio::test]
async fn when_storage_fails_the_messages_are_retried_and_then_count_once() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let period = current();
    for (what, broken) in rig.broken_stores() {
        let tag = format!("evt-{}", unique());
        let (batch, total) = valid_messages(&party, &tag);
        let ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let before = rig.usage(party[0].org, TRAFFIC, period).await;

        let failed = rig.ingestor_on(broken).ingest(&batch, Utc::now()).await;
        assert_eq!(failed.failed, ids, "{what}: every message is retried");
        assert_eq!((failed.counted, failed.rejected), (0, 0), "{what}");
        assert_eq!(
            rig.usage(party[0].org, TRAFFIC, period).await,
            before,
            "{what}"
        );

        // SQS redelivers them; now the store answers.
        assert_eq!(rig.ingest(&batch).await, report(4, 0, 0, 0), "{what}");
        // A second redelivery (the delete was lost, say) counts nothing.
        assert_eq!(rig.ingest(&batch).await, report(0, 4, 0, 0), "{what}");
        let after = rig.usage(party[0].org, TRAFFIC, period).await;
        assert_eq!(after.total, before.total + total, "{what}");
        assert_eq!(after.events, before.events + 4, "{what}");
    }
    assert!(rig.rejected(period).await.is_empty());
}

#[tokio::test]
async fn a_message_whose_write_fails_is_the_only_one_retried_from_its_batch() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let period = current();
    let at = Utc::now() - TimeDelta::minutes(5);
    let unlucky = Sample::new("evt-unlucky", TRAFFIC, "7.5", at);
    let fine = [
        Sample::new("evt-fine-1", TRAFFIC, "1.25", at),
        Sample::new("evt-fine-2", TRAFFIC, "2", at),
        Sample::new("evt-fine-3", TRAFFIC, "0.5", at),
    ];
    let [f1, f2, f3] = fine.clone().map(|s| s.render(&party, false));
    let batch = messages([
        json!([f1, f2]).to_string(),
        unlucky.body(&party),
        f3.to_string(),
        "{not json".to_owned(),
    ]);
    // Only the write naming the unlucky event goes to a closed port.
    let fault = FailOne {
        marker: format!("E#{}", unlucky.id),
        closed: closed_port(),
    };
    let flaky = Store::new(rig.dynamo(None, Some(fault)), rig.store.table());
    let first = rig.ingestor_on(flaky).ingest(&batch, Utc::now()).await;
    assert_eq!(first.failed, [batch[1].id.clone()]);
    assert_eq!((first.counted, first.duplicates, first.rejected), (3, 0, 1));
    let fine_total: Decimal = fine.iter().map(|s| s.quantity).sum();
    let usage = rig.usage(party[0].org, TRAFFIC, period).await;
    assert_eq!((usage.total, usage.events), (fine_total, 3));

    // SQS redelivers the failed message alone.
    assert_eq!(rig.ingest(&batch[1..2]).await, report(1, 0, 0, 0));
    let usage = rig.usage(party[0].org, TRAFFIC, period).await;
    assert_eq!(
        (usage.total, usage.events),
        (fine_total + unlucky.quantity, 4)
    );
}

// --- 3. the dead-letter queue ---------------------------------------------------------------

async fn max_receive_count(rig: &Rig) -> u32 {
    let source = rig.queue("UsageQueue");
    let attributes = rig
        .sqs()
        .get_queue_attributes()
        .queue_url(source.url())
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("queue attributes");
    let policy: Value = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
        .map(|p| serde_json::from_str(p).expect("the redrive policy is JSON"))
        .expect("UsageQueue has a redrive policy");
    let dlq_arn = rig
        .app
        .provisioned
        .attribute("UsageDeadLetterQueue", "Arn")
        .expect("the DLQ's ARN");
    assert_eq!(policy["deadLetterTargetArn"], json!(dlq_arn));
    match &policy["maxReceiveCount"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u32::try_from(n).ok())
    .unwrap_or_else(|| panic!("no maxReceiveCount in {policy}"))
}

#[tokio::test]
async fn a_message_that_keeps_failing_lands_in_the_dead_letter_queue_after_max_receives() {
    let rig = rig().await;
    let party = [rig.party("Ромашка").await];
    let max_receives = max_receive_count(&rig).await;
    assert!(
        max_receives >= 2,
        "a redrive after {max_receives} receives retries nothing"
    );
    let event = Sample::new(
        "evt-doomed",
        TRAFFIC,
        "3.5",
        Utc::now() - TimeDelta::minutes(1),
    );
    let body = event.body(&party);
    rig.queue("UsageQueue")
        .send_events(std::slice::from_ref(&body))
        .await
        .expect("queued");
    let sent_body = format!("[{body}]");

    // The store is down: every receive fails the message, which is visible again at once.
    let [_, (_, down)] = rig.broken_stores();
    let mut poller = rig.poller(rig.ingestor_on(down));
    poller.visibility_secs = Some(0);
    let mut receives = 0;
    for _ in 0..max_receives + 3 {
        let poll = poller.poll_once(&SystemClock).await.expect("a poll");
        if poll.received == 0 {
            break;
        }
        receives += 1;
        assert_eq!((poll.received, poll.deleted), (1, 0), "receive {receives}");
        assert_eq!(poll.batch.failed.len(), 1, "receive {receives}");
    }
    assert_eq!(
        receives, max_receives,
        "received once per allowed receive, then moved"
    );

    let dead = rig
        .queue("UsageDeadLetterQueue")
        .receive(10, 1, None)
        .await
        .expect("the DLQ answers");
    let bodies: Vec<&str> = dead.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, [sent_body.as_str()]);
    assert_eq!(
        rig.queue("UsageQueue").depth().await.expect("depth"),
        (0, 0)
    );
    assert_eq!(
        rig.usage(party[0].org, TRAFFIC, current()).await,
        MeterUsage::default(),
        "nothing was counted"
    );
}
