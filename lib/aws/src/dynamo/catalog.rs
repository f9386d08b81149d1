//! Services and their price versions (access patterns A15–A18).

use super::{Page, PageKey, QuerySpec, Store, StoreError, expr, keys, to_item};
use kopek_domain::catalog::{PriceVersion, Service, ServiceCode, ServiceStatus};
use serde::{Deserialize, Serialize};

/// The most price versions a service keeps in its item: far above any real price history,
/// far below DynamoDB's 400 KB item limit (a version with 100 tiers is about 3 KB).
pub const MAX_PRICE_VERSIONS: usize = 100;

#[derive(Debug, Serialize, Deserialize)]
struct ServiceItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "GSI1PK")]
    gsi1pk: String,
    #[serde(rename = "GSI1SK")]
    gsi1sk: String,
    #[serde(rename = "type")]
    kind: String,
    service: Service,
    versions: Vec<PriceVersion>,
    rev: u64,
}

/// A service as stored, with every price version and its revision.
#[derive(Debug, Clone)]
pub struct StoredService {
    pub service: Service,
    pub versions: Vec<PriceVersion>,
    pub rev: u64,
}

fn status_key(status: ServiceStatus) -> &'static str {
    match status {
        ServiceStatus::Active => "active",
        ServiceStatus::Retired => "retired",
    }
}

impl ServiceItem {
    fn new(service: &Service, versions: &[PriceVersion], rev: u64) -> Self {
        let code = service.code().as_str();
        Self {
            pk: keys::service(code),
            sk: "SERVICE".into(),
            gsi1pk: keys::catalog(status_key(service.status())),
            gsi1sk: keys::service(code),
            kind: "service".into(),
            service: service.clone(),
            versions: versions.to_vec(),
            rev,
        }
    }
}

impl Store {
    /// A16: a new service with its first price; the code is unique.
    pub async fn create_service(
        &self,
        service: &Service,
        first: &PriceVersion,
    ) -> Result<(), StoreError> {
        let item = to_item(&ServiceItem::new(service, std::slice::from_ref(first), 1))?;
        if self
            .write_one(expr::put(self, item, Some(expr::ABSENT))?)
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::Duplicate("code"))
        }
    }

    /// A15: a service with every price version.
    pub async fn service(&self, code: &ServiceCode) -> Result<Option<StoredService>, StoreError> {
        Ok(self
            .get::<ServiceItem>(&keys::service(code.as_str()), "SERVICE", true)
            .await?
            .map(|i| StoredService {
                service: i.service,
                versions: i.versions,
                rev: i.rev,
            }))
    }

    /// A17: writes a changed service (a new version, a retirement) if nobody changed it since
    /// `expected_rev`; otherwise a conflict, and the caller re-reads and retries.
    pub async fn save_service(
        &self,
        service: &Service,
        versions: &[PriceVersion],
        expected_rev: u64,
    ) -> Result<u64, StoreError> {
        if versions.len() > MAX_PRICE_VERSIONS {
            return Err(StoreError::Conflict(format!(
                "a service keeps at most {MAX_PRICE_VERSIONS} price versions"
            )));
        }
        let item = to_item(&ServiceItem::new(service, versions, expected_rev + 1))?;
        self.put_at_rev(item, expected_rev, "service").await
    }

    /// A18: services of one status, by code.
    pub async fn list_services(
        &self,
        status: ServiceStatus,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<StoredService>, StoreError> {
        let pk = keys::catalog(status_key(status));
        let q = QuerySpec {
            index: Some(keys::GSI1),
            pk: &pk,
            sk_prefix: Some("SERVICE#"),
            limit,
            forward: true,
        };
        let page = self.query_page::<ServiceItem>(q, start).await?;
        Ok(page.map(|i| StoredService {
            service: i.service,
            versions: i.versions,
            rev: i.rev,
        }))
    }
}
