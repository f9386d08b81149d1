//! The demo's webhook receiver: `lib/stack/webhook_receiver.py` run with the project's
//! Python (its `standardwebhooks` is the reference library, not Kopek's code), on a loopback
//! port. `cargo xtask up` registers it as a webhook endpoint, so what a CRM would receive is
//! printed while one tries the system; every line it prints is passed on.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use kopek_local::tools::Tools;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running receiver; it stops when dropped.
pub struct DemoReceiver {
    pub url: String,
    /// Where the endpoint's signing secret goes once the endpoint is registered.
    pub secret_file: PathBuf,
    _child: Child,
}

/// Starts the receiver on a free loopback port, its secret file under `dir`.
pub async fn start(root: &Path, tools: &Tools, dir: &Path) -> anyhow::Result<DemoReceiver> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let secret_file = dir.join("webhook-secret.txt");
    let _ = std::fs::remove_file(&secret_file);
    let mut child = Command::new(&tools.python)
        .arg(root.join("lib/stack/webhook_receiver.py"))
        .args(["--port", "0", "--secret-file"])
        .arg(&secret_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the demo's webhook receiver")?;
    let stdout = child.stdout.take().context("the receiver's output")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next_line()
        .await?
        .context("the webhook receiver stopped before listening")?;
    let Some(port) = first.strip_prefix("LISTENING ") else {
        bail!("the webhook receiver said `{first}` instead of its port");
    };
    let url = format!("http://127.0.0.1:{}/webhooks/kopek", port.trim());
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("  {line}");
        }
    });
    Ok(DemoReceiver {
        url,
        secret_file,
        _child: child,
    })
}
