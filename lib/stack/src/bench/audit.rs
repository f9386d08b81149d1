//! `cargo xtask bench audit [--runs N]` (default 20): what the audit record adds to a
//! business operation. Each operation runs N times as a bare service call, then N times the
//! same way inside an audit scope as the HTTP middleware opens one — the only difference
//! being the record. Per operation: DynamoDB requests and write units (the store's
//! counters), this process's CPU time (one thread; the emulator is another process), and the
//! size of the records written (read back with a plain `Scan`).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use kopek_domain::accounts::{Principal, Role, Scope};
use kopek_domain::audit::{Actor, Context as Action};
use kopek_domain::catalog::{LocalizedText, ServiceKind, UnitOfMeasure};
use kopek_domain::ids::OrgId;
use kopek_domain::money::Currency;
use kopek_domain::pricing::{Price, PriceModel};
use kopek_local::tools;
use kopek_services::Services;
use kopek_services::accounts::{CreateApiKey, Invite};
use kopek_services::subscriptions::StartSubscription;
use rust_decimal::Decimal;

use super::procfs::process_cpu_ns;
use super::{
    Sizes, add_sizes, bench_inn, bootstrap_admin, err, print_sizes, registration, rouble_service,
};
use crate::stack::Stack;

/// One operation's figures, bare or audited.
#[derive(Debug, Default, Clone, Copy)]
struct Cost {
    requests: f64,
    write_units: f64,
    cpu_ms: Option<f64>,
}

/// The operations measured.
const OPERATIONS: [&str; 5] = [
    "create a service (one conditional `PutItem`)",
    "create an API key (one conditional `PutItem`)",
    "retire a service (`PutItem` over the revision read)",
    "invite a colleague (`TransactWriteItems` of 3 and the event)",
    "start a subscription (`TransactWriteItems`: it and its event)",
];

struct World {
    services: Services,
    admin: Principal,
    customer: Principal,
    org: OrgId,
}

/// Runs operation `op` for the `i`-th time.
async fn operate(w: &World, op: usize, i: usize, tag: &str) -> anyhow::Result<()> {
    let code = |what: &str| format!("B{tag}-{what}-{i}");
    match op {
        0 => {
            w.services
                .catalog()
                .create(&w.admin, service(&code("NEW"), ServiceKind::Recurring)?)
                .await
                .map_err(err)?;
        }
        1 => {
            w.services
                .accounts()
                .create_api_key(
                    &w.customer,
                    CreateApiKey {
                        name: format!("CRM {tag} {i}"),
                        role: None,
                        scopes: vec![Scope::OrdersRead],
                        org: None,
                    },
                )
                .await
                .map_err(err)?;
        }
        2 => {
            let retired = code("OLD").parse().map_err(err)?;
            w.services
                .catalog()
                .retire(&w.admin, &retired)
                .await
                .map_err(err)?;
        }
        3 => {
            w.services
                .accounts()
                .invite_user(
                    &w.customer,
                    w.org,
                    Invite {
                        name: "Пётр Сидоров".into(),
                        email: format!("colleague-{tag}-{i}@audit.example.ru"),
                    },
                )
                .await
                .map_err(err)?;
        }
        _ => {
            w.services
                .subscriptions()
                .start(
                    &w.customer,
                    StartSubscription {
                        service: "BENCH-HOSTING".parse().map_err(err)?,
                        quantity: Decimal::ONE,
                        start_date: None,
                    },
                )
                .await
                .map_err(err)?;
        }
    }
    Ok(())
}

fn service(code: &str, kind: ServiceKind) -> anyhow::Result<kopek_domain::catalog::NewService> {
    let price = Price::new(
        Currency::RUB,
        PriceModel::PerUnit {
            unit_price: Decimal::new(99000, 2),
        },
        None,
        None,
    )
    .map_err(err)?;
    let name = LocalizedText::new("Хостинг", "Hosting").map_err(err)?;
    let unit = match kind {
        ServiceKind::Recurring => UnitOfMeasure::Month,
        _ => UnitOfMeasure::Piece,
    };
    rouble_service(code, name, kind, unit, None, price)
}

/// `runs` of operation `op`, audited or not: the mean cost of one.
async fn measure(w: &World, op: usize, runs: usize, audited: bool) -> anyhow::Result<Cost> {
    let tag = if audited { "A" } else { "P" };
    let before = w.services.capacity();
    let cpu_before = process_cpu_ns();
    for i in 0..runs {
        if audited {
            let action = Action {
                actor: Actor::of(if op == 1 || op >= 3 {
                    &w.customer
                } else {
                    &w.admin
                }),
                action: format!("bench {op}"),
                request_id: Some(format!("req_bench_{tag}{op}_{i}")),
                client: Some("127.0.0.1".into()),
            };
            let (done, _) =
                kopek_services::audit::scope(&w.services, action, operate(w, op, i, tag)).await;
            done?;
        } else {
            operate(w, op, i, tag).await?;
        }
    }
    let cpu_after = process_cpu_ns();
    let after = w.services.capacity();
    let n = runs as f64;
    Ok(Cost {
        requests: (after.requests - before.requests) as f64 / n,
        write_units: (after.write_milli_units - before.write_milli_units) as f64 / 1000.0 / n,
        cpu_ms: cpu_before
            .zip(cpu_after)
            .map(|(b, a)| Duration::from_nanos(a - b).as_secs_f64() * 1000.0 / n),
    })
}

pub(super) async fn run(root: &Path, tools: &tools::Tools, runs: usize) -> anyhow::Result<()> {
    let stack = Stack::start(root, tools, "bench").await?;
    let services = stack.state.services.clone();
    let admin = bootstrap_admin(
        &stack.state,
        "audit-bench@kopek.test",
        "Audit-every-change-2026",
    )
    .await
    .map_err(err)?;
    let registration = registration(
        "ООО «Журнал»".into(),
        bench_inn(4242),
        "billing@audit.example.ru".into(),
        "owner@audit.example.ru".into(),
        "Audit-every-change-2026",
    )?;
    let account =
        tokio::task::spawn_blocking(move || registration.open(chrono::Utc::now())).await?;
    super::store_registration(&stack.store, &account).await?;
    let org = account.organisation.id;
    let w = World {
        admin: Principal::user(admin.id(), Role::Admin, None, None).map_err(err)?,
        customer: Principal::user(account.owner.id(), Role::Customer, Some(org), None)
            .map_err(err)?,
        org,
        services: services.clone(),
    };
    w.services
        .catalog()
        .create(&w.admin, service("BENCH-HOSTING", ServiceKind::Recurring)?)
        .await
        .map_err(err)?;
    // The services the retirements take, made beforehand.
    for tag in ["A", "P"] {
        for i in 0..runs {
            let code = format!("B{tag}-OLD-{i}");
            w.services
                .catalog()
                .create(&w.admin, service(&code, ServiceKind::Recurring)?)
                .await
                .map_err(err)?;
        }
    }

    let mut rows = Vec::new();
    for (op, name) in OPERATIONS.iter().enumerate() {
        let bare = measure(&w, op, runs, false).await?;
        let audited = measure(&w, op, runs, true).await?;
        rows.push((name, bare, audited));
    }

    println!(
        "| operation ({runs} runs each) | requests | write units, bare → audited | added | CPU ms, bare → audited |"
    );
    println!("|---|---|---|---|---|");
    let cpu = |c: Option<f64>| c.map_or("n/a".to_owned(), |c| format!("{c:.2}"));
    for (name, bare, audited) in &rows {
        println!(
            "| {name} | {:.1} → {:.1} | {:.1} → {:.1} | +{:.1} WCU | {} → {} |",
            bare.requests,
            audited.requests,
            bare.write_units,
            audited.write_units,
            audited.write_units - bare.write_units,
            cpu(bare.cpu_ms),
            cpu(audited.cpu_ms),
        );
    }

    let endpoint = stack.emulator.endpoint().to_owned();
    let client = aws_sdk_dynamodb::Client::new(&kopek_local::sdk_config(&endpoint).await);
    let mut sizes = Sizes::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(stack.store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .context("cannot scan the table")?;
        add_sizes(&mut sizes, page.items(), |pk, _| {
            pk.starts_with("AUDIT#")
                .then_some("audit record (`AUDIT#{day}` / `{at}#{aud}`)")
        });
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    println!();
    println!("| item | count | bytes | write units |");
    print_sizes(&sizes);
    Ok(())
}
