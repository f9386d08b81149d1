//! Billing's routes, served by two functions: `billing-api` (`routes`: the period close,
//! invoices, credit notes, balances from the ledger, payments, dunning, the statement of
//! account and the provider's billing settings) and `files-api` (`file_routes`: everything
//! that moves files in and out of S3 — closing documents and their signing, packages and
//! archives, report PDFs, templates, bank statements). The cut keeps the S3 client's
//! operations, the CMS and X.509 code and the statement readers out of `billing-api`, and each
//! function's deployment zip under 6 MB (BENCHMARKS, "Lean functions").
//!
//! `billing-api`:
//!
//! | route | who | what |
//! |-------|-----|------|
//! | `GET /v1/periods` | billing staff (admins, managers, accountants) | the closes, newest period first |
//! | `GET /v1/periods/{period}` | billing staff | a period's close: `open` (none started), `closing` or `closed`, with its counters |
//! | `POST /v1/periods/{period}/close` | admins | starts the close of an ended period (202) |
//! | `GET /v1/periods/{period}/jobs` | billing staff | the customers' jobs of a close, by status, with their errors |
//! | `POST /v1/periods/{period}/resume` | admins | re-queues what is pending or failed |
//! | `GET /v1/periods/{period}/preview` | billing staff | a dry run: the invoices the close would issue (writes nothing) |
//! | `GET /v1/invoices` | `invoices:read`: a customer its own, staff by period or organisation | invoices with their status today |
//! | `GET /v1/invoices/{invoice_id}` | the same | an invoice with its lines, taxes and credit notes |
//! | `GET /v1/invoices/period/{period}` | the same | a customer's invoice of a period |
//! | `POST /v1/invoices/{invoice_id}/credit-notes` | billing staff | a credit note (201) |
//! | `GET /v1/credit-notes/{credit_note_id}` | `invoices:read` | a credit note |
//! | `GET /v1/billing/balance`, `GET /v1/billing/ledger` | `invoices:read` | what a customer owes on a day, from the ledger; its entries |
//! | `GET`, `PUT /v1/billing/settings` | billing staff; admins change them | series, tax mode, zero invoices, payment terms |
//! | `GET`, `POST /v1/billing/payments` | a customer its own; admins and accountants record them | payments received (reversed ones marked), refunds, and the credit they left |
//! | `POST /v1/billing/payments/{payment_id}/reverse` | admins, accountants | take a payment back with a reason: invoices reopened, credit withdrawn, a reversing entry |
//! | `POST /v1/billing/refunds` | admins, accountants | money sent back from a customer's credit |
//! | `GET`, `PUT /v1/billing/dunning-policy` | billing staff; admins change it | the dunning policy: reminder, notices, blocked orders, suspension, final step, late fee |
//! | `GET /v1/billing/dunning`, `PUT /v1/billing/dunning` | `invoices:read` (a customer its own); managers and admins hold a customer or turn it off | where a customer stands in dunning, and why |
//! | `POST /v1/billing/dunning/run` | admins | today's dunning run now (the `dunning` function runs it every morning) |
//! | `GET /v1/billing/account-statement?from=&to=&format=` | `invoices:read`: a customer its own, staff any | the statement of account for any dates: every document with a running balance, totals by service, closing balance and overdue; JSON, CSV or XLSX |
//!
//! `files-api`:
//!
//! | route | who | what |
//! |-------|-----|------|
//! | `GET /v1/documents?period=` | `invoices:read`: a customer its own, staff name `org_id` | a customer's closing documents of a period |
//! | `GET /v1/documents/{document_id}` | the same | a document: type, number, amounts, status, SHA-256, signature |
//! | `GET /v1/documents/{document_id}/download`, `…/signature` | the same | a five-minute presigned link to the PDF, or to its detached CMS signature |
//! | `GET /v1/periods/{period}/documents` | billing staff | a closed period's documents: counts and totals by status, the documents by customer |
//! | `POST /v1/periods/{period}/documents` | billing staff | queue a closed period's missing documents (202) |
//! | `POST /v1/periods/{period}/signings` | managers and admins, signed in | sign the period's documents (or those listed) in one action: a job (202) |
//! | `GET /v1/signings/{signing_id}` | billing staff | a signing's progress: signed, already signed, refused |
//! | `GET /v1/billing/signing-certificate` | `invoices:read` | the X.509 certificate signatures are made under (PEM) |
//! | `PUT /v1/billing/signing-certificate` | admins | replace it by a certificate the provider had issued for the same key |
//! | `POST /v1/periods/{period}/packages` | managers and admins | send a signed period: one package per customer, e-mailed (202) |
//! | `GET /v1/periods/{period}/packages` | billing staff | a period's packages by status (disputes with their reasons) |
//! | `GET /v1/packages?period=`, `GET /v1/packages/{package_id}` | `invoices:read`: a customer its own | a customer's package |
//! | `GET /v1/packages/{package_id}/download` | the same | a five-minute link to the ZIP; the customer's first download marks it viewed |
//! | `POST /v1/packages/{package_id}/accept`, `…/dispute` | the customer (its people or keys) | accept, or dispute with a reason |
//! | `POST /v1/billing/reports` | `invoices:read`: a customer its own, staff name `org_id` | ask for a customer's reconciliation statement or statement of account for a date range as a PDF, made as a job (202) |
//! | `GET /v1/billing/reports?org_id=`, `GET /v1/billing/reports/{report_id}` | the same | a customer's reports, newest first; a report: `making`, `ready` (five-minute links to the PDF and, once signed, its `.p7s`) or `failed` with the reason |
//! | `POST /v1/billing/reports/{report_id}/sign` | managers and admins, signed in | sign a ready report with the provider's key, in the documents function (202) |
//! | `POST /v1/periods/{period}/archives`, `GET /v1/archives/{archive_id}` | billing staff | a period's archive: every package and the register (CSV, XLSX), built as a job; a link once ready |
//! | `PUT`, `GET`, `DELETE /v1/billing/templates/{kind}` | admins upload or remove; billing staff read | the provider's own template of a kind of document: uploaded (202, `checking`), the one in force, back to the built-in one |
//! | `GET /v1/billing/templates/{kind}/{sha256}` | billing staff | an upload's check: `accepted`, or `refused` with the compiler's message and line |
//! | `POST /v1/billing/statements` | admins, accountants | upload a bank statement (1CClientBankExchange or camt.053, ≤ 4 MiB): kept in S3, read, its payments matched in the background (202) |
//! | `POST /v1/billing/statement-uploads`, `POST /v1/billing/statement-uploads/{upload_id}/import` | admins, accountants | a statement over 4 MiB (up to 32): a presigned link to put it into S3, then the same import |
//! | `GET /v1/billing/statements`, `GET /v1/billing/statements/{import_id}` | billing staff | imports, newest first; an import's report, line by line |
//! | `GET /v1/billing/statement-review` | billing staff | the payments waiting for review, with candidates and why |
//! | `GET`, `PUT /v1/billing/payer-accounts` | read: billing staff, a customer its own; set: admins, accountants | the accounts (20 digits or IBANs) a customer pays from: statement payments from them match it without review |
//! | `POST /v1/billing/statements/{import_id}/lines/{line}/resolve` | admins, accountants | assign a payment under review to a customer (optionally split over its invoices), or dismiss it |
//!
//! Every route needs `invoices:read` (engineers do not hold it, nor keys issued without it);
//! staff routes need a billing role on top. A customer reaches only its own organisation's
//! documents: another organisation's invoice, credit note or `org_id` is 404, exactly as an id
//! that never existed.
//!
//! The rules live in the services: the close in `kopek_services::close`, invoices and credit
//! notes in `kopek_services::invoices`, payments in `kopek_services::payments`, settings,
//! balances and the ledger in `kopek_services::billing`. The handlers here read the request,
//! call one of them and render the views of [`views`].
mod close;
mod documents;
mod dunning;
mod invoices;
mod ledger;
mod packages;
mod payments;
mod report_files;
mod reports;
mod settings;
pub(crate) mod statements;
mod templates;
pub mod views;

use kopek_http::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The longest payment terms the settings take, in days.
pub use kopek_domain::accounts::MAX_PAYMENT_TERMS_DAYS;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(close::list_periods))
        .routes(routes!(close::get_period))
        .routes(routes!(close::start_close))
        .routes(routes!(close::list_jobs))
        .routes(routes!(close::resume_close))
        .routes(routes!(close::preview))
        .routes(routes!(invoices::list_invoices))
        .routes(routes!(invoices::get_invoice))
        .routes(routes!(invoices::invoice_of_period))
        .routes(routes!(invoices::issue_credit_note))
        .routes(routes!(invoices::get_credit_note))
        .routes(routes!(ledger::balance))
        .routes(routes!(ledger::ledger_entries))
        .routes(routes!(settings::get_settings, settings::put_settings))
        .routes(routes!(settings::get_requisites, settings::put_requisites))
        .routes(routes!(payments::list_payments, payments::record_payment))
        .routes(routes!(payments::reverse_payment))
        .routes(routes!(payments::record_refund))
        .routes(routes!(reports::account_statement))
        .routes(routes!(dunning::get_policy, dunning::put_policy))
        .routes(routes!(dunning::get_dunning, dunning::put_dunning))
        .routes(routes!(dunning::run_dunning))
}

/// The routes that move files in and out of S3 (the `files-api` function): closing documents,
/// their signing, packages and archives, report PDFs, templates and bank statements.
pub(crate) fn file_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(documents::list_documents))
        .routes(routes!(documents::get_document))
        .routes(routes!(documents::download_document))
        .routes(routes!(documents::download_signature))
        .routes(routes!(
            documents::period_documents,
            documents::request_documents
        ))
        .routes(routes!(documents::start_signing))
        .routes(routes!(documents::get_signing))
        .routes(routes!(
            documents::signing_certificate,
            documents::upload_signing_certificate
        ))
        .routes(routes!(packages::send_packages, packages::period_packages))
        .routes(routes!(packages::list_packages))
        .routes(routes!(packages::get_package))
        .routes(routes!(packages::download_package))
        .routes(routes!(packages::accept_package))
        .routes(routes!(packages::dispute_package))
        .routes(routes!(packages::request_archive))
        .routes(routes!(packages::get_archive))
        .routes(routes!(
            report_files::request_report,
            report_files::list_reports
        ))
        .routes(routes!(report_files::get_report))
        .routes(routes!(report_files::sign_report))
        .routes(routes!(
            templates::upload_template,
            templates::active_template,
            templates::remove_template
        ))
        .routes(routes!(templates::get_template))
        .routes(routes!(
            statements::upload_statement,
            statements::list_statements
        ))
        .routes(routes!(statements::get_statement))
        .routes(routes!(statements::review_list))
        .routes(routes!(statements::upload_link))
        .routes(routes!(statements::import_upload))
        .routes(routes!(
            statements::get_payer_accounts,
            statements::put_payer_accounts
        ))
        .routes(routes!(statements::resolve_line))
}
