//! The local stack: the emulator, the template's resources in it, the application state
//! every HTTP function builds at cold start (with the documents function's typesetter), and
//! what stands in for Lambda's SQS event source mapping of `usage-ingest` — on the machine, with nothing hand-written about the resources
//! (they all come from `infra/template.yaml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use kopek_aws::clients::Clients;
use kopek_aws::config::Config;
use kopek_aws::dynamo::Store;
use kopek_aws::queue::Queue;
use kopek_events::usage::poller::Poller;
use kopek_http::state::AppState;
use kopek_local::emulator::Emulator;
use kopek_local::provision;
use kopek_local::template::Template;
use kopek_local::tools::Tools;
use kopek_services::Services;

/// A provisioned emulator and the state of the HTTP functions on top of it.
pub struct Stack {
    pub emulator: Emulator,
    /// Every function's environment, by binary name, as the template gives it in AWS.
    pub function_env: BTreeMap<String, BTreeMap<String, String>>,
    pub state: AppState,
    /// The store the services write to, for the demo's and benchmarks' own reads and setup.
    pub store: Store,
    /// Receives from `UsageQueue` and ingests as `usage-ingest` does in AWS.
    pub usage_poller: Poller,
}

impl Stack {
    /// Provisions the template under `prefix` in a fresh emulator and builds the HTTP
    /// functions' state from the environment the template gives them.
    pub async fn start(root: &Path, tools: &Tools, prefix: &str) -> anyhow::Result<Stack> {
        let tools = tools.clone();
        let emulator = tokio::task::spawn_blocking(move || Emulator::start(&tools)).await??;
        let sdk = kopek_local::sdk_config(emulator.endpoint()).await;
        let template = Template::load_project(root)?;
        let provisioned = provision::provision(&sdk, &template, prefix).await?;

        let mut function_env = BTreeMap::new();
        for (logical_id, binary) in provision::functions(&template) {
            let env = provisioned.function_env(&template, &logical_id)?;
            function_env.insert(binary, env);
        }
        // Every function reads the same configuration (the template's globals, plus what some
        // add, such as the usage queue), so one state serves all their routes on one port.
        let env: BTreeMap<String, String> = function_env.values().flat_map(Clone::clone).collect();
        anyhow::ensure!(!env.is_empty(), "the template defines no function");
        let config = Config::from_lookup(|name| env.get(name).cloned())?;
        let clients = Clients::new(&sdk);
        // One store handle for the services and the stack's own reads, so their capacity is
        // counted on one meter.
        let store = Store::new(clients.dynamodb.clone(), config.table_name.clone());
        let (services, key) = Services::load(&config, &clients).await?;
        // The documents function's typesetter: the stack makes documents in process.
        // The local stack delivers webhooks to its own loopback receiver: it allows private
        // addresses, as a deployment whose CRM is in its own network would
        // (`WebhooksAllowPrivate`).
        let services = services
            .with_store(store.clone())
            .with_typesetter(std::sync::Arc::new(kopek_render::Renderer::new()))
            .with_hook_client(
                kopek_aws::hooks::HookClient::new(true).map_err(|e| anyhow::anyhow!(e))?,
            )
            // Trying it out locally, a change without its audit record shows at once.
            .with_settings(|s| s.audit_strict = true);
        let state = AppState::new(services, key.expose(), config.access_token_ttl);
        let queue_url = config
            .usage_queue_url
            .clone()
            .context("no function of the template has KOPEK_USAGE_QUEUE_URL")?;
        let mut usage_poller = Poller::new(
            Queue::new(clients.sqs.clone(), queue_url),
            state.services.ingestor(),
        );
        // No long polling: the emulator serves one request at a time, and a long poll would
        // hold it (and every API request behind it) for its whole wait.
        usage_poller.wait_secs = 0;
        Ok(Stack {
            emulator,
            function_env,
            state,
            store,
            usage_poller,
        })
    }

    /// Writes `<dir>/<binary>.env` for every function: its template environment plus what
    /// reaches the emulator, for running one function alone (`set -a; . file; cargo lambda
    /// watch`). Returns the files written.
    pub fn write_env_files(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut written = Vec::new();
        for (binary, env) in &self.function_env {
            let mut text = format!(
                "# The environment of `{binary}` against the running `cargo xtask up` stack.\n\
                 AWS_ENDPOINT_URL={}\nAWS_REGION={}\nAWS_ACCESS_KEY_ID=kopek-local\n\
                 AWS_SECRET_ACCESS_KEY=kopek-local\n",
                self.emulator.endpoint(),
                kopek_local::REGION
            );
            for (name, value) in env {
                text.push_str(&format!("{name}={value}\n"));
            }
            let path = dir.join(format!("{binary}.env"));
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            written.push(path);
        }
        Ok(written)
    }
}
