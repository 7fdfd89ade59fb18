//! Tenant snapshots through HTTP: export (`GET …/snapshot`), restore (`POST …/snapshot`)
//! and create-from-snapshot (`POST /admin/v1/tenants` with `snapshot`). A tenant built
//! through every dialect, saved, reset and restored, answers every dialect's reads as
//! before; a copy is a tenant of its own; other tenants are never touched.

mod common;

use chrono::{Duration, Utc};
use common::{status_json, AppsClient, CmClient, LeadsClient, OncClient, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// What the tests keep of the tenant they build.
struct Built {
    p: Value,
    onc_campaign: Uuid,
    leads_campaign: String,
    dialer_campaign: i64,
    wav_uri: String,
}

/// A tiny valid WAV file.
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

/// A play announcement of the tenant with its WAV uploaded; the file's URI.
async fn play_announcement(cm: &CmClient) -> String {
    let (s, v) = status_json(
        cm.req(Method::POST, "/campaignmanager/announcement")
            .json(&json!({"enterpriseSid": cm.enterprise_sid, "name": "Welcome", "type": "play"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let play = v["data"]["sid"].as_str().unwrap().to_string();
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(wav()).file_name(format!("{play}.wav")));
    let (s, v) = status_json(
        cm.req(Method::POST, &format!("/campaignmanager/internal/file/announcement/{play}"))
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["data"]["fileUri"].as_str().unwrap().to_string()
}

/// The bytes behind a Campaign Manager file URI, as hex.
async fn file_hex(cm: &CmClient, uri: &str) -> Value {
    let r = cm.req(Method::GET, uri).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{uri}");
    json!(hex::encode(r.bytes().await.unwrap()))
}

/// A tenant with data made through every dialect (and the admin API), all of it idle:
/// the clock is frozen, the ONC campaign paused, the Leads and dialer campaigns drafts and
/// the Campaign Manager campaign starts tomorrow.
async fn build(app: &TestApp, slug: &str) -> Built {
    let p = app.tenant(slug).await;
    app.clock(slug, json!({"freeze": true})).await;
    app.credit(slug, 100).await;
    app.settings(slug, json!({"apps_rate_burst": 7})).await;
    app.admin_create(
        slug,
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Admin", "last_name": "UJET"}),
    )
    .await;
    app.admin_create(
        slug,
        "phone-numbers",
        json!({"number": "+1 339-219-5276", "default_outbound": true}),
    )
    .await;
    app.admin_create(slug, "phone-numbers", json!({"number": "+1 760-867-5309"})).await;
    app.admin_create(
        slug,
        "menus",
        json!({"name": "Lock Star", "menu_type": "ivr_menu", "wait_seconds": 10}),
    )
    .await;
    app.admin_create(slug, "apps/org-items", json!({"kind": "team", "name": "Blue"}))
        .await;

    // ONC: a paused campaign with two contacts.
    let onc = OncClient::open(app, &p).await;
    let sid = onc.session.clone();
    let cid = Uuid::new_v4();
    let from = Utc::now().date_naive().to_string();
    let to = (Utc::now() + Duration::days(30)).date_naive().to_string();
    let code = onc
        .call(
            "AddCampaign",
            json!({"sessionId": sid, "campaign": {
            "ID": cid, "ShortName": "Reminders", "Description": "d", "IsPaused": true,
            "ActiveFromDate": from, "ActiveFromTime": "00:00:00", "ActiveToDate": to, "ActiveToTime": "23:59:59",
            "OutboundSMSNotificationInfo": {"Enabled": true, "FromNumber": "+17608675309", "TextToSend": "Reminder"},
            "OutboundVoiceNotificationInfo": {"Enabled": false},
            "OutboundEmailNotificationInfo": {"Enabled": false},
            "AllowAddingContactsFromExternalApps": false, "SmsNotificationRequired": false,
            "VoiceNotificationRequired": false, "EmailNotificationRequired": false}}),
        )
        .await;
    assert_eq!(code, 0);
    for n in ["+1 415-555-0101", "+1 415-555-0102"] {
        let code = onc
            .call(
                "AddCampaignContact",
                json!({"sessionId": sid, "contact": {"Id": Uuid::new_v4(), "CampaignId": cid,
                "SMSCommInfo": {"Destination": n}}}),
            )
            .await;
        assert_eq!(code, 0);
    }

    // Leads: a campaign and two leads.
    let (s, camp) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/campaigns"),
            json!({"name": "Leads", "kind": "leads"}),
        )
        .await;
    assert_eq!(s, 201, "{camp}");
    let hex = camp["ids"]["leads"].as_str().unwrap().to_string();
    let leads = LeadsClient::login(app, &p).await;
    for (n, first) in [("+14155550111", "Ada"), ("+14155550112", "Bob")] {
        let (s, lead) = leads
            .send(
                Method::PUT,
                &format!("/api/v2/config/campaigns/{hex}/lead"),
                Some(json!({"number": n, "first_name": first, "last_name": "L"})),
            )
            .await;
        assert_eq!(s, 200, "{lead}");
    }

    // Campaign Manager: an SMS campaign (charged in credits) and an opt-out.
    let cm = CmClient::new(app, &p);
    let start = (Utc::now() + Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+0000").to_string();
    let (s, v) = cm
        .post(
            "/campaignmanager/campaigns",
            json!({"name": "Promo", "startTime": start, "fromPrefix": "1", "to": "+14155550121,+14155550122", "channel": "sms", "body": "Hi"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"+14155550177\n".to_vec())
            .file_name("optout.txt")
            .mime_str("text/plain")
            .unwrap(),
    );
    let (s, v) = status_json(
        cm.req(Method::POST, "/campaignmanager/dnd/optout")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let wav_uri = play_announcement(&cm).await;

    // Apps: company DNC, CRM data, a call.
    let apps = AppsClient::new(app, &p);
    let (s, v) = apps
        .post(
            "/apps/api/v1/outbound_dialer/dnc",
            json!({"contacts": [{"phone_number": "+1 415-555-0133"}]}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let (s, v) = apps
        .post(
            "/apps/api/v1/crm/contact_data",
            json!({"call_id": "71450", "agent_id": "1", "contact": {"first_name": "Alex", "crm_id": "381630957514", "phone_number": "+1 859-657-9625"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = apps
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com",
               "end_user_number": "+1 859-657-9625", "outbound_number": "+1 339-219-5276", "lang": "en"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");

    // Outbound dialer: a draft campaign with contacts.
    let (s, c) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/campaigns"),
            json!({"name": "Dialer", "kind": "outbound_dialer"}),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    let dialer = c["ids"]["apps"].as_i64().unwrap();
    let (s, v) = apps
        .post(
            &format!("/apps/api/v1/outbound_dialer/campaigns/{dialer}/contacts"),
            json!({"name": "Cust", "email": "customer@somedomain.com", "phone_number": "+1 111-111-1111",
                   "outbound_number": "+1 760-867-5309", "external_unique_id": "UID_123456"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    Built {
        p,
        onc_campaign: cid,
        leads_campaign: hex,
        dialer_campaign: dialer,
        wav_uri,
    }
}

/// Every dialect's answers about the tenant (new sessions and tokens each time).
async fn reads(app: &TestApp, slug: &str, b: &Built) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let onc = OncClient::open(app, &b.p).await;
    let sid = onc.session.clone();
    out.push((
        "onc GetCampaignListing".into(),
        onc.call("GetCampaignListing", json!({"sessionId": sid})).await,
    ));
    out.push((
        "onc GetCampaignContacts".into(),
        onc.call("GetCampaignContacts", json!({"sessionId": sid, "campaignId": b.onc_campaign}))
            .await,
    ));
    let leads = LeadsClient::login(app, &b.p).await;
    for path in [
        "/api/v2/config/campaigns".to_string(),
        format!("/api/v2/config/campaigns/{}", b.leads_campaign),
        format!("/api/v2/config/campaigns/{}/leads", b.leads_campaign),
    ] {
        let (s, v) = leads.get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.push((format!("leads {path}"), v));
    }
    let cm = CmClient::new(app, &b.p);
    for path in [
        "/campaignmanager/campaigns/search",
        "/campaignmanager/credits/search",
        "/campaignmanager/dnd/optout/search",
        "/campaignmanager/announcement/search",
    ] {
        let (s, v) = cm.get(path).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.push((format!("cm {path}"), v));
    }
    out.push(("cm announcement file".into(), file_hex(&cm, &b.wav_uri).await));
    let apps = AppsClient::new(app, &b.p);
    for path in [
        "/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B14155550133".to_string(),
        "/manager/api/v1/calls".to_string(),
        "/apps/api/v1/wait_times?lang=en".to_string(),
        format!("/apps/api/v1/outbound_dialer/campaigns/{}/contacts", b.dialer_campaign),
        "/manager/api/v1/outbound_dialer/campaigns".to_string(),
    ] {
        let (s, v) = apps.get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.push((format!("apps {path}"), v));
    }
    for what in [
        "",
        "/credits",
        "/dnc",
        "/opt-outs",
        "/outbox",
        "/agents",
        "/menus",
        "/phone-numbers",
        "/apps/org-items",
    ] {
        let path = format!("/admin/v1/tenants/{slug}{what}");
        let (s, v) = app.admin_get(&path).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.push((format!("admin {path}"), v));
    }
    out
}

fn assert_same(before: &[(String, Value)], after: &[(String, Value)]) {
    assert_eq!(before.len(), after.len());
    for ((what, a), (_, b)) in before.iter().zip(after) {
        assert_eq!(a, b, "{what} differs after the restore");
    }
}

async fn export(app: &TestApp, slug: &str, query: &str) -> (u16, String) {
    let r = app
        .admin(Method::GET, &format!("/admin/v1/tenants/{slug}/snapshot{query}"))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.text().await.unwrap())
}

async fn import(app: &TestApp, slug: &str, body: String) -> (u16, Value) {
    let r = app
        .admin(Method::POST, &format!("/admin/v1/tenants/{slug}/snapshot"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    status_json(r).await
}

#[tokio::test]
async fn round_trip_every_dialect_reads_the_same() {
    let app = TestApp::spawn().await;
    let b = build(&app, "acme").await;
    // Another tenant with data of its own.
    let other = app.tenant("other").await;
    app.admin_post("/admin/v1/tenants/other/dnc", json!({"number": "+1 415-555-0199"}))
        .await;
    app.admin_post("/admin/v1/tenants/other/campaigns", json!({"name": "Theirs", "kind": "leads"}))
        .await;
    let other_before = (
        app.admin_get("/admin/v1/tenants/other/dnc").await,
        LeadsClient::login(&app, &other).await.get("/api/v2/config/campaigns").await,
    );

    let before = reads(&app, "acme", &b).await;
    let old_leads = LeadsClient::login(&app, &b.p).await;
    let old_onc = OncClient::open(&app, &b.p).await;

    let (s, doc) = export(&app, "acme", "").await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&doc).expect("the snapshot is one JSON document");
    assert_eq!(v["format"], "switchboard-snapshot");
    assert_eq!(v["version"], 1);
    assert_eq!(v["tenant"]["slug"], "acme");
    assert_eq!(v["tenant"]["settings"]["apps_rate_burst"], 7);
    assert!(v["tenant"]["clock"]["frozen_at"].is_string(), "{}", v["tenant"]);
    for t in [
        "agents",
        "menus",
        "phone_numbers",
        "campaigns",
        "contacts",
        "credit_ledger",
        "suppressions",
        "interactions",
        "crm_records",
        "apps_org_items",
        "announcements",
        "blobs",
        "blob_chunks",
    ] {
        assert!(v["tables"][t].as_array().is_some_and(|a| !a.is_empty()), "{t} is missing or empty");
    }
    assert!(v["tables"].get("credentials").is_none());
    assert!(!doc.contains("secret_hash") && !doc.contains("$argon2"));
    assert!(!doc.contains("\"tenant_id\""));

    // Reset: everything goes (directory too), then the snapshot brings it back.
    let (s, r) = app
        .admin_post("/admin/v1/tenants/acme/reset", json!({"keep_directory": false}))
        .await;
    assert_eq!(s, 200, "{r}");
    let (_, campaigns) = LeadsClient::login(&app, &b.p).await.get("/api/v2/config/campaigns").await;
    assert!(!campaigns.to_string().contains("Leads"), "{campaigns}");
    app.settings("acme", json!({"apps_rate_burst": null})).await;
    app.clock("acme", json!({"reset": true})).await;

    let (s, r) = import(&app, "acme", doc.clone()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["restored"]["ids"], "kept", "{r}");
    assert_eq!(r["restored"]["rows"]["contacts"], v["tables"]["contacts"].as_array().unwrap().len());

    let after = reads(&app, "acme", &b).await;
    assert_same(&before, &after);

    // A restore ends the sessions and tokens of before (like a reset).
    let (s, _) = old_leads.get("/api/v2/config/campaigns").await;
    assert_eq!(s, 401);
    let listing = old_onc.call("GetCampaignListing", json!({"sessionId": old_onc.session})).await;
    assert_eq!(listing, Value::Null, "the ONC session of before the restore is gone");

    // Restoring twice is the same as once; the export of the restored tenant is the same
    // document but for its time of export.
    let (s, r) = import(&app, "acme", doc.clone()).await;
    assert_eq!(s, 200, "{r}");
    assert_same(&before, &reads(&app, "acme", &b).await);
    let (_, again) = export(&app, "acme", "").await;
    let mut again: Value = serde_json::from_str(&again).unwrap();
    let mut first = v.clone();
    again["exported_at"] = Value::Null;
    first["exported_at"] = Value::Null;
    assert_eq!(first, again);

    // The other tenant is untouched.
    let other_after = (
        app.admin_get("/admin/v1/tenants/other/dnc").await,
        LeadsClient::login(&app, &other).await.get("/api/v2/config/campaigns").await,
    );
    assert_eq!(other_before, other_after);
}

#[tokio::test]
async fn create_from_snapshot_makes_a_separate_tenant() {
    let app = TestApp::spawn().await;
    let b = build(&app, "acme").await;
    let before = reads(&app, "acme", &b).await;
    let (_, doc) = export(&app, "acme", "").await;
    let snap: Value = serde_json::from_str(&doc).unwrap();

    // A copy next to the source: new credentials (shown once), new ids.
    let (s, copy) = app.admin_post("/admin/v1/tenants", json!({"slug": "copy", "snapshot": snap})).await;
    assert_eq!(s, 201, "{copy}");
    assert_eq!(copy["tenant"]["slug"], "copy");
    assert_eq!(copy["restored"]["ids"], "remapped", "{copy}");
    assert!(copy["apps"]["token"].is_string(), "{copy}");
    let capps = AppsClient::new(&app, &copy);
    let (s, dialer) = capps.get("/manager/api/v1/outbound_dialer/campaigns").await;
    assert_eq!(s, 200, "{dialer}");
    let dialer = dialer
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "Dialer").cloned())
        .or_else(|| {
            dialer["campaigns"]
                .as_array()
                .and_then(|a| a.iter().find(|c| c["name"] == "Dialer").cloned())
        })
        .unwrap_or_else(|| panic!("the copy has the dialer campaign: {dialer}"));
    let copy_seq = dialer["id"].as_i64().unwrap();
    assert_ne!(copy_seq, b.dialer_campaign);
    let path = format!("/apps/api/v1/outbound_dialer/campaigns/{copy_seq}/contacts");
    let (s, contacts) = capps.get(&path).await;
    assert_eq!(s, 200, "{contacts}");
    assert!(contacts.to_string().contains("UID_123456"), "{contacts}");
    let (_, dnc) = capps
        .get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B14155550133")
        .await;
    assert_eq!(dnc["do_not_call"], true);
    let (_, cr) = app.admin_get("/admin/v1/tenants/copy/credits").await;
    let (_, ar) = app.admin_get("/admin/v1/tenants/acme/credits").await;
    assert_eq!(cr.as_array().unwrap().len(), ar.as_array().unwrap().len());
    // The copy's announcement has a SID and file of its own, with the same audio.
    let ccm = CmClient::new(&app, &copy);
    let (s, anns) = ccm.get("/campaignmanager/announcement/search").await;
    assert_eq!(s, 200, "{anns}");
    let uri = anns
        .to_string()
        .split('"')
        .find(|p| p.contains("/announcement/file/"))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("a file URI in {anns}"));
    assert_ne!(uri, b.wav_uri);
    assert_eq!(file_hex(&ccm, &uri).await, json!(hex::encode(wav())));
    // The copy's ids are not the source's: the source's campaign is not the copy's.
    let leads = LeadsClient::login(&app, &copy).await;
    let (s, _) = leads.get(&format!("/api/v2/config/campaigns/{}", b.leads_campaign)).await;
    assert_eq!(s, 404);
    let (s, list) = leads.get("/api/v2/config/campaigns").await;
    assert_eq!(s, 200);
    assert!(list.to_string().contains("Leads"), "{list}");
    // Changing the copy leaves the source alone.
    let (s, _) = capps
        .post(
            &path,
            json!({"name": "New", "phone_number": "+1 222-222-2222", "outbound_number": "+1 760-867-5309"}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app.admin_post("/admin/v1/tenants/copy/reset", json!({})).await;
    assert_eq!(s, 200);
    assert_same(&before, &reads(&app, "acme", &b).await);
    // Same slug twice → 409.
    let (s, _) = app.admin_post("/admin/v1/tenants", json!({"slug": "copy", "snapshot": snap})).await;
    assert_eq!(s, 409);

    // With credentials, after the source is gone (a fresh server, say): the same tenant,
    // ids and credentials come back.
    let (s, full) = export(&app, "acme", "?with_credentials=true").await;
    assert_eq!(s, 200);
    assert!(full.contains("secret_hash") && full.contains("$argon2"));
    let full: Value = serde_json::from_str(&full).unwrap();
    let r = app.admin(Method::DELETE, "/admin/v1/tenants/acme").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, back) = app.admin_post("/admin/v1/tenants", json!({"slug": "acme", "snapshot": full})).await;
    assert_eq!(s, 201, "{back}");
    assert_eq!(back["restored"]["ids"], "kept", "{back}");
    assert!(back.get("apps").is_none(), "credentials come from the snapshot: {back}");
    assert_same(&before, &reads(&app, "acme", &b).await);
}

#[tokio::test]
async fn bad_snapshots_are_refused() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.admin_post("/admin/v1/tenants/acme/dnc", json!({"number": "+1 415-555-0199"}))
        .await;
    let (_, doc) = export(&app, "acme", "").await;
    let mut v: Value = serde_json::from_str(&doc).unwrap();
    v["version"] = json!(2);
    let (s, e) = import(&app, "acme", v.to_string()).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("version"), "{e}");
    let (s, e) = app.admin_post("/admin/v1/tenants", json!({"slug": "b", "snapshot": v})).await;
    assert_eq!(s, 422, "{e}");
    v["version"] = json!(1);
    v["format"] = json!("something-else");
    let (s, _) = import(&app, "acme", v.to_string()).await;
    assert_eq!(s, 422);
    v["format"] = json!("switchboard-snapshot");
    v["tables"]["no_such_table"] = json!([]);
    let (s, e) = import(&app, "acme", v.to_string()).await;
    assert_eq!(s, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("no_such_table"), "{e}");
    let (s, _) = import(&app, "acme", "{not json".into()).await;
    assert_eq!(s, 400);
    // Nothing changed.
    let (_, dnc) = app.admin_get("/admin/v1/tenants/acme/dnc").await;
    assert_eq!(dnc.as_array().unwrap().len(), 1);
    // Unknown tenant → 404; no token → 401.
    let (s, _) = export(&app, "acme", "?with_credentials=maybe").await;
    assert_eq!(s, 400);
    let (s, _) = export(&app, "nobody", "").await;
    assert_eq!(s, 404);
    let r = app.client.get(app.url("/admin/v1/tenants/acme/snapshot")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn rows_without_newer_columns_get_their_defaults() {
    let app = TestApp::spawn().await;
    app.tenant("acme").await;
    app.admin_create(
        "acme",
        "agents",
        json!({"email": "a@somedomain.com", "first_name": "A", "status": "unavailable"}),
    )
    .await;
    let (_, doc) = export(&app, "acme", "").await;
    let mut v: Value = serde_json::from_str(&doc).unwrap();
    // As if the snapshot were of before `status` and `attrs` existed.
    let agent = v["tables"]["agents"][0].as_object_mut().unwrap();
    agent.remove("status");
    agent.remove("attrs");
    let (s, r) = import(&app, "acme", v.to_string()).await;
    assert_eq!(s, 200, "{r}");
    let (_, agents) = app.admin_get("/admin/v1/tenants/acme/agents").await;
    assert_eq!(agents[0]["email"], "a@somedomain.com", "{agents}");
    assert_eq!(agents[0]["status"], "available", "the column's default: {agents}");
}

#[tokio::test]
async fn a_large_tenant_streams() {
    let app = TestApp::spawn().await;
    let p = app.tenant("big").await;
    let (s, c) = app
        .admin_post("/admin/v1/tenants/big/campaigns", json!({"name": "Big", "kind": "outbound_dialer"}))
        .await;
    assert_eq!(s, 201, "{c}");
    let id: Uuid = c["id"].as_str().unwrap().parse().unwrap();
    sqlx::query(
        "INSERT INTO contacts (id, tenant_id, campaign_id, number, name, status, created_at, updated_at)
         SELECT gen_random_uuid(), c.tenant_id, c.id, '+1415' || lpad(g::text, 7, '0'), 'Contact ' || g, 'pending', now(), now()
           FROM campaigns c, generate_series(1, 20000) g WHERE c.id = $1",
    )
    .bind(id)
    .execute(&app.db)
    .await
    .unwrap();
    let (s, doc) = export(&app, "big", "").await;
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["tables"]["contacts"].as_array().unwrap().len(), 20000);
    let (s, r) = import(&app, "big", doc).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["restored"]["rows"]["contacts"], 20000);
    let apps = AppsClient::new(&app, &p);
    let seq = c["ids"]["apps"].as_i64().unwrap();
    let (s, page) = apps.get(&format!("/apps/api/v1/outbound_dialer/campaigns/{seq}/contacts")).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.to_string().contains("Contact 1"), "{page}");
}
