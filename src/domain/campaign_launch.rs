//! Launching a campaign in one step, and calling one off before it starts.
//!
//! [`launch`] screens the recipients (suppression, opt-in lists), stores the campaign
//! `scheduled` with one contact per kept recipient and debits its cost, all in one
//! transaction that first locks the tenant's ledger, so concurrent launches never
//! overspend. [`cancel`] cancels a scheduled campaign (through
//! [`campaigns::transition`], the one writer of status), cancels its pending contacts and
//! refunds what it spent; with `delete` it also hides the campaign.
//!
//! What the caller keeps to itself: how it reads recipients, what a message costs (e.g.
//! SMS segments), and its own campaign attributes (`attrs` of the request). The domain
//! adds `attrs.body` (what each delivery says or plays) and `attrs.launch`
//! (`recipients`, `cost`, `cost_per_contact`, `announcement_id`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::campaigns::{self, status, Campaign, NewCampaign};
use super::phone::PhoneNumber;
use super::{announcements, credits, optlists, DomainError, DomainResult, TenantId};

/// Who each message comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Senders {
    /// No sender number.
    #[default]
    None,
    /// These numbers (E.164), in turn over the kept recipients.
    RoundRobin(Vec<String>),
    /// A random number in this country calling code (digits, no `+`), 12 digits in all.
    Random { country_code: String },
}

/// A campaign to launch.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// Id of the new campaign (chosen by the caller, which may derive its references from it).
    pub id: Uuid,
    pub name: String,
    /// Campaign kind (one of [`campaigns::kind::ALL`]).
    pub kind: String,
    /// Delivery channel of every contact (`sms`, `voice`).
    pub channel: String,
    pub starts_at: DateTime<Utc>,
    /// Normalised, de-duplicated recipients, in order.
    pub recipients: Vec<PhoneNumber>,
    pub senders: Senders,
    /// What each delivery says or plays (message text, announcement, URL).
    pub body: Option<String>,
    /// Credits one kept recipient costs.
    pub cost_per_contact: i64,
    /// When not empty, only recipients on one of these named opt-in lists are kept.
    pub opt_in_lists: Vec<String>,
    /// Refuse the whole launch with [`DomainError::Suppressed`] when a recipient is
    /// suppressed, instead of leaving it out.
    pub refuse_suppressed: bool,
    /// The announcement the campaign plays; held so it cannot be deleted meanwhile.
    pub announcement: Option<Uuid>,
    /// The caller's own attributes of the campaign (`body` and `launch` are the domain's).
    pub attrs: Map<String, Value>,
    /// How the credit ledger names the campaign (e.g. its id as the caller shows it).
    pub reference: String,
}

/// What became of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A contact of the campaign.
    Added,
    /// On the opt-out list for the channel or the company DNC list: left out.
    Suppressed,
    /// Not on any of the requested opt-in lists: left out.
    NotOptedIn,
}

/// The outcome of one recipient (by E.164).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactOutcome {
    pub number: String,
    pub outcome: Outcome,
}

/// A launched campaign.
#[derive(Debug, Clone)]
pub struct Launched {
    pub campaign: Campaign,
    /// One per recipient of the request, in its order.
    pub outcomes: Vec<ContactOutcome>,
    /// Contacts stored.
    pub added: usize,
    /// Credits debited.
    pub cost: i64,
}

impl Launched {
    /// Recipients left out (suppressed or not opted in).
    pub fn filtered(&self) -> usize {
        self.outcomes.len() - self.added
    }
}

/// Launches a campaign: screens the recipients, stores the campaign `scheduled` with its
/// contacts and debits `cost_per_contact` × kept recipients, in one transaction.
/// Errors: `InsufficientCredits` (nothing written), `NotFound("announcement")`,
/// `Suppressed` (only with `refuse_suppressed`), `Validation`.
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %req.id))]
pub async fn launch(db: &PgPool, tenant: TenantId, req: LaunchRequest, now: DateTime<Utc>) -> DomainResult<Launched> {
    check_cost(&req)?;
    let mut tx = db.begin().await?;
    let stored = screen_and_store(&mut tx, tenant, &req, Listed, now).await?;
    let outcomes = stored.screened;
    let kept: Vec<&PhoneNumber> = req
        .recipients
        .iter()
        .zip(&outcomes)
        .filter(|(_, o)| o.outcome == Outcome::Added)
        .map(|(p, _)| p)
        .collect();
    insert_contacts(&mut tx, tenant, &stored.campaign, &req, &kept, now).await?;
    tx.commit().await?;
    tracing::info!(recipients = kept.len(), cost = stored.cost, "campaign launched");
    let added = kept.len();
    Ok(Launched {
        campaign: stored.campaign,
        outcomes,
        added,
        cost: stored.cost,
    })
}

fn check_cost(req: &LaunchRequest) -> DomainResult<()> {
    if req.cost_per_contact < 0 {
        return Err(DomainError::validation("cost_per_contact", "must not be negative"));
    }
    Ok(())
}

/// How a launch screens its recipients in its transaction: what it learnt, and how many
/// recipients it keeps.
trait Screening {
    type Out;
    async fn screen(
        self,
        tx: &mut PgConnection,
        tenant: TenantId,
        req: &LaunchRequest,
        now: DateTime<Utc>,
    ) -> DomainResult<(Self::Out, i64)>;
}

/// The recipients of the request, screened in memory: one outcome per recipient.
struct Listed;

impl Screening for Listed {
    type Out = Vec<ContactOutcome>;
    async fn screen(
        self,
        tx: &mut PgConnection,
        tenant: TenantId,
        req: &LaunchRequest,
        now: DateTime<Utc>,
    ) -> DomainResult<(Vec<ContactOutcome>, i64)> {
        let outcomes = screen(tx, tenant, req, now).await?;
        let kept = outcomes.iter().filter(|o| o.outcome == Outcome::Added).count() as i64;
        Ok((outcomes, kept))
    }
}

/// What the shared step of a launch stored.
struct Stored<T> {
    campaign: Campaign,
    /// Credits debited.
    cost: i64,
    /// Recipients kept (contacts to insert).
    kept: i64,
    /// What the screening learnt.
    screened: T,
}

/// The step [`launch`] and [`launch_staged`] share, in the launch's transaction: locks the
/// tenant's ledger (concurrent launches never overspend), holds the announcement, screens
/// the recipients (`how`), stores the campaign `scheduled` with its launch attributes and
/// debits `cost_per_contact` × kept recipients. The caller then inserts the contacts.
async fn screen_and_store<S: Screening>(
    tx: &mut PgConnection,
    tenant: TenantId,
    req: &LaunchRequest,
    how: S,
    now: DateTime<Utc>,
) -> DomainResult<Stored<S::Out>> {
    credits::lock_ledger(&mut *tx, tenant).await?;
    if let Some(a) = req.announcement {
        announcements::hold(&mut *tx, tenant, a).await?;
    }
    let (screened, kept) = how.screen(&mut *tx, tenant, req, now).await?;
    let cost = req.cost_per_contact * kept;
    let mut attrs = req.attrs.clone();
    attrs.insert("body".into(), json!(req.body));
    attrs.insert(
        "launch".into(),
        json!({
            "recipients": kept,
            "cost": cost,
            "cost_per_contact": req.cost_per_contact,
            "announcement_id": req.announcement,
        }),
    );
    let campaign = campaigns::create(
        &mut *tx,
        tenant,
        NewCampaign {
            id: Some(req.id),
            name: req.name.clone(),
            kind: req.kind.clone(),
            status: Some(status::SCHEDULED.into()),
            channel: Some(req.channel.clone()),
            starts_at: Some(req.starts_at),
            ends_at: None,
            attrs: Some(Value::Object(attrs)),
        },
        now,
    )
    .await?;
    if cost > 0 {
        let what = format!("Campaign {} ({})", campaign.name, req.reference);
        credits::debit(&mut *tx, tenant, cost, &what, Some(campaign.id), now).await?;
    }
    Ok(Stored {
        campaign,
        cost,
        kept,
        screened,
    })
}

/// Suppression and opt-in outcome of every recipient, in the request's order.
async fn screen(tx: &mut PgConnection, tenant: TenantId, req: &LaunchRequest, now: DateTime<Utc>) -> DomainResult<Vec<ContactOutcome>> {
    let e164s: Vec<String> = req.recipients.iter().map(|p| p.e164.clone()).collect();
    let blocked = optlists::suppressed_among(&mut *tx, tenant, &e164s, &req.channel, now).await?;
    let allowed: Option<HashSet<String>> = if req.opt_in_lists.is_empty() {
        None
    } else {
        Some(optlists::opted_in_among(&mut *tx, tenant, &e164s, &req.opt_in_lists, now).await?)
    };
    decide(e164s, &blocked, allowed.as_ref(), req.refuse_suppressed)
}

/// The outcome of each number given the suppressed ones and, when opt-in lists were
/// asked for, the opted-in ones; `Suppressed` error for the first suppressed number
/// when `refuse` is set.
fn decide(
    e164s: Vec<String>,
    blocked: &HashSet<String>,
    allowed: Option<&HashSet<String>>,
    refuse: bool,
) -> DomainResult<Vec<ContactOutcome>> {
    let mut out = Vec::with_capacity(e164s.len());
    for n in e164s {
        let outcome = if blocked.contains(&n) {
            if refuse {
                return Err(DomainError::Suppressed { number: n });
            }
            Outcome::Suppressed
        } else if allowed.is_some_and(|a| !a.contains(&n)) {
            Outcome::NotOptedIn
        } else {
            Outcome::Added
        };
        out.push(ContactOutcome { number: n, outcome });
    }
    Ok(out)
}

/// A random number in `country_code` (12 digits in all, at least 6 after the code).
fn random_number(country_code: &str) -> String {
    let n = Uuid::new_v4().as_u128();
    let want = 12usize.saturating_sub(country_code.len()).max(6);
    let digits: String = n.to_string().chars().rev().take(want).collect();
    format!("+{country_code}{digits}")
}

/// Stores the kept recipients as pending contacts, each with its one planned delivery.
async fn insert_contacts(
    tx: &mut PgConnection,
    tenant: TenantId,
    c: &Campaign,
    req: &LaunchRequest,
    kept: &[&PhoneNumber],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let tos: Vec<String> = kept.iter().map(|p| p.e164.clone()).collect();
    let originals: Vec<String> = kept.iter().map(|p| p.original.clone()).collect();
    let froms: Vec<String> = (0..kept.len())
        .map(|i| match &req.senders {
            Senders::None => String::new(),
            Senders::RoundRobin(list) if list.is_empty() => String::new(),
            Senders::RoundRobin(list) => list[i % list.len()].clone(),
            Senders::Random { country_code } => random_number(country_code),
        })
        .collect();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, outbound_number, status, attrs, created_at, updated_at)
         SELECT gen_random_uuid(), $1, $2, u.n, u.o, NULLIF(u.f, ''), 'pending',
                jsonb_build_object('deliveries', jsonb_build_array(
                    jsonb_build_object('channel', $3::text, 'to', u.n, 'from', NULLIF(u.f, ''), 'body', $4::text))),
                $5, $5
           FROM UNNEST($6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS u(n, o, f, i)
          WHERE EXISTS (SELECT 1 FROM campaigns WHERE tenant_id = $1 AND id = $2)
          ORDER BY u.i",
    )
    .bind(tenant.0)
    .bind(c.id)
    .bind(&req.channel)
    .bind(req.body.as_deref())
    .bind(now)
    .bind(&tos)
    .bind(&originals)
    .bind(&froms)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A cancelled campaign: as it was, and as it is now.
#[derive(Debug, Clone)]
pub struct Cancelled {
    pub before: Campaign,
    pub after: Campaign,
    /// Credits given back.
    pub refunded: i64,
}

/// Cancels a scheduled campaign in one transaction: status (through
/// [`campaigns::transition`]), its pending contacts, and a refund of its net debit as a
/// credit row naming `reference`. With `delete` the campaign is hidden afterwards.
/// `NotFound` for no such campaign, `InvalidState` unless it is scheduled (a campaign
/// that started is not refunded).
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %id, delete))]
pub async fn cancel(db: &PgPool, tenant: TenantId, id: Uuid, delete: bool, reference: &str, now: DateTime<Utc>) -> DomainResult<Cancelled> {
    let mut tx = db.begin().await?;
    let before = lock(&mut tx, tenant, id).await?;
    if before.status != status::SCHEDULED {
        return Err(DomainError::InvalidState(format!(
            "a {} campaign cannot be cancelled with a refund",
            before.status
        )));
    }
    let after = campaigns::transition(&mut tx, tenant, id, campaigns::Event::Cancel, None, now).await?;
    sqlx::query(
        "UPDATE contacts SET status = 'cancelled', updated_at = $3 WHERE tenant_id = $1 AND campaign_id = $2 AND status = 'pending'",
    )
    .bind(tenant.0)
    .bind(id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let spent = credits::campaign_net_spent(&mut tx, tenant, id).await?;
    if spent > 0 {
        let what = if delete { "deleted" } else { "cancelled" };
        let description = format!("Refund for {what} campaign {} ({reference})", before.name);
        credits::add(&mut *tx, tenant, spent, &description, Some(id), now).await?;
    }
    if delete {
        sqlx::query("UPDATE campaigns SET deleted_at = $3 WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.0)
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        super::caches::invalidate_local(tenant, super::caches::Scope::Campaigns);
    }
    tx.commit().await?;
    Ok(Cancelled {
        before,
        after,
        refunded: spent.max(0),
    })
}

/// The campaign (not deleted), locked until the end of `tx`.
async fn lock(tx: &mut PgConnection, tenant: TenantId, id: Uuid) -> DomainResult<Campaign> {
    let sql = format!(
        "SELECT {} FROM campaigns WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
        campaigns::COLS
    );
    sqlx::query_as::<_, Campaign>(sqlx::AssertSqlSafe(sql))
        .bind(tenant.0)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(DomainError::NotFound("campaign"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{decide, random_number, DomainError, Outcome};

    fn set(v: &[&str]) -> HashSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn suppressed_and_not_opted_in_numbers_are_left_out() {
        let nums = vec!["+1".to_string(), "+2".to_string(), "+3".to_string()];
        let out = decide(nums.clone(), &set(&["+2"]), None, false).unwrap();
        let got: Vec<Outcome> = out.iter().map(|o| o.outcome).collect();
        assert_eq!(got, [Outcome::Added, Outcome::Suppressed, Outcome::Added]);
        let out = decide(nums.clone(), &set(&["+2"]), Some(&set(&["+1", "+2"])), false).unwrap();
        let got: Vec<Outcome> = out.iter().map(|o| o.outcome).collect();
        assert_eq!(got, [Outcome::Added, Outcome::Suppressed, Outcome::NotOptedIn]);
        assert!(matches!(
            decide(nums, &set(&["+3"]), None, true),
            Err(DomainError::Suppressed { number }) if number == "+3"
        ));
    }

    #[test]
    fn random_numbers_have_twelve_digits() {
        let n = random_number("91");
        assert!(n.starts_with("+91"));
        assert_eq!(n.len(), 13);
        assert!(n[1..].chars().all(|c| c.is_ascii_digit()));
        assert_eq!(random_number("1234567").len(), 1 + 7 + 6);
    }
}

// ---------------------------------------------------------------------------------------
// Launching with a file of recipients of any size: the recipients are normalised on the
// blocking thread pool and staged with COPY into a temporary table of the launch's own
// transaction, then de-duplicated, screened and inserted set-based, so memory stays flat
// and a million recipients cost about a COPY.

/// The recipients of a launch being staged (see [`launch_staged`]): holds the launch's
/// transaction, in which the temporary table `launch_recipients` lives.
pub struct RecipientStage {
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    rows: u64,
}

impl std::fmt::Debug for RecipientStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientStage").field("rows", &self.rows).finish()
    }
}

/// What [`launch_staged`] did.
#[derive(Debug, Clone)]
pub struct LaunchedStaged {
    pub campaign: Campaign,
    /// Contacts stored.
    pub added: u64,
    /// Distinct recipients left out (suppressed or not opted in).
    pub filtered: u64,
    /// Credits debited.
    pub cost: i64,
}

/// A COPY text field (numbers and their original text: no NUL reaches here).
fn copy_text(buf: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            0 => {}
            _ => buf.push(b),
        }
    }
}

impl RecipientStage {
    /// Opens the launch's transaction and its staging table.
    pub async fn begin(db: &PgPool) -> DomainResult<RecipientStage> {
        let mut tx = db.begin().await?;
        sqlx::query(
            "CREATE TEMP TABLE launch_recipients (ord bigint NOT NULL, number text NOT NULL, original text NOT NULL)
             ON COMMIT DROP",
        )
        .execute(&mut *tx)
        .await?;
        Ok(RecipientStage { tx, rows: 0 })
    }

    /// Valid recipients staged so far (repeats included).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Normalises `lines` (on the blocking pool) and stages the valid ones in order;
    /// returns the lines that are not phone numbers.
    pub async fn add(&mut self, lines: Vec<String>) -> DomainResult<Vec<String>> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let first = self.rows;
        let (buf, n, invalid) = tokio::task::spawn_blocking(move || {
            let mut buf = Vec::with_capacity(lines.len() * 40);
            let (mut n, mut invalid) = (0u64, Vec::new());
            for l in lines {
                match super::phone::e164(&l) {
                    Ok(e) => {
                        buf.extend_from_slice((first + n).to_string().as_bytes());
                        buf.push(b'\t');
                        copy_text(&mut buf, &e);
                        buf.push(b'\t');
                        copy_text(&mut buf, &l);
                        buf.push(b'\n');
                        n += 1;
                    }
                    Err(_) => invalid.push(l),
                }
            }
            (buf, n, invalid)
        })
        .await
        .map_err(|e| DomainError::Internal(format!("recipient parsing: {e}")))?;
        if n > 0 {
            let mut copy = self
                .tx
                .copy_in_raw("COPY launch_recipients (ord, number, original) FROM STDIN")
                .await?;
            copy.send(buf).await?;
            copy.finish().await?;
            self.rows += n;
        }
        Ok(invalid)
    }
}

/// The recipients staged in `launch_recipients`, screened set-based into the temporary
/// table `launch_screened` (distinct numbers, the first of each in order, with their
/// screening): the number of distinct recipients.
struct Staged;

impl Screening for Staged {
    type Out = i64;
    async fn screen(self, tx: &mut PgConnection, tenant: TenantId, req: &LaunchRequest, now: DateTime<Utc>) -> DomainResult<(i64, i64)> {
        sqlx::query("SET LOCAL work_mem = '64MB'").execute(&mut *tx).await?;
        sqlx::query(
            "CREATE TEMP TABLE launch_screened ON COMMIT DROP AS
             SELECT d.ord, d.number, d.original,
                    EXISTS (SELECT 1 FROM suppressions s
                             WHERE s.tenant_id = $1 AND s.number = d.number
                               AND ((s.list = 'opt_out' AND $2 = ANY(s.channels)) OR s.list = 'dnc')
                               AND (s.expires_at IS NULL OR s.expires_at > $3)) AS suppressed,
                    (cardinality($4::text[]) = 0 OR EXISTS (
                        SELECT 1 FROM suppressions s
                         WHERE s.tenant_id = $1 AND s.list = 'opt_in' AND s.list_name = ANY($4) AND s.number = d.number
                           AND (s.expires_at IS NULL OR s.expires_at > $3))) AS allowed
               FROM (SELECT DISTINCT ON (number) ord, number, original FROM launch_recipients ORDER BY number, ord) d",
        )
        .bind(tenant.0)
        .bind(&req.channel)
        .bind(now)
        .bind(&req.opt_in_lists)
        .execute(&mut *tx)
        .await?;
        if req.refuse_suppressed {
            let first: Option<String> = sqlx::query_scalar("SELECT number FROM launch_screened WHERE suppressed ORDER BY ord LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(number) = first {
                return Err(DomainError::Suppressed { number });
            }
        }
        let (distinct, kept): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE allowed AND NOT suppressed) FROM launch_screened")
                .fetch_one(&mut *tx)
                .await?;
        Ok((distinct, kept))
    }
}

/// [`launch`] with the recipients of `stage` (those of `req` are ignored): de-duplicated
/// (the first of a number wins), screened (suppression on the channel, opt-in lists),
/// stored in order as pending contacts with their planned delivery, and the cost debited,
/// in the stage's one transaction. Same errors as [`launch`].
#[tracing::instrument(skip_all, fields(tenant = %tenant, campaign = %req.id))]
pub async fn launch_staged(
    stage: RecipientStage,
    tenant: TenantId,
    req: LaunchRequest,
    now: DateTime<Utc>,
) -> DomainResult<LaunchedStaged> {
    check_cost(&req)?;
    let mut tx = stage.tx;
    let stored = screen_and_store(&mut tx, tenant, &req, Staged, now).await?;
    let (c, cost, kept, distinct) = (stored.campaign, stored.cost, stored.kept, stored.screened);
    let (round_robin, country): (Vec<String>, Option<String>) = match &req.senders {
        Senders::None => (Vec::new(), None),
        Senders::RoundRobin(list) => (list.clone(), None),
        Senders::Random { country_code } => (Vec::new(), Some(country_code.clone())),
    };
    let want = country
        .as_deref()
        .map(|cc| 12usize.saturating_sub(cc.len()).max(6))
        .unwrap_or(6)
        .min(15) as i32;
    // Ids in the file's order (as an import's, `imports::ordered_id_prefix`): the primary
    // key grows at one place instead of at a random page per contact.
    // The tenant row is locked (the ledger) and the campaign is this transaction's own, so
    // the per-row foreign-key checks of a million contacts would find what is known.
    sqlx::query(super::imports::FK_TRIGGERS_OFF_SQL).execute(&mut *tx).await?;
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, original_number, outbound_number, status, attrs, created_at, updated_at)
         SELECT ($9 || lpad(to_hex(x'8000000000000000'::bigint | k.ord), 16, '0'))::uuid, $1, $2, k.number, k.original, k.sender, 'pending',
                jsonb_build_object('deliveries', jsonb_build_array(
                    jsonb_build_object('channel', $3::text, 'to', k.number, 'from', k.sender, 'body', $4::text))),
                $5, $5
           FROM (SELECT s.ord, s.number, s.original,
                        CASE WHEN cardinality($6::text[]) > 0
                               THEN ($6::text[])[((row_number() OVER (ORDER BY s.ord) - 1) % cardinality($6::text[])) + 1]
                             WHEN $7::text IS NOT NULL
                               THEN '+' || $7 || lpad(floor(random() * 10 ^ $8)::bigint::text, $8, '0')
                        END AS sender
                   FROM launch_screened s WHERE s.allowed AND NOT s.suppressed) k
          ORDER BY k.ord",
    )
    .bind(tenant.0)
    .bind(c.id)
    .bind(&req.channel)
    .bind(req.body.as_deref())
    .bind(now)
    .bind(&round_robin)
    .bind(country.as_deref())
    .bind(want)
    .bind(super::imports::ordered_id_prefix(c.id))
    .execute(&mut *tx)
    .await?;
    sqlx::query(super::imports::FK_TRIGGERS_ON_SQL).execute(&mut *tx).await?;
    tx.commit().await?;
    tracing::info!(recipients = kept, cost, "campaign launched");
    Ok(LaunchedStaged {
        campaign: c,
        added: kept.max(0) as u64,
        filtered: (distinct - kept).max(0) as u64,
        cost,
    })
}
