//! `cargo xtask up`: the whole system on this machine, with demo data, until Ctrl-C.
//!
//! 1. installs the tools into `.venv` if they are missing;
//! 2. starts moto on a free 127.0.0.1 port and provisions `infra/template.yaml` into it;
//! 3. serves every HTTP function's routes on one port ([`kopek_api::local_app`], the same
//!    routers the Lambda functions run), at `http://127.0.0.1:3000` unless told otherwise;
//! 4. loads the demo ([`crate::demo`]) through that API, dated last month, sends its usage
//!    through `UsageQueue` and waits until it is counted, closes last month through
//!    `CloseQueue` into invoices, makes their documents (the outbox relayed, `DocumentsQueue`
//!    drained), sends this month's usage, and prints how to sign in;
//! 5. imports this morning's bank statement as the demo accountant
//!    ([`demo::import_statement`]: the file written to `.local/up`, uploaded, matched through
//!    `BankQueue`) and prints its report;
//! 6. ingests `UsageQueue` in the background as the `usage-ingest` function's event source
//!    mapping does in AWS ([`ingest_usage`]), relays the outbox and makes documents as
//!    `outbox-relay` and `documents` do, and matches uploaded statements as `bank-import`
//!    does ([`make_documents`]);
//! 7. starts the demo's webhook receiver ([`crate::receiver`]), registers it as an endpoint
//!    for every event type and replays the demo's events to it; it prints each one it
//!    receives, its signature checked by the Standard Webhooks library;
//! 8. writes `.local/up/<function>.env`, the environment to run one function alone against
//!    this stack with cargo-lambda;
//! 9. on Ctrl-C stops serving and ingesting, stops moto and removes what it wrote under
//!    `.local/up`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use kopek_domain::clock::Clock;
use kopek_events::usage::poller::Poller;
use kopek_local::tools;
use kopek_services::usage::ingest::BatchReport;
use tokio::sync::oneshot;

use crate::demo::{self, Demo};
use crate::stack::Stack;

const DEFAULT_PORT: u16 = 3000;

fn port(args: &[String]) -> anyhow::Result<u16> {
    let mut port = std::env::var("KOPEK_PORT").ok();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = Some(args.next().context("--port needs a number")?.clone()),
            other => bail!("unknown argument `{other}` (try `cargo xtask help`)"),
        }
    }
    match port {
        None => Ok(DEFAULT_PORT),
        Some(p) => p
            .parse()
            .with_context(|| format!("the port `{p}` is not a number from 1 to 65535")),
    }
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let port = port(args)?;
    kopek_aws::telemetry::init_pretty();
    let root = tools::project_root();
    let tools = tools::ensure(&root)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(serve(&root, &tools, port))
}

/// The demo, loaded through `router` as a newcomer's stack shows it: last month's history
/// (orders, work, subscriptions, usage) closed into invoices, their documents made and
/// signed by the demo manager, this morning's bank statement imported by the demo accountant,
/// and this month's usage so far.
pub async fn load_demo(
    stack: &Stack,
    router: &axum::Router,
    env_dir: &Path,
) -> anyhow::Result<(Demo, demo::StatementDemo)> {
    // The demo's history happens last month, through the same routes on a clock set then.
    let mut history = stack.state.clone();
    let history_clock = demo::history_clock(stack.state.services.now(), stack.state.calendar());
    let last_month = stack.state.calendar().period_of(history_clock.now());
    history.services = history.services.with_clock(Arc::new(history_clock));
    eprintln!("kopek: loading the demo data (dated {last_month}) through the API …");
    let mut demo = demo::load(&history, &kopek_api::local_app(history.clone())).await?;
    eprintln!("kopek: sending {last_month}'s usage through the usage queue …");
    let admin = demo.admin.clone().context("the demo has its admin")?;
    demo::load_usage(&history, &admin, &stack.usage_poller, &demo.organisations).await?;
    eprintln!("kopek: closing {last_month} through the close queue …");
    demo.closed =
        Some(demo::close_period(&stack.state, &admin, last_month, &demo.organisations).await?);
    eprintln!("kopek: making {last_month}'s documents and signing them as the demo manager …");
    demo.signing =
        Some(demo::make_and_sign_documents(&stack.state, router, &demo, last_month).await?);
    eprintln!("kopek: importing this morning's bank statement as the demo accountant …");
    let statement = demo::import_statement(&stack.state, router, &demo, env_dir).await?;
    eprintln!("kopek: sending this month's usage through the usage queue …");
    demo.usage = demo::load_usage(
        &stack.state,
        &admin,
        &stack.usage_poller,
        &demo.organisations,
    )
    .await?;
    Ok((demo, statement))
}

async fn serve(root: &Path, tools: &tools::Tools, port: u16) -> anyhow::Result<()> {
    // Bind first: a taken port should fail before a minute of set-up, not after it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} (use --port N)"))?;
    eprintln!("kopek: starting the AWS emulator and provisioning infra/template.yaml …");
    let mut stack = Stack::start(root, tools, "kopek").await?;
    // Links sent by mail (password resets) lead here.
    stack.state.services = stack
        .state
        .services
        .clone()
        .with_public_url(format!("http://127.0.0.1:{port}"));
    let router = kopek_api::local_app(stack.state.clone());
    let env_dir = root.join(".local").join("up");
    let (demo, statement) = load_demo(&stack, &router, &env_dir).await?;
    eprintln!("kopek: starting the demo's webhook receiver and registering it …");
    let receiver = crate::receiver::start(root, tools, &env_dir).await?;
    let hooks = demo::connect_webhooks(
        &stack.state,
        &demo,
        &receiver.url,
        &receiver.secret_file,
        stack.state.services.now() - chrono::Duration::days(70),
    )
    .await?;
    let (stop_ingesting, stopped) = oneshot::channel::<()>();
    let ingesting = tokio::spawn(ingest_usage(
        stack.usage_poller.clone(),
        stack.state.services.clock().clone(),
        stopped,
    ));
    let (stop_documents, documents_stopped) = oneshot::channel::<()>();
    let documenting = tokio::spawn(make_documents(stack.state.clone(), documents_stopped));
    stack.write_env_files(&env_dir)?;
    let credentials = env_dir.join("demo-logins.txt");
    std::fs::write(&credentials, logins_text(&demo))
        .with_context(|| format!("cannot write {}", credentials.display()))?;
    print_banner(&stack, &demo, port);
    print_statement(&statement, port);
    print_webhooks(&hooks, port);

    let served = kopek_http::layers::serve_local(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("\nkopek: stopping …");
    })
    .await;
    let _ = stop_ingesting.send(());
    let _ = ingesting.await;
    let _ = stop_documents.send(());
    let _ = documenting.await;
    drop(receiver);
    drop(stack);
    let _ = std::fs::remove_dir_all(&env_dir);
    eprintln!("kopek: stopped; the emulator and its data are gone");
    served.context("the local HTTP server failed")
}

/// The demo statement's import report, line by line, and how to work through it.
fn print_statement(statement: &demo::StatementDemo, port: u16) {
    let report = &statement.report;
    let count = |outcome: &str| {
        report["outcomes"][outcome].as_array().map_or(0, |t| {
            t.iter().filter_map(|t| t["count"].as_u64()).sum::<u64>()
        })
    };
    println!();
    println!(
        "Bank statement {} (1CClientBankExchange, windows-1251) imported as {}: {} lines read, {} payments — {} recorded, {} to review, {} duplicate; {} debit skipped; balances {}.",
        statement.file.display(),
        report["id"].as_str().unwrap_or("-"),
        report["lines_read"],
        report["payments"][0]["count"],
        count("recorded"),
        count("review"),
        count("duplicate"),
        report["debits"][0]["count"],
        if report["balances"]
            .as_array()
            .is_some_and(|b| b.iter().all(|b| b["adds_up"] == true))
        {
            "add up"
        } else {
            "DO NOT add up"
        }
    );
    for line in report["lines"].as_array().into_iter().flatten() {
        println!(
            "  п/п {:<5} {:>12} {:<36} {:<10} {}",
            line["number"].as_str().unwrap_or("-"),
            line["amount"].as_str().unwrap_or("-"),
            line["payer"]["name"].as_str().unwrap_or("-"),
            line["status"].as_str().unwrap_or("-"),
            line["reason"].as_str().unwrap_or("-")
        );
    }
    println!(
        "  The accountant's review list: curl -s http://127.0.0.1:{port}/v1/billing/statement-review -H \"authorization: Bearer $ACCOUNTANT\" | jq   (see README: Money in)"
    );
}

/// The demo's webhook endpoint, and how a CRM gets the same.
fn print_webhooks(hooks: &demo::WebhookDemo, port: u16) {
    println!();
    println!(
        "Webhooks: the demo's receiver at {} is endpoint {} (every event type); the {} events of the demo are being delivered to it — each line below marked `webhook ✓` was checked with the Standard Webhooks library. Place an order or record a payment and watch it arrive.",
        hooks.url, hooks.endpoint, hooks.replayed
    );
    println!(
        "  Its delivery log: curl -s http://127.0.0.1:{port}/v1/webhook-endpoints/{}/deliveries -H \"authorization: Bearer $ADMIN\" | jq   (see README: Connecting a CRM)",
        hooks.endpoint
    );
}

/// How long the background ingestion rests when the queue is empty.
const IDLE: Duration = Duration::from_secs(1);

/// Drains the usage queue every [`IDLE`] until `stop`. The stack's poller does not long-poll
/// (the emulator serves one request at a time, and a long poll would hold it for its whole
/// wait), so an empty queue costs one short request a second.
async fn ingest_usage(poller: Poller, clock: Arc<dyn Clock>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            drained = poller.drain(clock.as_ref(), 1) => match drained {
                Ok(report) if report != BatchReport::default() => kopek_events::usage::log(&report),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "usage poll failed"),
            },
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(IDLE) => {}
        }
    }
}

/// Relays the outbox and makes the documents it asks for every [`IDLE`] until `stop`, as
/// `outbox-relay` (every minute) and `documents` (on `DocumentsQueue`) do in AWS, delivers
/// webhooks as `webhook-delivery` (on `WebhookQueue`) does, and matches uploaded bank
/// statements as `bank-import` (on `BankQueue`) does. A failing job is left on
/// its queue, retried after a minute, and dead-lettered after five tries.
async fn make_documents(state: kopek_http::state::AppState, mut stop: oneshot::Receiver<()>) {
    let Some(queue) = state.services.documents_queue().cloned() else {
        return;
    };
    let documents = state.services.documents();
    let outbox = state.services.outbox();
    let webhooks = state.services.webhooks();
    let webhook_queue = state.services.webhook_queue().cloned();
    let bank = state.services.bank();
    let bank_queue = state.services.bank_queue().cloned();
    loop {
        tokio::select! {
            _ = &mut stop => return,
            done = async {
                outbox.relay(10).await.map_err(|e| e.to_string())?;
                webhooks.sweep().await.map_err(|e| e.to_string())?;
                if let Some(webhook_queue) = &webhook_queue {
                    kopek_events::webhooks::drain(&webhooks, webhook_queue)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                if let Some(bank_queue) = &bank_queue {
                    kopek_events::bank::drain(&bank, bank_queue, 60, Some(1))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                kopek_events::documents::drain(&documents, &queue, 60, Some(1))
                    .await
                    .map_err(|e| e.to_string())
            } => match done {
                Ok(d) if d.filed > 0 => tracing::info!(filed = d.filed, "documents filed"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "making documents failed"),
            },
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(IDLE) => {}
        }
    }
}

fn logins_text(demo: &Demo) -> String {
    let mut text = String::from(
        "# Demo logins of the running `cargo xtask up` (regenerated on every start)\n",
    );
    for login in &demo.logins {
        text.push_str(&format!(
            "{:<10} {:<28} {:<24} {}\n",
            login.role,
            login.email,
            login.password,
            login.organisation.as_deref().unwrap_or("(staff)")
        ));
    }
    text
}

fn print_banner(stack: &Stack, demo: &Demo, port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    let customer = demo.logins.iter().find(|l| l.role == "customer");
    let admin = demo.logins.iter().find(|l| l.role == "admin");
    println!();
    println!(
        "Kopek is up at {base}   (AWS emulator: {})",
        stack.emulator.endpoint()
    );
    println!();
    println!(
        "The web portal: {base}/portal — sign in with a demo login below (customers: dashboard, orders, invoices; engineers: queues and batches), or register."
    );
    println!();
    println!("Demo logins (passwords are new on every start; also in .local/up/demo-logins.txt):");
    print!(
        "{}",
        logins_text(demo)
            .lines()
            .skip(1)
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    println!();
    println!(
        "Catalog: {} services, {} customer organisations, {} orders and {} subscriptions; open work queues (installation, maintenance, delivery); the engineer completed batch {}.",
        demo.services.len(),
        demo.organisations.len(),
        demo.orders,
        demo.subscriptions,
        demo.completed_batch.as_deref().unwrap_or("-")
    );
    let usage = &demo.usage;
    println!(
        "Usage: {} events of this month for both organisations (some of the first named by its external reference {}) sent through UsageQueue in {} messages: {} counted, {} duplicate, {} rejected (staff see them at /v1/usage/rejected).",
        usage.events,
        demo::EXTERNAL_REF,
        usage.messages,
        usage.report.counted,
        usage.report.duplicates,
        usage.report.rejected
    );
    if let Some(closed) = &demo.closed {
        println!(
            "Closed {} (orders, work, subscriptions and usage of that month) into {} invoices:",
            closed.period,
            closed.invoices.len()
        );
        for (number, organisation, gross, paid) in &closed.invoices {
            println!("  {number}  {organisation:<24} {gross:>14}  paid {paid}");
        }
        println!(
            "  (ООО «Ромашка» paid {} RUB in advance: the close drew that credit down into its invoice)",
            demo::PREPAYMENT
        );
        if let Some(signing) = &demo.signing {
            println!(
                "Documents of {}: an invoice for payment, an act and the UPD (the tax service's XML and its printable PDF) per invoice, {} of them signed by the demo manager in one action (signing {}), then sent as one package per customer (the e-mails SES recorded: {}/moto-api/data.json, under \"ses\").",
                closed.period,
                signing["signed"],
                signing["id"].as_str().unwrap_or("-"),
                stack.emulator.endpoint()
            );
        }
    }
    println!();
    println!("Try:");
    println!(
        "  curl -s {base}/v1/catalog/services | jq '.items[] | {{code, kind, price: .current_price.price.model.type}}'"
    );
    println!("  curl -s '{base}/v1/catalog/services/TRAFFIC/quote?quantity=1250' | jq");
    if let Some(c) = customer {
        println!(
            "  TOKEN=$(curl -s {base}/v1/auth/sign-in -H 'content-type: application/json' \\\n      -d '{{\"email\":\"{}\",\"password\":\"{}\"}}' | jq -r .access_token)",
            c.email, c.password
        );
        println!("  curl -s {base}/v1/me -H \"authorization: Bearer $TOKEN\" | jq");
        println!(
            "  curl -s {base}/v1/orders -H \"authorization: Bearer $TOKEN\" | jq '.items[] | {{id, status, lines: [.lines[] | {{service, status}}]}}'"
        );
        println!("  curl -s {base}/v1/charges -H \"authorization: Bearer $TOKEN\" | jq");
        println!(
            "  curl -s '{base}/v1/usage' -H \"authorization: Bearer $TOKEN\" | jq   # this month's usage, by meter and day, with its estimated charge"
        );
        println!(
            "  curl -s {base}/v1/invoices -H \"authorization: Bearer $TOKEN\" | jq   # last month's invoice, with its lines and taxes"
        );
        if let Some(closed) = &demo.closed {
            println!(
                "  curl -s '{base}/v1/documents?period={}' -H \"authorization: Bearer $TOKEN\" | jq '.[] | {{id, doc_type, number, sha256}}'",
                closed.period
            );
            println!(
                "  DOC=$(curl -s '{base}/v1/documents?period={}' -H \"authorization: Bearer $TOKEN\" | jq -r '.[] | select(.doc_type==\"act\") | .id')",
                closed.period
            );
            println!(
                "  curl -s {base}/v1/documents/$DOC/download -H \"authorization: Bearer $TOKEN\" | jq -r .url | xargs curl -so act.pdf"
            );
            println!(
                "  curl -s {base}/v1/documents/$DOC/signature -H \"authorization: Bearer $TOKEN\" | jq -r .url | xargs curl -so act.pdf.p7s"
            );
            println!(
                "  curl -s {base}/v1/billing/signing-certificate -H \"authorization: Bearer $TOKEN\" | jq -r .pem > kopek.pem"
            );
            println!(
                "  openssl cms -verify -binary -inform DER -in act.pdf.p7s -content act.pdf -CAfile kopek.pem -out /dev/null"
            );
            println!(
                "  UPD=$(curl -s '{base}/v1/documents?period={}' -H \"authorization: Bearer $TOKEN\" | jq -r '.[] | select(.doc_type==\"upd\") | .id')",
                closed.period
            );
            println!(
                "  curl -s {base}/v1/documents/$UPD/download -H \"authorization: Bearer $TOKEN\" | jq -r .url | xargs curl -so upd.xml && iconv -f cp1251 -t utf-8 upd.xml | head -3   # the UPD, format 5.03"
            );
            println!(
                "  PKG=$(curl -s '{base}/v1/packages?period={}' -H \"authorization: Bearer $TOKEN\" | jq -r '.[0].id')",
                closed.period
            );
            println!(
                "  curl -s {base}/v1/packages/$PKG/download -H \"authorization: Bearer $TOKEN\" | jq -r .url | xargs curl -so package.zip && unzip -l package.zip"
            );
            if let (Some(signing), Some(acc)) = (
                &demo.signing,
                demo.logins.iter().find(|l| l.role == "accountant"),
            ) {
                println!(
                    "  ACC=$(curl -s {base}/v1/auth/sign-in -H 'content-type: application/json' -d '{{\"email\":\"{}\",\"password\":\"{}\"}}' | jq -r .access_token)",
                    acc.email, acc.password
                );
                println!(
                    "  curl -s {base}/v1/archives/{} -H \"authorization: Bearer $ACC\" | jq -r .download.url | xargs curl -so archive.zip && unzip -l archive.zip   # the period archive: every package, register.csv, register.xlsx",
                    signing["archive_id"].as_str().unwrap_or("-")
                );
            }
        }
    }
    if let Some(e) = demo.logins.iter().find(|l| l.role == "engineer") {
        println!(
            "  (engineer: sign in as {} and GET /v1/work/queues, POST /v1/work/batches — README walks through it)",
            e.email
        );
    }
    if let Some(a) = admin {
        println!(
            "  (admin: sign in as {} to create services and invite staff)",
            a.email
        );
    }
    println!("  curl -s {base}/v1/openapi.json | jq '.paths | keys'");
    println!();
    println!("One function alone, against this stack (see README):");
    println!(
        "  set -a; . .local/up/catalog-api.env; set +a; PATH=$PWD/.venv/bin:$PATH cargo lambda watch"
    );
    println!();
    println!("Ctrl-C stops everything.");
}
