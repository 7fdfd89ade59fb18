//! Apps API bulk user management: template, upload, validation, proceed, jobs, error logs,
//! restarts and a 10,000-row file — through HTTP and the job worker.

mod common;

use common::{status_json, AppsClient, TestApp};
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

fn file_part(rows: &Value, name: &str) -> Part {
    Part::bytes(serde_json::to_vec(rows).unwrap())
        .file_name(name.to_string())
        .mime_str("application/json")
        .unwrap()
}

async fn upload(c: &AppsClient, rows: &Value) -> (u16, Value) {
    let form = Form::new().part("file", file_part(rows, "users.json"));
    status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn replace(c: &AppsClient, id: i64, rows: &Value) -> (u16, Value) {
    let form = Form::new()
        .text("id", id.to_string())
        .part("file", file_part(rows, "users_new.json"));
    status_json(
        c.req(Method::PUT, "/apps/api/v1/bulk/users/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn proceed(c: &AppsClient, id: i64) -> (u16, Value) {
    let form = Form::new().text("id", id.to_string());
    status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/proceed")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Waits until the job's status is one of `want`.
async fn wait_status(app: &TestApp, c: &AppsClient, id: i64, want: &[&str], secs: u64) -> Value {
    app.eventually(secs, || async {
        let (s, v) = c.get(&format!("/apps/api/v1/bulk/users/jobs/{id}")).await;
        (s == 200 && want.iter().any(|w| v["status"] == *w)).then_some(v)
    })
    .await
}

async fn org(app: &TestApp, slug: &str, kind: &str, name: &str) {
    let (s, v) = app
        .admin_post(
            &format!("/admin/v1/tenants/{slug}/apps/org-items"),
            json!({"kind": kind, "name": name}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!((v["kind"].as_str(), v["name"].as_str()), (Some(kind), Some(name)));
}

fn user(email: &str, first: &str) -> Value {
    json!({
        "email": email, "new_email": "", "agent_number": "A-1", "first_name": first, "last_name": "Doe",
        "status": "Active", "location": "mexico", "max_chat_limit": "2", "max_chat_limit_enabled": "1",
        "roles": [{"name": "Agent", "value": 1}, {"name": "Admin", "value": 0}],
        "teams": [{"name": "test team_1", "value": 1}]
    })
}

#[tokio::test]
async fn template_has_tenant_roles_and_teams() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    org(&app, "acme", "team", "test team_1").await;
    org(&app, "acme", "team", "test Team 2").await;
    org(&app, "acme", "role", "Supervisor").await;
    org(&app, "acme", "location", "Mexico").await;
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/apps/org-items",
            json!({"kind": "team", "name": "TEST TEAM_1"}),
        )
        .await;
    assert_eq!(s, 409, "names are unique per kind, case-insensitively");
    let (s, _) = app
        .admin_post("/admin/v1/tenants/acme/apps/org-items", json!({"kind": "boss", "name": "x"}))
        .await;
    assert_eq!(s, 422);
    let (s, v) = app.admin_get("/admin/v1/tenants/acme/apps/org-items").await;
    assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(4)));
    let (s, v) = c.get("/apps/api/v1/bulk/users/template").await;
    assert_eq!(s, 200);
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["email"], "user1@somedomain.com");
    assert_eq!(rows[0]["location"], "Mexico");
    assert_eq!(rows[1]["status"], "Inactive");
    let roles: Vec<&str> = rows[0]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "Admin",
            "Manager",
            "Agent",
            "Developer",
            "Manager Admin",
            "Manager Team",
            "Manager Data",
            "Supervisor"
        ]
    );
    assert_eq!(
        rows[0]["teams"],
        json!([{"name": "test team_1", "value": 0}, {"name": "test Team 2", "value": 0}])
    );
    // The template itself validates for this tenant.
    let (s, v) = upload(&c, &v).await;
    assert_eq!(s, 200, "{v}");
    let job = wait_status(&app, &c, v["id"].as_i64().unwrap(), &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "valid_scheme", "{job}");
}

#[tokio::test]
async fn bulk_users_end_to_end() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    org(&app, "acme", "team", "test team_1").await;
    org(&app, "acme", "location", "Mexico").await;
    let (s, _) = app
        .admin_post(
            "/admin/v1/tenants/acme/agents",
            json!({"email": "old@somedomain.com", "first_name": "Old", "last_name": "Name"}),
        )
        .await;
    assert_eq!(s, 201);

    // Upload → created, with a link.
    let mut rename = user("old@somedomain.com", "Renamed");
    rename["new_email"] = json!("new@somedomain.com");
    let rows = json!([user("user1@somedomain.com", "James"), rename, user("user2@somedomain.com", "John")]);
    let (s, v) = upload(&c, &rows).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "created");
    let id = v["id"].as_i64().unwrap();
    assert!(v["link"].as_str().unwrap().ends_with(&format!("/apps/api/v1/bulk/users/jobs/{id}")));

    let job = wait_status(&app, &c, id, &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "valid_scheme", "{job}");
    assert_eq!(job["total_rows"], 3);
    assert_eq!(job["filename"], "users.json");
    assert_eq!(job["uploaded_api_user_name"], "acme");
    assert_eq!(job["process_requested_at"], Value::Null);
    let (s, v) = c.get(&format!("/apps/api/v1/bulk/users/errors/scheme/{id}")).await;
    assert_eq!((s, v), (200, json!([])));

    // Proceed → finished; users created and updated.
    let (s, v) = proceed(&c, id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], id);
    assert_eq!(v["status"], "valid_scheme");
    let job = wait_status(&app, &c, id, &["finished"], 30).await;
    assert_eq!(job["affected_rows"], 3, "{job}");
    assert_eq!(job["failed_rows"], 0);
    assert_eq!(job["proceed_api_user_name"], "acme");
    assert!(job["process_requested_at"].is_string());
    let (s, v) = c.get(&format!("/apps/api/v1/bulk/users/errors/update/{id}")).await;
    assert_eq!((s, v), (200, json!([])));
    let agents: Vec<(String, String, Value)> = sqlx::query_as("SELECT email, first_name, attrs FROM agents ORDER BY email")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let emails: Vec<&str> = agents.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(emails, ["new@somedomain.com", "user1@somedomain.com", "user2@somedomain.com"]);
    assert_eq!(agents[0].1, "Renamed");
    assert_eq!(agents[1].2["roles"], json!(["Agent"]));
    assert_eq!(agents[1].2["teams"], json!(["test team_1"]));
    assert_eq!(agents[1].2["location"], "Mexico");
    assert_eq!(agents[1].2["user_status"], "Active");
    assert_eq!(agents[1].2["max_chat_limit"], 2);

    // Finished: no more replacing, no more proceeding.
    let (s, v) = replace(&c, id, &rows).await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Can't update JSON. job status: finished")));
    let (s, v) = proceed(&c, id).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("This job cannot proceed update. status: finished"))
    );

    // A second file: update errors and warnings.
    let mut clash = user("user1@somedomain.com", "James");
    clash["new_email"] = json!("user2@somedomain.com");
    let mut fresh = user("brand@somedomain.com", "Brand");
    fresh["new_email"] = json!("other@somedomain.com");
    let (_, v) = upload(&c, &json!([clash, fresh])).await;
    let id2 = v["id"].as_i64().unwrap();
    wait_status(&app, &c, id2, &["valid_scheme"], 20).await;
    proceed(&c, id2).await;
    let job = wait_status(&app, &c, id2, &["finished"], 30).await;
    assert_eq!(
        (job["affected_rows"].as_i64(), job["failed_rows"].as_i64()),
        (Some(1), Some(1)),
        "{job}"
    );
    assert_eq!(job["update_errors"].as_array().unwrap().len(), 2);
    let (_, v) = c.get(&format!("/apps/api/v1/bulk/users/errors/update/{id2}")).await;
    assert_eq!(v[0]["row"], 1);
    assert_eq!(v[0]["column"], 2);
    assert_eq!(v[0]["error_type"], "error");
    assert_eq!(v[1]["row"], 2);
    assert_eq!(v[1]["error_type"], "warning");

    // Jobs list: newest first, paged.
    let r = c.req(Method::GET, "/apps/api/v1/bulk/users/jobs?per_page=1").send().await.unwrap();
    assert_eq!(r.headers()["total"], "2");
    assert_eq!(r.headers()["per-page"], "1");
    let link = r.headers()["link"].to_str().unwrap().to_string();
    assert!(link.contains("rel=\"next\""), "{link}");
    assert!(
        link.contains(&format!(
            "<{}?page=2&per_page=1>; rel=\"next\"",
            app.url("/apps/api/v1/bulk/users/jobs")
        )),
        "absolute Link targets: {link}"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v[0]["id"], id2);
    let (_, v) = c.get("/apps/api/v1/bulk/users/jobs").await;
    assert_eq!(v.as_array().unwrap().len(), 2);

    // Unknown and other tenants' jobs: 404 Not Found.
    let other = app.tenant_apps("other").await;
    for path in [
        format!("/apps/api/v1/bulk/users/jobs/{id}"),
        "/apps/api/v1/bulk/users/jobs/9999".to_string(),
        format!("/apps/api/v1/bulk/users/errors/scheme/{id}"),
        format!("/apps/api/v1/bulk/users/errors/update/{id}"),
    ] {
        let (s, v) = other.get(&path).await;
        assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")), "{path}");
    }
    let (s, v) = proceed(&other, id).await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
    let (s, v) = replace(&other, id, &rows).await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
    let (_, v) = other.get("/apps/api/v1/bulk/users/jobs").await;
    assert_eq!(v, json!([]));
}

#[tokio::test]
async fn invalid_scheme_replace_and_proceed_states() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    org(&app, "acme", "team", "test team_1").await;
    org(&app, "acme", "location", "Mexico").await;
    let mut bad = user("not-an-email", "");
    bad["status"] = json!("Gone");
    bad["location"] = json!("Mars");
    bad["max_chat_limit"] = json!("11");
    bad["max_chat_limit_enabled"] = json!("2");
    bad["roles"] = json!([{"name": "Pilot", "value": 1}]);
    bad["teams"] = json!([{"name": "test team_1", "value": 7}]);
    let mut dup_new = user("b@somedomain.com", "B");
    dup_new["new_email"] = json!("x@somedomain.com");
    let mut dup_new2 = user("c@somedomain.com", "C");
    dup_new2["new_email"] = json!("X@somedomain.com");
    let rows = json!([
        user("a@somedomain.com", "A"),
        bad,
        user("A@somedomain.com", "A2"),
        dup_new,
        dup_new2
    ]);
    let (_, v) = upload(&c, &rows).await;
    let id = v["id"].as_i64().unwrap();
    let job = wait_status(&app, &c, id, &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "invalid_scheme", "{job}");
    let (_, errs) = c.get(&format!("/apps/api/v1/bulk/users/errors/scheme/{id}")).await;
    let errs = errs.as_array().unwrap().clone();
    let on = |row: i64, col: i64| errs.iter().any(|e| e["row"] == row && e["column"] == col);
    assert!(on(2, 1), "invalid email: {errs:?}");
    assert!(on(2, 4), "empty first name");
    assert!(on(2, 6), "status");
    assert!(on(2, 7), "location");
    assert!(on(2, 8), "max_chat_limit");
    assert!(on(2, 9), "max_chat_limit_enabled");
    assert!(on(2, 10), "unknown role");
    assert!(on(2, 11), "team value");
    assert!(on(3, 1), "duplicate email (case-insensitive)");
    assert!(on(5, 2), "duplicate new_email");
    assert_eq!(job["scheme_errors"].as_array().unwrap().len(), errs.len());
    assert!(job["scheme_errors"][0].as_str().unwrap().starts_with("Row 2: "));

    // Proceed refused while invalid.
    let (s, v) = proceed(&c, id).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("This job cannot proceed update. status: invalid_scheme"))
    );
    // Replace the file → created → valid.
    let (s, v) = replace(&c, id, &json!([user("a@somedomain.com", "A")])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!((v["id"].as_i64(), v["status"].as_str()), (Some(id), Some("created")));
    let job = wait_status(&app, &c, id, &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "valid_scheme", "{job}");
    assert_eq!(job["filename"], "users_new.json");
    assert_eq!(job["scheme_errors"], json!([]));

    // Before validation: "status: created" (hold the job back from the worker).
    sqlx::query("UPDATE jobs SET state = 'created', status = 'queued', run_at = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    let (s, v) = proceed(&c, id).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("This job cannot proceed update. status: created"))
    );
    // While the update runs: "Update is already in progress." (hold the apply phase back).
    sqlx::query("UPDATE jobs SET state = 'valid_scheme', status = 'completed'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET run_at = now() + interval '1 hour' WHERE status = 'queued'")
        .execute(&app.db)
        .await
        .unwrap();
    let (s, _) = proceed(&c, id).await;
    assert_eq!(s, 200);
    sqlx::query("UPDATE jobs SET run_at = now() + interval '1 hour'")
        .execute(&app.db)
        .await
        .unwrap();
    let (s, v) = proceed(&c, id).await;
    assert_eq!((s, v["message"].as_str()), (400, Some("Update is already in progress.")));
    let (s, v) = replace(&c, id, &json!([user("a@somedomain.com", "A")])).await;
    assert_eq!(
        (s, v["message"].as_str()),
        (404, Some("Can't update JSON. job status: in_progress"))
    );
    sqlx::query("UPDATE jobs SET state = 'in_progress'").execute(&app.db).await.unwrap();
    let (s, v) = proceed(&c, id).await;
    assert_eq!((s, v["message"].as_str()), (400, Some("Update is already in progress.")));

    // Not a JSON array / no file.
    let form = Form::new().part("file", Part::bytes(b"not json".to_vec()).file_name("x.json"));
    let (s, v) = status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let job = wait_status(&app, &c, v["id"].as_i64().unwrap(), &["invalid_scheme", "valid_scheme"], 20).await;
    assert_eq!(job["status"], "invalid_scheme");
    let form = Form::new().text("other", "x");
    let (s, v) = status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["message"].as_str()), (400, Some("file is required")));
    // Proceed also takes an urlencoded form.
    let (s, v) = status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/proceed")
            .header("content-type", "application/x-www-form-urlencoded")
            .body("id=9999")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((s, v["message"].as_str()), (404, Some("Not Found")));
}

#[tokio::test]
async fn jobs_survive_a_restart_and_ten_thousand_rows_finish() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    org(&app, "acme", "team", "test team_1").await;
    org(&app, "acme", "location", "Mexico").await;
    let rows: Vec<Value> = (0..10_000)
        .map(|i| user(&format!("user{i}@somedomain.com"), &format!("U{i}")))
        .collect();
    let (s, v) = upload(&c, &Value::Array(rows)).await;
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_i64().unwrap();
    let app = app.restart().await;
    // The restarted server listens on another port: the same credentials, a new client.
    let c = AppsClient::with(&app, &c.slug, &c.token);
    let job = wait_status(&app, &c, id, &["valid_scheme", "invalid_scheme"], 60).await;
    assert_eq!(job["status"], "valid_scheme");
    assert_eq!(job["total_rows"], 10_000);
    let (s, _) = proceed(&c, id).await;
    assert_eq!(s, 200);
    // Restart while the update may be running: it resumes from its last checkpoint.
    app.eventually(60, || async {
        let (_, v) = c.get(&format!("/apps/api/v1/bulk/users/jobs/{id}")).await;
        (v["status"] == "in_progress" || v["status"] == "finished").then_some(())
    })
    .await;
    let app = app.restart().await;
    let c = AppsClient::with(&app, &c.slug, &c.token);
    let job = wait_status(&app, &c, id, &["finished"], 240).await;
    assert_eq!(job["affected_rows"], 10_000, "{job}");
    assert_eq!(job["failed_rows"], 0);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM agents").fetch_one(&app.db).await.unwrap();
    assert_eq!(n, 10_000, "every row applied exactly once");
}

#[tokio::test]
async fn max_chat_limit_bound_is_a_tenant_setting() {
    let app = TestApp::spawn().await;
    let c = app.tenant_apps("acme").await;
    org(&app, "acme", "team", "test team_1").await;
    org(&app, "acme", "location", "Mexico").await;
    let mut row = user("a@somedomain.com", "A");
    row["max_chat_limit"] = json!("12");
    // Default X = 10: 12 is out of range.
    let (_, v) = upload(&c, &json!([row.clone()])).await;
    let job = wait_status(&app, &c, v["id"].as_i64().unwrap(), &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "invalid_scheme", "{job}");
    assert!(job["scheme_errors"][0].as_str().unwrap().contains("1 to 10"), "{job}");
    // The admin API validates the setting…
    for bad in [json!(0), json!(1001), json!("12"), json!(-1)] {
        let (s, t) = app.patch_tenant("acme", json!({"settings": {"apps_max_chat_limit": bad}})).await;
        assert_eq!(s, 422, "{bad} → {t}");
        assert!(t["error"].as_str().unwrap().contains("apps_max_chat_limit"), "{t}");
    }
    // …and X = 12 makes the same file valid.
    let (s, t) = app.patch_tenant("acme", json!({"settings": {"apps_max_chat_limit": 12}})).await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["settings"]["apps_max_chat_limit"], 12);
    let (_, v) = upload(&c, &json!([row.clone()])).await;
    let job = wait_status(&app, &c, v["id"].as_i64().unwrap(), &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "valid_scheme", "{job}");
    row["max_chat_limit"] = json!("13");
    let (_, v) = upload(&c, &json!([row])).await;
    let job = wait_status(&app, &c, v["id"].as_i64().unwrap(), &["valid_scheme", "invalid_scheme"], 20).await;
    assert_eq!(job["status"], "invalid_scheme", "{job}");
    assert!(job["scheme_errors"][0].as_str().unwrap().contains("1 to 12"), "{job}");
}

#[tokio::test]
async fn created_job_shows_its_row_count() {
    // A worker that never polls again: jobs stay `created`.
    let app = TestApp::spawn_config(|c| switchboard::config::Config { tick_ms: 3_600_000, ..c }).await;
    let c = app.tenant_apps("acme").await;
    let rows = json!([
        user("a@somedomain.com", "A"),
        user("b@somedomain.com", "B"),
        user("c@somedomain.com", "C")
    ]);
    let (s, v) = upload(&c, &rows).await;
    assert_eq!((s, v["status"].as_str()), (200, Some("created")), "{v}");
    let id = v["id"].as_i64().unwrap();
    // The doc's "Job created": total_rows is the file's count before validation.
    let (s, job) = c.get(&format!("/apps/api/v1/bulk/users/jobs/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (job["status"].as_str(), job["total_rows"].as_i64()),
        (Some("created"), Some(3)),
        "{job}"
    );
    assert_eq!(job["filename"], "users.json");
    // The doc's "Job created" object: the same keys, nulls where it has nulls.
    let doc = json!({"id": 1, "created_at": "2022-01-07T06:39:59.000Z", "process_requested_at": null,
        "filename": "100row_new.csv", "total_rows": 100, "affected_rows": 0, "failed_rows": 0, "status": "created",
        "uploaded_user_name": null, "proceed_user_name": null, "uploaded_api_user_name": "zdco_admin",
        "proceed_api_user_name": null, "scheme_errors": [], "update_errors": []});
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&job), keys(&doc));
    for (k, dv) in doc.as_object().unwrap() {
        assert_eq!(dv.is_null(), job[k].is_null(), "{k}: {job}");
    }
    assert_eq!((job["affected_rows"].as_i64(), job["failed_rows"].as_i64()), (Some(0), Some(0)));
    assert!(job["created_at"].as_str().unwrap().ends_with('Z'));
    // Replacing the file counts the new one.
    let (s, _) = replace(&c, id, &json!([user("a@somedomain.com", "A")])).await;
    assert_eq!(s, 200);
    let (_, job) = c.get(&format!("/apps/api/v1/bulk/users/jobs/{id}")).await;
    assert_eq!(
        (job["status"].as_str(), job["total_rows"].as_i64()),
        (Some("created"), Some(1)),
        "{job}"
    );
    let (_, list) = c.get("/apps/api/v1/bulk/users/jobs").await;
    assert_eq!(list[0]["total_rows"], 1);
    // A file that is not a JSON array counts 0 (validation will say why).
    let form = Form::new().part("file", Part::bytes(b"not json".to_vec()).file_name("x.json"));
    let (s, v) = status_json(
        c.req(Method::POST, "/apps/api/v1/bulk/users/upload")
            .multipart(form)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let (_, job) = c.get(&format!("/apps/api/v1/bulk/users/jobs/{}", v["id"])).await;
    assert_eq!(job["total_rows"], 0, "{job}");
}
