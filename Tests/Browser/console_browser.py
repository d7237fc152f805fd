#!/usr/bin/env python3
"""Drives settled's operator console in headless Chromium, as an operator would.

Run by ConsoleBrowserTests (Tests/SettleCoordinatorTests), which starts the deployment and makes
the transfers named on the command line: a committed one, a stuck one (a compensation that keeps
failing) and one whose Rollback waits a minute to be retried at a participant that has just come
back. Every check that fails raises, so the exit status is the verdict; a screenshot of each page
is written to --out.
"""
import argparse
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("SETTLE_CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000", "--disable-gpu"):
        options.add_argument(argument)
    service = Service(executable_path=os.environ.get("SETTLE_CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=options)


class Console:
    def __init__(self, driver, url, out):
        self.driver, self.url, self.out = driver, url.rstrip("/"), out

    def open(self, path):
        self.driver.get(self.url + path)

    def text(self, element_id):
        return self.driver.find_element(By.ID, element_id).text

    def page(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.out, name + ".png"))

    def click(self, element):
        """Clicks something that loads a new page, and waits until the new page is there."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()

        def replaced(driver):
            try:
                old.is_enabled()
                return False
            except WebDriverException:
                # Stale, or (Chromium, mid-navigation) "node does not belong to the document".
                return True

        WebDriverWait(self.driver, 15).until(replaced)
        WebDriverWait(self.driver, 15).until(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def login(self, token):
        self.driver.delete_all_cookies()
        self.open("/login")
        self.driver.find_element(By.ID, "token").send_keys(token)
        self.click(self.driver.find_element(By.ID, "login"))

    def transfer_state(self, transfer):
        self.open("/transfer?id=" + urllib.parse.quote(transfer, safe=""))
        return self.text("transfer-state")

    def wait_for_state(self, transfer, state, seconds):
        deadline = time.time() + seconds
        seen = None
        while time.time() < deadline:
            seen = self.transfer_state(transfer)
            if seen == state:
                return
            time.sleep(0.5)
        raise AssertionError(f"transfer {transfer} is {seen} after {seconds} s, not {state}")


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok:", message, flush=True)


def post_without_browser(url, fields, cookie=None):
    """A cross-site request: a form posted from elsewhere, with or without the session's cookie."""
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST")
    if cookie:
        request.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def main():
    parser = argparse.ArgumentParser()
    for name in ("url", "alice", "bob", "viewer", "payments", "committed", "stuck", "retrying", "out"):
        parser.add_argument("--" + name, required=True)
    arguments = parser.parse_args()
    os.makedirs(arguments.out, exist_ok=True)
    driver = browser()
    try:
        run(Console(driver, arguments.url, arguments.out), arguments)
    except Exception:
        driver.save_screenshot(os.path.join(arguments.out, "failure.png"))
        print("page at failure:", driver.current_url, driver.find_element(By.TAG_NAME, "body").text[:2000], file=sys.stderr)
        raise
    finally:
        driver.quit()


def run(console, arguments):
    # Nothing without logging in, and a wrong token is refused.
    console.open("/stuck")
    check(console.driver.current_url.endswith("/login"), "an anonymous visitor is sent to the login page")
    console.shot("login")
    console.login("not-a-token-of-this-coordinator")
    check("not a client of this coordinator" in console.page(), "a wrong token is refused")
    console.login(arguments.payments)
    check("may not read all transfers" in console.page(), "a client that reads only its own transfers cannot log in")

    # Alice looks around.
    console.login(arguments.alice)
    check(console.text("user").startswith("alice"), "alice is logged in")
    check(console.driver.find_element(By.ID, "in-flight").text.isdigit(), "the overview shows transfers in flight")
    check(len(console.driver.find_elements(By.CSS_SELECTOR, ".charts svg")) == 4, "the overview draws four charts")
    console.shot("overview")

    console.open("/transfers")
    field = console.driver.find_element(By.ID, "search-id")
    field.send_keys(arguments.committed)
    console.click(console.driver.find_element(By.ID, "search-button"))
    rows = console.driver.find_elements(By.CSS_SELECTOR, "#transfer-list a")
    check([row.text for row in rows] == [arguments.committed], "searching by id finds exactly that transfer")
    console.shot("transfers")
    console.click(rows[0])
    check(console.text("transfer-id") == arguments.committed and console.text("transfer-state") == "committed",
          "its page shows it committed")
    records = [cell.text for cell in console.driver.find_elements(By.CSS_SELECTOR, "#timeline td.record")]
    check(records == ["ACCEPTED", "COMMIT", "END"], f"its timeline is ACCEPTED, COMMIT, END ({records})")
    seals = [cell.text for cell in console.driver.find_elements(By.CSS_SELECTOR, "#timeline td.seal-verified")]
    check(len(seals) == 3, "every record's seal verifies")
    console.shot("transfer")

    # The stuck transfer, resolved under four-eyes.
    console.open("/stuck")
    section = console.driver.find_element(By.ID, "stuck-" + urllib.parse.quote(arguments.stuck, safe=""))
    check("keeps failing" in section.text, "the stuck page says why it is stuck")
    console.shot("stuck")
    Select(section.find_element(By.NAME, "outcome")).select_by_value("COMPENSATED")
    section.find_element(By.NAME, "reason").send_keys("refund posted by hand at bank-a")
    console.click(section.find_element(By.CLASS_NAME, "resolve-button"))
    check("a second operator must approve" in console.text("flash"), "alice's resolution is only a proposal")
    check(console.text("transfer-state") == "stuck", "one operator alone changes nothing")
    console.open("/stuck")
    console.click(console.driver.find_element(By.CSS_SELECTOR, "#stuck-%s .approve" % urllib.parse.quote(arguments.stuck, safe="")))
    check("another operator must approve" in console.text("flash"), "alice cannot approve her own proposal")
    check(console.text("transfer-state") == "stuck", "still stuck after alice's own approval")

    # A form whose CSRF token is not the session's is refused, and so is a post from elsewhere.
    console.open("/stuck")
    form = console.driver.find_element(By.CSS_SELECTOR, "#stuck-%s form" % urllib.parse.quote(arguments.stuck, safe=""))
    console.driver.execute_script("arguments[0].querySelector('input[name=csrf]').value = 'forged'", form)
    console.click(form.find_element(By.CSS_SELECTOR, "button"))
    check("CSRF token does not match" in console.page(), "a form with a forged CSRF token is refused")
    session = console.driver.get_cookie("settle_session")["value"]
    status, _ = post_without_browser(console.url + "/transfer/approve", {"id": arguments.stuck},
                                     cookie="settle_session=" + session)
    check(status == 403, f"a post carrying the session cookie but no CSRF token is refused ({status})")
    status, _ = post_without_browser(console.url + "/transfer/approve", {"id": arguments.stuck})
    check(status == 403, f"a post without a session is refused ({status})")
    check(console.transfer_state(arguments.stuck) == "stuck", "none of those changed anything")

    # A reader without the operator permission sees the forms but cannot act.
    console.login(arguments.viewer)
    console.open("/stuck")
    console.click(console.driver.find_element(By.CSS_SELECTOR, "#stuck-%s .approve" % urllib.parse.quote(arguments.stuck, safe="")))
    check("lacks permission: operator" in console.page(), "a reader without the operator permission is refused")
    check(console.transfer_state(arguments.stuck) == "stuck", "the reader changed nothing")

    # Bob approves: the decision is sealed and the transfer is finished.
    console.login(arguments.bob)
    console.open("/stuck")
    console.click(console.driver.find_element(By.CSS_SELECTOR, "#stuck-%s .approve" % urllib.parse.quote(arguments.stuck, safe="")))
    check("Approved" in console.text("flash") and console.text("transfer-state") == "compensated",
          "bob's approval makes alice's proposal the decision")

    # A Rollback waiting a minute for its next attempt, at a participant that is back: retry now.
    console.open("/in-doubt")
    rows = [row for row in console.driver.find_elements(By.CSS_SELECTOR, "#retrying tr") if arguments.retrying in row.text]
    check(len(rows) == 1 and "rollback" in rows[0].text, "the in-doubt page lists the transfer retrying its rollback")
    attempts = int(rows[0].find_element(By.CLASS_NAME, "attempts").text)
    check(attempts >= 1, f"with its attempt count ({attempts})")
    console.shot("in-doubt")
    console.click(rows[0].find_element(By.CLASS_NAME, "retry-now"))
    check("Retrying now" in console.text("flash"), "retry now is taken")
    console.wait_for_state(arguments.retrying, "aborted", 15)
    check(True, "the transfer finished well before its next scheduled attempt")

    console.open("/participants")
    check(len(console.driver.find_elements(By.CSS_SELECTOR, "#participant-list tr")) == 3, "both participants are listed")
    console.shot("participants")


if __name__ == "__main__":
    main()
