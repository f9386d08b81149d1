//! The period archive for accountants: every customer's package of the period in one ZIP,
//! with the register of the period's documents as `register.csv` and `register.xlsx` (number,
//! date, kind, customer, tax id, net, VAT, gross, the package's status).
//!
//! Asked for by billing staff ([`Documents::request_archive`]), built by the documents
//! function ([`Documents::build_archive`]): the packages are read one at a time and written
//! into a multipart upload ([`kopek_aws::archive::ZipUpload`]), so memory holds one part
//! (8 MiB) and one package, however many customers the period has. A redelivered job finds
//! the archive ready and does nothing; one that died half-way starts a new upload (S3's
//! lifecycle rule removes the abandoned parts).

use kopek_aws::archive::{Streamed, ZipUpload};
use kopek_aws::dynamo::StoreError;
use kopek_domain::accounts::Principal;
use kopek_domain::documents::FiledObject;
use kopek_domain::documents::archive::{Archive, ArchiveStatus, REGISTER_COLUMNS, RegisterRow};
use kopek_domain::ids::ArchiveId;
use kopek_domain::period::BillingPeriod;

use super::{DOWNLOAD_TTL, DocumentJob, Documents};
use crate::access::{BILLING_STAFF, subject_text};
use crate::{Download, Error, Result};

/// Packages read per page while building.
const ARCHIVE_PAGE: i32 = 100;

/// An archive, with a link to download it once ready.
#[derive(Debug, Clone)]
pub struct ArchiveWithLink {
    pub archive: Archive,
    pub download: Option<Download>,
}

/// What building an archive came to (for the benchmark).
#[derive(Debug, Clone, Default)]
pub struct Built {
    pub streamed: Option<Streamed>,
}

impl Documents {
    /// Asks for `period`'s archive (billing staff): refused until the period has packages.
    pub async fn request_archive(
        &self,
        caller: &Principal,
        period: BillingPeriod,
    ) -> Result<Archive> {
        caller.require_role(BILLING_STAFF)?;
        self.closed(period).await?;
        let first = self.ctx.store.packages_of_period(period, 1, None).await?;
        if first.items.is_empty() {
            return Err(Error::conflict_on(
                "no_packages",
                "period",
                format!("{period} has no packages yet: sign its documents and send them first"),
            ));
        }
        let archive = Archive {
            id: ArchiveId::new(),
            period,
            requested_by: subject_text(caller),
            requested_at: self.ctx.now(),
            status: ArchiveStatus::Building,
            file: None,
            packages: 0,
            documents: 0,
            finished_at: None,
        };
        self.ctx.store.start_archive(&archive).await?;
        self.queue(&[DocumentJob::Archive {
            archive: archive.id,
        }])
        .await?;
        Ok(archive)
    }

    /// An archive and, once ready, a five-minute link to it (billing staff).
    pub async fn archive(&self, caller: &Principal, id: ArchiveId) -> Result<ArchiveWithLink> {
        caller.require_role(BILLING_STAFF)?;
        let archive = self
            .ctx
            .store
            .archive_by_id(id)
            .await?
            .ok_or(Error::NotFound)?
            .archive;
        let download = match &archive.file {
            Some(file) => Some(
                self.objects()?
                    .download(
                        &file.key,
                        &archive.file_name(),
                        self.ctx.now(),
                        DOWNLOAD_TTL,
                    )
                    .await?,
            ),
            None => None,
        };
        Ok(ArchiveWithLink { archive, download })
    }

    /// Builds an archive (see the module docs).
    pub async fn build_archive(&self, id: ArchiveId) -> Result<Built> {
        let store = &self.ctx.store;
        let stored = store
            .archive_by_id(id)
            .await?
            .ok_or_else(|| Error::invalid("archive", format!("no archive {id}")))?;
        if stored.archive.status == ArchiveStatus::Ready {
            return Ok(Built::default());
        }
        let period = stored.archive.period;
        let objects = self.objects()?;
        let key = format!("periods/{period}/archive-{period}-{id}.zip");
        let mut upload = ZipUpload::start(objects, &key).await?;
        match self.write_archive(&mut upload, period).await {
            Ok((packages, rows)) => {
                let streamed = upload.finish().await?;
                let file = FiledObject {
                    key: streamed.key.clone(),
                    sha256: streamed.sha256.clone(),
                    size: streamed.size,
                };
                let ready = stored.archive.ready(file, packages, rows, self.ctx.now());
                match store.save_archive(&ready, stored.rev).await {
                    Ok(_) | Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(Built {
                    streamed: Some(streamed),
                })
            }
            Err(e) => {
                upload.abort().await;
                Err(e)
            }
        }
    }

    /// Every package of `period` into `upload`, then the register; (packages, documents).
    async fn write_archive(
        &self,
        upload: &mut ZipUpload,
        period: BillingPeriod,
    ) -> Result<(u64, u64)> {
        let store = &self.ctx.store;
        let objects = self.objects()?;
        let mut rows: Vec<RegisterRow> = Vec::new();
        let mut packages = 0u64;
        let mut start = None;
        loop {
            let page = store
                .packages_of_period(period, ARCHIVE_PAGE, start)
                .await?;
            let names = self
                .ctx
                .customer_names(page.items.iter().map(|p| p.package.org))
                .await?;
            for stored in &page.items {
                let package = &stored.package;
                let organisation = store
                    .organisation(package.org)
                    .await?
                    .ok_or_else(|| Error::Internal(format!("{} is gone", package.org)))?;
                let tax_id = organisation.tax_id.to_string();
                let zip = objects.read(&package.file.key).await?;
                upload
                    .add(
                        &format!("packages/{}", package.file_name(&tax_id)),
                        &zip,
                        false,
                    )
                    .await?;
                packages += 1;
                let customer = names.get(&package.org).cloned().unwrap_or_default();
                for document in store.documents_of(package.org, period).await? {
                    let d = document.document;
                    rows.push(RegisterRow {
                        number: d.number,
                        date: d.dated,
                        kind: d.doc_type,
                        customer: customer.clone(),
                        tax_id: tax_id.clone(),
                        net: d.net,
                        tax: d.tax,
                        gross: d.gross,
                        status: package.status.as_str().to_owned(),
                    });
                }
            }
            match page.next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        upload
            .add("register.csv", &register_csv(&rows)?, true)
            .await?;
        upload
            .add("register.xlsx", &register_xlsx(&rows)?, false)
            .await?;
        Ok((packages, rows.len() as u64))
    }
}

/// The register as CSV (UTF-8, a header row).
fn register_csv(rows: &[RegisterRow]) -> Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let fail = |e: csv::Error| Error::Internal(format!("the register: {e}"));
    writer.write_record(REGISTER_COLUMNS).map_err(fail)?;
    for row in rows {
        writer.write_record(row.cells()).map_err(fail)?;
    }
    writer
        .into_inner()
        .map_err(|e| Error::Internal(format!("the register: {e}")))
}

/// The register as an Excel workbook: amounts as numbers, dates as text (ISO 8601).
fn register_xlsx(rows: &[RegisterRow]) -> Result<Vec<u8>> {
    use rust_decimal::prelude::ToPrimitive;
    let fail = |e: rust_xlsxwriter::XlsxError| Error::Internal(format!("the register: {e}"));
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("register").map_err(fail)?;
    let money = rust_xlsxwriter::Format::new().set_num_format("#,##0.00");
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for (c, heading) in REGISTER_COLUMNS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *heading, &bold)
            .map_err(fail)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        let cells = row.cells();
        for c in [0usize, 1, 2, 3, 4, 8] {
            sheet.write_string(r, c as u16, &cells[c]).map_err(fail)?;
        }
        for (c, amount) in [(5u16, row.net), (6, row.tax), (7, row.gross)] {
            // Two decimal places are exact in a double; the CSV keeps the text.
            let value = amount
                .amount()
                .to_f64()
                .ok_or_else(|| Error::Internal(format!("the register: {amount} is no number")))?;
            sheet
                .write_number_with_format(r, c, value, &money)
                .map_err(fail)?;
        }
    }
    book.save_to_buffer().map_err(fail)
}
