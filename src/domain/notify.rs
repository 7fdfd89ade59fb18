//! The LISTEN loop shared by the per-process caches that Postgres `NOTIFY` keeps correct
//! (read caches, faults): subscribe, apply what is heard, drop everything after a gap,
//! and reconnect after a failure.

use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;

/// A cache kept correct by one NOTIFY channel.
pub trait Notified: Send + Sync + 'static {
    /// The cache's name in logs.
    const NAME: &'static str;
    /// Whether the listener is subscribed (a cache not listening must not serve entries).
    fn set_listening(&self, on: bool);
    /// A notification's payload.
    fn heard(&self, payload: &str);
    /// The connection was lost and is back: what was said meanwhile is lost.
    fn lost(&self);
}

/// The listener task: subscribes to `channel`, then applies what it hears. It ends when
/// the pool closes or the cache is gone.
pub async fn listen<C: Notified>(db: PgPool, channel: &'static str, cache: Weak<C>) {
    loop {
        let subscribed = async {
            let mut l = PgListener::connect_with(&db).await?;
            l.listen(channel).await?;
            Ok::<_, sqlx::Error>(l)
        }
        .await;
        let mut listener = match subscribed {
            Ok(l) => l,
            Err(e) => {
                if db.is_closed() || cache.strong_count() == 0 {
                    return;
                }
                tracing::warn!(error = %e, cache = C::NAME, "cannot listen; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        match cache.upgrade() {
            Some(c) => c.set_listening(true),
            None => return,
        }
        loop {
            let got = listener.try_recv().await;
            let Some(c) = cache.upgrade() else { return };
            match got {
                Ok(Some(n)) => c.heard(n.payload()),
                Ok(None) => c.lost(),
                Err(e) => {
                    c.set_listening(false);
                    if db.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, cache = C::NAME, "listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
            }
        }
    }
}
