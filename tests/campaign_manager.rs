//! Campaign Manager dialect: the vendor doc's examples and error tables, through HTTP.

mod common;

use chrono::{Duration, Utc};
use common::{status_json, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

/// One tenant's Campaign Manager client.
struct Cm<'a> {
    app: &'a TestApp,
    slug: String,
    sid: String,
    token: String,
    ent: String,
}

impl<'a> Cm<'a> {
    async fn new(app: &'a TestApp, slug: &str) -> Cm<'a> {
        let v = app.tenant(slug).await;
        let c = &v["campaign_manager"];
        Cm {
            app,
            slug: slug.to_string(),
            sid: c["account_sid"].as_str().unwrap().to_string(),
            token: c["auth_token"].as_str().unwrap().to_string(),
            ent: c["enterprise_sid"].as_str().unwrap().to_string(),
        }
    }
    fn req(&self, m: Method, path: &str) -> RequestBuilder {
        // The doc's curl examples quote `' {SID}:{token}'` with a leading space.
        self.app
            .client
            .request(m, self.app.url(path))
            .basic_auth(format!(" {}", self.sid), Some(&self.token))
            .header("Cache-Control", "no-cache")
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        status_json(self.req(Method::GET, path).send().await.unwrap()).await
    }
    async fn delete(&self, path: &str) -> (u16, Value) {
        status_json(self.req(Method::DELETE, path).send().await.unwrap()).await
    }
    async fn post_json(&self, path: &str, body: Value) -> (u16, Value) {
        status_json(self.req(Method::POST, path).json(&body).send().await.unwrap()).await
    }
    async fn put_json(&self, path: &str, body: Value) -> (u16, Value) {
        status_json(self.req(Method::PUT, path).json(&body).send().await.unwrap()).await
    }
    async fn post_form(&self, path: &str, form: Form) -> (u16, Value) {
        status_json(self.req(Method::POST, path).multipart(form).send().await.unwrap()).await
    }
    async fn balance(&self) -> i64 {
        let (s, v) = self.app.admin_get(&format!("/admin/v1/tenants/{}/credits", self.slug)).await;
        assert_eq!(s, 200, "{v}");
        v.as_array().unwrap().iter().map(|e| e["amount"].as_i64().unwrap()).sum()
    }
    /// Creates an SMS campaign to `to` (newline-separated) with `extra` text fields.
    async fn sms(&self, name: &str, body: &str, to: &str, extra: &[(&str, &str)]) -> (u16, Value) {
        let mut f = Form::new()
            .text("name", name.to_string())
            .text("body", body.to_string())
            .part("toFile", file(to, "to.csv"));
        for (k, v) in extra {
            f = f.text(k.to_string(), v.to_string());
        }
        self.post_form("/campaignmanager/campaigns", f).await
    }
}

fn file(content: &str, name: &str) -> Part {
    Part::bytes(content.as_bytes().to_vec())
        .file_name(name.to_string())
        .mime_str("text/csv")
        .unwrap()
}

fn future(days: i64) -> String {
    (Utc::now() + Duration::days(days)).format("%Y-%m-%dT%H:%M:%S+0530").to_string()
}

fn wav() -> Vec<u8> {
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&36u32.to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
    v.extend_from_slice(b"data");
    v.extend_from_slice(&4u32.to_le_bytes());
    v.extend_from_slice(&[0, 0, 1, 1]);
    v
}

fn assert_err(s: u16, v: &Value, code: u64, message: &str) {
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["code"].as_u64(), Some(code), "{v}");
    assert_eq!(v["message"], message, "{v}");
}

fn assert_err_ec(s: u16, v: &Value, code: &str, message: &str) {
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["errorCode"], code, "{v}");
    assert_eq!(v["message"], message, "{v}");
}

async fn deliveries(app: &TestApp, campaign_sid: &str) -> Vec<(String, String, Option<String>, Option<String>, String)> {
    let id = uuid::Uuid::parse_str(&campaign_sid[2..]).unwrap();
    sqlx::query_as("SELECT channel, to_address, from_address, body, status FROM deliveries WHERE campaign_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

// ------------------------------------------------------------------------------ auth

#[tokio::test]
async fn basic_auth_is_required() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, v) = status_json(app.client.get(app.url("/campaignmanager/credits/search")).send().await.unwrap()).await;
    assert_eq!(s, 401);
    assert_eq!(v["code"], 401);
    assert!(v["message"].as_str().unwrap().contains("Unauthorized"));
    let r = app
        .client
        .get(app.url("/campaignmanager/campaigns/search"))
        .basic_auth(&cm.sid, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/campaignmanager/campaigns/search"))
        .bearer_auth(&cm.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (s, _) = cm.get("/campaignmanager/campaigns/search").await;
    assert_eq!(s, 200);
}

// ------------------------------------------------------------------------------ credits

#[tokio::test]
async fn credits_search_and_get() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/credits",
            json!({"credit": 1000, "description": "SMS credits"}),
        )
        .await;
    assert_eq!(s, 201);
    app.credit("acme", 100).await;
    let (s, v) = cm.sms("c1", "Hello", "919960639903\n919960639904\n", &[]).await;
    assert_eq!(s, 201, "{v}");

    // The doc's example (with its misspelt enterprriseSid, ignored).
    let (s, v) = cm.get(&format!("/campaignmanager/credits/search?enterprriseSid={}", cm.ent)).await;
    assert_eq!(s, 200, "{v}");
    for k in [
        "page",
        "num_pages",
        "page_size",
        "total",
        "start",
        "end",
        "uri",
        "first_page_uri",
        "previous_page_uri",
        "next_page_uri",
        "data",
    ] {
        assert!(v.get(k).is_some(), "missing {k} in {v}");
    }
    assert_eq!(v["total"], 3);
    assert_eq!(v["page_size"], 10);
    assert_eq!(v["uri"], "/campaignmanager/credits/search");
    let data = v["data"].as_array().unwrap();
    assert_eq!(data[0]["credit"], 1000);
    assert_eq!(data[0]["description"], "SMS credits");
    assert!(data[0]["sid"].as_str().unwrap().starts_with("ENC"));
    assert_eq!(data[0]["sid"].as_str().unwrap().len(), 35);
    assert_eq!(data[0]["enterpriseSid"], cm.ent.as_str());
    assert!(data[0]["dateCreated"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(data[2]["credit"], -2);
    assert_eq!(data[2]["accountSid"], cm.sid.as_str());

    // Paging.
    let (_, v) = cm.get("/campaignmanager/credits/search?pageSize=2&page=0").await;
    assert_eq!(v["num_pages"], 2);
    assert_eq!((v["start"].as_i64(), v["end"].as_i64()), (Some(0), Some(1)));
    assert_eq!(v["next_page_uri"], "/campaignmanager/credits/search?pageSize=2&page=1");
    assert_eq!(v["first_page_uri"], "/campaignmanager/credits/search?pageSize=2&page=0");
    assert!(v["previous_page_uri"].is_null());
    let (_, v) = cm.get("/campaignmanager/credits/search?pageSize=2&page=1").await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert!(v["next_page_uri"].is_null());

    // Filters and sort.
    let (_, v) = cm.get("/campaignmanager/credits/search?type=debit").await;
    assert_eq!(v["total"], 1);
    let (_, v) = cm.get("/campaignmanager/credits/search?type=credit&SortBy=dateCreated:desc").await;
    assert_eq!(v["total"], 2);
    assert_eq!(v["data"][0]["credit"], 100);
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let (_, v) = cm.get(&format!("/campaignmanager/credits/search?startTime={today}")).await;
    assert_eq!(v["total"], 3);
    let (_, v) = cm.get("/campaignmanager/credits/search?endTime=2018-10-06T02:10:03").await;
    assert_eq!(v["total"], 0);
    let (s, v) = cm.get("/campaignmanager/credits/search?startTime=06/10/2018").await;
    assert_err(s, &v, 498, "Date format is incorrect. Supported format is ISO-8601 date/time string, like YYYY-MM-DDTHH:MM:SS (for example 2018-10-05T22:45:32)");
    let (s, _) = cm.get("/campaignmanager/credits/search?type=bogus").await;
    assert_eq!(s, 400);
    let (s, _) = cm.get("/campaignmanager/credits/search?SortBy=amount:asc").await;
    assert_eq!(s, 400);

    // A row's own dateCreated, as printed (unencoded `+`), is inside both bounds.
    let at = data[2]["dateCreated"].as_str().unwrap();
    let (s, v) = cm
        .get(&format!("/campaignmanager/credits/search?startTime={at}&endTime={at}&type=debit"))
        .await;
    assert_eq!((s, v["total"].as_i64()), (200, Some(1)), "{v}");

    // Single credit.
    let sid = data[0]["sid"].as_str().unwrap();
    let (s, v) = cm.get(&format!("/campaignmanager/credits/search/{sid}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["code"], 200);
    assert_eq!(v["message"], "OK");
    assert_eq!(v["data"]["credit"], 1000);
    let (s, v) = cm.get("/campaignmanager/credits/search/ENCee320039e3e647eaa7df7cef5e3d6b55").await;
    assert_err(s, &v, 472, "Credit not found");
    let (s, v) = cm.get("/campaignmanager/credits/search/garbage").await;
    assert_err(s, &v, 472, "Credit not found");
}

// ------------------------------------------------------------------------------ campaigns

#[tokio::test]
async fn sms_campaign_doc_example_runs_to_completion() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 100).await;
    // The named opt-in list the example refers to.
    let f = Form::new().text("name", "ACME-opt-in").part(
        "file",
        file("919960639903\n919960639904\n919960639905\n919960639906\n919960639907\n", "in.csv"),
    );
    let (s, v) = cm.post_form("/campaignmanager/dnd/optin", f).await;
    assert_eq!(s, 200, "{v}");
    // The doc's curl: name, body, toFile, optOut, optIn, fromPrefix; no startTime.
    let to = "919960639903\r\n919960639904\n\n919960639904\n919960639905\nnot-a-number\n919960639906\n919960639999\n";
    let (s, v) = cm
        .sms(
            "Test campaign TTS 18Mar1217",
            "Hello World 1",
            to,
            &[("optOut", "Opt-Out"), ("optIn", "ACME-opt-in"), ("fromPrefix", "91")],
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["code"], 200);
    assert_eq!(v["message"], "OK");
    let d = &v["data"];
    assert_eq!(d["status"], "initiating");
    assert_eq!(d["total"], 4, "4 numbers on the opt-in list, 1 segment each: {d}");
    assert_eq!(d["fromPrefix"], "91");
    assert_eq!(d["body"], "Hello World 1");
    assert_eq!(d["optOut"], "Opt-Out");
    assert_eq!(d["optIn"], "ACME-opt-in");
    assert_eq!(d["enterpriseSid"], cm.ent.as_str());
    assert_eq!(d["accountSid"], cm.sid.as_str());
    assert_eq!(d["invalidNumbers"], json!(["not-a-number"]));
    assert_eq!(d["filteredCount"], 1);
    let sid = d["sid"].as_str().unwrap().to_string();
    assert!(sid.starts_with("EC") && sid.len() == 34);
    assert_eq!(d["uri"], format!("/campaignmanager/campaigns/search/{sid}"));
    assert_eq!(cm.balance().await, 96);

    // The scheduler runs it: scheduled → InProgress → Completed, deliveries in the outbox.
    let path = format!("/campaignmanager/campaigns/search/{sid}");
    let done = app
        .eventually(20, || async {
            let (_, v) = cm.get(&path).await;
            (v["data"]["status"] == "Completed").then_some(v)
        })
        .await;
    assert_eq!(done["data"]["total"], 4);
    assert_eq!(done["data"]["to"], "919960639903,919960639904,919960639905,919960639906");
    let sent = deliveries(&app, &sid).await;
    assert_eq!(sent.len(), 4);
    for (ch, to, from, body, status) in &sent {
        assert_eq!(ch, "sms");
        assert!(to.starts_with("+9199606399"));
        assert!(from.as_deref().unwrap().starts_with("+91"));
        assert_eq!(body.as_deref(), Some("Hello World 1"));
        assert_eq!(status, "delivered");
    }
    // The doc's numbermasking path answers too.
    let (s, v) = cm.get(&format!("/numbermasking/campaigns/search/{sid}")).await;
    assert_eq!((s, v["data"]["sid"].as_str()), (200, Some(sid.as_str())));
    // Completed campaigns can be neither cancelled nor deleted; no refund.
    let (s, v) = cm
        .put_json(&format!("/campaignmanager/campaigns/{sid}"), json!({"status": "cancelled"}))
        .await;
    assert_err(s, &v, 487, "Campaign status cannot be updated");
    let (s, v) = cm.delete(&format!("/campaignmanager/campaigns/{sid}")).await;
    assert_err(s, &v, 464, "Campaign status not \"Scheduled\"");
    assert_eq!(cm.balance().await, 96);
}

#[tokio::test]
async fn credit_arithmetic_segments_and_opt_out() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 30).await;
    let three = "+14155550101\n+14155550102\n+14155550103\n";
    // GSM-7: 160 chars = 1 segment, 161 = 2 (153 per part).
    let (s, v) = cm.sms("gsm160", &"a".repeat(160), three, &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(3)), "{v}");
    let (s, v) = cm.sms("gsm161", &"a".repeat(161), three, &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(6)), "{v}");
    // Extension characters count twice: 81 × '[' = 162 septets → 2 segments.
    let (s, v) = cm.sms("ext", &"[".repeat(81), "+14155550101", &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(2)), "{v}");
    // UCS-2: 70 = 1, 71 = 2 (67 per part).
    let (s, v) = cm.sms("ucs70", &"ж".repeat(70), "+14155550101", &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(1)), "{v}");
    let (s, v) = cm
        .sms("ucs71", &"ж".repeat(71), "+14155550101\n+14155550102", &[("startTime", &future(1))])
        .await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(4)), "{v}");
    assert_eq!(cm.balance().await, 30 - 3 - 6 - 2 - 1 - 4);

    // Opt-out filtering: a number on the Opt-Out list is neither charged nor texted.
    let f = Form::new().part("file", file("+14155550102\n", "out.csv"));
    let (s, _) = cm.post_form("/campaignmanager/dnd/optout", f).await;
    assert_eq!(s, 200);
    let (s, v) = cm
        .sms("optout", "Hi", three, &[("optOut", "Opt-Out"), ("startTime", &future(1))])
        .await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(2)), "{v}");
    let id = uuid::Uuid::parse_str(&v["data"]["sid"].as_str().unwrap()[2..]).unwrap();
    let numbers: Vec<String> = sqlx::query_scalar("SELECT number FROM contacts WHERE campaign_id = $1 ORDER BY seq")
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(numbers, vec!["+14155550101", "+14155550103"]);
    assert_eq!(cm.balance().await, 12);

    // 488: not enough credit, nothing created or debited.
    let (_, before) = cm.get("/campaignmanager/campaigns/search").await;
    // 400 GSM chars = 3 segments × 2 recipients = 6 ≤ 12: fits.
    let (s, v) = cm.sms("fits", &"a".repeat(400), three, &[]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(6)), "{v}");
    // 700 chars = 5 segments × 2 = 10 > 6.
    let (s, v) = cm.sms("too big 2", &"a".repeat(700), three, &[]).await;
    assert_err(s, &v, 488, "Credit is not enough");
    assert_eq!(v["data"]["total"], 10);
    let (_, after) = cm.get("/campaignmanager/campaigns/search").await;
    assert_eq!(after["total"].as_i64().unwrap(), before["total"].as_i64().unwrap() + 1);
    assert_eq!(cm.balance().await, 6);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM campaigns WHERE name = 'too big 2'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn cancel_refunds_and_state_machine_errors() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm
        .sms("later", "Hello", "+14155550101\n+14155550102", &[("startTime", &future(2))])
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    assert_eq!(cm.balance().await, 8);
    let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
    assert_eq!(v["data"]["status"], "scheduled");

    let path = format!("/campaignmanager/campaigns/{sid}");
    let (s, v) = cm.put_json(&path, json!({"status": "paused"})).await;
    assert_err(s, &v, 483, "Campaign status is invalid");
    for other in ["Completed", "InProgress", "scheduled", "initiating", "Failed"] {
        let (s, v) = cm.put_json(&path, json!({"status": other})).await;
        assert_err(s, &v, 487, "Campaign status cannot be updated");
    }
    assert_eq!(cm.balance().await, 8, "nothing refunded");
    let (s, v) = cm.put_json(&path, json!({})).await;
    assert_eq!(v["code"], 4000, "{v}");
    assert_eq!(s, 409);
    let (s, v) = cm
        .put_json(
            "/campaignmanager/campaigns/ECb6eb071d21124dbab20b095c25f1274f",
            json!({"status": "cancelled"}),
        )
        .await;
    assert_err(s, &v, 486, "Enterprise campaign not found");
    // The doc's example body (its SIDs print a CP prefix: accepted for the same id).
    let cp_path = format!("/campaignmanager/campaigns/CP{}", &sid[2..]);
    let (s, v) = cm.put_json(&cp_path, json!({"status": "cancelled"})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["status"], "Cancelled");
    assert_eq!(v["data"]["sid"], sid.as_str());
    assert_eq!(v["data"]["to"], "+14155550101,+14155550102");
    assert_eq!(cm.balance().await, 10, "refunded");
    let (_, v) = cm.get("/campaignmanager/credits/search?type=credit&SortBy=dateCreated:desc").await;
    assert_eq!(v["data"][0]["credit"], 2);
    assert!(v["data"][0]["description"].as_str().unwrap().contains("Refund"));
    let (s, v) = cm.put_json(&path, json!({"status": "canceled"})).await;
    assert_err(s, &v, 487, "Campaign status cannot be updated");
    let (s, v) = cm.delete(&path).await;
    assert_err(s, &v, 464, "Campaign status not \"Scheduled\"");
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=Cancelled").await;
    assert_eq!(v["total"], 1);
    // Nothing was sent.
    assert!(deliveries(&app, &sid).await.is_empty());

    // DELETE a scheduled campaign: refunded and gone.
    let (s, v) = cm.sms("del", "Hello", "+14155550101", &[("startTime", &future(2))]).await;
    assert_eq!(s, 201);
    let sid2 = v["data"]["sid"].as_str().unwrap().to_string();
    assert_eq!(cm.balance().await, 9);
    let (s, v) = cm.delete(&format!("/campaignmanager/campaigns/{sid2}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["sid"], sid2.as_str());
    assert_eq!(cm.balance().await, 10);
    let (s, v) = cm.delete(&format!("/campaignmanager/campaigns/{sid2}")).await;
    assert_err(s, &v, 463, "Campaign not found");
    let (s, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid2}")).await;
    assert_err(s, &v, 463, "Campaign not found");
}

#[tokio::test]
async fn create_campaign_errors() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm.sms("past", "Hi", "+14155550101", &[("startTime", "2019-01-01 09:53:51")]).await;
    assert_err(s, &v, 489, "Start Time is in past");
    assert_eq!(v["data"]["name"], "past");
    let (s, v) = cm.sms("bad", "Hi", "+14155550101", &[("startTime", "18/03/2021")]).await;
    assert_eq!((s, v["code"].as_u64()), (409, Some(498)), "{v}");
    let (s, v) = cm
        .post_form(
            "/campaignmanager/campaigns",
            Form::new().text("body", "x").part("toFile", file("+14155550101", "t")),
        )
        .await;
    assert_err(s, &v, 4000, "Mandatory parameter missing. name needs to be passed.");
    let (s, v) = cm
        .post_form("/campaignmanager/campaigns", Form::new().text("name", "x").text("body", "x"))
        .await;
    assert_err(s, &v, 4000, "Mandatory parameter missing. toFile needs to be passed.");
    let (s, v) = cm
        .post_form(
            "/campaignmanager/campaigns",
            Form::new().text("name", "x").part("toFile", file("+14155550101", "t")),
        )
        .await;
    assert_err(s, &v, 4000, "Mandatory parameter missing. body needs to be passed.");
    let f = Form::new()
        .text("name", "v")
        .text("channel", "voice")
        .text("announcementSid", "AN3f01da2b10d84f7f92f5b7aaced20a94")
        .part("toFile", file("+14155550101", "t"));
    let (s, v) = cm.post_form("/campaignmanager/campaigns", f).await;
    assert_err(s, &v, 500, "Announcement not found");
    let (s, v) = cm.sms("bad", "Hi", "nope\n123", &[]).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["data"]["invalidNumbers"], json!(["nope", "123"]));
    let (s, _) = cm.sms("bad", "Hi", "+14155550101", &[("channel", "fax")]).await;
    assert_eq!(s, 400);
    let (s, _) = cm.sms("bad", "Hi", "+14155550101", &[("optOut", "Other")]).await;
    assert_eq!(s, 400);
    // The doc's error example body as JSON (`to` as a comma list): 489 echoes it.
    let (s, v) = cm
        .post_json(
            "/campaignmanager/campaigns",
            json!({"name": "TestCampaign", "startTime": "2019-01-01 09:53:51", "fromPrefix": "91",
                   "to": "919960639903,919960639904,919960639905,919960639906", "body": "Hello World"}),
        )
        .await;
    assert_err(s, &v, 489, "Start Time is in past");
    assert_eq!(v["data"]["to"], "919960639903,919960639904,919960639905,919960639906");
    // And the same in the future works as JSON.
    let (s, v) = cm
        .post_json(
            "/campaignmanager/campaigns",
            json!({"name": "TestCampaign", "startTime": future(1), "fromPrefix": "91",
                   "to": "919960639903,919960639904,919960639905,919960639906", "body": "Hello World"}),
        )
        .await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(4)), "{v}");
    assert_eq!(cm.balance().await, 6);
    // And as a url-encoded form.
    let (s, v) = status_json(
        cm.req(Method::POST, "/campaignmanager/campaigns")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("name=Form&body=Hello+there&to=%2B14155550101%2C%2B14155550102")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(2)), "{v}");
    assert_eq!(v["data"]["body"], "Hello there");
    assert_eq!(cm.balance().await, 4);
    let (s, _) = status_json(
        cm.req(Method::POST, "/campaignmanager/campaigns")
            .header("Content-Type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_overspend_under_concurrent_creates() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 50).await;
    let to = "+14155550101\n+14155550102\n+14155550103\n+14155550104\n+14155550105\n";
    let start = future(1);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let req = cm.req(Method::POST, "/campaignmanager/campaigns").multipart(
            Form::new()
                .text("name", format!("c{i}"))
                .text("body", "Hello")
                .text("startTime", start.clone())
                .part("toFile", file(to, "to.csv")),
        );
        tasks.push(tokio::spawn(async move { status_json(req.send().await.unwrap()).await }));
    }
    let mut created = 0;
    let mut refused = 0;
    for t in tasks {
        let (s, v) = t.await.unwrap();
        match s {
            201 => created += 1,
            409 => {
                assert_eq!(v["code"], 488, "{v}");
                refused += 1
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert_eq!((created, refused), (10, 10));
    assert_eq!(cm.balance().await, 0);
    let (_, v) = cm.get("/campaignmanager/campaigns/search").await;
    assert_eq!(v["total"], 10);
}

#[tokio::test]
async fn campaign_search_filters_sort_and_paging() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 100).await;
    for (name, days) in [("test alpha", 3), ("Marketing 1 Campaign", 1), ("another TEST", 2)] {
        let (s, v) = cm.sms(name, "Hi", "+14155550101", &[("startTime", &future(days))]).await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = cm.get("/campaignmanager/campaigns/search?name=test").await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 2);
    assert_eq!(v["uri"], "/campaignmanager/campaigns/search");
    let (_, v) = cm.get("/campaignmanager/campaigns/search?SortBy=startTime:asc").await;
    let names: Vec<&str> = v["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Marketing 1 Campaign", "another TEST", "test alpha"]);
    let (_, v) = cm.get("/campaignmanager/campaigns/search?SortBy=name:desc&pageSize=2").await;
    let names: Vec<&str> = v["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["test alpha", "Marketing 1 Campaign"]);
    assert_eq!(v["num_pages"], 2);
    assert_eq!(
        v["next_page_uri"],
        "/campaignmanager/campaigns/search?pageSize=2&SortBy=name%3Adesc&page=1".replace("%3A", ":")
    );
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=scheduled&channel=sms").await;
    assert_eq!(v["total"], 3);
    let (_, v) = cm.get("/campaignmanager/campaigns/search?channel=voice").await;
    assert_eq!(v["total"], 0);
    let (s, v) = cm.get("/campaignmanager/campaigns/search?status=bogus").await;
    assert_err(s, &v, 483, "Campaign status is invalid");
    let (s, v) = cm.get("/campaignmanager/campaigns/search?endTime=2021-13-01").await;
    assert_eq!((s, v["code"].as_u64()), (409, Some(498)));
    let (_, v) = cm.get("/campaignmanager/campaigns/search?endTime=2018-10-06").await;
    assert_eq!(v["total"], 0);
    let (s, _) = cm.get("/campaignmanager/campaigns/search?pageSize=0").await;
    assert_eq!(s, 400);
}

// ------------------------------------------------------------------------------ announcements

#[tokio::test]
async fn voice_campaign_with_announcement_doc_examples() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    // Create Text To Speech Announcement (the doc posts to /autoattendant/announcement).
    let (s, v) = cm
        .post_json(
            "/autoattendant/announcement",
            json!({
                "enterpriseSid": cm.ent,
                "name": "TTS Play 19Mar21-852",
                "type": "say",
                "body": "Hello, we aree giving away 20% discounts on all our merchandise. Hurry offer valid only for next 3 days.",
                "language": "google.ar-XA-Standard-A",
                "voice": "woman"
            }),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ann = v["data"]["sid"].as_str().unwrap().to_string();
    assert!(ann.starts_with("AN"));
    assert_eq!(v["data"]["uri"], format!("/campaignmanager/announcement/search/{ann}"));

    // The doc's voice curl as printed: typographic quotes, toFile passed twice, no from.
    let f = Form::new()
        .text("name", "Test campaign TTS 18Mar1217")
        .text("startTime", format!("\u{201d}{}\u{201d}", future(1)))
        .part("toFile", file("+14155550101\n+14155550102\n", "MXOrgTest2-Ent2-ToNumbers.csv"))
        .part("toFile", file("+14155550103\n", "MXOrgTest2-Ent2-FromNumbers.csv"))
        .text("announcementSid", format!("\u{201d}{ann}\u{201d}"))
        .text("optOut", "Opt-Out")
        .text("channel", "\u{201d}voice\u{201d}")
        .text("dialTimeout", "\u{201d}10\u{201d}");
    let (s, v) = cm.post_form("/campaignmanager/campaigns", f).await;
    assert_eq!(s, 201, "{v}");
    let d = &v["data"];
    assert_eq!(d["channel"], "voice");
    assert_eq!(d["total"], 3);
    assert_eq!(d["dialTimeout"], "10");
    assert_eq!(d["announcementSid"], ann.as_str());
    assert_eq!(d["fromPrefix"], "");
    assert_eq!(cm.balance().await, 7);

    // 507 while the campaign uses it.
    let (s, v) = cm.delete(&format!("/campaignmanager/announcement/{ann}")).await;
    assert_err_ec(
        s,
        &v,
        "507",
        "This Announcement cannot be deleted as it is being used in a campaign.",
    );
    // Cancel the campaign, then it can go.
    let (s, _) = cm
        .put_json(
            &format!("/campaignmanager/campaigns/{}", d["sid"].as_str().unwrap()),
            json!({"status": "canceled"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = cm.delete(&format!("/campaignmanager/announcement/{ann}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["sid"], ann.as_str());
    let (s, v) = cm.get(&format!("/campaignmanager/announcement/search/{ann}")).await;
    assert_err_ec(s, &v, "500", "Announcement not found");

    // An rcmlUrl voice campaign runs and calls.
    let f = Form::new()
        .text("name", "rcml")
        .text("channel", "voice")
        .text("rcmlUrl", "https://example.com/rcml")
        .part("fromFile", file("+14155550900\n", "from.csv"))
        .part("toFile", file("+14155550101\n", "to.csv"));
    let (s, v) = cm.post_form("/campaignmanager/campaigns", f).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["dialTimeout"], "30");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    // a call dials for 5 s and lasts 30 s on the tenant clock
    app.eventually(20, || async {
        app.clock("acme", json!({"advance_seconds": 40})).await;
        let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
        (v["data"]["status"] == "Completed").then_some(())
    })
    .await;
    let sent = deliveries(&app, &sid).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "voice");
    assert_eq!(sent[0].2.as_deref(), Some("+14155550900"));
}

#[tokio::test]
async fn announcements_crud_upload_and_errors() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let say = json!({
        "enterpriseSid": cm.ent, "name": "TTS", "type": "say", "body": "Hello",
        "language": "google.ar-XA-Standard-A", "voice": "woman"
    });
    // Errors of create.
    let mut b = say.clone();
    b["voice"] = json!("female");
    let (s, v) = cm.post_json("/campaignmanager/announcement", b).await;
    assert_err_ec(s, &v, "522", "Announcement voice type should be man or woman.");
    let mut b = say.clone();
    b["language"] = json!("google.xx-XX-Standard-A");
    let (s, v) = cm.post_json("/campaignmanager/announcement", b).await;
    assert_err_ec(s, &v, "521", "Announcement Language Not Found");
    let mut b = say.clone();
    b.as_object_mut().unwrap().remove("name");
    let (s, v) = cm.post_json("/campaignmanager/announcement", b).await;
    assert_err_ec(s, &v, "4000", "Mandatory parameter missing. name needs to be passed.");
    let mut b = say.clone();
    b.as_object_mut().unwrap().remove("body");
    let (s, v) = cm.post_json("/campaignmanager/announcement", b).await;
    assert_err_ec(s, &v, "4000", "Mandatory parameter missing. body needs to be passed.");
    let mut b = say.clone();
    b["enterpriseSid"] = json!("EN838bcdf35f9d421fad3ab516195b873");
    let (s, v) = cm.post_json("/campaignmanager/announcement", b).await;
    assert_err_ec(s, &v, "467", "Enterprise not found");
    assert_eq!(v["data"]["sid"], "EN838bcdf35f9d421fad3ab516195b873");

    let (s, v) = cm.post_json("/campaignmanager/announcement", say.clone()).await;
    assert_eq!(s, 200, "{v}");
    let tts = v["data"]["sid"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["voice"], "woman");
    assert!(v["data"].get("fileUri").is_none());

    // Create Play Announcement, then upload its WAV (doc example path and ours).
    let (s, v) = cm
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": cm.ent, "name": "Ann Play 19mar958", "type": "play"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let play = v["data"]["sid"].as_str().unwrap().to_string();
    assert!(v["data"]["fileUri"]
        .as_str()
        .unwrap()
        .starts_with(&format!("/campaignmanager/internal/announcement/file/{play}_")));
    let form = Form::new().part("file", Part::bytes(wav()).file_name(format!("{play}.wav")));
    let (s, v) = cm
        .post_form(&format!("/campaignmanager/internal/file/announcement/{play}"), form)
        .await;
    assert_eq!(s, 200, "{v}");
    let uri = v["data"]["fileUri"].as_str().unwrap().to_string();
    let r = cm.req(Method::GET, &uri).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/wav");
    assert_eq!(r.bytes().await.unwrap().to_vec(), wav());
    let form = Form::new().part("file", Part::bytes(wav()).file_name("a.wav"));
    let (s, _) = cm
        .post_form(&format!("/autoattendant/internal/announcement/file/{play}"), form)
        .await;
    assert_eq!(s, 200);
    // Upload errors.
    let form = Form::new().part("file", Part::bytes(b"ID3 this is an mp3".to_vec()).file_name("a.mp3"));
    let (s, v) = cm
        .post_form(&format!("/campaignmanager/internal/file/announcement/{play}"), form)
        .await;
    assert_err_ec(s, &v, "504", "Error in uploading audio file");
    let form = Form::new().text("other", "x");
    let (s, v) = cm
        .post_form(&format!("/campaignmanager/internal/file/announcement/{play}"), form)
        .await;
    assert_err_ec(s, &v, "4000", "Mandatory parameter missing. fileUri need to be passed");
    let form = Form::new().part("file", Part::bytes(wav()).file_name("a.wav"));
    let (s, v) = cm
        .post_form(
            "/campaignmanager/internal/file/announcement/ANd28fddd7f6184a67aacb2dd6c3c00e28",
            form,
        )
        .await;
    assert_err_ec(s, &v, "500", "Announcement not found");

    // Update (the doc's example).
    let upd = json!({
        "name": "TTS Play 19Mar21-852 Updated", "description": "TTS Play Ann description", "type": "say",
        "body": "Hello, we aree giving away 20% discounts on all our merchandise. Hurry offer valid only for next 5 days.",
        "language": "google.ar-XA-Standard-A", "voice": "man"
    });
    let (s, v) = cm.put_json(&format!("/campaignmanager/announcement/{tts}"), upd.clone()).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["voice"], "man");
    assert_eq!(v["data"]["description"], "TTS Play Ann description");
    assert_eq!(v["data"]["name"], "TTS Play 19Mar21-852 Updated");
    let mut b = upd.clone();
    b["language"] = json!("klingon");
    let (s, v) = cm.put_json(&format!("/campaignmanager/announcement/{tts}"), b).await;
    assert_err_ec(s, &v, "521", "Announcement Language is not supported");
    let mut b = upd.clone();
    b["voice"] = json!("robot");
    let (s, v) = cm.put_json(&format!("/campaignmanager/announcement/{tts}"), b).await;
    assert_err_ec(s, &v, "522", "Announcement voice type should be man or woman.");
    let mut b = upd.clone();
    b.as_object_mut().unwrap().remove("type");
    let (s, v) = cm.put_json(&format!("/campaignmanager/announcement/{tts}"), b).await;
    assert_err_ec(s, &v, "4000", "Mandatory parameter missing. type needs to be passed.");
    let (s, v) = cm
        .put_json("/campaignmanager/announcement/ANf1ef82a9fecd4ee2b367e96c98aaf82", upd.clone())
        .await;
    assert_err_ec(s, &v, "500", "Announcement not found");

    // Search (the doc's example query).
    let (s, v) = cm
        .get("/campaignmanager/announcement/search?sortBy=name:asc&page=0&pageSize=2")
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["code"], 200);
    let d = &v["data"];
    assert_eq!(d["total"], 2);
    assert_eq!(d["pageSize"], 2);
    assert_eq!(d["numPages"], 1);
    assert_eq!(d["result"][0]["name"], "Ann Play 19mar958");
    assert_eq!(
        d["firstPageUri"],
        "/campaignmanager/announcement/search/?pageSize=2&sortBy=name:asc&page=0"
    );
    let (_, v) = cm.get("/campaignmanager/announcement/search?name=updated").await;
    assert_eq!(v["data"]["total"], 1);
    let (_, v) = cm
        .get(&format!("/campaignmanager/announcement/search?enterpriseSid={}", cm.ent))
        .await;
    assert_eq!(v["data"]["total"], 2);
    let (_, v) = cm
        .get("/campaignmanager/announcement/search?enterpriseSid=EN838bcdf35f9d421fad3ab516195b873b")
        .await;
    assert_eq!(v["data"]["total"], 0);
    let (s, v) = cm.get("/campaignmanager/announcement/search?startTime=bad").await;
    assert_eq!((s, v["errorCode"].as_str()), (409, Some("498")));
    let (s, v) = cm.get(&format!("/campaignmanager/announcement/search/{play}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["type"], "play");
    let (s, v) = cm.delete(&format!("/campaignmanager/announcement/{play}")).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = cm.delete(&format!("/campaignmanager/announcement/{play}")).await;
    assert_err_ec(s, &v, "500", "Announcement not found");
    let r = cm.req(Method::GET, &uri).send().await.unwrap();
    assert_eq!(r.status(), 409);
}

// ------------------------------------------------------------------------------ DND

/// The doc's `-H 'Content-Type: application/json' -F file=@…`: curl keeps the custom type
/// and appends the multipart boundary.
async fn curl_style_upload(cm: &Cm<'_>, path: &str, name: Option<&str>, content: &str) -> (u16, Value) {
    let b = "------------------------d74496d66958873e";
    let mut body = String::new();
    if let Some(n) = name {
        body.push_str(&format!("--{b}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{n}\r\n"));
    }
    body.push_str(&format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"MXOrgTest2-Ent2-Numbers.csv\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{b}--\r\n"
    ));
    status_json(
        cm.req(Method::POST, path)
            .header("Content-Type", format!("application/json; boundary={b}"))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn opt_out_list_doc_examples_and_errors() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optout", None, "918278362878\n6372837839\n+14155550101\n").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"], json!({"name": "Opt-Out", "enterpriseSid": cm.ent}));
    assert_eq!(v["code"], 200);

    let (s, v) = cm
        .get("/campaignmanager/dnd/optout/search?page=0&pageSize=10&sortBy=datecreated:desc")
        .await;
    assert_eq!(s, 200, "{v}");
    let d = &v["data"];
    assert_eq!(d["total"], 3);
    assert_eq!(d["numPages"], 1);
    assert_eq!(
        d["firstPageUri"],
        "/campaignmanager/dnd/optout/search/?pageSize=10&sortBy=datecreated:desc&page=0"
    );
    let first = &d["result"][0];
    assert_eq!(first["name"], "Opt-Out");
    assert!(first["sid"].as_str().unwrap().starts_with("OT"));
    assert_eq!(first["enterpriseSid"], cm.ent.as_str());
    let (_, v) = cm.get("/campaignmanager/dnd/optout/search?phoneNumber=6372837839").await;
    assert_eq!(v["data"]["total"], 1);
    let e = v["data"]["result"][0].clone();
    assert_eq!(e["number"], "6372837839");
    let osid = e["sid"].as_str().unwrap();

    // Shared suppression: the domain sees the number as opted out.
    let t: uuid::Uuid = sqlx::query_scalar("SELECT id FROM tenants WHERE slug = 'acme'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let blocked =
        switchboard::domain::optlists::is_suppressed(&app.db, switchboard::domain::TenantId(t), "+918278362878", "sms", Utc::now())
            .await
            .unwrap();
    assert!(blocked);

    let (s, v) = cm.get(&format!("/campaignmanager/dnd/optout/search/{osid}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["number"], "6372837839");
    let (s, v) = cm.delete(&format!("/campaignmanager/dnd/optout/{osid}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["sid"], osid);
    let (s, v) = cm.delete(&format!("/campaignmanager/dnd/optout/{osid}")).await;
    assert_err_ec(s, &v, "491", "OptOut Sid not found");
    assert_eq!(v["data"], osid);
    let (s, v) = cm
        .get("/campaignmanager/dnd/optout/search/OT5fd7e2a4efa14c2f90bd986f197d86fd")
        .await;
    assert_err_ec(s, &v, "491", "OptOut Sid not found");

    // 490: an invalid file changes nothing.
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optout", None, "+14155550199\nhello\n").await;
    assert_err_ec(s, &v, "490", "Dnd File numbers is not valid");
    assert_eq!(v["data"]["invalidNumbers"], json!(["hello"]));
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optout", None, "\n\n").await;
    assert_err_ec(s, &v, "490", "Dnd File numbers is not valid");
    let (_, v) = cm.get("/campaignmanager/dnd/optout/search").await;
    assert_eq!(v["data"]["total"], 2);
    let (s, v) = cm.post_form("/campaignmanager/dnd/optout", Form::new().text("name", "x")).await;
    assert_err_ec(s, &v, "4000", "Mandatory parameter missing. file needs to be passed.");
    let (s, v) = cm.get("/campaignmanager/dnd/optout/search?endTime=31-12-2021").await;
    assert_eq!((s, v["errorCode"].as_str()), (409, Some("498")), "{v}");
}

#[tokio::test]
async fn opt_in_lists_doc_examples() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optin", Some("test-Opt-In"), "918278362878\n6372837839\n").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"], json!({"name": "test-Opt-In", "enterpriseSid": cm.ent}));
    let f = Form::new().part("file", file("6372837839\n", "in.csv"));
    let (s, v) = cm.post_form("/campaignmanager/dnd/optin", f).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["name"], "opt-in");
    let (_, v) = cm
        .get("/campaignmanager/dnd/optin/search?page=0&pageSize=10&sortBy=datecreated:desc")
        .await;
    assert_eq!(v["data"]["total"], 3);
    let (_, v) = cm.get("/campaignmanager/dnd/optin/search?name=test-Opt-In").await;
    assert_eq!(v["data"]["total"], 2);
    let (_, v) = cm.get("/campaignmanager/dnd/optin/search?name=opt-in&phoneNumber=6372837839").await;
    assert_eq!(v["data"]["total"], 1);
    let isid = v["data"]["result"][0]["sid"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["result"][0]["name"], "opt-in");
    // Opt-in entries are not opt-outs.
    let (_, v) = cm.get("/campaignmanager/dnd/optout/search").await;
    assert_eq!(v["data"]["total"], 0);
    let (s, v) = cm.get(&format!("/campaignmanager/dnd/optout/search/{isid}")).await;
    assert_err_ec(s, &v, "491", "OptOut Sid not found");
    let (s, v) = cm.get(&format!("/campaignmanager/dnd/optin/search/{isid}")).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["number"], "6372837839");
    let (s, _) = cm.delete(&format!("/campaignmanager/dnd/optin/{isid}")).await;
    assert_eq!(s, 200);
    let (s, v) = cm.delete(&format!("/campaignmanager/dnd/optin/{isid}")).await;
    assert_err_ec(s, &v, "491", "OptIn Sid not found");
    let (s, v) = cm.get(&format!("/campaignmanager/dnd/optin/search/{isid}")).await;
    assert_err_ec(s, &v, "491", "OptIn Sid not found");
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optin", Some("x"), "12\n").await;
    assert_err_ec(s, &v, "490", "Dnd File numbers is not valid");
}

// ------------------------------------------------------------------------------ tenancy

#[tokio::test]
async fn other_tenants_objects_are_not_found() {
    let app = TestApp::spawn().await;
    let a = Cm::new(&app, "acme").await;
    let b = Cm::new(&app, "globex").await;
    app.credit("acme", 10).await;
    let (_, v) = a.sms("a-camp", "Hi", "+14155550101", &[("startTime", &future(1))]).await;
    let camp = v["data"]["sid"].as_str().unwrap().to_string();
    let (_, v) = a.get("/campaignmanager/credits/search").await;
    let credit = v["data"][0]["sid"].as_str().unwrap().to_string();
    let (_, v) = a
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": a.ent, "name": "A", "type": "play"}),
        )
        .await;
    let ann = v["data"]["sid"].as_str().unwrap().to_string();
    let form = Form::new().part("file", Part::bytes(wav()).file_name("a.wav"));
    let (_, v) = a
        .post_form(&format!("/campaignmanager/internal/file/announcement/{ann}"), form)
        .await;
    let uri = v["data"]["fileUri"].as_str().unwrap().to_string();
    let (_, _) = a
        .post_form("/campaignmanager/dnd/optout", Form::new().part("file", file("+14155550177", "f")))
        .await;
    let (_, v) = a.get("/campaignmanager/dnd/optout/search").await;
    let opt = v["data"]["result"][0]["sid"].as_str().unwrap().to_string();

    let (s, v) = b.get(&format!("/campaignmanager/campaigns/search/{camp}")).await;
    assert_err(s, &v, 463, "Campaign not found");
    let (s, v) = b
        .put_json(&format!("/campaignmanager/campaigns/{camp}"), json!({"status": "cancelled"}))
        .await;
    assert_err(s, &v, 486, "Enterprise campaign not found");
    let (s, v) = b.delete(&format!("/campaignmanager/campaigns/{camp}")).await;
    assert_err(s, &v, 463, "Campaign not found");
    let (s, v) = b.get(&format!("/campaignmanager/credits/search/{credit}")).await;
    assert_err(s, &v, 472, "Credit not found");
    let (s, v) = b.get(&format!("/campaignmanager/announcement/search/{ann}")).await;
    assert_err_ec(s, &v, "500", "Announcement not found");
    let (s, v) = b.delete(&format!("/campaignmanager/announcement/{ann}")).await;
    assert_err_ec(s, &v, "500", "Announcement not found");
    let form = Form::new().part("file", Part::bytes(wav()).file_name("a.wav"));
    let (s, _) = b
        .post_form(&format!("/campaignmanager/internal/file/announcement/{ann}"), form)
        .await;
    assert_eq!(s, 409);
    let r = b.req(Method::GET, &uri).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let (s, v) = b.get(&format!("/campaignmanager/dnd/optout/search/{opt}")).await;
    assert_err_ec(s, &v, "491", "OptOut Sid not found");
    let (s, _) = b.delete(&format!("/campaignmanager/dnd/optout/{opt}")).await;
    assert_eq!(s, 409);
    // B's announcement create naming A's enterprise.
    let (s, v) = b
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": a.ent, "name": "B", "type": "play"}),
        )
        .await;
    assert_err_ec(s, &v, "467", "Enterprise not found");
    // B's voice campaign cannot use A's announcement.
    app.credit("globex", 5).await;
    let f = Form::new()
        .text("name", "b")
        .text("channel", "voice")
        .text("announcementSid", ann.clone())
        .part("toFile", file("+14155550101", "t"));
    let (s, v) = b.post_form("/campaignmanager/campaigns", f).await;
    assert_err(s, &v, 500, "Announcement not found");
    // Searches are per tenant; A's opt-out does not filter B's recipients.
    for p in ["/campaignmanager/campaigns/search", "/campaignmanager/credits/search"] {
        let (_, v) = b.get(p).await;
        assert_eq!(v["total"], if p.contains("credits") { 1 } else { 0 }, "{p}: {v}");
    }
    for p in ["/campaignmanager/announcement/search", "/campaignmanager/dnd/optout/search"] {
        let (_, v) = b.get(p).await;
        assert_eq!(v["data"]["total"], 0, "{p}: {v}");
    }
    let (s, v) = b.sms("b", "Hi", "+14155550177", &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["total"].as_i64()), (201, Some(1)), "{v}");
    // A is untouched.
    assert_eq!(a.balance().await, 9);
    let (_, v) = a.get(&format!("/campaignmanager/campaigns/search/{camp}")).await;
    assert_eq!(v["data"]["status"], "scheduled");
}

// ------------------------------------------------------------------------------ engine, limits

#[tokio::test]
async fn scheduled_campaign_runs_when_the_tenant_clock_reaches_start_time() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm
        .sms("tomorrow", "Hello", "+14155550101\n+14155550102", &[("startTime", &future(1))])
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    app.tick().await;
    let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
    assert_eq!(v["data"]["status"], "scheduled");
    assert!(deliveries(&app, &sid).await.is_empty());
    // Two days later on this tenant's clock.
    app.clock("acme", json!({"advance_seconds": 172800})).await;
    app.eventually(20, || async {
        let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
        (v["data"]["status"] == "Completed").then_some(())
    })
    .await;
    let sent = deliveries(&app, &sid).await;
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|d| d.4 == "delivered"));
    // Once run, no refund.
    let (s, v) = cm
        .put_json(&format!("/campaignmanager/campaigns/{sid}"), json!({"status": "cancelled"}))
        .await;
    assert_err(s, &v, 487, "Campaign status cannot be updated");
    assert_eq!(cm.balance().await, 8);
    // "In the past" is judged on the tenant's clock too.
    let (s, v) = cm.sms("late", "Hello", "+14155550101", &[("startTime", &future(1))]).await;
    assert_err(s, &v, 489, "Start Time is in past");
}

#[tokio::test]
async fn opt_out_made_after_scheduling_is_honoured_at_send_time() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm
        .sms("tomorrow", "Hello", "+14155550101\n+14155550102", &[("startTime", &future(1))])
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    let (s, _) = cm
        .post_form(
            "/campaignmanager/dnd/optout",
            Form::new().part("file", file("+14155550102\n", "o.csv")),
        )
        .await;
    assert_eq!(s, 200);
    app.clock("acme", json!({"advance_seconds": 172800})).await;
    app.eventually(20, || async {
        let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
        (v["data"]["status"] == "Completed").then_some(())
    })
    .await;
    let sent = deliveries(&app, &sid).await;
    let statuses: Vec<(&str, &str)> = sent.iter().map(|d| (d.1.as_str(), d.4.as_str())).collect();
    assert_eq!(statuses, vec![("+14155550101", "delivered"), ("+14155550102", "suppressed")]);
}

#[tokio::test]
async fn uploads_beyond_the_default_body_limit_stream_and_the_upload_limit_holds() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 5000).await;
    // ~3 MB (over the 2 MB default body limit): 1000 numbers, each line with a long
    // second CSV column, plus every number again (duplicates are dropped).
    let pad = "x".repeat(1500);
    let mut to = String::new();
    for round in 0..2 {
        for i in 0..1000 {
            to.push_str(&format!("+1415555{:04},{pad}{round}\n", i));
        }
    }
    assert!(to.len() > 2 * 1024 * 1024);
    let (s, v) = cm.sms("big", "Hello", &to, &[("startTime", &future(1))]).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["total"], 1000);
    assert_eq!(v["data"]["recipients"], 1000);
    let (s, v) = curl_style_upload(&cm, "/campaignmanager/dnd/optout", None, &to).await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = cm.get("/campaignmanager/dnd/optout/search").await;
    assert_eq!(v["data"]["total"], 1000);
    // A non-upload route keeps the default limit.
    let big = json!({"name": pad.repeat(2000)});
    let r = cm
        .req(Method::PUT, "/campaignmanager/announcement/AN3f01da2b10d84f7f92f5b7aaced20a94")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert!(r.status() == 413 || r.status() == 400, "{}", r.status());

    // With a small upload limit, bigger uploads are refused with a clear message.
    let small = TestApp::spawn_config(|mut c| {
        c.upload_limit = 1000;
        c
    })
    .await;
    let cm2 = Cm::new(&small, "small").await;
    small.credit("small", 10).await;
    let (s, v) = cm2.sms("big", "Hello", &to, &[]).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("larger than 1000 bytes"), "{v}");
    assert_eq!(cm2.balance().await, 10);
}

#[tokio::test]
async fn campaigns_of_other_dialects_and_status_mapping() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, v) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer campaign", "kind": "leads", "status": "paused", "channel": "voice"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["ids"]["campaign_manager"].as_str().unwrap().to_string();
    let (s, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["status"], "InProgress");
    assert_eq!(v["data"]["total"], 0);
    assert_eq!(v["data"]["channel"], "voice");
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=InProgress").await;
    assert_eq!(v["total"], 1);
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=Completed").await;
    assert_eq!(v["total"], 0);
    let (s, v) = cm
        .put_json(&format!("/campaignmanager/campaigns/{sid}"), json!({"status": "cancelled"}))
        .await;
    assert_err(s, &v, 487, "Campaign status cannot be updated");
}

#[tokio::test]
async fn scheduled_campaign_survives_a_restart() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm.sms("tomorrow", "Hello", "+14155550101", &[("startTime", &future(1))]).await;
    assert_eq!(s, 201, "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    let (token, csid) = (cm.token.clone(), cm.sid.clone());
    drop(cm);
    let app = app.restart().await;
    app.clock("acme", json!({"advance_seconds": 172800})).await;
    let path = format!("/campaignmanager/campaigns/search/{sid}");
    app.eventually(20, || async {
        let r = app.client.get(app.url(&path)).basic_auth(&csid, Some(&token)).send().await.unwrap();
        let (_, v) = status_json(r).await;
        (v["data"]["status"] == "Completed").then_some(())
    })
    .await;
    assert_eq!(deliveries(&app, &sid).await.len(), 1);
}

// ------------------------------------------------------------------------------ audit fixes

/// Sends `body` with `content_type` and returns the status and JSON answer.
async fn raw(cm: &Cm<'_>, m: Method, path: &str, content_type: &str, body: &'static str) -> (u16, Value) {
    status_json(
        cm.req(m, path)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn announcement_and_dnd_input_errors_use_the_error_code_form() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let (s, v) = cm
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": cm.ent, "name": "P", "type": "play"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let ann = v["data"]["sid"].as_str().unwrap().to_string();
    let check = |s: u16, v: &Value| {
        assert_eq!(s, 400, "{v}");
        assert_eq!(v["errorCode"], "400", "{v}");
        assert!(v.get("code").is_none(), "{v}");
        assert!(
            v["message"].as_str().unwrap().contains("JSON") || v["message"].as_str().unwrap().contains("multipart"),
            "{v}"
        );
    };
    let (s, v) = raw(&cm, Method::POST, "/campaignmanager/announcement", "application/json", "{not json").await;
    check(s, &v);
    let (s, v) = raw(&cm, Method::POST, "/autoattendant/announcement", "application/json", "[1, 2]").await;
    assert_eq!((s, v["errorCode"].as_str()), (400, Some("400")), "{v}");
    let (s, v) = raw(
        &cm,
        Method::PUT,
        &format!("/campaignmanager/announcement/{ann}"),
        "application/json",
        "{\"type\": ",
    )
    .await;
    check(s, &v);
    // A multipart body whose boundary never comes.
    let broken = "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF";
    for path in ["/campaignmanager/dnd/optout", "/campaignmanager/dnd/optin"] {
        let (s, v) = raw(&cm, Method::POST, path, "multipart/form-data; boundary=xyz", broken).await;
        check(s, &v);
    }
    // The upload reads the file part before failing: the doc's 504, also as errorCode.
    let path = format!("/campaignmanager/internal/file/announcement/{ann}");
    let (s, v) = raw(&cm, Method::POST, &path, "multipart/form-data; boundary=xyz", broken).await;
    assert_err_ec(s, &v, "504", "Error in uploading audio file");
    let (s, v) = raw(&cm, Method::POST, &path, "multipart/form-data", "--").await;
    assert_eq!((s, v["errorCode"].as_str()), (400, Some("400")), "{v}");
    let (s, v) = raw(&cm, Method::POST, "/campaignmanager/dnd/optout", "application/json", "{oops").await;
    check(s, &v);
    // Search parameters of announcements answer in the same form as the DND searches.
    let (s, v) = cm.get("/campaignmanager/announcement/search?startTime=yesterday").await;
    assert_eq!((s, v["errorCode"].as_str()), (409, Some("498")), "{v}");
    let (s, v) = cm.get("/campaignmanager/announcement/search?pageSize=abc").await;
    assert_eq!((s, v["errorCode"].as_str()), (400, Some("400")), "{v}");
    let (s, v) = cm.get("/campaignmanager/announcement/search?sortBy=voice:asc").await;
    assert_eq!((s, v["errorCode"].as_str()), (400, Some("400")), "{v}");
}

#[tokio::test]
async fn account_sid_and_email_are_shown_as_in_the_doc_examples() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let email = "acme@switchboard.invalid";
    app.credit("acme", 10).await;
    // An operator credit (no campaign behind it) shows the tenant's account.
    let (_, v) = cm.get("/campaignmanager/credits/search").await;
    assert_eq!(v["data"][0]["accountSid"], cm.sid.as_str(), "{v}");
    assert_eq!(v["data"][0]["accountEmail"], email, "{v}");
    let sid = v["data"][0]["sid"].as_str().unwrap().to_string();
    let (_, v) = cm.get(&format!("/campaignmanager/credits/search/{sid}")).await;
    assert_eq!(v["data"]["accountEmail"], email, "{v}");
    // Campaigns: create, get, search.
    let (s, v) = cm.sms("c", "Hi", "+14155550101", &[("startTime", &future(1))]).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["data"]["accountEmail"], email, "{v}");
    let csid = v["data"]["sid"].as_str().unwrap().to_string();
    let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{csid}")).await;
    assert_eq!(v["data"]["accountEmail"], email, "{v}");
    let (_, v) = cm.get("/campaignmanager/credits/search?type=debit").await;
    assert_eq!(
        (v["data"][0]["accountSid"].as_str(), v["data"][0]["accountEmail"].as_str()),
        (Some(cm.sid.as_str()), Some(email)),
        "{v}"
    );
    // A campaign made through another front door.
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/campaigns",
            json!({"name": "Dialer campaign", "kind": "leads", "status": "scheduled"}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, v) = cm.get("/campaignmanager/campaigns/search").await;
    for c in v["data"].as_array().unwrap() {
        assert_eq!(c["accountSid"], cm.sid.as_str(), "{c}");
        assert_eq!(c["accountEmail"], email, "{c}");
    }
    // Announcements.
    let (s, v) = cm
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": cm.ent, "name": "P", "type": "play"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["accountEmail"], email, "{v}");
    let (_, v) = cm.get("/campaignmanager/announcement/search").await;
    assert_eq!(v["data"]["result"][0]["accountEmail"], email, "{v}");
}

#[tokio::test]
async fn paths_the_doc_prints_are_served() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 10).await;
    let (s, v) = cm.sms("c", "Hi", "+14155550101", &[("startTime", &future(1))]).await;
    assert_eq!(s, 201, "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    let cp = format!("CP{}", &sid[2..]);
    // "Get Single Campaign" as printed: `curl -X DELETE …/campaigns/search/{sid}` reads it.
    let (s, v) = cm.delete(&format!("/campaignmanager/campaigns/search/{cp}")).await;
    assert_eq!((s, v["data"]["sid"].as_str()), (200, Some(sid.as_str())), "{v}");
    assert_eq!(v["data"]["status"], "scheduled");
    assert_eq!(cm.balance().await, 9, "nothing refunded: the campaign is still there");
    let (s, v) = cm.get(&format!("/campaignmanager/campaigns/search/{sid}")).await;
    assert_eq!((s, v["data"]["status"].as_str()), (200, Some("scheduled")));
    let (s, v) = cm
        .delete("/campaignmanager/campaigns/search/CPb6eb071d21124dbab20b095c25f1274f")
        .await;
    assert_err(s, &v, 463, "Campaign not found");
    // The `uri` of the update/delete/get examples.
    let (s, v) = cm.get(&format!("/campaignmanager/enterprise/campaign/search/{cp}")).await;
    assert_eq!((s, v["data"]["sid"].as_str()), (200, Some(sid.as_str())), "{v}");

    // Announcements: upload at the fileUri word order, read at the URIs the upload example prints.
    let (_, v) = cm
        .post_json(
            "/campaignmanager/announcement",
            json!({"enterpriseSid": cm.ent, "name": "Sale announcement", "type": "play"}),
        )
        .await;
    let ann = v["data"]["sid"].as_str().unwrap().to_string();
    let form = Form::new().part("file", Part::bytes(wav()).file_name(format!("{ann}.wav")));
    let (s, v) = cm
        .post_form(&format!("/campaignmanager/internal/announcement/file/{ann}"), form)
        .await;
    assert_eq!(s, 200, "{v}");
    let file = v["data"]["fileUri"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    for p in [
        format!("/autoattendant/announcement/file/{file}"),
        format!("/campaignmanager/announcement/file/{file}"),
        format!("/campaignmanager/internal/announcement/file/{file}"),
    ] {
        let r = cm.req(Method::GET, &p).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), wav(), "{p}");
    }
    let (s, v) = cm.get(&format!("/campaignmanager/announcement/search/AAE{}", &ann[2..])).await;
    assert_eq!((s, v["data"]["sid"].as_str()), (200, Some(ann.as_str())), "{v}");
    let (s, v) = cm.get(&format!("/autoattendant/announcement/search/{ann}")).await;
    assert_eq!((s, v["data"]["sid"].as_str()), (200, Some(ann.as_str())), "{v}");
    let (s, v) = cm
        .get("/autoattendant/announcement/search/AN42b3d3e952ff47ecba9d487095a2bc4e")
        .await;
    assert_err_ec(s, &v, "500", "Announcement not found");
}

#[tokio::test]
async fn status_follows_the_admin_clock_through_in_progress_to_completed() {
    // Only driven passes (the admin clock change runs one; app.tick() another).
    let app = TestApp::spawn_config(|mut c| {
        c.tick_ms = 3_600_000;
        c
    })
    .await;
    let cm = Cm::new(&app, "acme").await;
    app.credit("acme", 300).await;
    let to: String = (0..250).map(|i| format!("+1415555{i:04}\n")).collect();
    let (s, v) = cm.sms("big", "Hello", &to, &[("startTime", &future(1))]).await;
    assert_eq!((s, v["data"]["status"].as_str()), (201, Some("initiating")), "{v}");
    let sid = v["data"]["sid"].as_str().unwrap().to_string();
    let path = format!("/campaignmanager/campaigns/search/{sid}");
    let (_, v) = cm.get(&path).await;
    assert_eq!(v["data"]["status"], "scheduled");
    // The clock set to the start time: started, every SMS in flight (2 s on the tenant clock).
    let starts_at: chrono::DateTime<Utc> = sqlx::query_scalar("SELECT starts_at FROM campaigns WHERE id = $1")
        .bind(uuid::Uuid::parse_str(&sid[2..]).unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    let (s, v) = app
        .admin_post("/admin/v1/tenants/acme/clock", json!({"set": starts_at.to_rfc3339()}))
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, v) = cm.get(&path).await;
    assert_eq!(v["data"]["status"], "InProgress", "{v}");
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=InProgress").await;
    assert_eq!(v["total"], 1);
    let sent = deliveries(&app, &sid).await;
    assert!(sent.len() == 250 && sent.iter().all(|d| d.4 == "sending"), "{sent:?}");
    // InProgress: no cancel, no delete, no refund.
    let (s, v) = cm
        .put_json(&format!("/campaignmanager/campaigns/{sid}"), json!({"status": "cancelled"}))
        .await;
    assert_err(s, &v, 487, "Campaign status cannot be updated");
    let (s, v) = cm.delete(&format!("/campaignmanager/campaigns/{sid}")).await;
    assert_err(s, &v, 464, "Campaign status not \"Scheduled\"");
    assert_eq!(cm.balance().await, 50);
    app.clock("acme", json!({"advance_seconds": 10})).await;
    let (_, v) = cm.get(&path).await;
    assert_eq!(v["data"]["status"], "Completed", "{v}");
    assert_eq!(deliveries(&app, &sid).await.len(), 250);
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=completed").await;
    assert_eq!(v["total"], 1);
    // A campaign the engine marked failed reads Failed.
    let (_, v) = cm.sms("f", "Hello", "+14155550101", &[("startTime", &future(5))]).await;
    let fsid = v["data"]["sid"].as_str().unwrap().to_string();
    app.campaign_events("acme", &fsid[2..], &["start", "fail"]).await;
    let (_, v) = cm.get(&format!("/campaignmanager/campaigns/search/{fsid}")).await;
    assert_eq!(v["data"]["status"], "Failed");
    let (_, v) = cm.get("/campaignmanager/campaigns/search?status=Failed").await;
    assert_eq!(v["total"], 1);
}

#[tokio::test]
async fn unsupported_methods_answer_405_in_the_vendor_shape() {
    let app = TestApp::spawn().await;
    let cm = Cm::new(&app, "acme").await;
    let r = cm.req(Method::POST, "/campaignmanager/credits/search").send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers()["allow"].to_str().unwrap().contains("GET"));
    let (s, v) = status_json(r).await;
    assert_eq!((s, v["code"].as_u64()), (405, Some(405)), "{v}");
    let (s, v) = status_json(cm.req(Method::GET, "/campaignmanager/campaigns").send().await.unwrap()).await;
    assert_eq!((s, v["code"].as_u64()), (405, Some(405)), "{v}");
    let (s, v) = status_json(cm.req(Method::GET, "/campaignmanager/dnd/optout").send().await.unwrap()).await;
    assert_eq!((s, v["errorCode"].as_str()), (405, Some("405")), "{v}");
    let (s, v) = status_json(
        cm.req(Method::PATCH, "/campaignmanager/announcement/AN3f01da2b10d84f7f92f5b7aaced20a94")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["errorCode"].as_str()), (405, Some("405")), "{v}");
}
