//! The probes: every operation that names an id, as a request naming one organisation's ids
//! (or the catalog's, or staff-only ones).

use super::{Ids, METER, Probe, invoiced_period};
use axum::http::Method;
use kopek_domain::ids::OrgId;
use kopek_tests::unique;
use serde_json::json;

/// Every operation on data an organisation owns, naming its ids. A caller that may reach
/// them gets `allowed`.
pub(super) fn org_probes(ids: &Ids<'_>) -> Vec<Probe> {
    let Ids {
        org,
        key,
        order,
        sub,
        invoice,
        credit_note,
        document,
        package,
        report,
    } = *ids;
    let period = invoiced_period();
    let invite =
        json!({"name": "Пётр Сидоров", "email": format!("colleague{}@example.ru", unique())});
    vec![
        Probe::new(
            Method::GET,
            "/v1/orders/{order_id}",
            "path order_id",
            format!("/v1/orders/{order}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/orders/{order_id}/history",
            "path order_id",
            format!("/v1/orders/{order}/history"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/orders/{order_id}/lines/{line_no}/cancel",
            "path order_id",
            format!("/v1/orders/{order}/lines/1/cancel"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/orders/{order_id}/lines/{line_no}/cancel",
            "path line_no",
            format!("/v1/orders/{order}/lines/2/cancel"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/subscriptions/{subscription_id}",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/change/preview",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/change/preview"),
            200,
        )
        .with_body(json!({"quantity": "3"})),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/cancel/preview",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/cancel/preview"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/change",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/change"),
            200,
        )
        .with_body(json!({"quantity": "2"})),
        Probe::new(
            Method::POST,
            "/v1/subscriptions/{subscription_id}/cancel",
            "path subscription_id",
            format!("/v1/subscriptions/{sub}/cancel"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/charges",
            "query org_id",
            format!("/v1/charges?org_id={org}"),
            200,
        ),
        // Customers may not block anyone, themselves included; another's id is still 404.
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/block",
            "path org_id",
            format!("/v1/organisations/{org}/block"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/unblock",
            "path org_id",
            format!("/v1/organisations/{org}/unblock"),
            403,
        ),
        // Nor set their own payment terms.
        Probe::new(
            Method::PUT,
            "/v1/organisations/{org_id}/payment-terms",
            "path org_id",
            format!("/v1/organisations/{org}/payment-terms"),
            403,
        )
        .with_body(json!({"payment_terms_days": 90})),
        Probe::new(
            Method::PUT,
            "/v1/organisations/{org_id}/document-details",
            "path org_id",
            format!("/v1/organisations/{org}/document-details"),
            403,
        )
        .with_body(json!({"kpp": "770101001", "contract": null})),
        Probe::new(
            Method::GET,
            "/v1/organisations/{org_id}",
            "path org_id",
            format!("/v1/organisations/{org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/organisations/{org_id}/users",
            "path org_id",
            format!("/v1/organisations/{org}/users"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/organisations/{org_id}/users",
            "path org_id",
            format!("/v1/organisations/{org}/users"),
            201,
        )
        .with_body(invite),
        Probe::new(
            Method::GET,
            "/v1/api-keys",
            "query org_id",
            format!("/v1/api-keys?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/audit-records",
            "query org_id",
            format!("/v1/audit-records?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/audit-records.csv",
            "query org_id",
            format!("/v1/audit-records.csv?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/api-keys",
            "body org_id",
            "/v1/api-keys".to_owned(),
            201,
        )
        .with_body(json!({"name": "CRM", "scopes": ["accounts:read"], "org_id": org})),
        Probe::new(
            Method::DELETE,
            "/v1/api-keys/{key_id}",
            "path key_id",
            format!("/v1/api-keys/{key}"),
            204,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage",
            "query org_id",
            format!("/v1/usage?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage/meters/{meter}",
            "query org_id",
            format!("/v1/usage/meters/{METER}?org_id={org}"),
            200,
        ),
        // A meter is the catalog's, its usage the organisation's: the same request.
        Probe::new(
            Method::GET,
            "/v1/usage/meters/{meter}",
            "path meter",
            format!("/v1/usage/meters/{METER}?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices",
            "query org_id",
            format!("/v1/invoices?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices/{invoice_id}",
            "path invoice_id",
            format!("/v1/invoices/{invoice}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/invoices/period/{period}",
            "query org_id",
            format!("/v1/invoices/period/{period}?org_id={org}"),
            200,
        ),
        // A period is everyone's, its invoice the organisation's: the same request.
        Probe::new(
            Method::GET,
            "/v1/invoices/period/{period}",
            "path period",
            format!("/v1/invoices/period/{period}?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/credit-notes/{credit_note_id}",
            "path credit_note_id",
            format!("/v1/credit-notes/{credit_note}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/documents",
            "query org_id",
            format!("/v1/documents?period={period}&org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/documents/{document_id}",
            "path document_id",
            format!("/v1/documents/{document}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/documents/{document_id}/download",
            "path document_id",
            format!("/v1/documents/{document}/download"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/documents/{document_id}/signature",
            "path document_id",
            format!("/v1/documents/{document}/signature"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/packages",
            "query org_id",
            format!("/v1/packages?period={period}&org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/packages/{package_id}",
            "path package_id",
            format!("/v1/packages/{package}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/packages/{package_id}/download",
            "path package_id",
            format!("/v1/packages/{package}/download"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/packages/{package_id}/accept",
            "path package_id",
            format!("/v1/packages/{package}/accept"),
            200,
        ),
        // Accepted just before: reached, and refused for its state.
        Probe::new(
            Method::POST,
            "/v1/packages/{package_id}/dispute",
            "path package_id",
            format!("/v1/packages/{package}/dispute"),
            409,
        )
        .with_body(json!({"reason": "Услуга не оказана"})),
        Probe::new(
            Method::GET,
            "/v1/billing/balance",
            "query org_id",
            format!("/v1/billing/balance?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/dunning",
            "query org_id",
            format!("/v1/billing/dunning?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/payer-accounts",
            "query org_id",
            format!("/v1/billing/payer-accounts?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/account-statement",
            "query org_id",
            format!("/v1/billing/account-statement?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/reports",
            "query org_id",
            format!("/v1/billing/reports?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/billing/reports",
            "body org_id",
            "/v1/billing/reports".to_owned(),
            202,
        )
        .with_body(json!({"kind": "reconciliation", "org_id": org,
            "from": period.first_day().to_string(), "to": period.last_day().to_string()})),
        Probe::new(
            Method::GET,
            "/v1/billing/reports/{report_id}",
            "path report_id",
            format!("/v1/billing/reports/{report}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/ledger",
            "query org_id",
            format!("/v1/billing/ledger?org_id={org}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/payments",
            "query org_id",
            format!("/v1/billing/payments?org_id={org}"),
            200,
        ),
    ]
}

/// Every operation naming a catalog service by its code. The catalog belongs to no
/// organisation: every customer reads the same, and no customer writes it (403).
pub(super) fn catalog_probes(code: &str) -> Vec<Probe> {
    let price =
        json!({"price": {"currency": "RUB", "model": {"type": "per_unit", "unit_price": "1.00"}}});
    let at = "2100-01-01T00:00:00Z";
    vec![
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}",
            "path code",
            format!("/v1/catalog/services/{code}"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}/prices",
            "path code",
            format!("/v1/catalog/services/{code}/prices"),
            200,
        ),
        Probe::new(
            Method::GET,
            "/v1/catalog/services/{code}/quote",
            "path code",
            format!("/v1/catalog/services/{code}/quote?quantity=3&at={at}"),
            200,
        ),
        Probe::new(
            Method::POST,
            "/v1/catalog/services/{code}/prices",
            "path code",
            format!("/v1/catalog/services/{code}/prices"),
            403,
        )
        .with_body(price),
        Probe::new(
            Method::POST,
            "/v1/catalog/services/{code}/retire",
            "path code",
            format!("/v1/catalog/services/{code}/retire"),
            403,
        ),
    ]
}

/// Every back-office operation naming a work type, a batch, a webhook endpoint or delivery, a
/// rejected usage event, a billing period, an invoice (to credit it) or (to give it an
/// external reference) an organisation:
/// staff only, so a customer gets 403 whatever the id, its own invoice's included.
pub(super) fn staff_probes(batch: &str, invoice: &str) -> Vec<Probe> {
    let period = invoiced_period().previous();
    let rejected = format!("rej_{}", "0".repeat(32));
    let outcomes = json!({"outcomes": [{"work_order": "wo_01ARZ3NDEKTSV4RRFFQ69G5FAV", "outcome": "failed", "reason": "x"}]});
    let path = |tail: &str| format!("/v1/work/batches/{batch}{tail}");
    // Webhook endpoints are the provider's (admins only).
    let hook = |tail: &str| format!("/v1/webhook-endpoints/whk_01ARZ3NDEKTSV4RRFFQ69G5FAV{tail}");
    let delivery = "dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV";
    vec![
        Probe::new(
            Method::GET,
            "/v1/work/queues/{work_type}",
            "path work_type",
            "/v1/work/queues/install".to_owned(),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}",
            "path batch_id",
            path(""),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/start",
            "path batch_id",
            path("/start"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/complete",
            "path batch_id",
            path("/complete"),
            403,
        )
        .with_body(outcomes),
        Probe::new(
            Method::POST,
            "/v1/work/batches/{batch_id}/release",
            "path batch_id",
            path("/release"),
            403,
        )
        .with_body(json!({})),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}/sheet.csv",
            "path batch_id",
            path("/sheet.csv"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/work/batches/{batch_id}/sheet.pdf",
            "path batch_id",
            path("/sheet.pdf"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/customers/by-ref/{reference}",
            "path reference",
            "/v1/customers/by-ref/crm-probe".to_owned(),
            403,
        ),
        Probe::new(
            Method::PUT,
            "/v1/customers/by-ref/{reference}",
            "path reference",
            "/v1/customers/by-ref/crm-probe".to_owned(),
            403,
        )
        .with_body(json!({"legal_name": "ООО «Проба»", "tax_id": "7707083893",
            "billing_email": "probe@example.ru", "billing_address": "Москва", "currency": "RUB",
            "language": "ru"})),
        Probe::new(
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}",
            "path endpoint_id",
            hook(""),
            403,
        ),
        Probe::new(
            Method::PATCH,
            "/v1/webhook-endpoints/{endpoint_id}",
            "path endpoint_id",
            hook(""),
            403,
        )
        .with_body(json!({"enabled": false})),
        Probe::new(
            Method::DELETE,
            "/v1/webhook-endpoints/{endpoint_id}",
            "path endpoint_id",
            hook(""),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
            "path endpoint_id",
            hook("/rotate-secret"),
            403,
        )
        .with_body(json!({})),
        Probe::new(
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/test",
            "path endpoint_id",
            hook("/test"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/replay",
            "path endpoint_id",
            hook("/replay"),
            403,
        )
        .with_body(json!({"since": "2026-01-01T00:00:00Z"})),
        Probe::new(
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries",
            "path endpoint_id",
            hook("/deliveries"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}",
            "path endpoint_id",
            hook(&format!("/deliveries/{delivery}")),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}",
            "path delivery_id",
            hook(&format!("/deliveries/{delivery}")),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
            "path endpoint_id",
            hook(&format!("/deliveries/{delivery}/replay")),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay",
            "path delivery_id",
            hook(&format!("/deliveries/{delivery}/replay")),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/usage/rejected/{rejected_id}",
            "path rejected_id",
            format!("/v1/usage/rejected/{rejected}"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/usage/rejected/{rejected_id}/resubmit",
            "path rejected_id",
            format!("/v1/usage/rejected/{rejected}/resubmit"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/usage/external-refs",
            "body org_id",
            "/v1/usage/external-refs".to_owned(),
            403,
        )
        .with_body(json!({"org_id": OrgId::new().to_string(), "external_ref": "crm:probe"})),
        Probe::new(
            Method::POST,
            "/v1/billing/payments",
            "body org_id",
            "/v1/billing/payments".to_owned(),
            403,
        )
        .with_body(
            json!({"org_id": OrgId::new().to_string(), "amount": "10.00", "currency": "RUB",
            "received_on": "2026-11-01", "reference": "probe"}),
        ),
        Probe::new(
            Method::POST,
            "/v1/invoices/{invoice_id}/credit-notes",
            "path invoice_id",
            format!("/v1/invoices/{invoice}/credit-notes"),
            403,
        )
        .with_body(json!({"reason": "probe"})),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}",
            "path period",
            format!("/v1/periods/{period}"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/close",
            "path period",
            format!("/v1/periods/{period}/close"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/jobs",
            "path period",
            format!("/v1/periods/{period}/jobs"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/resume",
            "path period",
            format!("/v1/periods/{period}/resume"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/documents",
            "path period",
            format!("/v1/periods/{period}/documents"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/documents",
            "path period",
            format!("/v1/periods/{period}/documents"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/signings",
            "path period",
            format!("/v1/periods/{period}/signings"),
            403,
        )
        .with_body(json!({})),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/packages",
            "path period",
            format!("/v1/periods/{period}/packages"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/packages",
            "path period",
            format!("/v1/periods/{period}/packages"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/periods/{period}/archives",
            "path period",
            format!("/v1/periods/{period}/archives"),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/archives/{archive_id}",
            "path archive_id",
            format!("/v1/archives/arc_{}", "0".repeat(26)),
            403,
        ),
        // Signing a report: managers and admins, whoever's it is.
        Probe::new(
            Method::POST,
            "/v1/billing/reports/{report_id}/sign",
            "path report_id",
            format!("/v1/billing/reports/rep_{}/sign", "0".repeat(26)),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/signings/{signing_id}",
            "path signing_id",
            format!("/v1/signings/sgn_{}", "0".repeat(26)),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/periods/{period}/preview",
            "path period",
            format!("/v1/periods/{period}/preview"),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/billing/payments/{payment_id}/reverse",
            "path payment_id",
            format!("/v1/billing/payments/pay_{}/reverse", "0".repeat(26)),
            403,
        )
        .with_body(json!({"reason": "probe"})),
        Probe::new(
            Method::POST,
            "/v1/billing/refunds",
            "body org_id",
            "/v1/billing/refunds".to_owned(),
            403,
        )
        .with_body(
            json!({"org_id": OrgId::new().to_string(), "amount": "1.00", "currency": "RUB",
            "paid_on": "2026-11-01", "reference": "probe", "reason": "probe"}),
        ),
        Probe::new(
            Method::PUT,
            "/v1/billing/dunning",
            "body org_id",
            "/v1/billing/dunning".to_owned(),
            403,
        )
        .with_body(json!({"org_id": OrgId::new().to_string(), "mode": "off", "rev": 0})),
        Probe::new(
            Method::PUT,
            "/v1/billing/payer-accounts",
            "body org_id",
            "/v1/billing/payer-accounts".to_owned(),
            403,
        )
        .with_body(json!({"org_id": OrgId::new().to_string(), "accounts": []})),
        // Bank statements: staff only, whoever's payments they hold.
        Probe::new(
            Method::POST,
            "/v1/billing/statement-uploads/{upload_id}/import",
            "path upload_id",
            format!(
                "/v1/billing/statement-uploads/upl_{}/import",
                "0".repeat(26)
            ),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/statements/{import_id}",
            "path import_id",
            format!("/v1/billing/statements/imp_{}", "0".repeat(26)),
            403,
        ),
        Probe::new(
            Method::POST,
            "/v1/billing/statements/{import_id}/lines/{line}/resolve",
            "path import_id",
            format!(
                "/v1/billing/statements/imp_{}/lines/1/resolve",
                "0".repeat(26)
            ),
            403,
        )
        .with_body(json!({"action": "dismiss", "reason": "probe"})),
        Probe::new(
            Method::POST,
            "/v1/billing/statements/{import_id}/lines/{line}/resolve",
            "path line",
            format!(
                "/v1/billing/statements/imp_{}/lines/7/resolve",
                "1".repeat(26)
            ),
            403,
        )
        .with_body(json!({"action": "dismiss", "reason": "probe"})),
        Probe::new(
            Method::POST,
            "/v1/billing/statements/{import_id}/lines/{line}/resolve",
            "body org_id",
            format!(
                "/v1/billing/statements/imp_{}/lines/1/resolve",
                "0".repeat(26)
            ),
            403,
        )
        .with_body(json!({"action": "assign", "org_id": OrgId::new().to_string()})),
        Probe::new(
            Method::POST,
            "/v1/billing/statements/{import_id}/lines/{line}/resolve",
            "body split[].invoice_id",
            format!(
                "/v1/billing/statements/imp_{}/lines/1/resolve",
                "0".repeat(26)
            ),
            403,
        )
        .with_body(
            json!({"action": "assign", "org_id": OrgId::new().to_string(),
            "split": [{"invoice_id": invoice, "amount": "1.00"}]}),
        ),
        // The provider's templates: staff read them, admins change them.
        Probe::new(
            Method::GET,
            "/v1/billing/templates/{kind}",
            "path kind",
            "/v1/billing/templates/act".to_owned(),
            403,
        ),
        Probe::new(
            Method::PUT,
            "/v1/billing/templates/{kind}",
            "path kind",
            "/v1/billing/templates/act".to_owned(),
            403,
        )
        .with_body(json!({"source": "= A"})),
        Probe::new(
            Method::DELETE,
            "/v1/billing/templates/{kind}",
            "path kind",
            "/v1/billing/templates/act".to_owned(),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/templates/{kind}/{sha256}",
            "path kind",
            format!("/v1/billing/templates/act/{}", "0".repeat(64)),
            403,
        ),
        Probe::new(
            Method::GET,
            "/v1/billing/templates/{kind}/{sha256}",
            "path sha256",
            format!("/v1/billing/templates/invoice/{}", "1".repeat(64)),
            403,
        ),
    ]
}
