//! Benchmark: a Campaign Manager SMS campaign created with a `toFile` of 1,000,000 numbers
//! (`POST /campaignmanager/campaigns`, multipart, the file generated on the fly and
//! streamed, never held in memory) into a fresh test database: seconds until the 201
//! (campaign, contacts and credit debit committed), contacts/s, and the process's peak
//! memory (VmHWM from /proc/self/status; the server runs in this process).
//!
//! Run: `cargo bench --bench cm_upload_1m` (or `--profile dev` to reuse the debug build);
//! `CM_N=100000` changes the number of recipients.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{status_json, TestApp};
use reqwest::multipart::{Form, Part};

fn vm_hwm_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// The numbers file, `per` lines per piece: distinct valid US numbers.
fn file_stream(n: usize, per: usize) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    const AREAS: [u32; 4] = [202, 212, 312, 415];
    futures::stream::iter((0..n.div_ceil(per)).map(move |k| {
        let mut out = String::with_capacity(per * 14);
        for i in k * per..((k + 1) * per).min(n) {
            let area = AREAS[(i / 250_000) % 4];
            let j = i % 250_000;
            out.push_str(&format!("+1{area}{}{:04}\n", 220 + j / 10_000, j % 10_000));
        }
        Ok(Bytes::from(out))
    }))
}

fn main() {
    let n: usize = std::env::var("CM_N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async move {
        let app = TestApp::spawn().await;
        let v = app.tenant("bench").await;
        let c = &v["campaign_manager"];
        let (sid, token) = (
            c["account_sid"].as_str().expect("sid").to_string(),
            c["auth_token"].as_str().expect("token").to_string(),
        );
        app.credit("bench", 2 * n as i64).await;
        let starts = (chrono::Utc::now() + chrono::Duration::days(1))
            .format("%Y-%m-%dT%H:%M:%S+0000")
            .to_string();
        let form = Form::new()
            .text("name", "Bench")
            .text("body", "Hello")
            .text("startTime", starts)
            .part(
                "toFile",
                Part::stream(reqwest::Body::wrap_stream(file_stream(n, 10_000)))
                    .file_name("to.csv")
                    .mime_str("text/csv")
                    .expect("mime"),
            );
        let start = Instant::now();
        let r = app
            .client
            .post(app.url("/campaignmanager/campaigns"))
            .basic_auth(&sid, Some(&token))
            .timeout(Duration::from_secs(3600))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let (s, v) = status_json(r).await;
        let took = start.elapsed();
        assert_eq!(s, 201, "{v}");
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts")
            .fetch_one(&app.db)
            .await
            .expect("count");
        println!(
            "cm_upload_1m: {n} numbers (stored {count}, recipients {}): created in {:.1} s, {:.0} numbers/s, peak memory (VmHWM) {} MiB",
            v["data"]["recipients"],
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            vm_hwm_kb().unwrap_or(0) / 1024
        );
        assert_eq!(count as usize, n);
        app.stop().await;
    });
}
