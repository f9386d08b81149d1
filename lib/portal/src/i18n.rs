//! The portal's two languages: which one a person reads (their choice, kept in a cookie, else
//! the browser's `Accept-Language`), every text of the pages in both, and money and dates as
//! the language writes them (the same wording as the notices and documents:
//! `kopek_domain::dunning::{money_text, date_text}`).

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use chrono::NaiveDate;
use kopek_domain::accounts::DocumentLanguage;
use kopek_domain::dunning::{date_text, money_text};
use kopek_domain::money::Money;

use crate::session::{LANG_COOKIE, cookie};

/// A language of the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ru,
    En,
}

impl Lang {
    /// The person's choice (the `kopek_lang` cookie), else the first of `ru` or `en` their
    /// browser asks for, else Russian.
    pub fn of(headers: &HeaderMap) -> Lang {
        if let Some(chosen) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
            return chosen;
        }
        let asked = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let mut ranked: Vec<(Lang, f32)> = asked
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let lang = Lang::parse(tag.split('-').next()?)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((lang, q))
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked.first().map_or(Lang::Ru, |(lang, _)| *lang)
    }

    /// `ru` or `en`, any case.
    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "ru" => Some(Lang::Ru),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Ru => Lang::En,
            Lang::En => Lang::Ru,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Ru => &RU,
            Lang::En => &EN,
        }
    }

    /// `ru` or `en`, whichever this language is.
    pub fn pick<'a>(self, ru: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ru => ru,
            Lang::En => en,
        }
    }

    pub fn document(self) -> DocumentLanguage {
        match self {
            Lang::Ru => DocumentLanguage::Ru,
            Lang::En => DocumentLanguage::En,
        }
    }

    /// `money` as this language writes it: `1 234,56 ₽`, `1,234.56 RUB`.
    pub fn money(self, money: Money) -> String {
        money_text(money, self.document())
    }

    /// `day` as this language writes it: `30.11.2026`, `2026-11-30`.
    pub fn date(self, day: NaiveDate) -> String {
        date_text(day, self.document())
    }
}

/// Every text of the pages, in one language.
pub struct Texts {
    pub product: &'static str,
    pub language_name: &'static str,
    pub switch_to: &'static str,
    pub sign_in: &'static str,
    pub sign_in_lead: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub sign_out: &'static str,
    pub signed_in_as: &'static str,
    pub dashboard: &'static str,
    pub invoices: &'static str,
    pub balance: &'static str,
    pub balance_owed: &'static str,
    pub credit: &'static str,
    pub open_invoices: &'static str,
    pub overdue_invoices: &'static str,
    pub nothing_open: &'static str,
    pub number: &'static str,
    pub period: &'static str,
    pub issued_on: &'static str,
    pub due_on: &'static str,
    pub amount: &'static str,
    pub open_amount: &'static str,
    pub status: &'static str,
    pub no_invoices: &'static str,
    pub more: &'static str,
    pub invoice: &'static str,
    pub line: &'static str,
    pub service: &'static str,
    pub quantity: &'static str,
    pub net: &'static str,
    pub tax: &'static str,
    pub gross: &'static str,
    pub paid: &'static str,
    pub credited: &'static str,
    pub back: &'static str,
    pub staff_home: &'static str,
    pub not_found: &'static str,
    pub forbidden: &'static str,
    pub went_wrong: &'static str,
    pub to_start: &'static str,
    pub dunning: &'static str,
    pub skip_to_content: &'static str,
    pub main_menu: &'static str,
    pub bad_credentials: &'static str,
    pub register: &'static str,
    pub register_lead: &'static str,
    pub no_account: &'static str,
    pub organisation: &'static str,
    pub legal_name: &'static str,
    pub tax_id: &'static str,
    pub kpp: &'static str,
    pub billing_address: &'static str,
    pub billing_email: &'static str,
    pub currency: &'static str,
    pub you: &'static str,
    pub your_name: &'static str,
    pub password_hint: &'static str,
    pub orders: &'static str,
    pub work: &'static str,
    pub queues: &'static str,
    pub waiting: &'static str,
    pub oldest: &'static str,
    pub take_batch: &'static str,
    pub batch_size: &'static str,
    pub my_batches: &'static str,
    pub batch: &'static str,
    pub customer: &'static str,
    pub outcome: &'static str,
    pub done: &'static str,
    pub failed: &'static str,
    pub give_back: &'static str,
    pub reason: &'static str,
    pub complete_batch: &'static str,
    pub work_order: &'static str,
    pub new_order: &'static str,
    pub no_orders: &'static str,
    pub order_placed: &'static str,
    pub order_of: &'static str,
    pub requested_date: &'static str,
    pub address: &'static str,
    pub area: &'static str,
    pub note: &'static str,
    pub expected_price: &'static str,
    pub with_vat: &'static str,
    pub show_price: &'static str,
    pub place_order: &'static str,
    pub too_many_attempts: &'static str,
}

impl Texts {
    /// An invoice status's name.
    pub fn status(&self, status: kopek_domain::invoicing::InvoiceStatus) -> &'static str {
        use kopek_domain::invoicing::InvoiceStatus as S;
        let ru = std::ptr::eq(self, &RU);
        match (status, ru) {
            (S::Draft, true) => "Черновик",
            (S::Draft, false) => "Draft",
            (S::Issued, true) => "Выставлен",
            (S::Issued, false) => "Issued",
            (S::PartlyPaid, true) => "Оплачен частично",
            (S::PartlyPaid, false) => "Partly paid",
            (S::Paid, true) => "Оплачен",
            (S::Paid, false) => "Paid",
            (S::Overdue, true) => "Просрочен",
            (S::Overdue, false) => "Overdue",
            (S::Void, true) => "Аннулирован",
            (S::Void, false) => "Void",
        }
    }
}

static RU: Texts = Texts {
    product: "Копек",
    language_name: "Русский",
    switch_to: "English",
    sign_in: "Вход",
    sign_in_lead: "Войдите, чтобы заказывать услуги, следить за заказами, счетами и оплатами.",
    email: "Электронная почта",
    password: "Пароль",
    sign_out: "Выйти",
    signed_in_as: "Вы вошли как",
    dashboard: "Главная",
    invoices: "Счета",
    balance: "Баланс",
    balance_owed: "К оплате",
    credit: "Аванс",
    open_invoices: "Неоплаченные счета",
    overdue_invoices: "Просрочено",
    nothing_open: "Неоплаченных счетов нет.",
    number: "Номер",
    period: "Период",
    issued_on: "Дата",
    due_on: "Оплатить до",
    amount: "Сумма",
    open_amount: "Осталось оплатить",
    status: "Статус",
    no_invoices: "Счетов пока нет.",
    more: "Ещё",
    invoice: "Счёт",
    line: "№",
    service: "Услуга",
    quantity: "Количество",
    net: "Без НДС",
    tax: "НДС",
    gross: "Всего",
    paid: "Оплачено",
    credited: "Скорректировано",
    back: "Назад",
    staff_home: "Рабочее место сотрудника",
    not_found: "Страница не найдена",
    forbidden: "Нет доступа",
    went_wrong: "Что-то пошло не так",
    to_start: "На главную",
    dunning: "Напоминания об оплате",
    skip_to_content: "К содержимому",
    main_menu: "Главное меню",
    bad_credentials: "Неверная электронная почта или пароль.",
    register: "Регистрация",
    register_lead: "Зарегистрируйте организацию, чтобы заказывать услуги и получать документы.",
    no_account: "Нет учётной записи? Зарегистрируйте организацию",
    organisation: "Организация",
    legal_name: "Наименование",
    tax_id: "ИНН",
    kpp: "КПП (если есть)",
    billing_address: "Адрес для документов",
    billing_email: "Почта для счетов",
    currency: "Валюта",
    you: "Вы",
    your_name: "Имя",
    password_hint: "Не короче 10 символов",
    orders: "Заказы",
    work: "Работы",
    queues: "Очереди",
    waiting: "Ждут",
    oldest: "Самая старая",
    take_batch: "Взять пакет",
    batch_size: "Сколько взять",
    my_batches: "Мои пакеты",
    batch: "Пакет",
    customer: "Клиент",
    outcome: "Итог",
    done: "Выполнено",
    failed: "Не выполнено",
    give_back: "Вернуть в очередь",
    reason: "Причина",
    complete_batch: "Завершить пакет",
    work_order: "Наряд",
    new_order: "Новый заказ",
    no_orders: "Заказов пока нет.",
    order_placed: "Заказ принят: инженеры получат его в своей очереди.",
    order_of: "Заказ от",
    requested_date: "Желаемая дата",
    address: "Адрес",
    area: "Район",
    note: "Комментарий для инженера",
    expected_price: "Ожидаемая стоимость",
    with_vat: "с НДС",
    show_price: "Показать стоимость",
    place_order: "Заказать",
    too_many_attempts: "Слишком много неудачных попыток. Подождите немного и попробуйте снова.",
};

static EN: Texts = Texts {
    product: "Kopek",
    language_name: "English",
    switch_to: "Русский",
    sign_in: "Sign in",
    sign_in_lead: "Sign in to order services and follow your orders, invoices and payments.",
    email: "E-mail",
    password: "Password",
    sign_out: "Sign out",
    signed_in_as: "Signed in as",
    dashboard: "Dashboard",
    invoices: "Invoices",
    balance: "Balance",
    balance_owed: "To pay",
    credit: "Credit",
    open_invoices: "Open invoices",
    overdue_invoices: "Overdue",
    nothing_open: "Nothing is open.",
    number: "Number",
    period: "Period",
    issued_on: "Issued",
    due_on: "Due",
    amount: "Amount",
    open_amount: "Left to pay",
    status: "Status",
    no_invoices: "No invoices yet.",
    more: "More",
    invoice: "Invoice",
    line: "No.",
    service: "Service",
    quantity: "Quantity",
    net: "Net",
    tax: "VAT",
    gross: "Total",
    paid: "Paid",
    credited: "Credited",
    back: "Back",
    staff_home: "Staff workplace",
    not_found: "Page not found",
    forbidden: "No access",
    went_wrong: "Something went wrong",
    to_start: "To the dashboard",
    dunning: "Payment reminders",
    skip_to_content: "Skip to content",
    main_menu: "Main menu",
    bad_credentials: "The e-mail or password is wrong.",
    register: "Register",
    register_lead: "Register your organisation to order services and receive its documents.",
    no_account: "No account yet? Register your organisation",
    organisation: "Organisation",
    legal_name: "Legal name",
    tax_id: "Tax id (INN or VAT id)",
    kpp: "KPP (if any)",
    billing_address: "Address for documents",
    billing_email: "E-mail for invoices",
    currency: "Currency",
    you: "You",
    your_name: "Name",
    password_hint: "At least 10 characters",
    orders: "Orders",
    work: "Work",
    queues: "Queues",
    waiting: "Waiting",
    oldest: "Oldest",
    take_batch: "Take a batch",
    batch_size: "How many",
    my_batches: "My batches",
    batch: "Batch",
    customer: "Customer",
    outcome: "Outcome",
    done: "Done",
    failed: "Failed",
    give_back: "Back to the queue",
    reason: "Reason",
    complete_batch: "Complete the batch",
    work_order: "Work order",
    new_order: "New order",
    no_orders: "No orders yet.",
    order_placed: "Your order is placed: engineers get it in their queue.",
    order_of: "Order of",
    requested_date: "Preferred date",
    address: "Address",
    area: "Area",
    note: "Note for the engineer",
    expected_price: "Expected price",
    with_vat: "with VAT",
    show_price: "Show the price",
    place_order: "Place the order",
    too_many_attempts: "Too many failed attempts. Wait a little and try again.",
};

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_choice_wins_then_the_browsers_best_then_russian() {
        assert_eq!(Lang::of(&headers(&[])), Lang::Ru);
        assert_eq!(
            Lang::of(&headers(&[(
                "accept-language",
                "de-DE, en-GB;q=0.8, ru;q=0.5"
            )])),
            Lang::En
        );
        assert_eq!(
            Lang::of(&headers(&[("accept-language", "en;q=0.3, ru-RU;q=0.9")])),
            Lang::Ru
        );
        assert_eq!(
            Lang::of(&headers(&[
                ("accept-language", "ru"),
                ("cookie", "a=b; kopek_lang=en")
            ])),
            Lang::En
        );
        assert_eq!(Lang::of(&headers(&[("accept-language", "fr")])), Lang::Ru);
    }
}
