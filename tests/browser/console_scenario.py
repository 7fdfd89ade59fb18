"""The console in a real headless browser (Debian's chromium + chromium-driver, selenium).

Run by `cargo test --test console` (browser_scenario_in_headless_chromium), which starts
the server and passes: BASE_URL, ADMIN_TOKEN (the throwaway test token), SHOT_DIR (where
screenshots go).

Scenario: sign in; create a tenant; start a Campaign Manager SMS campaign of 5 numbers
through the API (one from the busy row of the outcome table: +1 NPA 555 0002, whose SMS
end in `carrier_error`; the four others are delivered); advance the clock in the UI until
the progress bar is full; open the campaign's contacts and see the failed contact in
Campaign Manager's words (`carrierError`, its `counts` key) and the four others
`delivered`; see the requests in the journal; create a fault in the UI and see the next
API call fail; a screenshot of each page. Every check waits for its condition (no fixed
sleeps), so a loaded machine only makes it slower.
"""

import base64
import datetime
import json
import os
import re
import sys
import urllib.error
import urllib.request
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["BASE_URL"]
TOKEN = os.environ["ADMIN_TOKEN"]
SHOTS = os.environ["SHOT_DIR"]
# SMS row 2 of the README's outcome table: carrier error (final, no retry in Campaign Manager).
BUSY = "+14155550002"
# Delivered: row 3, row 8, and numbers outside the table.
DELIVERED = ["+14155550100", "+14155550003", "+14155550008", "+14155550101"]
NUMBERS = [DELIVERED[0], BUSY] + DELIVERED[1:]


def step(msg):
    print("STEP", msg, flush=True)


def http(method, path, body=None, headers=None):
    req = urllib.request.Request(BASE + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    out = b""
    for k, v in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
    for k, (name, content) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode() + content.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def click_fresh(wait, locator):
    """Clicks an element of a live table, finding it again when an update replaced it."""
    for _ in range(10):
        try:
            wait.until(EC.element_to_be_clickable(locator)).click()
            return
        except StaleElementReferenceException:
            continue
    raise AssertionError(f"{locator} kept changing")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"]:
        opts.add_argument(a)
    chromium = os.environ.get("CHROMIUM_BIN")
    if chromium:
        opts.binary_location = chromium
    driver = webdriver.Chrome(service=Service(executable_path=os.environ.get("CHROMEDRIVER_BIN", "chromedriver")), options=opts)
    wait = WebDriverWait(driver, 120)
    n = [0]

    def shot(name):
        n[0] += 1
        path = os.path.join(SHOTS, f"{n[0]:02d}-{name}.png")
        driver.save_screenshot(path)
        print("SCREENSHOT", path, flush=True)

    try:
        # 1. sign in
        step("sign in")
        driver.get(BASE + "/console/tenants")
        assert "/console/login" in driver.current_url, driver.current_url
        shot("login")
        driver.find_element(By.ID, "token").send_keys(TOKEN + Keys.ENTER)
        wait.until(EC.url_contains("/console/tenants"))
        # keyboard: the first Tab reaches the skip link
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        assert driver.switch_to.active_element.get_attribute("class") == "skip"
        shot("tenants-empty")

        # 2. create a tenant
        step("create a tenant")
        driver.find_element(By.NAME, "slug").send_keys("demo")
        driver.find_element(By.NAME, "name").send_keys("Demo Inc")
        driver.find_element(By.XPATH, "//button[text()='Create tenant']").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Tenant demo created"))
        page = driver.page_source
        assert TOKEN not in page
        sid = re.search(r"account_sid = (AC[0-9a-f]{32})", page).group(1)
        auth = re.search(r"auth_token = ([A-Za-z0-9_\-]+)", page).group(1)
        assert "campaign-manager.postman_environment.json" in page
        shot("tenant-created")

        # 3. a Campaign Manager SMS campaign of 5 numbers through the API, due in an hour
        step("start a Campaign Manager SMS campaign through the API")
        s, b = http("POST", "/admin/v1/tenants/demo/credits", json.dumps({"credit": 100, "description": "browser test"}).encode(),
                    {"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
        assert s == 201, (s, b)
        start = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S+0000")
        body, ctype = multipart({"name": "Browser campaign", "body": "Hello from the browser test", "startTime": start},
                                {"toFile": ("to.csv", "\n".join(NUMBERS) + "\n")})
        s, b = http("POST", "/campaignmanager/campaigns", body, {"Authorization": basic(sid, auth), "Content-Type": ctype})
        assert s == 201, (s, b)
        campaign_sid = json.loads(b)["data"]["sid"]
        print("CAMPAIGN", campaign_sid, flush=True)

        # 4. the progress bar reaches 100% after the clock is advanced in the UI
        step("advance the clock in the UI until the progress bar is full")
        driver.get(BASE + "/console/t/demo/campaigns")
        row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-campaign]")))
        assert campaign_sid in row.text, row.text
        assert "0/5" in row.text, row.text
        shot("campaigns-before")
        def full(d):
            try:
                bars = d.find_elements(By.CSS_SELECTOR, "tr[data-campaign] progress")
                return bool(bars) and bars[0].get_attribute("value") == bars[0].get_attribute("max") == "5"
            except StaleElementReferenceException:
                return False  # the live table was just replaced; look again

        # One day covers the start (in an hour) and every SMS (2 s each); advance again
        # (at most three times) only if the bar is not full after the live view caught up.
        for _ in range(3):
            driver.get(BASE + "/console/t/demo")
            wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "button[data-advance='86400']"))).click()
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.notice")))
            driver.get(BASE + "/console/t/demo/campaigns")
            wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-campaign] progress")))
            try:
                WebDriverWait(driver, 30, poll_frequency=0.5).until(full)
                break
            except TimeoutException:
                continue
        WebDriverWait(driver, 60).until(full)
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "tr[data-campaign] [data-progress]"), "5/5 (100%)"))
        shot("campaigns-complete")

        # 5. the campaign's contacts: the failed one in Campaign Manager's words, four delivered
        step("open the campaign's contacts")
        click_fresh(wait, (By.CSS_SELECTOR, "tr[data-campaign] td:nth-child(3) a"))
        wait.until(EC.presence_of_element_located((By.ID, "contacts")))

        def contact_row(number):
            return wait.until(EC.presence_of_element_located(
                (By.XPATH, f"//table[@id='contacts']/tbody/tr[td[2][contains(., '{number}')]]")))

        busy_row = contact_row(BUSY)
        status = busy_row.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status")
        words = busy_row.find_element(By.CSS_SELECTOR, "[data-dialect-state]").text.strip()
        print("BUSY CONTACT STATUS", status, words, flush=True)
        assert status == "carrier_error", status
        assert words == "carrierError", words
        outcomes = [a.get_attribute("data-outcome") for a in busy_row.find_elements(By.CSS_SELECTOR, "[data-attempt] [data-outcome]")]
        assert outcomes == ["carrier_error"], outcomes
        for number in DELIVERED:
            row = contact_row(number)
            got = (row.find_element(By.CSS_SELECTOR, "[data-status]").get_attribute("data-status"),
                   row.find_element(By.CSS_SELECTOR, "[data-dialect-state]").text.strip())
            assert got == ("completed", "delivered"), (number, got)
        shot("contacts")
        Select(driver.find_element(By.NAME, "state")).select_by_value(status)
        driver.find_element(By.XPATH, "//button[text()='Filter']").click()
        wait.until(EC.url_contains("state=" + status))
        assert BUSY in driver.find_element(By.ID, "contacts").text

        driver.get(BASE + "/console/t/demo/outbox")
        wait.until(EC.presence_of_element_located(
            (By.XPATH, f"//table[@id='outbox']//tr[td[contains(., '{BUSY}')]]//*[@data-outcome='carrier_error']")))
        assert "No webhook delivery." in driver.find_element(By.ID, "webhook-deliveries").text
        shot("outbox")

        # 6. the requests in the journal, one opened with its curl line
        step("see the requests in the journal")
        driver.get(BASE + "/console/t/demo/journal")
        click_fresh(wait, (By.XPATH, "//table[@id='journal']//a[contains(., '/campaignmanager/campaigns')]"))
        wait.until(EC.text_to_be_present_in_element((By.ID, "detail"), "Copy as curl"))
        curl = driver.find_element(By.ID, "curl").text
        assert curl.startswith("curl -X POST"), curl
        assert auth not in driver.page_source, "the journal redacts the secret"
        shot("journal")

        # 7. a fault made in the UI makes the next API call fail
        step("create a fault, then see the next API call fail")
        driver.get(BASE + "/console/t/demo/faults")
        Select(driver.find_element(By.NAME, "dialect")).select_by_value("campaign_manager")
        Select(driver.find_element(By.NAME, "kind")).select_by_value("status")
        st = driver.find_element(By.NAME, "status")
        st.clear()
        st.send_keys("503")
        driver.find_element(By.NAME, "times").send_keys("1")
        driver.find_element(By.XPATH, "//button[text()='Add fault']").click()
        wait.until(EC.text_to_be_present_in_element((By.ID, "faults"), "503"))
        shot("faults")
        s, b = http("GET", "/campaignmanager/campaigns/search", None, {"Authorization": basic(sid, auth)})
        assert s == 503, (s, b)
        s, b = http("GET", "/campaignmanager/campaigns/search", None, {"Authorization": basic(sid, auth)})
        assert s == 200, (s, b)

        # 8. the other pages
        step("the other pages")
        driver.get(BASE + "/console/t/demo/carrier-rules")
        rules = wait.until(EC.presence_of_element_located((By.ID, "rules")))
        rules.clear()
        rules.send_keys('[{"match": "+1415555*", "channel": "sms", "outcomes": ["nope"]}]')
        driver.find_element(By.XPATH, "//button[text()='Save rules']").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.error[role='alert']"), "outcomes[0]"))
        rules = driver.find_element(By.ID, "rules")
        rules.clear()
        rules.send_keys('[{"match": "+1415555*", "channel": "sms", "outcomes": ["undelivered", "delivered"]}]')
        driver.find_element(By.XPATH, "//button[text()='Save rules']").click()
        wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "p.notice"), "Carrier rules saved."))
        assert "undelivered" in driver.find_element(By.ID, "rules").get_attribute("value")
        for path, name in [("/carrier-rules", "carrier-rules"), ("/suppression", "suppression"), ("/snapshot", "snapshot")]:
            driver.get(BASE + "/console/t/demo" + path)
            wait.until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
            shot(name)
        driver.get(BASE + "/console/t/demo")
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#chart svg rect")))
        shot("overview")
        driver.get(BASE + "/console/tenants")
        shot("tenants")
        print("BROWSER SCENARIO OK", flush=True)
    except Exception:
        shot("failure")
        print(driver.page_source[:4000], file=sys.stderr)
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
