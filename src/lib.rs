//! switchboard: one server that speaks five contact-center vendor APIs over one shared,
//! multi-tenant Postgres domain. See DESIGN.md for the layout.

pub mod admin;
pub mod config;
pub mod console;
pub mod controls;
pub mod db;
pub mod dialects;
pub mod domain;
pub mod engine;
pub mod http;
pub mod observability;
pub mod state;
pub mod token;

use std::future::Future;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::Config;
pub use state::AppState;

/// The whole application: every dialect, the admin API and the operational endpoints,
/// wrapped in the middleware stack of [`http::layers`].
pub fn app(state: AppState) -> Router {
    let operator = admin::router().merge(console::router()).layer(axum::middleware::from_fn_with_state(
        state.clone(),
        controls::caches::operator_writes,
    ));
    let dialects = dialects::router().layer(axum::middleware::from_fn_with_state(state.clone(), controls::dialect_requests));
    let routes = Router::new()
        .merge(http::router())
        .merge(observability::router())
        .merge(operator)
        .merge(dialects)
        .fallback(http::not_found);
    http::layers(routes, &state).with_state(state)
}

/// Serves `app(state)` on every listener and runs the engine (with every dialect's job
/// handlers) until `shutdown` resolves, then drains in-flight requests and stops the engine.
pub async fn launch(
    state: AppState,
    listeners: Vec<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, rx) = watch::channel(false);
    let handlers = dialects::job_handlers().into_iter().chain(engine::carrier::job_handlers());
    let engine = engine::spawn(state.clone(), handlers, rx.clone());
    let journal = controls::journal::spawn_writer(&state);
    // Open live views of the console end when the server stops.
    let app = app(state).layer(axum::Extension(console::LiveStop(rx.clone())));
    let mut servers = Vec::new();
    for l in listeners {
        let mut rx = rx.clone();
        let app = app.clone();
        servers.push(tokio::spawn(async move {
            axum::serve(l, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|v| *v).await;
                })
                .await
        }));
    }
    shutdown.await;
    let _ = tx.send(true);
    for s in servers {
        match s.await {
            Ok(r) => r?,
            Err(e) => tracing::warn!(error = %e, "listener task failed"),
        }
    }
    for e in engine {
        let _ = e.await;
    }
    if let Some(j) = journal {
        j.stop().await;
    }
    Ok(())
}
