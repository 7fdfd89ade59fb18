//! A few connections for single autocommit statements on the hottest write path, kept
//! beside the pool.
//!
//! sqlx's pool tests every connection when it is released (a `Sync` round trip, in a task
//! of its own), whatever `test_before_acquire` says: per request that is a second round
//! trip, with the backend's wake-up, for a single statement. A connection here has just
//! answered its statement, so it is known good: it goes back without a ping. One that
//! failed, or whose statement was dropped half-way (a cancelled request), is closed
//! instead, so the next user never inherits a half-read answer. Only autocommit
//! statements run here (no transaction is ever left open on a lane connection).

use std::sync::{Arc, Mutex};

use sqlx::{ConnectOptions, PgConnection, PgPool};

/// The `application_name` of lane connections (as `pg_stat_activity` shows them).
pub const APPLICATION_NAME: &str = "switchboard-lane";

/// The idle connections of one pool's lane (at most `cap`; more are closed on release).
#[derive(Clone)]
pub struct Lane {
    pool: PgPool,
    idle: Arc<Mutex<Vec<PgConnection>>>,
    cap: usize,
}

impl std::fmt::Debug for Lane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lane").field("cap", &self.cap).finish_non_exhaustive()
    }
}

/// A lane connection in use: [`LaneConn::done`] gives it back; dropped without it, it
/// closes (its socket is shut; the server ends the session).
pub struct LaneConn {
    conn: PgConnection,
    lane: Lane,
    reused: bool,
}

impl Lane {
    /// A lane beside `pool` (same connect options), keeping at most `cap` idle connections.
    pub fn new(pool: PgPool, cap: usize) -> Lane {
        Lane {
            pool,
            idle: Arc::new(Mutex::new(Vec::new())),
            cap,
        }
    }

    /// An idle connection, or a new one.
    pub async fn take(&self) -> Result<LaneConn, sqlx::Error> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        match idle {
            Some(conn) => Ok(LaneConn {
                conn,
                lane: self.clone(),
                reused: true,
            }),
            None => self.fresh().await,
        }
    }

    /// A new connection (after an idle one failed: its server session may have ended).
    pub async fn fresh(&self) -> Result<LaneConn, sqlx::Error> {
        Ok(LaneConn {
            conn: (*self.pool.connect_options())
                .clone()
                .application_name(APPLICATION_NAME)
                .connect()
                .await?,
            lane: self.clone(),
            reused: false,
        })
    }
}

impl LaneConn {
    /// The connection.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// Whether it waited idle in the lane (its server session may have ended meanwhile:
    /// a restart of PostgreSQL, a terminated backend).
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// Its statement completed: back to the lane, without a ping.
    pub fn done(self) {
        let mut idle = self.lane.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.lane.cap {
            idle.push(self.conn);
        }
    }
}
