//! `cargo xtask up`: the whole system on this machine, with demo data, until Ctrl-C.
//!
//! 1. installs the tools into `.venv` if they are missing;
//! 2. starts moto on a free 127.0.0.1 port and provisions `infra/template.yaml` into it;
//! 3. serves every HTTP function's routes on one port ([`kopek_api::local_app`], the same
//!    routers the Lambda functions run), at `http://127.0.0.1:3000` unless told otherwise;
//! 4. loads the demo ([`crate::demo`]) through that API and prints how to sign in;
//! 5. writes `.local/up/<function>.env`, the environment to run one function alone against
//!    this stack with cargo-lambda;
//! 6. on Ctrl-C stops serving, stops moto and removes what it wrote under `.local/up`.

use std::path::Path;

use anyhow::{Context, bail};
use kopek_local::tools;

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

async fn serve(root: &Path, tools: &tools::Tools, port: u16) -> anyhow::Result<()> {
    // Bind first: a taken port should fail before a minute of set-up, not after it.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} (use --port N)"))?;
    eprintln!("kopek: starting the AWS emulator and provisioning infra/template.yaml …");
    let stack = Stack::start(root, tools, "kopek").await?;
    let router = kopek_api::local_app(stack.state.clone());
    eprintln!("kopek: loading the demo data through the API …");
    let demo = demo::load(&stack.state, &router).await?;
    let env_dir = root.join(".local").join("up");
    stack.write_env_files(&env_dir)?;
    let credentials = env_dir.join("demo-logins.txt");
    std::fs::write(&credentials, logins_text(&demo))
        .with_context(|| format!("cannot write {}", credentials.display()))?;
    print_banner(&stack, &demo, port);

    let served = kopek_http::layers::serve_local(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("\nkopek: stopping …");
    })
    .await;
    drop(stack);
    let _ = std::fs::remove_dir_all(&env_dir);
    eprintln!("kopek: stopped; the emulator and its data are gone");
    served.context("the local HTTP server failed")
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
