//! Signatures with the documents' KMS key (`DocumentSigningKey`: ECC NIST P-256, ECDSA with
//! SHA-256), in the formats anyone can check with standard tools: a self-signed X.509
//! certificate of the key, and **detached CMS (PKCS #7) signatures** (RFC 5652 `SignedData`
//! without its content, the signer identified by the certificate's issuer and serial number,
//! signed attributes `contentType`, `signingTime` and `messageDigest`), verifiable with
//! `openssl cms -verify -binary -inform DER -in doc.pdf.p7s -content doc.pdf -CAfile cert.pem`.
//!
//! The private key never leaves KMS: every signature is one `Sign` call with
//! `MessageType = RAW` (KMS hashes the message with SHA-256 and returns the DER
//! `ECDSA-Sig-Value` that X.509 and CMS carry as they are). What is signed is built here: the
//! DER of the certificate's `TBSCertificate`, and of a signature's signed attributes as a
//! `SET OF` (RFC 5652 §5.4).

use std::str::FromStr;
use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use chrono::{DateTime, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::{rfc5911, rfc5912};
use der::asn1::{BitString, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, DecodePem, Encode, EncodePem};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};

use crate::dynamo::StoreError;

/// How long a self-signed certificate is valid.
pub const CERTIFICATE_YEARS: u64 = 10;

/// Why a signature or certificate could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    /// KMS refused or could not be reached (see the store's classification).
    #[error(transparent)]
    Kms(#[from] StoreError),
    /// Something that should encode did not: a bug.
    #[error("cannot encode {what}: {reason}")]
    Encoding { what: &'static str, reason: String },
}

fn encoding(what: &'static str) -> impl FnOnce(der::Error) -> SigningError {
    move |e| SigningError::Encoding {
        what,
        reason: e.to_string(),
    }
}

/// The documents' KMS key.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
}

/// A certificate of the signing key, as filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    /// The certificate's DER.
    pub der: Vec<u8>,
    /// SHA-256 of the DER, lowercase hex.
    pub sha256: String,
}

impl SigningCertificate {
    pub fn from_der(der: Vec<u8>) -> Result<Self, SigningError> {
        Certificate::from_der(&der).map_err(encoding("the certificate"))?;
        Ok(Self {
            sha256: hex(&Sha256::digest(&der)),
            der,
        })
    }

    /// A certificate from PEM (`-----BEGIN CERTIFICATE-----`), as a provider uploads one;
    /// `Err` with the parser's reason.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let certificate = Certificate::from_pem(pem.trim()).map_err(|e| e.to_string())?;
        let der = certificate.to_der().map_err(|e| e.to_string())?;
        Ok(Self {
            sha256: hex(&Sha256::digest(&der)),
            der,
        })
    }

    /// The public key it certifies (`SubjectPublicKeyInfo`, DER).
    pub fn public_key(&self) -> Result<Vec<u8>, SigningError> {
        self.parsed()?
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(encoding("the certificate's public key"))
    }

    fn parsed(&self) -> Result<Certificate, SigningError> {
        Certificate::from_der(&self.der).map_err(encoding("the certificate"))
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn pem(&self) -> Result<String, SigningError> {
        self.parsed()?
            .to_pem(der::pem::LineEnding::LF)
            .map_err(encoding("the certificate as PEM"))
    }

    /// The certificate's subject, as text (`CN=…,O=…`).
    pub fn subject(&self) -> Result<String, SigningError> {
        Ok(self.parsed()?.tbs_certificate.subject.to_string())
    }

    /// Its validity, `(not_before, not_after)`.
    pub fn validity(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), SigningError> {
        let v = self.parsed()?.tbs_certificate.validity;
        let at = |t: Time| {
            DateTime::<Utc>::from_timestamp(t.to_unix_duration().as_secs() as i64, 0)
                .unwrap_or_default()
        };
        Ok((at(v.not_before), at(v.not_after)))
    }
}

/// `value` as an ASN.1 `ANY`.
fn any<T: Encode>(value: &T) -> Result<Any, SigningError> {
    Any::from_der(&value.to_der().map_err(encoding("an attribute"))?)
        .map_err(encoding("an attribute"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ecdsa_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ECDSA_WITH_SHA_256,
        parameters: None,
    }
}

fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: rfc5912::ID_SHA_256,
        parameters: None,
    }
}

fn utc(at: DateTime<Utc>) -> Result<UtcTime, SigningError> {
    let secs = u64::try_from(at.timestamp()).unwrap_or_default();
    UtcTime::from_unix_duration(Duration::from_secs(secs)).map_err(encoding("a time"))
}

fn extension<T: Encode>(
    oid: der::asn1::ObjectIdentifier,
    critical: bool,
    value: &T,
) -> Result<Extension, SigningError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(encoding("an extension"))?)
            .map_err(encoding("an extension"))?,
    })
}

impl KmsSigner {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        Self {
            client,
            key_id: key_id.into(),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// One `Sign` of `message` (KMS hashes it): the DER `ECDSA-Sig-Value`.
    pub async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SigningError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        out.signature.map(Blob::into_inner).ok_or_else(|| {
            SigningError::Kms(StoreError::Unexpected("Sign returned no signature".into()))
        })
    }

    /// The key's public half (`SubjectPublicKeyInfo`, DER).
    pub async fn public_key(&self) -> Result<Vec<u8>, SigningError> {
        let out = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(StoreError::from_sdk)?;
        out.public_key.map(Blob::into_inner).ok_or_else(|| {
            SigningError::Kms(StoreError::Unexpected(
                "GetPublicKey returned no key".into(),
            ))
        })
    }

    /// A self-signed certificate of the key for `subject` (`CN=…,O=…,C=RU`), valid for
    /// [`CERTIFICATE_YEARS`] from `now`, for digital signatures and non-repudiation only.
    /// Two KMS calls: `GetPublicKey` and one `Sign`.
    pub async fn self_signed_certificate(
        &self,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<SigningCertificate, SigningError> {
        let spki = SubjectPublicKeyInfoOwned::from_der(&self.public_key().await?)
            .map_err(encoding("the public key"))?;
        let name = Name::from_str(subject).map_err(encoding("the subject"))?;
        // The serial: 16 bytes of SHA-256 over the key and the time, positive.
        let mut serial: Vec<u8> = Sha256::digest(
            [
                spki.to_der().map_err(encoding("the key"))?,
                now.to_rfc3339().into_bytes(),
            ]
            .concat(),
        )[..16]
            .to_vec();
        serial[0] &= 0x7f;
        let not_after = now + chrono::Duration::days(365 * CERTIFICATE_YEARS as i64);
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial).map_err(encoding("the serial number"))?,
            signature: ecdsa_sha256(),
            issuer: name.clone(),
            validity: Validity {
                not_before: Time::UtcTime(utc(now)?),
                not_after: Time::UtcTime(utc(not_after)?),
            },
            subject: name,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(vec![
                extension(
                    const_oid::db::rfc5280::ID_CE_BASIC_CONSTRAINTS,
                    true,
                    &BasicConstraints {
                        ca: false,
                        path_len_constraint: None,
                    },
                )?,
                extension(
                    const_oid::db::rfc5280::ID_CE_KEY_USAGE,
                    true,
                    &KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
                )?,
            ]),
        };
        let signature = self
            .sign(&tbs.to_der().map_err(encoding("the certificate"))?)
            .await?;
        let certificate = Certificate {
            tbs_certificate: tbs,
            signature_algorithm: ecdsa_sha256(),
            signature: BitString::from_bytes(&signature).map_err(encoding("the signature"))?,
        };
        SigningCertificate::from_der(certificate.to_der().map_err(encoding("the certificate"))?)
    }

    /// A detached CMS signature of `content` by the key of `certificate`, signed at `at`:
    /// one KMS `Sign`. The result is DER (`.p7s`).
    pub async fn detached_signature(
        &self,
        content: &[u8],
        certificate: &SigningCertificate,
        at: DateTime<Utc>,
    ) -> Result<Vec<u8>, SigningError> {
        let cert = certificate.parsed()?;
        let attribute = |oid, value: Any| -> Result<Attribute, SigningError> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(encoding("an attribute"))?,
            })
        };
        let digest =
            OctetString::new(Sha256::digest(content).to_vec()).map_err(encoding("the digest"))?;
        let signed_attrs = SetOfVec::try_from(vec![
            attribute(rfc5911::ID_CONTENT_TYPE, any(&rfc5911::ID_DATA)?)?,
            attribute(rfc5911::ID_SIGNING_TIME, any(&utc(at)?)?)?,
            attribute(rfc5911::ID_MESSAGE_DIGEST, any(&digest)?)?,
        ])
        .map_err(encoding("the signed attributes"))?;
        let signature = self
            .sign(
                &signed_attrs
                    .to_der()
                    .map_err(encoding("the signed attributes"))?,
            )
            .await?;
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: cert.tbs_certificate.issuer.clone(),
                serial_number: cert.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256_algorithm(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: ecdsa_sha256(),
            signature: OctetString::new(signature).map_err(encoding("the signature"))?,
            unsigned_attrs: None,
        };
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])
                .map_err(encoding("the digest algorithms"))?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: rfc5911::ID_DATA,
                econtent: None,
            },
            certificates: Some(
                CertificateSet::try_from(vec![CertificateChoices::Certificate(cert)])
                    .map_err(encoding("the certificates"))?,
            ),
            crls: None,
            signer_infos: SignerInfos::try_from(vec![signer]).map_err(encoding("the signer"))?,
        };
        ContentInfo {
            content_type: rfc5911::ID_SIGNED_DATA,
            content: any(&signed_data)?,
        }
        .to_der()
        .map_err(encoding("the signature"))
    }
}
