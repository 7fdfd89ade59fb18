"""Prepares a fresh tenant for scripts/contract-check: a default outbound number, credits,
an agent, a menu, a queue, campaigns and a call (through the admin API), and prints per collection
the variables newman gets with --env-var, and per OpenAPI file the auth header schemathesis
sends.

    python3 scripts/contract-setup.py <base-url> <admin-token> <tenant.json>
"""
import base64
import json
import sys
import urllib.request

base, token, tenant_file = sys.argv[1:4]
t = json.load(open(tenant_file))
slug = t["tenant"]["slug"]


def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, method=method, data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read() or b"null")


def admin(method, path, body=None):
    return call(method, f"/admin/v1/tenants/{slug}{path}", body, {"Authorization": f"Bearer {token}"})


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


admin("POST", "/phone-numbers", {"number": "+13392195276", "default_outbound": True})
admin("POST", "/credits", {"credit": 100000, "description": "contract check"})
admin("POST", "/agents", {"email": "agent@example.com", "first_name": "Ada", "last_name": "Agent", "agent_number": "5865"})
menu = admin("POST", "/menus", {"name": "Support", "menu_type": "mobile_menu", "languages": ["en"], "channels": ["voice_call"]})
ivr = admin("POST", "/menus", {"name": "Main IVR", "menu_type": "ivr_menu", "languages": ["en"], "channels": ["voice_call"]})
admin("POST", "/queues", {"name": "Sales", "agents": ["agent@example.com"]})
dialer = admin("POST", "/campaigns", {"name": "Contract dialer", "kind": "outbound_dialer"})
leads_campaign = admin("POST", "/campaigns", {"name": "Contract leads", "kind": "leads"})
# A finished call on the Leads campaign: the Leads collection sets its voicemail disposition
# (no Leads API shows a call's cdr id before that).
leads_call = admin("POST", "/calls", {"to": "+14155550123", "campaign": leads_campaign["id"], "status": "finished"})

apps_user, apps_token = t["apps"]["subdomain"], t["apps"]["token"]
cm = t["campaign_manager"]
leads = t["leads"]
login = call("POST", "/api/v2/login", {"username": leads["username"], "password": leads["password"], "domain": leads["domain"]})

out = {
    "admin": {"adminToken": token},
    "apps": {
        "username": apps_user,
        "password": apps_token,
        "subdomain": apps_user,
        "agent_email": "agent@example.com",
        "menu_id": str(menu.get("id", menu.get("seq", ""))),
        "ivr_menu_id": str(ivr.get("id", ivr.get("seq", ""))),
        "outbound_number": "+1 339-219-5276",
    },
    "campaign-manager": {"accountSid": cm["account_sid"], "authToken": cm["auth_token"], "enterpriseSid": cm.get("enterprise_sid", "")},
    "leads": {
        "username": leads["username"],
        "password": leads["password"],
        "domain": leads["domain"],
        "cdr_id": leads_call["ids"]["leads"],
    },
    "onc": {"accountId": t["onc"]["account_id"], "username": t["onc"]["username"], "password": t["onc"]["password"]},
    "outbound-dialer": {
        "subdomain": apps_user,
        "api_token": apps_token,
        "campaign_id": str(dialer["ids"]["apps"]),
        "outbound_number": "+1 339-219-5276",
    },
    "schemathesis": {
        "openapi/apps.yaml": f"Authorization: {basic(apps_user, apps_token)}",
        "openapi/outbound-dialer.yaml": f"Authorization: {basic(apps_user, apps_token)}",
        "openapi/campaign-manager.yaml": f"Authorization: {basic(cm['account_sid'], cm['auth_token'])}",
        "openapi/leads.yaml": f"Authorization: Bearer {login['access_token']}",
        "openapi/onc-json.yaml": "X-Contract-Check: 1",
        # Last: it may delete tenants.
        "openapi/admin.yaml": f"Authorization: Bearer {token}",
    },
}
print(json.dumps(out))
