"""The operator panel driven in a real headless Chromium against a live gateway on a real port:
sign-in, calls appearing and going without a reload, Hang up and Hold reaching the switch,
tenancy, error texts, and caller names with HTML in them shown as text.

Needs Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver)
and selenium; skipped, saying so, when they are absent. One browser serves the whole module.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from gateway.model import State
from tests.harness import Live, live_gateway

CHROMIUM = os.environ.get("CALLGATE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CALLGATE_CHROMEDRIVER", "/usr/bin/chromedriver")

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    pytest.skip(f"headless browser tests need {CHROMIUM} and {CHROMEDRIVER} "
                "(apt-get install -y chromium chromium-driver)", allow_module_level=True)

from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402

T = TypeVar("T")
WAIT = 10.0


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,800", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """The browser, driven from the event loop that serves the gateway: every WebDriver call
    runs in a worker thread so the gateway keeps answering the page meanwhile."""

    def __init__(self, driver: WebDriver, live: Live) -> None:
        self.driver = driver
        self.live = live
        self.base = str(live.client.make_url("/panel/"))

    async def do(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    async def until(self, check: Callable[[], T], what: str, wait: float = WAIT) -> T:
        """Poll the page until `check()` is truthy; fail naming `what` after `wait` seconds."""
        try:
            async with asyncio.timeout(wait):
                while True:
                    got = await self.do(check)
                    if got:
                        return got
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"the panel never showed: {what}")

    async def open(self) -> None:
        await self.do(self.driver.get, self.base)
        await self.until(lambda: self.driver.find_element(By.ID, "signin").is_displayed()
                         or self.driver.find_element(By.ID, "panel").is_displayed(),
                         "the page")

    async def sign_in(self, username: str, password: str, realm: str = "") -> None:
        await self.open()

        def fill() -> None:
            d = self.driver
            for field, value in (("username", username), ("password", password),
                                 ("realm", realm)):
                el = d.find_element(By.ID, field)
                el.clear()
                el.send_keys(value)
            d.find_element(By.ID, "signin-button").click()

        await self.do(fill)

    async def signed_in(self, username: str, password: str, realm: str = "") -> None:
        await self.sign_in(username, password, realm)
        await self.until(lambda: self.driver.find_element(By.ID, "panel").is_displayed(),
                         "the call table after sign-in")

    def rows(self) -> dict[str, WebElement]:
        return {tr.get_attribute("data-channel-id") or "": tr
                for tr in self.driver.find_elements(By.CSS_SELECTOR, "tr[data-channel-id]")}

    def row(self, channel_id: str) -> WebElement | None:
        found = self.driver.find_elements(By.CSS_SELECTOR,
                                          f'tr[data-channel-id="{channel_id}"]')
        return found[0] if found else None

    def text(self, element_id: str) -> str:
        return self.driver.find_element(By.ID, element_id).text

    async def click(self, channel_id: str, label: str) -> None:
        def press() -> None:
            tr = self.row(channel_id)
            assert tr is not None, f"no row for {channel_id}"
            buttons = [b for b in tr.find_elements(By.TAG_NAME, "button") if b.text == label]
            assert buttons, f"no {label!r} button on {channel_id}"
            buttons[0].click()
        await self.do(press)

    async def screenshot(self, path: Path) -> None:
        def shoot() -> None:
            self.driver.save_screenshot(str(path))
        await self.do(shoot)


Opener = Callable[[Live], AbstractAsyncContextManager[Page]]


@pytest.fixture
def page_of(browser: WebDriver) -> Opener:
    """`async with page_of(live) as page`: the browser on this gateway's panel; it leaves the
    page on the way out, so the gateway never waits on the page's open socket to stop."""
    @contextlib.asynccontextmanager
    async def opened(live: Live) -> AsyncIterator[Page]:
        page = Page(browser, live)
        try:
            yield page
        finally:
            await page.do(browser.get, "about:blank")
    return opened


async def settled(live: Live, check: Callable[[], bool], wait: float = WAIT,
                  page: Page | None = None) -> None:
    """Wait until the simulators or the store satisfy `check`; a failure says what the panel
    last told its user."""
    try:
        await live.until(check, wait)
    except TimeoutError:
        told = await page.do(page.text, "notice") if page is not None else ""
        pytest.fail(f"the switch never got there (panel notice: {told!r})")


async def answered_call(live: Live, caller: str, callee: str) -> tuple[str, str]:
    a = await live.fs.place_call(caller, callee, answer_after=0.05)
    await settled(live, lambda: (ch := live.gw.store.get(a)) is not None and bool(ch.other_leg)
                        and ch.state is State.ANSWERED)
    ch = live.gw.store.get(a)
    assert ch is not None
    return a, ch.other_leg


# ------------------------------------------------------------------------------ tests
async def test_a_call_appears_grouped_and_goes_without_reload(
        page_of: Opener, tmp_path: Path) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        assert "alice@acme.example.com" in await page.do(page.text, "who")
        marker = await page.do(page.driver.execute_script,
                               "return window.__same_page = Math.random();")
        a, b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a) and page.row(b), "both legs of the new call")

        def legs() -> tuple[str, str, list[str]]:
            tra, trb = page.row(a), page.row(b)
            assert tra is not None and trb is not None
            body = tra.find_element(By.XPATH, "..")
            ids = [tr.get_attribute("data-channel-id") or ""
                   for tr in body.find_elements(By.CSS_SELECTOR, "tr[data-channel-id]")]
            return tra.text, trb.get_attribute("data-state") or "", ids

        await page.until(lambda: legs()[2] == [a, b], "the two legs grouped as one call")
        await page.until(lambda: "answered" in legs()[0], "the answered state")
        a_text, _b_state, _ = await page.do(legs)
        assert "201" in a_text and "202" in a_text and "fs1" in a_text
        for label in ("Hang up", "Hold", "Transfer"):
            assert label in a_text
        await page.until(lambda: "1 live call" in page.text("count"), "the live-call count")
        await page.until(lambda: "fs1 (freeswitch): connected" in page.text("switches"),
                         "the switch's health")
        shot = tmp_path / "panel-table.png"
        await page.screenshot(shot)
        assert shot.stat().st_size > 5000

        await live.fs.hangup(a)
        await page.until(lambda: page.row(a) is None and page.row(b) is None,
                         "the call gone after the switch hung it up")
        assert await page.do(page.driver.execute_script,
                             "return window.__same_page;") == marker  # never reloaded


async def test_hang_up_ends_the_call_on_the_switch(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        a, b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "the call")
        await page.click(a, "Hang up")
        await settled(live, lambda: live.fs.channel(a) is None and live.fs.channel(b) is None,
                      page=page)
        await page.until(lambda: page.row(a) is None and page.row(b) is None, "the call gone")
        assert await page.do(page.text, "notice") == ""


async def test_hold_and_unhold(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice@acme.example.com", "demo-alice")
        a, _b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "the call")
        await page.click(a, "Hold")
        await settled(live, lambda: live.fs.truth()[a]["callstate"] == "HELD", page=page)
        await page.until(lambda: (tr := page.row(a)) is not None
                         and tr.get_attribute("data-state") == "HELD"
                         and "on hold" in tr.text and "Unhold" in tr.text,
                         "the held state and an Unhold button")
        await page.click(a, "Unhold")
        await settled(live, lambda: live.fs.truth()[a]["callstate"] == "ACTIVE", page=page)
        await page.until(lambda: (tr := page.row(a)) is not None
                         and tr.get_attribute("data-state") == "ACTIVE", "the call unheld")


async def test_another_tenants_call_never_appears(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        beta = await live.fs.place_call("301", "999", bridge=False, answer_after=0.05)
        await settled(live, lambda: live.gw.store.get(beta) is not None)
        a, b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a) and page.row(b), "Acme's call")
        await page.until(lambda: "1 live call" in page.text("count"), "one call counted")
        assert set(await page.do(page.rows)) == {a, b}

        # root sees every tenant's calls
        await page.do(page.driver.execute_script, "sessionStorage.clear();")
        await page.signed_in("root", "demo-admin")
        await page.until(lambda: {a, b, beta} <= set(page.rows()), "every tenant's calls")


async def test_wrong_password_and_expired_session(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.open()
        await page.do(page.driver.execute_script, "sessionStorage.clear();")
        for username in ("alice", "alice@acme.example.com", "root", "nobody"):
            await page.sign_in(username, "not-the-password")
            await page.until(lambda: page.text("signin-error") == "Wrong username or password.",
                             f"the wrong-password error for {username}")
            assert not await page.do(
                lambda: page.driver.find_element(By.ID, "panel").is_displayed())

        await page.signed_in("alice", "demo-alice", realm="acme.example.com")
        # the session ends on the server: the panel says so and goes back to sign-in
        await page.do(page.driver.execute_script, """
            const s = JSON.parse(sessionStorage.getItem('callgate.panel.session'));
            s.token = s.token.slice(0, -4) + 'AAAA';
            sessionStorage.setItem('callgate.panel.session', JSON.stringify(s));""")
        await page.open()
        await page.until(lambda: page.text("signin-error")
                         == "Your session has expired. Sign in again.", "the expired message")
        assert "token" not in await page.do(lambda: page.driver.current_url)

        # signing out ends the session on the server too
        await page.signed_in("alice", "demo-alice")
        session = await page.do(page.driver.execute_script,
                                "return JSON.parse(sessionStorage.getItem("
                                "'callgate.panel.session'));")
        await page.do(lambda: page.driver.find_element(By.ID, "signout").click())
        await page.until(lambda: page.driver.find_element(By.ID, "signin").is_displayed(),
                         "the sign-in form after signing out")
        assert await page.do(page.driver.execute_script,
                             "return sessionStorage.getItem('callgate.panel.session');") is None
        hdrs = {"X-Access-Token": session["token"], "X-Key": session["key"]}

        async def refused() -> bool:
            r = await live.client.get("/api/v2/channels", headers=hdrs)
            return r.status == 401

        for _ in range(100):
            if await refused():
                break
            await asyncio.sleep(0.02)
        assert await refused()


async def test_html_in_a_caller_name_is_text(page_of: Opener,
                                             tmp_path: Path) -> None:
    evil = '<img src=x onerror="document.title=1">'
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        a = await live.fs.place_call(evil, "37052000000", bridge=False, answer_after=None)
        await settled(live, lambda: (ch := live.gw.store.get(a)) is not None
                            and ch.account_id == "a0000000000000000000000000000003")
        await page.until(lambda: page.row(a), "the call with an HTML caller name")

        def caller() -> tuple[str, int, str]:
            tr = page.row(a)
            assert tr is not None
            cell = tr.find_element(By.CSS_SELECTOR, "td.caller")
            return (cell.text, len(page.driver.find_elements(By.CSS_SELECTOR, "#calls img")),
                    page.driver.title)

        text, images, title = await page.do(caller)
        assert evil in text
        assert images == 0 and title == "callgate panel"
        await page.screenshot(tmp_path / "panel-html-name.png")


async def test_a_switch_going_down_greys_its_calls(page_of: Opener) -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live, page_of(live) as page:
        await page.signed_in("root", "demo-admin")
        a, _b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "the call")
        await live.fs.stop()
        await page.until(lambda: "Switch fs1 is down" in page.text("switch-alert"),
                         "which switch is down")
        await page.until(lambda: (tr := page.row(a)) is None
                         or "down" in (tr.get_attribute("class") or ""),
                         "the call greyed or removed")
        tr = await page.do(page.row, a)
        if tr is not None:
            enabled = await page.do(lambda: [b.is_enabled() for b in
                                             tr.find_elements(By.TAG_NAME, "button")])
            assert enabled and not any(enabled)
        assert "ast1 (asterisk): connected" in await page.do(page.text, "switches")


async def test_transfer_sends_the_caller_elsewhere(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        a, b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "the call")
        await page.until(lambda: "Live" in page.text("stream"), "the live stream")
        since = len(live.fs.commands)

        def transfer(target: str) -> None:
            tr = page.row(a)
            assert tr is not None
            box = tr.find_element(By.CSS_SELECTOR, "input.target")
            box.clear()
            box.send_keys(target)
            next(btn for btn in tr.find_elements(By.TAG_NAME, "button")
                 if btn.text == "Transfer").click()

        await page.do(transfer, "")
        await page.until(lambda: page.text("notice") == "Type the number to transfer to.",
                         "the missing-target hint")
        await page.do(transfer, "203")
        await settled(live, lambda: any(c.startswith(f"api uuid_transfer {a} ")
                                        for c in live.fs.commands[since:]), page=page)
        await page.until(lambda: page.row(b) is None, "the old callee's leg gone")
        assert "failed" not in await page.do(page.text, "notice")


async def test_a_lost_stream_reconnects_by_itself(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        await page.until(lambda: page.text("stream") == "Live", "the live stream")
        runner = live.client.server.runner
        assert runner is not None and runner.server is not None
        for conn in runner.server.connections:
            if conn.transport is not None:
                conn.transport.abort()
        await page.until(lambda: page.text("stream") == "Live stream reconnected.",
                         "that the stream dropped and came back")
        a, _b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "a call made after the reconnect")


async def test_a_reload_keeps_the_session_out_of_the_url(page_of: Opener) -> None:
    async with live_gateway() as live, page_of(live) as page:
        await page.signed_in("alice", "demo-alice")
        await page.until(lambda: page.text("stream") == "Live", "the live stream")
        await page.do(page.driver.refresh)
        # no password now: the stream signs in with the REST session's key and token
        await page.until(lambda: page.text("stream") == "Live", "the stream after a reload")
        a, _b = await answered_call(live, "201", "202")
        await page.until(lambda: page.row(a), "a call after the reload")
        url = await page.do(lambda: page.driver.current_url)
        assert url == page.base
        token, key, urls = await page.do(page.driver.execute_script, """
            const s = JSON.parse(sessionStorage.getItem('callgate.panel.session'));
            return [s.token, s.key,
                    performance.getEntriesByType('resource').map((e) => e.name)];""")
        assert token and key and any("/api/v2/channels" in u for u in urls)
        assert not [u for u in [url, *urls] if token in u or key in u]


async def test_root_controls_calls_on_both_switches(page_of: Opener) -> None:
    async with live_gateway(switches=("fs1", "ast1")) as live, page_of(live) as page:
        await page.signed_in("root", "demo-admin")
        fs_a, _ = await answered_call(live, "201", "202")
        ast_a = await live.ast.place_call("401", "402")
        await settled(live, lambda: (ch := live.gw.store.get(ast_a)) is not None
                            and bool(ch.other_leg) and ch.state is State.ANSWERED)
        await page.until(lambda: page.row(fs_a) and page.row(ast_a), "calls of both switches")

        def node(channel_id: str) -> str:
            tr = page.row(channel_id)
            return tr.find_element(By.CSS_SELECTOR, "td.node").text if tr else ""

        assert (await page.do(node, fs_a), await page.do(node, ast_a)) == ("fs1", "ast1")
        await page.until(lambda: "2 live calls" in page.text("count"), "two calls counted")
        await page.click(ast_a, "Hang up")
        await settled(live, lambda: live.ast.channel(ast_a) is None, page=page)
        await page.until(lambda: page.row(ast_a) is None, "the Asterisk call gone")
        assert await page.do(page.row, fs_a) is not None
