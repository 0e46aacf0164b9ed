//! `AppState`: the handles every request needs, built once at start.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::agent::{Agent, BenchAgent, OfflineAgent, OpenAiAgent};
use crate::auth::Jwt;
use crate::chat::{Chat, ChatSettings, SaveLag};
use crate::config::Config;
use crate::error::Result;
use crate::hub::Hub;
use crate::ratelimit::RateLimiter;
use crate::store::Store;

/// What every request needs. Each field is a handle; cloning bumps a refcount.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Store,
    pub hub: Hub,
    pub chat: Chat,
    pub jwt: Jwt,
    pub started: Instant,
    /// Cancelled when open sockets must close (after shutdown has drained the turns).
    pub closing: CancellationToken,
    /// Every open socket's task, so shutdown can wait for them to say goodbye.
    pub connections: TaskTracker,
    /// The tasks that link this instance to the others (see `relay`), so shutdown can let the
    /// last events reach them before the store closes.
    pub relay_tasks: TaskTracker,
}

impl AppState {
    /// Connects the store, applies migrations and wires the core.
    pub async fn build(config: Config) -> Result<Self> {
        let store = Store::connect_timeout(
            &config.database_url,
            config.database_pool_size,
            config.database_timeout,
        )
        .await?;
        store.migrate().await?;
        let multi = config.multi_instance;
        let state = Self::with_store(config, store);
        if let (true, Some(db)) = (multi, state.store.relay_db()) {
            let (hub, chat) = (state.hub.clone(), state.chat.clone());
            let (broker, tasks) = (&state.config.event_broker, &state.relay_tasks);
            crate::relay::start(db, broker, hub, chat, state.closing.clone(), tasks).await?;
        }
        Ok(state)
    }

    /// Wires the core over an already migrated store.
    pub fn with_store(config: Config, store: Store) -> Self {
        let store = store.with_claim_lapse(config.instance_dead_after);
        let hub = Hub::new(crate::hub::HubSettings {
            max_behind: config.ws.send_queue,
            ..config.ws.resume.clone()
        });
        let offline = OfflineAgent::new(config.offline_delta_delay);
        let agent = if let Some(b) = config.bench_agent {
            Agent::Bench(BenchAgent::new(b.deltas, b.delay))
        } else if config.provider.is_configured() {
            let fallback = config.provider.fallback_offline.then(|| offline.clone());
            Agent::OpenAi(OpenAiAgent::new(&config.provider, fallback))
        } else {
            Agent::Offline(offline)
        }
        .coalesced(config.stream_coalesce);
        let limiter = RateLimiter::new(config.rate_limit_requests, config.rate_limit_window);
        let chat = Chat::new(
            store.clone(),
            hub.clone(),
            agent,
            limiter,
            ChatSettings {
                history_limit: config.context_history_limit,
                max_message_chars: config.max_message_chars,
                save_lag: SaveLag {
                    every: config.partial_save_every,
                    bytes: config.partial_save_bytes,
                },
                max_queued: config.max_queued_per_thread,
            },
        );
        AppState {
            jwt: Jwt::new(&config.jwt_secret),
            config: Arc::new(config),
            store,
            hub,
            chat,
            started: Instant::now(),
            closing: CancellationToken::new(),
            connections: TaskTracker::new(),
            relay_tasks: TaskTracker::new(),
        }
    }
}
