//! Apps API dialect: calls, SMS, wait times, CRM, company DNC, Manager calls, auth and
//! rate limits — through HTTP, with the vendor doc's examples.

mod common;

use common::{status_json, AppsClient, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

/// The doc's world: agents, numbers and menus.
struct World {
    c: AppsClient,
    lock_star: i64,
    mobile: i64,
    web: i64,
    after_hours: i64,
    redirect: i64,
}

async fn world(app: &TestApp, slug: &str) -> World {
    let c = app.tenant_apps(slug).await;
    app.admin_create(
        slug,
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Admin", "last_name": "UJET"}),
    )
    .await;
    app.admin_create(
        slug,
        "agents",
        json!({"email": "agent@somedomain.com", "first_name": "Busy", "last_name": "Agent", "status": "unavailable"}),
    )
    .await;
    app.admin_create(
        slug,
        "agents",
        json!({"email": "allen@somedomain.com", "first_name": "Allen", "last_name": "NoCalls", "can_call": false}),
    )
    .await;
    app.admin_create(
        slug,
        "phone-numbers",
        json!({"number": "+1 339-219-5276", "default_outbound": true}),
    )
    .await;
    app.admin_create(slug, "phone-numbers", json!({"number": "+1 628-555-0199"})).await;
    let m = |name: &str, t: &str| json!({"name": name, "menu_type": t, "channels": ["voice_call", "chat"], "wait_seconds": 10});
    let lock_star = app
        .admin_create(
            slug,
            "menus",
            json!({"name": "Lock Star", "menu_type": "ivr_menu", "wait_seconds": 10}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let mobile = app.admin_create(slug, "menus", m("Laptop", "mobile_menu")).await["id"]
        .as_i64()
        .unwrap();
    let web = app.admin_create(slug, "menus", m("Web App", "web_menu")).await["id"]
        .as_i64()
        .unwrap();
    let after_hours = app
        .admin_create(
            slug,
            "menus",
            json!({"name": "Closed", "menu_type": "ivr_menu", "state": "after_hours"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let redirect = app
        .admin_create(
            slug,
            "menus",
            json!({"name": "Redirected", "menu_type": "web_menu", "state": "manual_redirection"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    World {
        c,
        lock_star,
        mobile,
        web,
        after_hours,
        redirect,
    }
}

async fn err(c: &AppsClient, path: &str, body: Value, status: u16, message: &str) {
    let (s, v) = c.post(path, body.clone()).await;
    assert_eq!((s, v["message"].as_str()), (status, Some(message)), "{body} → {v}");
}

#[tokio::test]
async fn auth_host_check_and_unknown_paths() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    let (s, v) = status_json(app.client.get(app.url("/apps/api/v1/wait_times?lang=en")).send().await.unwrap()).await;
    assert_eq!((s, v["message"].as_str()), (401, Some("Unauthorized")));
    let bad = AppsClient::with(&app, "acme", "wrong");
    assert_eq!(bad.get("/apps/api/v1/wait_times?lang=en").await.0, 401);
    let (s, _) = status_json(
        c.req(Method::GET, "/apps/api/v1/wait_times?lang=en")
            .header("host", "other.example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 401, "a Host naming another subdomain is refused");
    let (s, _) = status_json(
        c.req(Method::GET, "/apps/api/v1/wait_times?lang=en")
            .header("host", "acme.example.com")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let (s, v) = c.get("/apps/api/v1/nothing_here").await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
    // A known path with another method: the vendor's 404 shape, not an empty 405.
    for (m, p) in [
        (Method::GET, "/apps/api/v1/calls"),
        (Method::DELETE, "/apps/api/v1/sms"),
        (Method::POST, "/apps/api/v1/wait_times"),
        (Method::GET, "/apps/api/v1/outbound_dialer/dnc"),
        (Method::DELETE, "/manager/api/v1/calls/1"),
    ] {
        let (s, v) = status_json(c.req(m.clone(), p).send().await.unwrap()).await;
        assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")), "{m} {p}");
    }
    let (s, v) = status_json(
        c.req(Method::POST, "/apps/api/v1/calls")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 400);
    assert!(v["message"].is_string());
}

#[tokio::test]
async fn outbound_calls_doc_examples() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let c = &w.c;
    // II. Create an outbound call with end_user_number.
    let (s, v) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com",
               "end_user_number": "+1 859-657-9625", "outbound_number": "+1 339-219-5276", "lang": "en"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "assigned");
    assert_eq!(v["call_type"], "Voice Outbound (API)");
    assert_eq!(v["lang"], "en");
    assert_eq!(v["agent_info"]["name"], "Admin UJET");
    assert_eq!(v["agent_info"]["first_name"], "Admin");
    assert_eq!(v["end_user"], Value::Null);
    assert_eq!(v["outbound_number"], "+1 339-219-5276");
    assert!(v["queued_at"].is_null() && v["assigned_at"].is_string() && v["created_at"].is_string());
    assert_eq!(v["participants"].as_array().unwrap().len(), 2);
    assert_eq!(v["participants"][0]["type"], "agent");
    assert_eq!(v["participants"][1]["type"], "end_user");
    assert_eq!(v["participants"][0]["call_id"], v["id"]);
    for k in [
        "recording_url",
        "selected_menu",
        "menu_path",
        "fail_details",
        "out_ticket_id",
        "rating",
        "offer_type",
    ] {
        assert!(v.get(k).is_some_and(Value::is_null), "{k} present and null");
    }
    assert_eq!(v["recording_permission"], "not_asked");
    assert_eq!(v["deflection_details"], json!([]));
    let id = v["id"].as_i64().unwrap();
    let stored: (String, String, Option<String>) = sqlx::query_as("SELECT kind, status, end_user_number FROM interactions WHERE seq = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, ("call".into(), "assigned".into(), Some("+18596579625".into())));
    // Deprecated name and the default outbound number.
    let (s, v) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "OutboundCall", "agent_email": "admin@somedomain.com", "end_user_number": "+1 859-657-9625"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // The default number is shown as the doc's call objects show it.
    assert_eq!(v["outbound_number"], "+1 339-219-5276");
    assert_eq!(v["call_type"], "Voice Outbound (API)");

    let path = "/apps/api/v1/calls";
    // XI / IV. Invalid call type.
    err(
        c,
        path,
        json!({"call_type": "ScheduledCal", "agent_email": "admin@somedomain.com"}),
        400,
        "Invalid call type",
    )
    .await;
    err(c, path, json!({"agent_email": "admin@somedomain.com"}), 400, "Invalid call type").await;
    // The doc's ticket_id section IV sends "ScheduledCall" (the deprecated scheduled type, per
    // its Scheduled Call section): it is a scheduled call missing its menu (module doc).
    err(c,
        path,
        json!({"call_type": "ScheduledCall", "agent_email": "allen@somedomain.com", "outbound_number": "+1 760-410-8538", "end_user_number": "123123", "lang": "en"}),
        400,
        "menu_id is required",
    )
    .await;
    // VI. Agent email required.
    err(
        c,
        path,
        json!({"call_type": "Voice Outbound (API)", "end_user_number": "+1 205-123-4567", "lang": "en"}),
        400,
        "Agent email required",
    )
    .await;
    // V. Not a valid agent email.
    err(
        c,
        path,
        json!({"call_type": "Voice Outbound (API)", "agent_email": "nobody@somedomain.com", "end_user_number": "+1 205-123-4567"}),
        400,
        "Not a valid agent email",
    )
    .await;
    // VII. Agent does not have access to make calls.
    err(
        c,
        path,
        json!({"call_type": "Voice Outbound (API)", "agent_email": "allen@somedomain.com", "end_user_number": "+1 205-123-4567"}),
        400,
        "Agent does not have access to make calls",
    )
    .await;
    // I. Agent is not available to take this call.
    err(c, path, json!({"call_type": "Voice Outbound (API)", "agent_email": "agent@somedomain.com", "end_user_number": "+1 205-123-4567", "lang": "en"}), 400, "Agent is not available to take this call").await;
    // IV. ticket_id or end_user_number required.
    err(
        c,
        path,
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "lang": "en"}),
        400,
        "ticket_id or end_user_number required",
    )
    .await;
    // VIII. end_user_number is not well-formed.
    err(c, path, json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "outbound_number": "+1 339-219-5276", "end_user_number": "123123"}), 400, "end_user_number is not well-formed").await;
    // IX. Contact not found.
    err(c, path, json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "outbound_number": "+1 339-219-5276", "ticket_id": 1}), 400, "Contact not found").await;
    // An outbound number that is not the tenant's.
    err(c, path, json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "outbound_number": "+1 760-410-8538", "end_user_number": "+1 205-123-4567"}), 400, "outbound_number is not found").await;

    // III. Create an outbound call with ticket_id (the ticket's contact comes from CRM data).
    let (s, _) = c.post("/apps/api/v1/crm/contact_data",
        json!({"call_id": "71450", "agent_id": "1", "contact": {"first_name": "Alex", "crm_id": "381630957514", "phone_number": "+1 859-657-9625"}}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = c.post(path,
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "ticket_id": "71450", "outbound_number": "+1 339-219-5276", "lang": "en"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["out_ticket_id"], "71450");
    assert_eq!(v["end_user"]["out_contact_id"], "381630957514");
    assert!(v["end_user"]["id"].is_i64());
    assert_eq!(v["participants"][1]["end_user_id"], v["end_user"]["id"]);
}

#[tokio::test]
async fn outbound_call_needs_number_choice_with_several_numbers() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("multi").await;
    app.admin_create(
        "multi",
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Admin", "last_name": "UJET"}),
    )
    .await;
    app.admin_create("multi", "phone-numbers", json!({"number": "+1 339-219-5276"}))
        .await;
    app.admin_create("multi", "phone-numbers", json!({"number": "+1 760-410-8538"}))
        .await;
    // X / XII. Several numbers, no default: 202.
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 859-657-9625", "lang": "en"}),
    )
    .await;
    assert_eq!(s, 202, "{v}");
    assert_eq!(v["message"], "accepted");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM interactions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing created");
    // XIII. Accepted: agent must make an outbound call with ticket id.
    // The setting goes through the admin API (typed and validated there).
    let (st, t) = app
        .patch_tenant("multi", json!({"settings": {"apps_outbound_requires_ticket": "yes"}}))
        .await;
    assert_eq!(st, 422, "{t}");
    assert!(t["error"].as_str().unwrap().contains("apps_outbound_requires_ticket"), "{t}");
    let (st, t) = app
        .patch_tenant("multi", json!({"settings": {"apps_outbound_requires_ticket": true}}))
        .await;
    assert_eq!(st, 200, "{t}");
    assert_eq!(t["settings"]["apps_outbound_requires_ticket"], true);
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 205-123-4567", "outbound_number": "+1 339-219-5276"}),
    )
    .await;
    assert_eq!((s, v["message"].as_str()), (202, Some("accepted")));
    // null returns the setting to its default (false): the same call is created.
    let (st, t) = app
        .patch_tenant("multi", json!({"settings": {"apps_outbound_requires_ticket": null}}))
        .await;
    assert_eq!(st, 200, "{t}");
    assert!(t["settings"].get("apps_outbound_requires_ticket").is_none(), "{t}");
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 205-123-4567", "outbound_number": "+1 339-219-5276"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

#[tokio::test]
async fn incoming_and_scheduled_calls() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let c = &w.c;
    let path = "/apps/api/v1/calls";
    // VI. Create an incoming call with end_user_number.
    let (s, v) = c.post(path,
        json!({"call_type": "Voice Inbound (API)", "lang": "en", "menu_id": w.lock_star, "end_user_number": "+82-10-6861-2345", "recording_permission": "recording_permission_granted"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "queued");
    assert_eq!(v["call_type"], "Voice Inbound (API)");
    assert_eq!(v["selected_menu"]["id"], w.lock_star);
    assert_eq!(v["selected_menu"]["name"], "Lock Star");
    assert_eq!(v["selected_menu"]["menu_type"], "ivr_menu");
    assert_eq!(v["menu_path"]["materialized_path"], w.lock_star.to_string());
    assert_eq!(v["menu_path"]["items_count"], 1);
    assert!(v["queued_at"].is_string());
    assert_eq!(v["agent_info"], Value::Null);
    assert!(v["end_user"]["id"].is_i64());
    assert_eq!(v["offer_type"], "cascade");
    assert_eq!(v["participants"].as_array().unwrap().len(), 1);
    // No outbound_number given: the default one, shown as in the doc's example.
    assert_eq!(v["outbound_number"], "+1 339-219-5276");
    assert_eq!(v["recording_permission"], "not_asked");
    let parent = v["id"].as_i64().unwrap();
    // The same consumer gets the same end user id.
    let (_, v2) = c
        .post(
            path,
            json!({"call_type": "IncomingCall", "menu_id": w.web, "end_user_number": "+82 10 6861 2345"}),
        )
        .await;
    assert_eq!(v2["end_user"]["id"], v["end_user"]["id"]);

    let inb = |extra: Value| {
        let mut b = json!({"call_type": "Voice Inbound (API)", "lang": "en", "menu_id": w.lock_star, "end_user_number": "+1 859-657-9625", "recording_permission": "recording_permission_granted"});
        for (k, val) in extra.as_object().unwrap() {
            if val.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = val.clone();
            }
        }
        b
    };
    err(
        c,
        path,
        inb(json!({"end_user_number": "+1 999-657-12"})),
        400,
        "end_user_number is not well formed",
    )
    .await;
    err(
        c,
        path,
        inb(json!({"menu_id": w.redirect})),
        400,
        "Menu is in 'manual redirection' state, can't accept calls",
    )
    .await;
    err(c, path, inb(json!({"call_type": "InvalidCallType"})), 400, "Invalid call type").await;
    err(c, path, inb(json!({"menu_id": null})), 400, "menu_id is required").await;
    err(
        c,
        path,
        inb(json!({"menu_id": w.mobile})),
        400,
        "Only IVR and web menu IDs are permitted",
    )
    .await;
    err(
        c,
        path,
        inb(json!({"menu_id": w.after_hours})),
        400,
        "Menu is in 'after hours' state, can't accept incoming calls",
    )
    .await;
    err(c, path, inb(json!({"lang": "fr"})), 400, "Language 'fr' is not available").await;
    err(c, path, inb(json!({"lang": "xy"})), 400, "Language 'xy' is not found").await;
    err(c, path, inb(json!({"menu_id": 9999})), 400, "menu_id 9999 is not found").await;
    err(c, path, inb(json!({"menu_id": "menu_999"})), 400, "menu_id is not well formed").await;
    err(c, path, inb(json!({"end_user_number": null})), 400, "end_user_number is required").await;
    err(
        c,
        path,
        inb(json!({"recording_permission": "maybe"})),
        400,
        "recording_permission is invalid",
    )
    .await;
    // IX. With a ticket.
    let (s, v) = c.post(path, inb(json!({"ticket_id": "76517"}))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["out_ticket_id"], "76517");

    // Scheduled calls.
    let future = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let sch = |extra: Value| {
        let mut b = json!({"call_type": "Voice Scheduled (API)", "lang": "en", "menu_id": w.mobile, "end_user_number": "+1 859-657-9625", "scheduled_at": future, "recording_permission": "recording_permission_granted"});
        for (k, val) in extra.as_object().unwrap() {
            if val.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = val.clone();
            }
        }
        b
    };
    let (s, v) = c.post(path, sch(json!({}))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["status"], "scheduled");
    assert_eq!(v["call_type"], "Voice Scheduled (API)");
    assert!(v["scheduled_at"].is_string());
    assert!(v["queued_at"].is_null());
    // VII. With call_id (the parent lends its menu... only when it is mobile/web).
    let (s, v) = c.post(path, sch(json!({"menu_id": null, "call_id": v["id"]}))).await;
    assert_eq!(s, 201, "{v}");
    assert!(v["parent_id"].is_i64());
    err(
        c,
        path,
        sch(json!({"menu_id": null, "call_id": parent})),
        400,
        "Only mobile and web menu IDs are permitted",
    )
    .await;
    err(
        c,
        path,
        sch(json!({"menu_id": null, "call_id": 99999})),
        400,
        "call_id 99999 is not found",
    )
    .await;
    err(
        c,
        path,
        sch(json!({"end_user_number": "+1 999-657-12"})),
        400,
        "end_user_number is not well formed",
    )
    .await;
    err(
        c,
        path,
        sch(json!({"menu_id": w.redirect})),
        400,
        "Menu is in 'manual redirection' state, can't accept calls",
    )
    .await;
    err(c, path, sch(json!({"call_type": "InvalidCallType"})), 400, "Invalid call type").await;
    err(c, path, sch(json!({"menu_id": null})), 400, "menu_id is required").await;
    err(
        c,
        path,
        sch(json!({"menu_id": w.lock_star})),
        400,
        "Only mobile and web menu IDs are permitted",
    )
    .await;
    err(c, path, sch(json!({"lang": "fr"})), 400, "Language 'fr' is not available").await;
    err(c, path, sch(json!({"lang": "xy"})), 400, "Language 'xy' is not found").await;
    err(c, path, sch(json!({"menu_id": 9999})), 400, "menu_id 9999 is not found").await;
    err(c, path, sch(json!({"menu_id": "menu_999"})), 400, "menu_id is not well formed").await;
    err(c, path, sch(json!({"end_user_number": null})), 400, "end_user_number is required").await;
    err(c, path, sch(json!({"scheduled_at": null})), 400, "scheduled_at is required").await;
    err(
        c,
        path,
        sch(json!({"scheduled_at": "2019-09-15T00:19:14.421Z"})),
        400,
        "scheduled_at must be a future time",
    )
    .await;
    err(
        c,
        path,
        sch(json!({"scheduled_at": "next tuesday"})),
        400,
        "scheduled_at is not well formed",
    )
    .await;
    // After hours for scheduled calls too.
    let closed = app
        .admin_create(
            "acme",
            "menus",
            json!({"name": "Closed web", "menu_type": "web_menu", "state": "after_hours"}),
        )
        .await["id"]
        .clone();
    err(
        c,
        path,
        sch(json!({"menu_id": closed})),
        400,
        "Menu is in 'after hours' state, can't accept incoming calls",
    )
    .await;
}

#[tokio::test]
async fn company_dnc_doc_example_and_blocking() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let c = &w.c;
    // The doc's example is dated October 2022: freeze the tenant's clock there. The admin
    // API never moves a clock backwards, so this one instant in the past is set in storage.
    sqlx::query("UPDATE tenants SET clock_frozen_at = '2022-10-28T00:00:00Z' WHERE slug = 'acme'")
        .execute(&app.db)
        .await
        .unwrap();
    let (s, _) = c
        .post(
            "/apps/api/v1/outbound_dialer/dnc",
            json!({"contacts": [{"phone_number": "+1-4151113333"}, {"phone_number": "+1-4151115555"}]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, v) = c
        .post(
            "/apps/api/v1/outbound_dialer/dnc",
            json!({"contacts": [
                {"phone_number": "+1-7187309219", "expires_at": "2022-10-29 00:00:00 UTC"},
                {"phone_number": "+1-(358)-213-1634"},
                {"phone_number": "+1-4151113333", "expires_at": "2022-10-30 00:00:00 UTC"},
                {"phone_number": "+1-4151115555"},
                {"phone_number": "+1-7187309219", "expires_at": "2022-10-27 00:00:00 UTC"},
                {"phone_number": "sssssss"},
                {"phone_number": "911", "expires_at": "2023-02-05 00:00:00 UTC"}
            ]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!([
            {"phone_number": "+1-7187309219", "expires_at": "2022-10-29 00:00:00 UTC", "status": "created"},
            {"phone_number": "+1-(358)-213-1634", "status": "created"},
            {"phone_number": "+1-4151113333", "expires_at": "2022-10-30 00:00:00 UTC", "status": "updated"},
            {"phone_number": "+1-4151115555", "status": "updated"},
            {"phone_number": "+1-7187309219", "expires_at": "2022-10-27 00:00:00 UTC", "error": "expires_at cannot be past date/time", "status": "failed"},
            {"phone_number": "sssssss", "error": "phone_number is invalid", "status": "failed"},
            {"phone_number": "911", "expires_at": "2023-02-05 00:00:00 UTC", "error": "emergency phone number is not allowed", "status": "failed"}
        ])
    );
    let stored: Vec<(String, String)> = sqlx::query_as("SELECT list, number FROM suppressions ORDER BY number")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|(l, _)| l == "dnc"));

    // Check.
    let (s, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=1-718-730-9219").await;
    assert_eq!(s, 200);
    assert_eq!(v["phone_number"], "1-718-730-9219");
    assert_eq!(v["do_not_call"], true);
    assert_eq!(v["expired_at"], "2022-10-29 00:00:00.000000 +0000");
    let (_, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B1-4151115555").await;
    assert_eq!((v["do_not_call"].as_bool(), v["expired_at"].is_null()), (Some(true), true));
    let (s, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check").await;
    assert_eq!((s, v["message"].as_str()), (400, Some("phone_number is required")));
    let (s, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=abc").await;
    assert_eq!((s, v["message"].as_str()), (400, Some("phone_number is invalid")));
    let (s, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=1&phone_number=2").await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("phone_number is invalid")),
        "the vendor's error shape"
    );

    // A listed number blocks outbound and scheduled calls (and SMS).
    let call = json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 718-730-9219"});
    err(
        c,
        "/apps/api/v1/calls",
        call.clone(),
        400,
        "end_user_number is on the Do Not Call list",
    )
    .await;
    let sched = json!({"call_type": "Voice Scheduled (API)", "menu_id": w.mobile, "end_user_number": "+1 718-730-9219", "scheduled_at": "2022-11-15T00:00:00Z"});
    err(
        c,
        "/apps/api/v1/calls",
        sched.clone(),
        400,
        "end_user_number is on the Do Not Call list",
    )
    .await;
    let sms = json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 718-730-9219", "outbound_number": "+1 628-555-0199", "message": "hi"});
    err(
        c,
        "/apps/api/v1/sms",
        sms.clone(),
        400,
        "end_user_number is on the Do Not Call list",
    )
    .await;

    // Once expired, it no longer blocks.
    app.clock("acme", json!({"set": "2022-10-29T00:00:01Z"})).await;
    let (s, v) = c.post("/apps/api/v1/calls", call.clone()).await;
    assert_eq!(s, 201, "{v}");
    let (_, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=1-718-730-9219").await;
    assert_eq!(v["do_not_call"], false);

    // Remove.
    let (s, v) = c
        .post(
            "/apps/api/v1/outbound_dialer/dnc/remove",
            json!({"phone_numbers": ["1-415-111-3333", "1-415-222-2222", "1-415-333-333-3333"]}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v[0], json!({"phone_number": "1-415-111-3333", "status": "removed"}));
    assert_eq!(v[1], json!({"phone_number": "1-415-222-2222", "status": "not_found"}));
    assert_eq!(v[2]["status"], "failed");
    let (_, v) = c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=1-415-111-3333").await;
    assert_eq!(v["do_not_call"], false);
    let (s, v) = c.post("/apps/api/v1/outbound_dialer/dnc", json!({})).await;
    assert_eq!((s, v["message"].as_str()), (400, Some("contacts is required")));

    // An SMS opt-out (shared list) blocks SMS too.
    app.admin_create("acme", "opt-outs", json!({"number": "+14155550100", "channels": ["sms"]}))
        .await;
    err(c,
        "/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "hi"}),
        400,
        "end_user_number is on the Do Not Call list",
    )
    .await;
}

#[tokio::test]
async fn sms_doc_examples() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let c = &w.c;
    let path = "/apps/api/v1/sms";
    let body = |extra: Value| {
        let mut b = json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "lorem ipsum", "ticket_id": "5006x00000XXxxxXXX"});
        for (k, val) in extra.as_object().unwrap() {
            if val.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = val.clone();
            }
        }
        b
    };
    err(c, path, body(json!({"chat_type": null})), 400, "chat_type needs to be provided").await;
    err(
        c,
        path,
        body(json!({"chat_type": "In-app"})),
        400,
        "valid chat type needs to be provided",
    )
    .await;
    err(c, path, body(json!({"end_user_number": null})), 400, "end_user_number is required").await;
    err(
        c,
        path,
        body(json!({"end_user_number": "12345"})),
        400,
        "end_user_number is invalid",
    )
    .await;
    err(
        c,
        path,
        body(json!({"outbound_number": "+82 000-000-0000"})),
        400,
        "Non-US phone number not allowed",
    )
    .await;
    err(c, path, body(json!({"outbound_number": null})), 400, "outbound_number is required").await;
    err(
        c,
        path,
        body(json!({"outbound_number": "12345"})),
        400,
        "outbound_number is invalid",
    )
    .await;
    err(
        c,
        path,
        body(json!({"outbound_number": "+1 628-555-0111"})),
        400,
        "outbound_number is not found",
    )
    .await;
    err(c, path, body(json!({"message": ""})), 400, "message is required").await;

    // I. Create an outbound SMS chat.
    let (s, v) = c.post(path, body(json!({}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["chat_type"], "Messaging (SMS)");
    assert_eq!(v["status"], "selecting");
    assert_eq!(v["outbound_number"], "+16285550199");
    assert_eq!(v["participants"][0]["type"], "end_user");
    assert_eq!(v["participants"][0]["status"], "connected");
    assert_eq!(v["participants"][0]["chat_id"], v["id"]);
    assert!(v["end_user"]["id"].is_i64());
    let (_, out) = app.admin_get("/admin/v1/tenants/acme/outbox").await;
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["channel"], "sms");
    assert_eq!(out[0]["to_address"], "+14155550100");
    assert_eq!(out[0]["body"], "lorem ipsum");
    // XIV. One active session per consumer.
    err(
        c,
        path,
        body(json!({})),
        400,
        "Outbound SMS failed. Consumer is already in an active SMS session.",
    )
    .await;
    // Deprecated "SMS" chat type, another consumer.
    let (s, v) = c
        .post(path, body(json!({"chat_type": "SMS", "end_user_number": "+1 415-555-0101"})))
        .await;
    assert_eq!((s, v["chat_type"].as_str()), (200, Some("Messaging (SMS)")));

    // V / VI. Tenant settings.
    assert_eq!(
        app.patch_tenant("acme", json!({"settings": {"outbound_sms_enabled": false}}))
            .await
            .0,
        200
    );
    err(c, path, body(json!({})), 400, "Outbound SMS is not enabled").await;
    assert_eq!(
        app.patch_tenant("acme", json!({"settings": {"sms_enabled": false, "outbound_sms_enabled": true}}))
            .await
            .0,
        200
    );
    err(c, path, body(json!({})), 400, "SMS is not enabled").await;
}

#[tokio::test]
async fn wait_times_doc_examples() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    let m = |name: &str, t: &str, ch: Value, parent: Option<i64>| json!({"name": name, "menu_type": t, "channels": ch, "wait_seconds": 10, "parent_id": parent});
    let web = app
        .admin_create("acme", "menus", m("Web App", "web_menu", json!(["voice_call", "chat"]), None))
        .await["id"]
        .as_i64()
        .unwrap();
    let death = app
        .admin_create("acme", "menus", m("Death Star", "ivr_menu", json!(["voice_call"]), None))
        .await["id"]
        .as_i64()
        .unwrap();
    let laptop = app
        .admin_create("acme", "menus", m("Laptop", "mobile_menu", json!(["voice_call", "chat"]), None))
        .await["id"]
        .as_i64()
        .unwrap();
    let child = app
        .admin_create("acme", "menus", m("Lock Star", "ivr_menu", json!(["voice_call"]), Some(death)))
        .await["id"]
        .as_i64()
        .unwrap();
    app.admin_create(
        "acme",
        "menus",
        json!({"name": "French", "menu_type": "ivr_menu", "languages": ["fr"], "wait_seconds": 30}),
    )
    .await;

    // VI. English queues.
    let (s, v) = c.get("/apps/api/v1/wait_times?lang=en").await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!([
            {"menu_id": web, "menu_type": "web_menu", "chat": 10, "voice_call": 10, "materialized_path": "Web App"},
            {"menu_id": death, "menu_type": "ivr_menu", "voice_call": 10, "materialized_path": "Death Star"},
            {"menu_id": laptop, "menu_type": "mobile_menu", "chat": 10, "voice_call": 10, "materialized_path": "Laptop"},
            {"menu_id": child, "menu_type": "ivr_menu", "voice_call": 10, "materialized_path": "Death Star / Lock Star"}
        ])
    );
    // I. Mobile queues.
    let (_, v) = c.get("/apps/api/v1/wait_times?lang=en&menu_type=mobile_menu").await;
    assert_eq!(
        v,
        json!([{"menu_id": laptop, "menu_type": "mobile_menu", "chat": 10, "voice_call": 10, "materialized_path": "Laptop"}])
    );
    // III. Voice call, mobile, wait > 5.
    let (_, v) = c
        .get("/apps/api/v1/wait_times?lang=en&menu_type=mobile_menu&channel_type=voice_call&wait%5Bfrom%5D=5")
        .await;
    assert_eq!(
        v,
        json!([{"menu_id": laptop, "menu_type": "mobile_menu", "voice_call": 10, "materialized_path": "Laptop"}])
    );
    // IV. A menu's subtree.
    let (_, v) = c.get(&format!("/apps/api/v1/wait_times?lang=en&menu_id={death}")).await;
    assert_eq!(v.as_array().unwrap().len(), 2);
    // II. wait[from]..wait[to].
    let (_, v) = c.get("/apps/api/v1/wait_times?lang=en&wait[from]=5&wait[to]=15").await;
    assert_eq!(v.as_array().unwrap().len(), 4);
    let (_, v) = c.get("/apps/api/v1/wait_times?lang=en&wait[from]=10").await;
    assert_eq!(v, json!([]));
    // V. channel_type only.
    let (_, v) = c.get("/apps/api/v1/wait_times?lang=en&channel_type=chat").await;
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(v.as_array().unwrap().iter().all(|r| r.get("voice_call").is_none()));
    let (_, v) = c.get("/apps/api/v1/wait_times?lang=fr").await;
    assert_eq!(v[0]["voice_call"], 30);
    // Errors.
    let (s, v) = c.get("/apps/api/v1/wait_times").await;
    assert_eq!((s, v["message"].as_str()), (400, Some("lang is required")));
    let (s, _) = c.get("/apps/api/v1/wait_times?lang=en&menu_type=car").await;
    assert_eq!(s, 400);
    let (s, v) = c.get("/apps/api/v1/wait_times?lang=en&menu_id=9999").await;
    assert_eq!((s, v["message"].as_str()), (400, Some("menu_id 9999 is not found")));
    // The live queue: a waiting incoming call makes the wait at least its age.
    app.clock("acme", json!({"reset": true})).await;
    let (s, _) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Inbound (API)", "menu_id": death, "end_user_number": "+1 859-657-9625"}),
        )
        .await;
    assert_eq!(s, 201);
    sqlx::query("UPDATE interactions SET created_at = created_at - interval '42 seconds'")
        .execute(&app.db)
        .await
        .unwrap();
    let (_, v) = c
        .get(&format!("/apps/api/v1/wait_times?lang=en&menu_id={death}&channel_type=voice_call"))
        .await;
    let w = v[0]["voice_call"].as_i64().unwrap();
    assert!((42..50).contains(&w), "{v}");
}

#[tokio::test]
async fn crm_contact_data_is_stored() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    let body = json!({
        "call_id": "1917", "agent_id": "1", "lcm_key": "2922|1|2|39|2|0|1", "dnis": "8001992999", "org_id": "tenant1",
        "contact": {"first_name": "Alex", "last_name": "Phil", "account_no": "10002-2989", "crm_id": "220-39307-92",
                    "address": "", "city": "", "loan_type": "", "due_date": ""},
        "pacing_mode": "Predictive", "call_type": "OB_Regular"
    });
    let (s, v) = c.post("/apps/api/v1/crm/contact_data", body.clone()).await;
    assert_eq!(s, 201, "{v}");
    assert!(v["id"].is_i64());
    assert_eq!(v["contact"], body["contact"]);
    assert_eq!(v["lcm_key"], "2922|1|2|39|2|0|1");
    let (call_ref, data): (Option<String>, Value) = sqlx::query_as("SELECT call_ref, data FROM crm_records")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(call_ref.as_deref(), Some("1917"));
    assert_eq!(data, body);
    let (s, _) = c.post("/apps/api/v1/crm/contact_data", json!({"contact": "x"})).await;
    assert_eq!(s, 400);
    // Posted for one of the tenant's calls: the call is linked to the record.
    let menu = app
        .admin_create("acme", "menus", json!({"name": "Lock Star", "menu_type": "ivr_menu"}))
        .await["id"]
        .clone();
    let (_, call) = c
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Inbound (API)", "menu_id": menu, "end_user_number": "+1 859-657-9625"}),
        )
        .await;
    let (s, rec) = c
        .post(
            "/apps/api/v1/crm/contact_data",
            json!({"call_id": call["id"].to_string(), "contact": {"crm_id": "9"}}),
        )
        .await;
    assert_eq!(s, 201);
    let linked: Value = sqlx::query_scalar("SELECT attrs->'crm_record_id' FROM interactions WHERE seq = $1")
        .bind(call["id"].as_i64().unwrap())
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(linked, rec["id"]);
}

#[tokio::test]
async fn manager_calls_read_side_and_cross_tenant() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let other = app.tenant_apps("other").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (s, v) =
            w.c.post(
                "/apps/api/v1/calls",
                json!({"call_type": "Voice Inbound (API)", "menu_id": w.lock_star, "end_user_number": format!("+1 859-657-962{i}")}),
            )
            .await;
        assert_eq!(s, 201);
        ids.push(v["id"].as_i64().unwrap());
    }
    let r = w.c.req(Method::GET, "/manager/api/v1/calls?per_page=2").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["total"], "3");
    assert_eq!(r.headers()["per-page"], "2");
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("rel=\"next\""), "{link}");
    let v: Value = r.json().await.unwrap();
    // Link targets are absolute (as the vendor's), on the host the client used, and work as is.
    let next = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .and_then(|l| l.strip_prefix('<'))
        .and_then(|l| l.split_once('>'))
        .map(|(u, _)| u.to_string())
        .unwrap();
    assert!(
        next.starts_with("http://127.0.0.1:") && next.contains("/manager/api/v1/calls?page=2&per_page=2"),
        "{next}"
    );
    let r2 = app.client.get(&next).basic_auth(&w.c.slug, Some(&w.c.token)).send().await.unwrap();
    let page2: Value = r2.json().await.unwrap();
    assert_eq!(page2[0]["id"], ids[0]);
    let r3 =
        w.c.req(Method::GET, "/manager/api/v1/calls?per_page=2")
            .header("host", "acme.example.com")
            .send()
            .await
            .unwrap();
    let link3 = r3.headers()["link"].to_str().unwrap();
    assert!(
        link3.contains("<https://acme.example.com/manager/api/v1/calls?page=2&per_page=2>; rel=\"next\""),
        "{link3}"
    );
    // A repeated paging parameter is the vendor's 400 shape.
    let (s, v2) = w.c.get("/manager/api/v1/calls?page=1&page=2").await;
    assert_eq!(s, 400);
    assert!(v2["message"].is_string(), "{v2}");
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["id"], ids[2], "newest first");
    let (_, v) = w.c.get("/manager/api/v1/calls?page=2&per_page=2").await;
    assert_eq!(v[0]["id"], ids[0]);
    let (s, v) = w.c.get(&format!("/manager/api/v1/calls/{}", ids[1])).await;
    assert_eq!((s, v["id"].as_i64()), (200, Some(ids[1])));
    assert_eq!(v["selected_menu"]["name"], "Lock Star");
    // Another tenant sees none of it.
    let (s, v) = other.get(&format!("/manager/api/v1/calls/{}", ids[1])).await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
    let (s, v) = other.get("/manager/api/v1/calls").await;
    assert_eq!((s, v), (200, json!([])));
    let (s, _) = w.c.get("/manager/api/v1/calls/abc").await;
    assert_eq!(s, 404);
    // …nor its agents, menus, numbers or DNC list.
    let (s, v) = other
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 859-657-9625"}),
        )
        .await;
    assert_eq!((s, v["message"].as_str()), (400, Some("Not a valid agent email")));
    let (_, v) = other
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Inbound (API)", "menu_id": w.lock_star, "end_user_number": "+1 859-657-9625"}),
        )
        .await;
    assert_eq!(v["message"], format!("menu_id {} is not found", w.lock_star));
    w.c.post(
        "/apps/api/v1/outbound_dialer/dnc",
        json!({"contacts": [{"phone_number": "+1 205-123-4567"}]}),
    )
    .await;
    let (_, v) = other
        .get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B12051234567")
        .await;
    assert_eq!(v["do_not_call"], false);
    let (_, v) = w.c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B12051234567").await;
    assert_eq!(v["do_not_call"], true);
    // Another tenant's removal does not touch this tenant's entry.
    let (_, v) = other
        .post(
            "/apps/api/v1/outbound_dialer/dnc/remove",
            json!({"phone_numbers": ["+1 205-123-4567"]}),
        )
        .await;
    assert_eq!(v[0]["status"], "not_found");
    let (_, v) = w.c.get("/apps/api/v1/outbound_dialer/dnc/check?phone_number=%2B12051234567").await;
    assert_eq!(v["do_not_call"], true);
    // CRM tickets, parent calls, SMS numbers and menus of this tenant mean nothing to another.
    w.c.post(
        "/apps/api/v1/crm/contact_data",
        json!({"call_id": "555", "contact": {"crm_id": "T-1", "phone_number": "+1 859-657-9625"}}),
    )
    .await;
    app.admin_create(
        "other",
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Other", "last_name": "Admin"}),
    )
    .await;
    app.admin_create(
        "other",
        "phone-numbers",
        json!({"number": "+1 415-555-0199", "default_outbound": true}),
    )
    .await;
    let (_, v) = other
        .post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "ticket_id": "T-1"}),
        )
        .await;
    assert_eq!(v["message"], "Contact not found");
    let (_, v) =
        w.c.post(
            "/apps/api/v1/calls",
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "ticket_id": "T-1"}),
        )
        .await;
    assert_eq!(v["out_ticket_id"], "T-1", "the owner resolves its ticket: {v}");
    let (_, v) = other.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Scheduled (API)", "call_id": ids[0], "end_user_number": "+1 859-657-9625", "scheduled_at": "2999-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(v["message"], format!("call_id {} is not found", ids[0]));
    let (_, v) = other.post("/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "hi"}),
    )
    .await;
    assert_eq!(v["message"], "outbound_number is not found");
    let (s, v) = other.get("/apps/api/v1/wait_times?lang=en").await;
    assert_eq!((s, v), (200, json!([])));
    let (_, v) = other.get(&format!("/apps/api/v1/wait_times?lang=en&menu_id={}", w.lock_star)).await;
    assert_eq!(v["message"], format!("menu_id {} is not found", w.lock_star));
}

#[tokio::test]
async fn rate_limit_per_tenant() {
    let app = TestApp::spawn().await;
    let a = app.tenant_apps("flood").await;
    let b = app.tenant_apps("calm").await;
    let (st, t) = app
        .patch_tenant("flood", json!({"settings": {"apps_rate_limit": 1, "apps_rate_burst": 2}}))
        .await;
    assert_eq!(st, 200, "{t}");
    let mut limited = None;
    for _ in 0..6 {
        let r = a.req(Method::GET, "/apps/api/v1/wait_times?lang=en").send().await.unwrap();
        if r.status() == 429 {
            limited = Some(r);
            break;
        }
    }
    let r = limited.expect("the flooding tenant is limited");
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["message"], "Too Many Requests");
    // The other tenant is not slowed.
    for _ in 0..10 {
        assert_eq!(b.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    }
}

#[tokio::test]
async fn rate_limit_from_config() {
    let app = TestApp::spawn_config(|c| switchboard::Config {
        apps_rate_limit: 1,
        apps_rate_burst: 1,
        ..c
    })
    .await;
    let a = app.tenant_apps("acme").await;
    assert_eq!(a.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    let (s, v) = a.get("/apps/api/v1/wait_times?lang=en").await;
    assert_eq!((s, v["message"].as_str()), (429, Some("Too Many Requests")));
    // A tenant's own 0 (set through the admin API) switches the global limit off for it alone.
    let b = app.tenant_apps("bulk").await;
    let (st, t) = app.patch_tenant("bulk", json!({"settings": {"apps_rate_limit": 0}})).await;
    assert_eq!(st, 200, "{t}");
    for _ in 0..5 {
        assert_eq!(b.get("/apps/api/v1/wait_times?lang=en").await.0, 200);
    }
}

/// Paths of an OpenAPI file with the methods of each.
fn spec_paths(file: &str) -> Vec<(String, Vec<&'static str>)> {
    let spec = std::fs::read_to_string(format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut out = Vec::new();
    for block in spec.split("\n  /").skip(1) {
        let Some((path, rest)) = block.split_once(":\n") else { continue };
        let rest = rest.split("\ncomponents:").next().unwrap();
        let methods = ["get", "post", "put", "patch", "delete"]
            .into_iter()
            .filter(|m| rest.contains(&format!("\n    {m}:")) || rest.starts_with(&format!("    {m}:")))
            .collect();
        out.push((format!("/{path}"), methods));
    }
    out
}

#[tokio::test]
async fn openapi_files_describe_what_is_served() {
    let app = TestApp::spawn().await;
    app.tenant_apps("acme").await;
    // Every Apps path of apps.yaml is routed: 401 without credentials (not 404/405).
    let apps = spec_paths("apps.yaml");
    assert_eq!(apps.len(), 16, "{apps:?}");
    for (p, methods) in &apps {
        assert!(!methods.is_empty(), "{p}");
        let concrete = p.replace("{job_id}", "1").replace("{call_id}", "1");
        for m in methods {
            let r = app
                .client
                .request(common::method(&m.to_uppercase()), app.url(&concrete))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 401, "{m} {p}");
        }
    }
    // The dialect's operator routes are in admin.yaml, with their methods, and served.
    let admin = spec_paths("admin.yaml");
    let org = admin
        .iter()
        .find(|(p, _)| p == "/admin/v1/tenants/{slug}/apps/org-items")
        .expect("org-items in admin.yaml");
    assert_eq!(org.1, vec!["get", "post"]);
    let (s, _) = app.admin_get("/admin/v1/tenants/acme/apps/org-items").await;
    assert_eq!(s, 200);
    let (s, _) = app.admin_get("/admin/v1/tenants/nobody/apps/org-items").await;
    assert_eq!(s, 404);
    let r = app
        .client
        .get(app.url("/admin/v1/tenants/acme/apps/org-items"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let spec = std::fs::read_to_string(format!("{}/openapi/admin.yaml", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for setting in ["apps_outbound_requires_ticket:", "apps_max_chat_limit:", "AppsOrgItem:"] {
        assert!(spec.contains(setting), "{setting}");
    }
    let postman = std::fs::read_to_string(format!(
        "{}/openapi/postman/admin.postman_collection.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let postman: Value = serde_json::from_str(&postman).unwrap();
    assert!(postman.to_string().contains("/admin/v1/tenants/{{slug}}/apps/org-items"));
}

#[tokio::test]
async fn outbound_call_number_errors() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("bare").await;
    app.admin_create(
        "bare",
        "agents",
        json!({"email": "admin@somedomain.com", "first_name": "Admin", "last_name": "UJET"}),
    )
    .await;
    let call = |extra: Value| {
        let mut b =
            json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 859-657-9625"});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    // No voice number at all and none given.
    err(&c, "/apps/api/v1/calls", call(json!({})), 400, "outbound_number is required").await;
    app.admin_create("bare", "phone-numbers", json!({"number": "+1 339-219-5276", "voice": true}))
        .await;
    // A given number that is not a phone number / not the tenant's.
    err(
        &c,
        "/apps/api/v1/calls",
        call(json!({"outbound_number": "12"})),
        400,
        "outbound_number is not well-formed",
    )
    .await;
    err(
        &c,
        "/apps/api/v1/calls",
        call(json!({"outbound_number": "+1 760-410-8538"})),
        400,
        "outbound_number is not found",
    )
    .await;
    // The only number is used (no default needed), shown as the doc shows numbers.
    let (s, v) = c.post("/apps/api/v1/calls", call(json!({}))).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["outbound_number"], "+1 339-219-5276");
    // Incoming calls use a voice number too: an SMS-only default is skipped.
    app.admin_create(
        "bare",
        "phone-numbers",
        json!({"number": "+1 628-555-0199", "voice": false, "default_outbound": true}),
    )
    .await;
    let menu = app
        .admin_create("bare", "menus", json!({"name": "Main", "menu_type": "ivr_menu"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Inbound (API)", "menu_id": menu, "end_user_number": "+1 859-657-9625", "outbound_number": "+1 628-555-0199"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["outbound_number"], "+1 339-219-5276");
    // A user made Inactive (bulk user management's status) is not a valid agent.
    app.admin_create(
        "bare",
        "agents",
        json!({"email": "gone@somedomain.com", "first_name": "Gone", "attrs": {"user_status": "Inactive"}}),
    )
    .await;
    err(
        &c,
        "/apps/api/v1/calls",
        call(json!({"agent_email": "gone@somedomain.com"})),
        400,
        "Not a valid agent email",
    )
    .await;
    // Nothing was created by the refused calls.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM interactions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

/// Every key of the doc's example is in ours, with the same JSON type (null stays null),
/// recursively (arrays: their first elements); `except` lists paths whose values may differ.
fn same_shape(doc: &Value, ours: &Value, path: &str, except: &[&str], out: &mut Vec<String>) {
    if except.contains(&path) {
        return;
    }
    let kind = |v: &Value| match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if kind(doc) != kind(ours) {
        out.push(format!("{path}: doc {} vs ours {}", kind(doc), kind(ours)));
        return;
    }
    match (doc, ours) {
        (Value::Object(d), Value::Object(o)) => {
            for (k, dv) in d {
                match o.get(k) {
                    Some(ov) => same_shape(dv, ov, &format!("{path}.{k}"), except, out),
                    None => out.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(d), Value::Array(o)) => {
            if d.len() != o.len() {
                out.push(format!("{path}: doc {} items vs ours {}", d.len(), o.len()));
            }
            for (i, (dv, ov)) in d.iter().zip(o).enumerate() {
                same_shape(dv, ov, &format!("{path}[{i}]"), except, out);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn responses_have_the_doc_examples_shape() {
    let app = TestApp::spawn().await;
    let w = world(&app, "acme").await;
    let c = &w.c;
    // Calls II (outbound with end_user_number).
    let doc: Value = serde_json::from_str(
        r#"{"id": 397, "lang": "en", "call_type": "Voice Outbound (API)", "status": "assigned",
        "created_at": "2019-06-07T01:27:30.406Z", "queued_at": null, "assigned_at": "2019-06-07T01:27:30.441Z",
        "connected_at": null, "ends_at": null, "scheduled_at": null, "wait_duration": 0, "call_duration": 0,
        "hold_duration": 0, "rating": null, "has_feedback": false, "voip_provider": "voip_provider_twilio",
        "out_ticket_id": null, "out_ticket_url": null, "verified": false, "recording_url": null,
        "recording_permission": "not_asked", "voicemail_reason": "not_voicemail", "deflection": "no_deflection",
        "disconnected_by": "disconnected_by_unknown", "fail_reason": "nothing", "fail_details": null,
        "support_number": null, "selected_menu": null, "menu_path": null,
        "agent_info": {"id": 1, "agent_number": null, "name": "Admin UJET", "last_name": "UJET", "first_name": "Admin", "avatar_url": "https://somedomain.com/avatar.jpg"},
        "end_user": null, "photos": [], "videos": [], "transfers": [], "deflection_details": [],
        "participants": [
          {"id": 610, "type": "agent", "status": "waiting", "call_id": 397, "user_id": 1, "end_user_id": null, "call_duration": null, "hold_duration": null, "connected_at": null, "ended_at": null, "fail_reason": "nothing"},
          {"id": 611, "type": "end_user", "status": "waiting", "call_id": 397, "user_id": null, "end_user_id": null, "call_duration": null, "hold_duration": null, "connected_at": null, "ended_at": null, "fail_reason": "nothing"}],
        "offer_type": null, "offer_events": [], "answer_type": "manual", "outbound_number": "+1 339-219-5276"}"#,
    )
    .unwrap();
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Outbound (API)", "agent_email": "admin@somedomain.com", "end_user_number": "+1 859-657-9625", "outbound_number": "+1 339-219-5276", "lang": "en"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let mut diff = Vec::new();
    // The world's agent has no avatar: null instead of a URL.
    same_shape(&doc, &v, "", &[".agent_info.avatar_url"], &mut diff);
    assert!(diff.is_empty(), "outbound call: {diff:?}\n{v}");
    for k in [
        "status",
        "voip_provider",
        "recording_permission",
        "answer_type",
        "outbound_number",
        "fail_reason",
    ] {
        assert_eq!(v[k], doc[k], "{k}");
    }

    // Calls VI (incoming with end_user_number).
    let doc: Value = serde_json::from_str(
        r#"{"id": 515, "lang": "en", "call_type": "Voice Inbound (API)", "status": "queued",
        "created_at": "2019-09-10T00:19:14.000Z", "queued_at": "2019-09-10T00:19:14.421Z", "assigned_at": null,
        "connected_at": null, "ends_at": null, "scheduled_at": null, "wait_duration": 0, "call_duration": 0,
        "hold_duration": 0, "rating": null, "has_feedback": false, "out_ticket_id": null, "out_ticket_url": null,
        "verified": false, "recording_url": null, "recording_permission": "not_asked", "voicemail_reason": "not_voicemail",
        "deflection": "no_deflection", "disconnected_by": "disconnected_by_unknown", "fail_reason": "nothing",
        "fail_details": null, "support_number": null,
        "selected_menu": {"id": 9, "name": "Lock Star", "parent_id": null, "position": 0, "deleted": false, "menu_type": "ivr_menu", "output_msg": "You selected Lock Star.", "hidden": false},
        "menu_path": {"items_count": 1, "name": "Lock Star", "materialized_path": "9"},
        "agent_info": null, "end_user": {"id": 75, "identifier": null, "out_contact_id": "389391400633"},
        "photos": [], "videos": [], "transfers": [], "deflection_details": [],
        "participants": [{"id": 820, "type": "end_user", "status": "waiting", "call_id": 515, "user_id": null, "end_user_id": 75, "call_duration": null, "hold_duration": null, "connected_at": null, "ended_at": null, "fail_reason": "nothing"}],
        "offer_type": "cascade", "offer_events": [{"casting_time": "2019-09-10T00:19:14.000Z", "group": "Group 1"}],
        "answer_type": "manual", "outbound_number": "+1 339-219-5276"}"#,
    )
    .unwrap();
    let (s, v) = c.post("/apps/api/v1/calls",
        json!({"call_type": "Voice Inbound (API)", "lang": "en", "menu_id": w.lock_star, "end_user_number": "+82-10-6861-2345", "recording_permission": "recording_permission_granted"}),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let mut diff = Vec::new();
    // Without a CRM ticket there is no CRM contact id.
    same_shape(&doc, &v, "", &[".end_user.out_contact_id"], &mut diff);
    assert!(diff.is_empty(), "incoming call: {diff:?}\n{v}");
    assert_eq!(v["selected_menu"]["output_msg"], "You selected Lock Star.");
    assert_eq!(v["outbound_number"], doc["outbound_number"]);

    // SMS I.
    let doc: Value = serde_json::from_str(
        r#"{"id": 114, "lang": "en", "chat_type": "Messaging (SMS)", "status": "selecting",
        "created_at": "2021-10-04T17:20:51.000Z", "queued_at": null, "assigned_at": null, "ends_at": null,
        "wait_duration": 0, "chat_duration": 0, "rating": null, "has_feedback": false, "out_ticket_id": null,
        "out_ticket_url": null, "verified": false, "disconnected_by": "disconnected_by_unknown", "fail_reason": null,
        "selected_menu": null, "menu_path": null, "agent_info": null,
        "end_user": {"id": 87, "identifier": null, "out_contact_id": null},
        "photos": [], "videos": [], "transfers": [],
        "participants": [{"id": 205, "type": "end_user", "status": "connected", "chat_id": 114, "user_id": null, "end_user_id": 87, "chat_duration": null, "connected_at": "2021-10-04T17:20:51.000Z", "ended_at": null, "fail_reason": "nothing"}],
        "offer_type": null, "offer_events": [], "answer_type": "manual", "outbound_number": "+16285550199"}"#,
    )
    .unwrap();
    let (s, v) = c.post("/apps/api/v1/sms",
        json!({"chat_type": "Messaging (SMS)", "end_user_number": "+1 415-555-0100", "outbound_number": "+1 628-555-0199", "message": "lorem ipsum", "ticket_id": "5006x00000XXxxxXXX"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let mut diff = Vec::new();
    // out_ticket_id echoes the ticket (module doc).
    same_shape(&doc, &v, "", &[".out_ticket_id"], &mut diff);
    assert!(diff.is_empty(), "sms: {diff:?}\n{v}");
    assert_eq!(v["outbound_number"], "+16285550199");
}
