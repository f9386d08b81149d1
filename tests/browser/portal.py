"""The portal in a real browser: Debian's Chromium driven by Playwright.

Run by `tests/tests/it/portal/browser.rs` against a portal it serves on 127.0.0.1:

    python portal.py BASE_URL EMAIL PASSWORD ORGANISATION INVOICE_NUMBER SCREENSHOT_DIR \
        ENGINEER_EMAIL ENGINEER_PASSWORD MANAGER_EMAIL MANAGER_PASSWORD \
        ACCOUNTANT_EMAIL ACCOUNTANT_PASSWORD ORG_ID ADMIN_EMAIL ADMIN_PASSWORD

In Russian and in English, at desktop and phone widths, a customer signs in with the
keyboard alone, reads the dashboard, opens the invoices and one invoice, places an order,
subscribes (the prorated fee shown first), reads its usage, documents, payments, statement,
audit log and account, and signs out; anyone reads the catalog and the forgotten-password form. Then,
in each language, an engineer takes one of the work orders those orders made and completes
it (one done, one failed with a reason); a manager reads the periods and holds the
customer's dunning; an accountant records the customer's payment and reads the bank page;
an admin reads the catalog, staff and settings pages, registers a webhook endpoint and
finds it in the audit log.
Every page is checked with axe-core (vendored beside this file): no serious or critical
violation; no error in the console (a Content-Security-Policy refusal would be one); and
photographed into SCREENSHOT_DIR for a person to look at. Prints what it checked as JSON;
exits non-zero, saying why, on the first failure.
"""

import json
import pathlib
import sys

from playwright.sync_api import expect, sync_playwright

# CI runs this beside other tests that keep the emulator busy: an answer may take seconds.
expect.set_options(timeout=30_000)

HERE = pathlib.Path(__file__).parent
AXE = (HERE / "axe-4.14.1.min.js").read_text(encoding="utf-8")
SIZES = [("desktop", 1280, 800), ("phone", 390, 844)]
LANGUAGES = {
    "ru-RU": {"invoices": "Счета", "open": "Неоплаченные счета", "sign_in": "Вход",
              "orders": "Заказы", "new_order": "Новый заказ", "quantity": "Количество",
              "address": "Адрес", "place": "Заказать", "two": "7\u00a0000,00\u00a0₽",
              "placed": "Заказ принят", "see_price": "Рассчитать стоимость",
              "confirm": "Подтвердить", "after": "После изменения", "email": "Электронная почта",
              "password": "Пароль", "work": "Работы", "queues": "Очереди",
              "take": "Взять пакет · installation", "how_many": "Сколько взять",
              "failed": "Не выполнено", "reason": "Причина", "complete": "Завершить пакет",
              "done": "Выполнено", "mode": "Режим", "hold_reason": "причина", "save": "Сохранить",
              "amount": "Сумма, RUB", "reference": "Номер документа", "record": "Внести"},
    "en-GB": {"invoices": "Invoices", "open": "Open invoices", "sign_in": "Sign in",
              "orders": "Orders", "new_order": "New order", "quantity": "Quantity",
              "address": "Address", "place": "Place the order", "two": "7,000.00 RUB",
              "placed": "Your order is placed", "see_price": "See the price",
              "confirm": "Confirm", "after": "After the change", "email": "E-mail",
              "password": "Password", "work": "Work", "queues": "Queues",
              "take": "Take a batch · installation", "how_many": "How many",
              "failed": "Failed", "reason": "Reason", "complete": "Complete the batch",
              "done": "Done", "mode": "Mode", "hold_reason": "reason", "save": "Save",
              "amount": "Amount, RUB", "reference": "Reference", "record": "Record"},
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
    (base, email, password, organisation, number, shots, engineer, engineer_password,
     manager, manager_password, accountant, accountant_password, org_id,
     admin, admin_password) = sys.argv[1:16]
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
                    customer_pages(page, base, words, tag, shots, report, errors)

                page.locator("form[action='/portal/sign-out'] button").click()
                expect(page).to_have_url(f"{base}/portal/sign-in")
                page.goto(f"{base}/portal/invoices")
                expect(page).to_have_url(f"{base}/portal/sign-in")
                # Anyone: the catalog with its calculator.
                page.goto(f"{base}/portal/catalog")
                check(page, f"catalog-{tag}", shots, report, errors)
                if size == "desktop":
                    page.goto(f"{base}/portal/forgot")
                    check(page, f"forgot-{tag}", shots, report, errors)
                context.close()
        page, errors = signed_in(browser, base, "ru-RU", None, None)
        page.get_by_role("link", name="Зарегистрируйте организацию").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Регистрация")
        check(page, "register-ru-desktop", shots, report, errors)
        page.context.close()
        for locale, words in LANGUAGES.items():
            tag = f"{locale[:2]}-desktop"
            outcome = "done" if locale == "ru-RU" else "failed"
            engineer_run(browser, base, locale, words, engineer, engineer_password, outcome, shots, report)
            manager_run(browser, base, locale, words, manager, manager_password, org_id, shots, report)
            accountant_run(browser, base, locale, words, accountant, accountant_password, org_id, shots, report)
            admin_run(browser, base, locale, admin, admin_password, shots, report)
        browser.close()
    print(json.dumps(report, ensure_ascii=False))


def signed_in(browser, base, locale, email, password):
    """A desktop page in `locale`, signed in as `email` (or not signed in at all)."""
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/portal/sign-in")
    if email:
        words = LANGUAGES[locale]
        page.get_by_label(words["email"]).fill(email)
        page.get_by_label(words["password"]).fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name=words["sign_in"]).click()
        expect(page).to_have_url(f"{base}/portal")
    return page, errors


def customer_pages(page, base, words, tag, shots, report, errors):
    """A customer's other pages: a subscription previewed then confirmed, usage, documents,
    payments, the statement of account, the account."""
    page.goto(f"{base}/portal/subscriptions")
    check(page, f"subscriptions-{tag}", shots, report, errors)
    page.get_by_label(words["quantity"], exact=True).fill("2")
    with page.expect_navigation():
        page.get_by_role("button", name=words["see_price"]).click()
    expect(page.get_by_role("heading", level=2).first).to_be_visible()
    expect(page.locator("body")).to_contain_text(words["after"])
    check(page, f"subscription-preview-{tag}", shots, report, errors)
    with page.expect_navigation():
        page.get_by_role("button", name=words["confirm"]).click()
    expect(page).to_have_url(f"{base}/portal/subscriptions")
    for name in ["usage", "documents", "payments", "statement", "audit", "account"]:
        page.goto(f"{base}/portal/{name}")
        check(page, f"{name}-{tag}", shots, report, errors)


def engineer_run(browser, base, locale, words, email, password, outcome, shots, report):
    """The engineer: the queues, one installation work order taken, completed in one form."""
    tag = f"{locale[:2]}-desktop"
    page, errors = signed_in(browser, base, locale, email, password)
    page.get_by_role("navigation").get_by_role("link", name=words["work"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["queues"])
    check(page, f"work-{tag}", shots, report, errors)
    page.get_by_label(words["how_many"]).fill("1")
    page.get_by_role("button", name=words["take"]).click()
    jobs = page.locator("fieldset")
    expect(jobs).to_have_count(1)
    check(page, f"batch-{tag}", shots, report, errors)
    if outcome == "failed":
        jobs.nth(0).get_by_label(words["failed"]).check()
        jobs.nth(0).get_by_label(words["reason"]).fill("Клиента не было на месте")
    with page.expect_navigation():
        page.get_by_role("button", name=words["complete"]).click()
    expect(jobs.nth(0).locator("legend")).to_contain_text(words[outcome])
    check(page, f"batch-done-{tag}", shots, report, errors)
    page.context.close()


def manager_run(browser, base, locale, words, email, password, org_id, shots, report):
    """The manager: the periods, the current one, the customers, a customer's dunning held."""
    tag = f"{locale[:2]}-desktop"
    page, errors = signed_in(browser, base, locale, email, password)
    page.goto(f"{base}/portal/periods")
    check(page, f"periods-{tag}", shots, report, errors)
    page.locator("a[href^='/portal/periods/']").first.click()
    check(page, f"period-{tag}", shots, report, errors)
    page.goto(f"{base}/portal/customers")
    check(page, f"customers-{tag}", shots, report, errors)
    page.goto(f"{base}/portal/customers/{org_id}")
    if locale == "ru-RU":
        page.get_by_label(words["mode"]).select_option("hold")
        page.get_by_label(words["hold_reason"], exact=True).fill("Договорились об отсрочке")
        with page.expect_navigation():
            page.get_by_role("button", name=words["save"]).click()
        expect(page.locator("body")).to_contain_text("Договорились об отсрочке")
    check(page, f"customer-manager-{tag}", shots, report, errors)
    page.context.close()


def accountant_run(browser, base, locale, words, email, password, org_id, shots, report):
    """The accountant: a payment recorded on the customer's page; the bank page."""
    tag = f"{locale[:2]}-desktop"
    page, errors = signed_in(browser, base, locale, email, password)
    page.goto(f"{base}/portal/customers/{org_id}")
    if locale == "ru-RU":
        page.get_by_label(words["amount"]).fill("1 000,00")
        page.get_by_label(words["reference"]).fill("п/п 101")
        with page.expect_navigation():
            page.get_by_role("button", name=words["record"]).click()
        expect(page.locator("body")).to_contain_text("п/п 101")
    check(page, f"customer-accountant-{tag}", shots, report, errors)
    page.goto(f"{base}/portal/bank")
    check(page, f"bank-{tag}", shots, report, errors)
    page.context.close()


def admin_run(browser, base, locale, email, password, shots, report):
    """The admin: the catalog, the staff, the settings and requisites, the webhooks: an
    endpoint registered (its secret shown once), pinged, its delivery log; the audit log."""
    tag = f"{locale[:2]}-desktop"
    page, errors = signed_in(browser, base, locale, email, password)
    for name in ["catalog", "staff", "settings", "webhooks"]:
        page.goto(f"{base}/portal/admin/{name}")
        check(page, f"admin-{name}-{tag}", shots, report, errors)
    page.goto(f"{base}/portal/admin/webhooks")
    page.fill("#hook-url", f"https://crm-{locale[:2]}.example.ru/hooks")
    page.fill("#hook-description", "CRM")
    page.check("input[value='invoice.issued']")
    page.click("form[action$='/portal/admin/webhooks'] button[type=submit]")
    expect(page.locator("#secret")).to_contain_text("whsec_")
    check(page, f"admin-webhook-secret-{tag}", shots, report, errors)
    page.click(f"a:has-text('crm-{locale[:2]}.example.ru')")
    page.click("form[action$='/ping'] button")
    expect(page.locator("table")).to_contain_text("webhook.ping")
    check(page, f"admin-webhook-{tag}", shots, report, errors)
    # The audit log: the endpoint just registered is its newest change.
    page.goto(f"{base}/portal/audit")
    expect(page.locator("table")).to_contain_text("POST /portal/admin/webhooks")
    check(page, f"admin-audit-{tag}", shots, report, errors)
    page.context.close()


if __name__ == "__main__":
    main()
