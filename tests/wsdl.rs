//! The served WSDL names the address it was fetched from (scheme, host and port, behind a
//! proxy too), and a real SOAP client (zeep) that uses the WSDL's own address, with no
//! endpoint override, reaches this server on a port other than 8080.

mod common;

use common::TestApp;
use tokio::net::TcpListener;

const STATIC_ADDRESS: &str = "http://switchboard.example/onc/ONCService.svc";

fn file() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/onc.wsdl")).unwrap()
}

fn address_of(wsdl: &str) -> String {
    let at = wsdl.find("<soap:address location=\"").expect("soap:address") + "<soap:address location=\"".len();
    wsdl[at..].split('"').next().unwrap().to_string()
}

async fn fetch(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> String {
    let mut b = client.get(url);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = b.send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.text().await.unwrap()
}

#[test]
fn the_static_copy_keeps_the_placeholder() {
    assert_eq!(address_of(&file()), STATIC_ADDRESS);
}

#[tokio::test]
async fn the_address_follows_host_forwarded_and_the_listener() {
    let app = TestApp::spawn().await;
    let url = app.url("/onc/ONCService.svc?wsdl");
    let c = &app.client;
    // Two Host headers.
    for host in ["onc.example.com", "10.1.2.3:9443"] {
        let w = fetch(c, &url, &[("host", host)]).await;
        assert_eq!(address_of(&w), format!("http://{host}/onc/ONCService.svc"));
        // Everything else is the file.
        assert_eq!(w, file().replace(STATIC_ADDRESS, &format!("http://{host}/onc/ONCService.svc")));
    }
    // Proxies.
    let w = fetch(
        c,
        &url,
        &[("x-forwarded-proto", "https"), ("x-forwarded-host", "api.example.com, inner:1")],
    )
    .await;
    assert_eq!(address_of(&w), "https://api.example.com/onc/ONCService.svc");
    let w = fetch(
        c,
        &url,
        &[
            ("forwarded", "for=192.0.2.60;proto=https;host=\"gw.example.org:8443\", for=10.0.0.1"),
            ("x-forwarded-host", "ignored"),
        ],
    )
    .await;
    assert_eq!(address_of(&w), "https://gw.example.org:8443/onc/ONCService.svc");
    let w = fetch(c, &url, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(
        address_of(&w),
        format!("https://{}/onc/ONCService.svc", app.base.trim_start_matches("http://"))
    );
    // A header that is not a host is not written into the document.
    let w = fetch(
        c,
        &url,
        &[("x-forwarded-host", "evil\"/><x a=\""), ("x-forwarded-proto", "javascript")],
    )
    .await;
    assert_eq!(address_of(&w), format!("{}/onc/ONCService.svc", app.base));

    // Two listeners of one process: each WSDL names its own port.
    let l1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bases = [l1.local_addr().unwrap(), l2.local_addr().unwrap()].map(|a| format!("http://{a}"));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard::launch(app.state.clone(), vec![l1, l2], async move {
        let _ = rx.await;
    }));
    for base in &bases {
        let w = fetch(c, &format!("{base}/onc/?wsdl"), &[]).await;
        assert_eq!(address_of(&w), format!("{base}/onc/ONCService.svc"));
    }
    let _ = tx.send(());
    let _ = server.await;
}

fn zeep_available() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import zeep"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test]
async fn zeep_posts_to_the_wsdl_address_on_another_port() {
    if !zeep_available() {
        let _ = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "-q", "zeep"])
            .status();
        assert!(
            zeep_available(),
            "the zeep SOAP client is required for this test: `pip install zeep`"
        );
    }
    let app = TestApp::spawn().await;
    assert!(!app.base.ends_with(":8080"), "the test needs a port other than 8080");
    let t = app.tenant("acme").await;
    let out = tokio::process::Command::new("python3")
        .args([
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/onc_zeep_address.py").to_string(),
            app.url("/onc/ONCService.svc?wsdl"),
            t["onc"]["account_id"].as_str().unwrap().to_string(),
            t["onc"]["username"].as_str().unwrap().to_string(),
            t["onc"]["password"].as_str().unwrap().to_string(),
        ])
        .output()
        .await
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "zeep script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("ADDRESS {}/onc/ONCService.svc", app.base)), "{stdout}");
    assert!(stdout.contains("CALLED THROUGH THE WSDL ADDRESS OK"), "{stdout}\n{stderr}");
}
