//! The close benchmark's customers and their month: the catalog, each customer registered,
//! subscribed and with its work done straight through the store and the domain, and their
//! usage ingested.

use anyhow::{Context, bail};
use kopek_aws::dynamo::Store;
use kopek_aws::dynamo::orders::StoredLine;
use kopek_aws::dynamo::work::{StoredBatch, TakeOutcome};
use kopek_domain::calendar::Calendar;
use kopek_domain::catalog::{LocalizedText, Service, ServiceCode, ServiceKind, UnitOfMeasure};
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::orders::OrderLine;
use kopek_domain::pricing::{Price, PriceModel};
use kopek_domain::usage::{RawQuantity, RawUsageEvent};
use rust_decimal::Decimal;

use super::super::usage::{MESSAGES_PER_BATCH, usage_messages};
use super::super::{err, rouble_service};
use super::{
    CLOSE_EVENTS_PER_METER, CLOSE_INSTALL, CLOSE_LINK, CLOSE_METERS, CLOSE_WORK_ORDERS,
    CLOSE_WORK_TYPE,
};

/// The close's catalog, created straight into the store and dated `at` (before the period).
pub(super) struct CloseCatalog {
    link: Service,
    install: (Service, Vec<kopek_domain::catalog::PriceVersion>),
    pub(super) meters: Vec<ServiceCode>,
}

pub(super) async fn close_catalog(
    store: &Store,
    at: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<CloseCatalog> {
    let d = Decimal::new;
    let rub = |model| Price::new(Currency::RUB, model, None, None).map_err(err);
    let services = [
        (
            CLOSE_LINK,
            ServiceKind::Recurring,
            UnitOfMeasure::Month,
            rub(PriceModel::PerUnit {
                unit_price: d(150_000, 2),
            })?,
        ),
        (
            CLOSE_INSTALL,
            ServiceKind::OneOff,
            UnitOfMeasure::Piece,
            rub(PriceModel::PerUnit {
                unit_price: d(350_000, 2),
            })?,
        ),
        (
            CLOSE_METERS[0].0,
            ServiceKind::Metered,
            CLOSE_METERS[0].1,
            rub(PriceModel::Graduated {
                tiers: vec![
                    kopek_domain::pricing::Tier::bounded(d(100, 0), d(150, 2)),
                    kopek_domain::pricing::Tier::bounded(d(1_000, 0), d(100, 2)),
                    kopek_domain::pricing::Tier::unbounded(d(50, 2)),
                ],
            })?,
        ),
        (
            CLOSE_METERS[1].0,
            ServiceKind::Metered,
            CLOSE_METERS[1].1,
            rub(PriceModel::Volume {
                tiers: vec![
                    kopek_domain::pricing::Tier::bounded(d(1_000, 0), d(250, 2)),
                    kopek_domain::pricing::Tier::unbounded(d(200, 2)),
                ],
            })?,
        ),
    ];
    let mut created = Vec::new();
    for (code, kind, unit, price) in services {
        let name =
            LocalizedText::new("Услуга для закрытия", "Close benchmark service").map_err(err)?;
        let work_type = (kind == ServiceKind::OneOff)
            .then(|| CLOSE_WORK_TYPE.parse())
            .transpose()
            .map_err(err)?;
        let command = rouble_service(code, name, kind, unit, work_type, price)?;
        let (service, first) = Service::create(command, at).map_err(err)?;
        store.create_service(&service, &first).await?;
        created.push((service, first));
    }
    let mut created = created.into_iter();
    let (link, _) = created.next().context("the recurring service")?;
    let (install, version) = created.next().context("the one-off service")?;
    Ok(CloseCatalog {
        link,
        install: (install, vec![version]),
        meters: created.map(|(s, _)| s.code().clone()).collect(),
    })
}

/// When each part of the customers' month happens (all in the period closed).
#[derive(Clone, Copy)]
pub(super) struct CloseDates {
    /// The customers register and subscribe: the period's first day, 08:00.
    pub(super) opened: chrono::DateTime<chrono::Utc>,
    /// Orders are placed, worked and completed, and usage ingested: the demo's history
    /// instant (the 10th, 09:00).
    pub(super) history: chrono::DateTime<chrono::Utc>,
    /// The provider's calendar those times are in.
    pub(super) calendar: Calendar,
}

/// One customer registered straight into the store (the owner's password hash computed
/// once for all: Argon2id is not what is measured), subscribed to `CLOSE_LINK` from the
/// period's first day with its quantity going from 2 to 3 on the 16th, and with one order of
/// `CLOSE_WORK_ORDERS` work orders taken, started and completed (all done) through the same
/// domain functions and store calls as `/v1/work/batches/…`.
pub(super) async fn close_customer_setup(
    store: &Store,
    template: &kopek_domain::accounts::NewAccount,
    catalog: &CloseCatalog,
    dates: CloseDates,
    i: usize,
) -> anyhow::Result<OrgId> {
    use kopek_domain::accounts::{Email, LegalName, Role, User, UserStatus};
    use kopek_domain::charges::{DomainEvent, EventKind};
    use kopek_domain::orders::{LineRequest, Orderer, UserOrKey, plan_order};
    use kopek_domain::pricing::Quantity;
    use kopek_domain::subscriptions::{NewSubscription, Subscription};
    use kopek_domain::work::{Batch, Outcome, plan_completion};

    // The customer and its owner.
    let org = OrgId::new();
    let mut organisation = template.organisation.clone();
    organisation.id = org;
    organisation.created_at = dates.opened;
    organisation.legal_name = LegalName::parse(&format!("ООО «Абонент {i:06}»")).map_err(err)?;
    let account = kopek_domain::accounts::NewAccount {
        organisation,
        owner: User::new(
            kopek_domain::ids::UserId::new(),
            Some(org),
            Email::parse(&format!("owner-{i:06}@close.example.ru")).map_err(err)?,
            template.owner.name().clone(),
            Role::Customer,
            UserStatus::Active,
            dates.opened,
        )
        .map_err(err)?,
        password_hash: template.password_hash.clone(),
    };
    crate::bench::store_registration(store, &account).await?;
    let owner_id = account.owner.id();
    let owner = || UserOrKey::User(owner_id);

    // The subscription, with its change of quantity (one write: setup, not measured).
    let first_day = dates.calendar.period_of(dates.opened).first_day();
    let quantity = |n: i64| Quantity::new(Decimal::from(n)).map_err(err);
    let mut subscription = Subscription::start(
        kopek_domain::ids::SubscriptionId::new(),
        NewSubscription {
            org,
            service: &catalog.link,
            price_version: 1,
            quantity: quantity(2)?,
            from: first_day,
        },
        first_day,
        dates.opened,
    )
    .map_err(err)?;
    subscription
        .change_quantity(quantity(3)?, first_day + chrono::Days::new(15), first_day)
        .map_err(err)?;
    let started = DomainEvent::new(
        org,
        owner(),
        dates.opened,
        EventKind::SubscriptionStarted {
            subscription: subscription.id(),
            service: catalog.link.code().clone(),
            quantity: quantity(2)?,
            from: first_day,
        },
    );
    store.create_subscription(&subscription, &started).await?;

    // One order, taken as one batch, started and completed: the charges.
    let (install, versions) = &catalog.install;
    let requests: Vec<LineRequest> = (0..CLOSE_WORK_ORDERS)
        .map(|n| LineRequest {
            service: install.code().clone(),
            quantity: Decimal::from(n % 2 + 1),
            requested_date: None,
            note: None,
            address: format!("Москва, ул. Тверская, {}, офис {n}", i % 200 + 1),
            area: Some("moscow-centre".into()),
            contact: None,
        })
        .collect();
    let placed = plan_order(
        Orderer {
            org,
            currency: Currency::RUB,
            active: true,
        },
        owner(),
        None,
        &requests,
        |code| (code == install.code()).then_some((install, versions.as_slice())),
        dates.history,
        dates.calendar,
    )
    .map_err(err)?;
    let event = DomainEvent::new(
        org,
        owner(),
        dates.history,
        EventKind::OrderPlaced {
            order: placed.order.id,
            lines: placed.order.line_count,
            expected_total: placed.order.expected_total,
        },
    );
    store.place_order(&placed, &event).await?;

    let engineer = kopek_domain::ids::UserId::new();
    let timeout = chrono::TimeDelta::hours(8);
    let work_type: kopek_domain::catalog::WorkType = CLOSE_WORK_TYPE.parse().map_err(err)?;
    let mut lines = placed.lines;
    let taken_at = dates.history + chrono::TimeDelta::minutes(5);
    let batch = Batch::take(engineer, work_type, &mut lines, taken_at, timeout);
    match store.take_batch(&batch, &at_rev(&lines, 1)).await? {
        TakeOutcome::Taken => {}
        TakeOutcome::Lost(_) => bail!("customer {i}: its work orders were taken meanwhile"),
    }
    let stored_batch = StoredBatch { batch, rev: 1 };

    let started_at = dates.history + chrono::TimeDelta::hours(1);
    let mut next = stored_batch.batch.clone();
    next.start(engineer, &mut lines, started_at, timeout)
        .map_err(err)?;
    let rev = store
        .save_batch_work(&stored_batch, &next, &at_rev(&lines, 2), &[], &[])
        .await?;
    let stored_batch = StoredBatch { batch: next, rev };

    let completed_at = dates.history + chrono::TimeDelta::hours(3);
    let outcomes: Vec<Outcome> = lines
        .iter()
        .map(|line| Outcome::Done {
            work_order: line.work_order,
            actual_quantity: line.quantity.value(),
        })
        .collect();
    let (next, completions) = plan_completion(
        &stored_batch.batch,
        engineer,
        &outcomes,
        &lines,
        completed_at,
        dates.calendar,
        timeout,
    )
    .map_err(err)?;
    let completions: Vec<(u64, _)> = completions.into_iter().map(|c| (3, c)).collect();
    store
        .save_batch_work(&stored_batch, &next, &[], &completions, &[])
        .await?;
    Ok(org)
}

/// `lines` as the store holds them at revision `rev`.
fn at_rev(lines: &[OrderLine], rev: u64) -> Vec<StoredLine> {
    lines
        .iter()
        .map(|line| StoredLine {
            line: line.clone(),
            rev,
        })
        .collect()
}

/// Every customer's usage events of the period, `CLOSE_EVENTS_PER_METER` per meter on the
/// days before `dates.history`, ingested as SQS-shaped batches (10 messages × 100 events)
/// by the same `Ingestor::ingest` the `usage-ingest` function runs, received at
/// `dates.history`.
pub(super) async fn close_usage(
    ingestor: &kopek_services::usage::ingest::Ingestor,
    customers: &[OrgId],
    meters: &[ServiceCode],
    dates: CloseDates,
) -> anyhow::Result<u64> {
    let first_day = dates.calendar.period_of(dates.history).first_day();
    let mut texts = Vec::with_capacity(customers.len() * meters.len() * CLOSE_EVENTS_PER_METER);
    for (c, org) in customers.iter().enumerate() {
        for (m, meter) in meters.iter().enumerate() {
            for e in 0..CLOSE_EVENTS_PER_METER {
                let quantity = if CLOSE_METERS[m].1.is_whole() {
                    Decimal::from((c + e) % 40 + 1)
                } else {
                    Decimal::new(((c * 7 + e * 13) % 10_000) as i64 + 1, 2)
                };
                let at = (first_day + chrono::Days::new((e % 9) as u64))
                    .and_hms_opt(12, (c % 60) as u32, 0)
                    .context("a valid time")?
                    .and_utc();
                let event = RawUsageEvent {
                    id: format!("close-{c:06}-{m}-{e}"),
                    customer: org.to_string(),
                    meter: meter.to_string(),
                    quantity: RawQuantity::exact(quantity),
                    timestamp: at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    properties: [("region".to_owned(), "msk-1".to_owned())].into(),
                };
                texts.push(serde_json::to_string(&event)?);
            }
        }
    }
    let messages = usage_messages(&texts)?;
    let mut counted = 0;
    for batch in messages.chunks(MESSAGES_PER_BATCH) {
        let report = ingestor.ingest(batch, dates.history).await;
        if !report.failed.is_empty() || report.rejected > 0 {
            bail!("the usage was not ingested cleanly: {report:?}");
        }
        counted += report.counted;
    }
    Ok(counted)
}
