//! The `switchboard` command: serve (default), migrate, tenant …, demo.

use std::io::IsTerminal;
use std::path::Path;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use switchboard::db::{self, Database};
use switchboard::domain::directory::{NewAgent, NewMenu, NewNumber};
use switchboard::domain::tenants::{self, NewTenant, Provisioned, Provisioner};
use switchboard::domain::{campaigns, credits, directory, DomainError};
use switchboard::{AppState, Config};
use tokio::net::TcpListener;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Five contact-center vendor APIs over one shared Postgres domain"
)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve every dialect and the admin API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Ensure a `demo` tenant with fixtures; print its credentials and curl lines.
    Demo,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)]
enum TenantCommand {
    /// Create a tenant; credentials not given are generated.
    Create(CreateArgs),
    /// List tenants.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant and all its data.
    Delete {
        /// The tenant's slug.
        slug: String,
    },
}

#[derive(Args)]
struct CreateArgs {
    /// DNS label: the Leads domain and the Apps subdomain.
    slug: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    onc_account_id: Option<String>,
    #[arg(long)]
    onc_username: Option<String>,
    #[arg(long)]
    onc_password: Option<String>,
    #[arg(long)]
    leads_account_id: Option<String>,
    #[arg(long)]
    leads_username: Option<String>,
    #[arg(long)]
    leads_password: Option<String>,
    #[arg(long)]
    cm_account_sid: Option<String>,
    #[arg(long)]
    cm_auth_token: Option<String>,
    #[arg(long)]
    apps_token: Option<String>,
    /// Print exactly the provisioning JSON.
    #[arg(long)]
    json: bool,
}

/// Logs to stderr and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, traces over OTLP (call
/// inside the runtime: the span exporter runs on it).
fn init_tracing(format: &str) -> Option<switchboard::observability::otel::Otel> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt = if format == "json" {
        fmt.json().boxed()
    } else {
        fmt.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    let (layer, otel) = match switchboard::observability::otel::from_env() {
        Ok(Some((layer, otel))) => (Some(layer), Some(otel)),
        Ok(None) => (None, None),
        Err(e) => {
            eprintln!("switchboard: traces are not exported: {e}");
            (None, None)
        }
    };
    tracing_subscriber::registry().with(filter).with(fmt).with(layer).init();
    otel
}

/// mimalloc rather than the system allocator: a request allocates many small, short-lived
/// buffers across worker threads, where glibc's malloc spent a fifth of the hot read's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let otel = {
        let _rt = rt.enter();
        init_tracing(&cli.config.log_format)
    };
    let result = rt.block_on(run(cli));
    if let Some(otel) = otel {
        otel.shutdown();
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn open(config: &Config) -> Result<Database, String> {
    let database = db::connect(config).await.map_err(|e| e.to_string())?;
    db::migrate(&database.pool).await.map_err(|e| e.to_string())?;
    Ok(database)
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let mut d = open(&config).await?;
            d.pool.close().await;
            if let Some(pg) = d.embedded.as_mut() {
                pg.stop();
            }
            println!("migrations applied");
            Ok(())
        }
        Command::Tenant(cmd) => {
            let mut d = open(&config).await?;
            let r = tenant_command(&d, cmd).await;
            d.pool.close().await;
            if let Some(pg) = d.embedded.as_mut() {
                pg.stop();
            }
            r
        }
        Command::Demo => {
            let mut d = open(&config).await?;
            let r = demo(&d, &config).await;
            d.pool.close().await;
            if let Some(pg) = d.embedded.as_mut() {
                pg.stop();
            }
            r
        }
    }
}

fn admin_token(config: &Config) -> String {
    if let Some(t) = &config.admin_token {
        return t.clone();
    }
    let file = config.data_dir.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&file) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            tracing::info!(file = %file.display(), "admin token read from the data dir (SWITCHBOARD_ADMIN_TOKEN overrides it)");
            return t;
        }
    }
    let t = switchboard::token::random_token(40);
    if std::fs::create_dir_all(&config.data_dir).is_ok() && write_private(&file, &t).is_ok() {
        tracing::info!(file = %file.display(), "admin token generated and saved");
    }
    // Printed once, at generation; later starts read it from the file.
    tracing::info!("admin token (Authorization: Bearer …): {t}");
    t
}

fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(content.as_bytes())
}

async fn serve(config: Config) -> Result<(), String> {
    let mut database = open(&config).await?;
    let mut listeners = Vec::new();
    for addr in &config.listen {
        let l = TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        tracing::info!(addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");
        listeners.push(l);
    }
    let token = admin_token(&config);
    let state = AppState::new(database.pool.clone(), config, token, switchboard::dialects::tenant_registry())
        .await
        .map_err(|e| e.to_string())?;
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
        tracing::info!("shutting down");
    };
    switchboard::launch(state, listeners, shutdown).await.map_err(|e| e.to_string())?;
    database.pool.close().await;
    if let Some(pg) = database.embedded.as_mut() {
        pg.stop();
    }
    Ok(())
}

async fn tenant_command(d: &Database, cmd: TenantCommand) -> Result<(), String> {
    match cmd {
        TenantCommand::Create(a) => {
            let registry = switchboard::dialects::tenant_registry();
            let req = new_tenant(
                a.slug,
                a.name,
                [
                    ("onc_account_id", a.onc_account_id),
                    ("onc_username", a.onc_username),
                    ("onc_password", a.onc_password),
                    ("leads_account_id", a.leads_account_id),
                    ("leads_username", a.leads_username),
                    ("leads_password", a.leads_password),
                    ("cm_account_sid", a.cm_account_sid),
                    ("cm_auth_token", a.cm_auth_token),
                    ("apps_token", a.apps_token),
                ],
            );
            let p = tenants::create(&d.pool, &registry.provisioners, req)
                .await
                .map_err(|e| e.to_string())?;
            if a.json {
                println!("{}", serde_json::to_string(&p).map_err(|e| e.to_string())?);
            } else {
                print_credentials(&registry.provisioners, &p);
            }
            Ok(())
        }
        TenantCommand::List { json } => {
            let all = tenants::list(&d.pool).await.map_err(|e| e.to_string())?;
            if json {
                let v: Vec<_> = all.iter().map(|t| json!({"id": t.id.0, "slug": t.slug, "name": t.name})).collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!("{:<36}  {:<24}  NAME", "ID", "SLUG");
                for t in all {
                    println!("{:<36}  {:<24}  {}", t.id.0, t.slug, t.name);
                }
            }
            Ok(())
        }
        TenantCommand::Delete { slug } => {
            tenants::delete(&d.pool, &slug).await.map_err(|e| e.to_string())?;
            println!("tenant {slug} deleted");
            Ok(())
        }
    }
}

/// A tenant creation request with the provisioners' fields that were given.
fn new_tenant<const N: usize>(slug: String, name: Option<String>, fields: [(&str, Option<String>); N]) -> NewTenant {
    NewTenant {
        slug,
        name,
        fields: fields
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), serde_json::Value::String(v))))
            .collect(),
    }
}

fn print_credentials(provisioners: &[&dyn Provisioner], p: &Provisioned) {
    println!("tenant            {} ({}), id {}", p.tenant.slug, p.tenant.name, p.tenant.id);
    for prov in provisioners {
        if let Some(a) = p.credentials.get(prov.name()) {
            println!("{}", prov.describe(a));
        }
    }
}

/// Fixed credentials of the demo tenant, so `demo` can print them on every run.
fn demo_tenant() -> NewTenant {
    let s = |v: &str| Some(v.to_string());
    new_tenant(
        "demo".into(),
        s("Demo"),
        [
            ("onc_account_id", s("demo")),
            ("onc_username", s("demo")),
            ("onc_password", s("demo-onc-password")),
            ("leads_account_id", s("0d0e0f0a0b0c4d5e8f9a0b1c2d3e4f50")),
            ("leads_username", s("admin")),
            ("leads_password", s("demo-leads-password")),
            ("cm_account_sid", s("AC0d0e0f0a0b0c4d5e8f9a0b1c2d3e4f50")),
            ("cm_auth_token", s("demo-cm-auth-token")),
            ("apps_token", s("demo-apps-token")),
        ],
    )
}

async fn demo(d: &Database, config: &Config) -> Result<(), String> {
    let e = |e: DomainError| e.to_string();
    let req = demo_tenant();
    let registry = switchboard::dialects::tenant_registry();
    let tenant = match tenants::by_slug(&d.pool, "demo").await {
        Ok(t) => t,
        Err(DomainError::NotFound(_)) => {
            tenants::create(&d.pool, &registry.provisioners, req.clone()).await.map_err(e)?;
            let t = tenants::by_slug(&d.pool, "demo").await.map_err(e)?;
            let now = chrono::Utc::now();
            for (email, first, last, num) in [
                ("alice@demo.example", "Alice", "Agent", "1001"),
                ("bob@demo.example", "Bob", "Agent", "1002"),
            ] {
                directory::create_agent(
                    &d.pool,
                    t.id,
                    NewAgent {
                        email: email.into(),
                        first_name: first.into(),
                        last_name: last.into(),
                        agent_number: Some(num.into()),
                        extension: Some(num.into()),
                        status: "available".into(),
                        can_call: true,
                        attrs: None,
                    },
                )
                .await
                .map_err(e)?;
            }
            for (name, kind, channels) in [
                ("Main IVR", "ivr_menu", vec!["voice_call"]),
                ("Mobile support", "mobile_menu", vec!["voice_call", "chat"]),
                ("Web support", "web_menu", vec!["voice_call", "chat"]),
            ] {
                directory::create_menu(
                    &d.pool,
                    t.id,
                    NewMenu {
                        name: name.into(),
                        menu_type: kind.into(),
                        parent_id: None,
                        languages: Some(vec!["en".into(), "es".into()]),
                        state: Some("open".into()),
                        channels: Some(channels.into_iter().map(String::from).collect()),
                        wait_seconds: Some(60),
                    },
                )
                .await
                .map_err(e)?;
            }
            for (n, default) in [("+1 760-867-5309", true), ("+1 415-555-0100", false)] {
                directory::create_number(
                    &d.pool,
                    t.id,
                    NewNumber {
                        number: n.into(),
                        sms: true,
                        voice: true,
                        default_outbound: default,
                    },
                )
                .await
                .map_err(e)?;
            }
            campaigns::create(
                &d.pool,
                t.id,
                campaigns::NewCampaign {
                    name: "Demo dialer campaign".into(),
                    kind: "outbound_dialer".into(),
                    ..Default::default()
                },
                now,
            )
            .await
            .map_err(e)?;
            credits::add(&d.pool, t.id, 1000, "Demo credit", None, now).await.map_err(e)?;
            eprintln!("demo tenant created");
            t
        }
        Err(other) => return Err(other.to_string()),
    };
    let campaign = campaigns::list(&d.pool, tenant.id)
        .await
        .map_err(e)?
        .into_iter()
        .find(|c| c.kind == "outbound_dialer");
    let base = match config.listen.first() {
        Some(a) if a.ip().is_unspecified() => format!("http://127.0.0.1:{}", a.port()),
        Some(a) => format!("http://{a}"),
        None => "http://127.0.0.1:8080".into(),
    };
    // The demo credentials are fixed, so the provisioners give the same answer again.
    let (_, all) = tenants::plan(&registry.provisioners, tenant.id.0, &req).map_err(e)?;
    let summary = tenants::TenantSummary {
        id: tenant.id.0,
        slug: tenant.slug.clone(),
        name: tenant.name.clone(),
    };
    let p = tenants::answer(&registry.provisioners, summary, &all);
    print_credentials(&registry.provisioners, &p);
    let campaign_seq = campaign.map(|c| c.seq).unwrap_or(1);
    println!();
    println!("Start the server (`cargo run --release`), then try:");
    println!(
        "curl -s -X POST {base}/onc/json/OpenAPISession -H 'Content-Type: application/json' -d '{{\"accountId\":\"demo\",\"username\":\"demo\",\"password\":\"demo-onc-password\"}}'"
    );
    println!(
        "curl -s -X POST {base}/api/v2/login -H 'Content-Type: application/json' -d '{{\"username\":\"admin\",\"password\":\"demo-leads-password\",\"domain\":\"demo\"}}'"
    );
    println!(
        "curl -s -u {}:demo-cm-auth-token '{base}/campaignmanager/credits/search?page=0&pageSize=10'",
        p.credentials["campaign_manager"]["account_sid"].as_str().unwrap_or_default()
    );
    println!("curl -s -u demo:demo-apps-token '{base}/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B17608675309'");
    println!("curl -s -u demo:demo-apps-token {base}/apps/api/v1/outbound_dialer/campaigns/{campaign_seq}/contacts");
    Ok(())
}
