//! Registration in the portal: an organisation with its first user, through
//! `Accounts::register` — the same checks as `POST /v1/auth/register` — then signed in.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use kopek_domain::accounts::{DocumentLanguage, RegistrationForm};
use kopek_domain::money::Currency;
use kopek_http::ApiError;
use kopek_http::state::AppState;
use serde::Deserialize;

use crate::i18n::Lang;
use crate::pages::{Frame, csrf_refused};
use crate::session::secure;

/// The form's fields, as sent.
#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(default)]
    legal_name: String,
    #[serde(default)]
    tax_id: String,
    #[serde(default)]
    kpp: String,
    #[serde(default)]
    billing_address: String,
    #[serde(default)]
    billing_email: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "register.html")]
pub struct RegisterPage {
    f: Frame,
    form: RegisterForm,
    error: Option<String>,
}

/// The registration form (its CSRF token from the same nonce cookie as the sign-in form's).
pub async fn form(
    headers: HeaderMap,
    extensions: Extensions,
    State(state): State<AppState>,
) -> Response {
    crate::pages::anonymous_page(&state, &headers, &extensions, "/portal/register", |f| {
        RegisterPage {
            f,
            form: RegisterForm {
                currency: "RUB".into(),
                ..RegisterForm::default()
            },
            error: None,
        }
        .into_response()
    })
}

/// Registers the organisation and its user, and signs the user in.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: Extensions,
    Form(form): Form<RegisterForm>,
) -> Response {
    let lang = Lang::of(&headers);
    if !crate::pages::anon_csrf_ok(&state, &headers, &form.csrf) {
        return csrf_refused(lang);
    }
    let currency = form.currency.parse::<Currency>().unwrap_or(Currency::RUB);
    let registration = RegistrationForm {
        legal_name: form.legal_name.clone(),
        tax_id: form.tax_id.clone(),
        billing_email: form.billing_email.clone(),
        billing_address: form.billing_address.clone(),
        currency,
        language: match lang {
            Lang::Ru => DocumentLanguage::Ru,
            Lang::En => DocumentLanguage::En,
        },
        kpp: (!form.kpp.trim().is_empty()).then(|| form.kpp.trim().to_owned()),
        user_name: form.name.clone(),
        user_email: form.email.clone(),
        password: form.password.clone(),
    };
    match state.services.accounts().register(registration).await {
        Ok(registered) => crate::pages::signed_in(&state, &registered.session, secure(&extensions)),
        Err(e) => {
            let e = ApiError::from(e);
            let error = match &e.field {
                Some(field) => format!("{field}: {}", e.detail),
                None => e.detail.clone(),
            };
            let csrf = form.csrf.clone();
            let page = RegisterPage {
                f: Frame::anonymous(lang, "/portal/register", csrf),
                form: RegisterForm {
                    password: String::new(),
                    ..form
                },
                error: Some(error),
            };
            (e.status, page).into_response()
        }
    }
}
