"""The portal in a real browser: Debian's Chromium driven by Playwright.

Run by `tests/tests/it/portal/browser.rs` against a portal it serves on 127.0.0.1:

    python portal.py BASE_URL EMAIL PASSWORD ORGANISATION INVOICE_NUMBER SCREENSHOT_DIR \
        ENGINEER_EMAIL ENGINEER_PASSWORD

In Russian and in English, at desktop and phone widths, a customer signs in with the
keyboard alone, reads the dashboard, opens the invoices and one invoice, places an order
and signs out; then an engineer takes the batch those orders made and completes it — one
work order done, one failed with a reason — in one form.
Every page is checked with axe-core (vendored beside this file): no serious or critical
violation; no error in the console (a Content-Security-Policy refusal would be one); and
photographed into SCREENSHOT_DIR for a person to look at. Prints what it checked as JSON;
exits non-zero, saying why, on the first failure.
"""

import json
import pathlib
import sys

from playwright.sync_api import expect, sync_playwright

HERE = pathlib.Path(__file__).parent
AXE = (HERE / "axe-4.14.1.min.js").read_text(encoding="utf-8")
SIZES = [("desktop", 1280, 800), ("phone", 390, 844)]
LANGUAGES = {
    "ru-RU": {"invoices": "Счета", "open": "Неоплаченные счета", "sign_in": "Вход",
              "orders": "Заказы", "new_order": "Новый заказ", "quantity": "Количество",
              "address": "Адрес", "place": "Заказать", "two": "7\u00a0000,00\u00a0₽",
              "placed": "Заказ принят"},
    "en-GB": {"invoices": "Invoices", "open": "Open invoices", "sign_in": "Sign in",
              "orders": "Orders", "new_order": "New order", "quantity": "Quantity",
              "address": "Address", "place": "Place the order", "two": "7,000.00 RUB",
              "placed": "Your order is placed"},
}


def check(page, name, shots, report, errors):
    """axe-core on the page, the console clean, a screenshot."""
    page.evaluate(AXE)
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}))"""
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    if bad:
        sys.exit(f"{name}: axe-core found {json.dumps(bad, ensure_ascii=False)}")
    if errors:
        sys.exit(f"{name}: the console says {errors}")
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    report.append({"page": name, "url": page.url, "minor_violations": len(violations)})


def tab_to(page, selector, limit=20):
    """Presses Tab until `selector` has the focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement === document.querySelector(s)", selector):
            return
    sys.exit(f"{selector} cannot be reached with the Tab key")


def main():
    base, email, password, organisation, number, shots, engineer, engineer_password = sys.argv[1:9]
    shots = pathlib.Path(shots)
    shots.mkdir(parents=True, exist_ok=True)
    report = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for locale, words in LANGUAGES.items():
            for size, width, height in SIZES:
                context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
                page = context.new_page()
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                tag = f"{locale[:2]}-{size}"

                page.goto(f"{base}/portal")
                expect(page).to_have_url(f"{base}/portal/sign-in")
                expect(page.get_by_role("heading", level=1)).to_have_text(words["sign_in"])
                check(page, f"sign-in-{tag}", shots, report, errors)

                # The keyboard alone: to the e-mail field, the password, Enter.
                tab_to(page, "#email")
                page.keyboard.type(email)
                page.keyboard.press("Tab")
                page.keyboard.type(password)
                with page.expect_navigation():
                    page.keyboard.press("Enter")
                if page.url != f"{base}/portal":
                    alert = page.locator("[role=alert], h1").all_inner_texts()
                    page.screenshot(path=str(shots / f"failed-sign-in-{tag}.png"))
                    sys.exit(f"{tag}: signing in stayed on {page.url}: {alert}")
                expect(page.get_by_role("heading", level=1)).to_have_text(organisation)
                expect(page.get_by_role("heading", name=words["open"])).to_be_visible()
                expect(page.get_by_role("link", name=number)).to_be_visible()
                check(page, f"dashboard-{tag}", shots, report, errors)

                page.get_by_role("navigation").get_by_role("link", name=words["invoices"]).click()
                expect(page).to_have_url(f"{base}/portal/invoices")
                check(page, f"invoices-{tag}", shots, report, errors)
                page.get_by_role("link", name=number).click()
                expect(page.get_by_role("heading", level=1)).to_contain_text(number)
                check(page, f"invoice-{tag}", shots, report, errors)

                if size == "desktop":
                    # An order: the price follows the quantity (htmx, under the CSP), then placed.
                    page.get_by_role("navigation").get_by_role("link", name=words["orders"]).click()
                    page.get_by_role("link", name=words["new_order"]).click()
                    check(page, f"order-form-{tag}", shots, report, errors)
                    sent = []
                    page.on("request", lambda r: sent.append(f"{r.method} {r.url}"))
                    page.on("response", lambda r: sent.append(f"{r.status} {r.url}"))
                    page.get_by_label(words["quantity"]).fill("2")
                    try:
                        expect(page.locator("#quote")).to_contain_text(words["two"])
                    except AssertionError:
                        sys.exit(f"{tag}: the price did not follow the quantity: {page.locator('#quote').inner_text()!r}; requests {sent}; htmx {page.evaluate('typeof htmx')}")
                    page.get_by_label(words["address"]).fill("Москва, ул. Тверская, 7")
                    with page.expect_navigation():
                        page.get_by_role("button", name=words["place"]).click()
                    expect(page.get_by_role("status")).to_contain_text(words["placed"])
                    check(page, f"orders-{tag}", shots, report, errors)

                page.locator("form[action='/portal/sign-out'] button").click()
                expect(page).to_have_url(f"{base}/portal/sign-in")
                page.goto(f"{base}/portal/invoices")
                expect(page).to_have_url(f"{base}/portal/sign-in")
                context.close()
        engineer_run(browser, base, engineer, engineer_password, shots, report)
        browser.close()
    print(json.dumps(report, ensure_ascii=False))


def engineer_run(browser, base, email, password, shots, report):
    """The engineer: the queues, a batch of installation work taken, completed in one form."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    # The registration form, for axe-core and a look, on the way.
    page.goto(f"{base}/portal/sign-in")
    page.get_by_role("link", name="Зарегистрируйте организацию").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация")
    check(page, "register-ru-desktop", shots, report, errors)
    page.goto(f"{base}/portal/sign-in")
    page.get_by_label("Электронная почта").fill(email)
    page.get_by_label("Пароль").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Вход").click()
    page.get_by_role("navigation").get_by_role("link", name="Работы").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Очереди")
    check(page, "work-ru-desktop", shots, report, errors)
    page.get_by_role("button", name="Взять пакет · installation").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Пакет")
    jobs = page.locator("fieldset")
    expect(jobs).to_have_count(2)
    check(page, "batch-ru-desktop", shots, report, errors)
    # The first done as ordered, the second failed with why.
    jobs.nth(1).get_by_label("Не выполнено").check()
    jobs.nth(1).get_by_label("Причина").fill("Клиента не было на месте")
    with page.expect_navigation():
        page.get_by_role("button", name="Завершить пакет").click()
    expect(jobs.nth(0).locator("legend")).to_contain_text("Выполнено")
    expect(jobs.nth(1).locator("legend")).to_contain_text("Не выполнено")
    check(page, "batch-done-ru-desktop", shots, report, errors)
    context.close()


if __name__ == "__main__":
    main()
