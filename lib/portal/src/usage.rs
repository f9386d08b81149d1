//! Usage in the portal: a customer's meters of a period with totals and this period's
//! estimated price (`Usage::of_period`, as `GET /v1/usage` answers), and each meter by day
//! as a bar chart — SVG drawn here, with a table of the same figures for screen readers.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use kopek_http::state::AppState;
use kopek_services::usage::UsageQuery;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::documents::{PeriodQuery, period_of};
use crate::i18n::Lang;
use crate::pages::{Frame, PageError};
use crate::session::Viewer;

/// One bar of a chart: where it stands and how tall, in the SVG's units.
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub height: u32,
    pub label: String,
}

/// A meter's days as bars: one per day of the period, scaled to the highest day.
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub bar_width: u32,
    pub bars: Vec<Bar>,
    /// The highest day's quantity, written at the top of the axis.
    pub max: String,
    /// The first and the last day, under the axis.
    pub first: String,
    pub last: String,
}

const CHART_HEIGHT: u32 = 120;
const BAR: u32 = 10;

impl Chart {
    fn of(
        by_day: &std::collections::BTreeMap<NaiveDate, Decimal>,
        days: &[NaiveDate],
        lang: Lang,
    ) -> Self {
        let max = by_day.values().copied().max().unwrap_or(Decimal::ZERO);
        let scale = |q: Decimal| -> u32 {
            if max.is_zero() {
                return 0;
            }
            // Drawing only: the figures themselves are the table's, exact.
            ((q / max) * Decimal::from(CHART_HEIGHT))
                .round()
                .to_u32()
                .unwrap_or(0)
        };
        let bars = days
            .iter()
            .enumerate()
            .filter_map(|(i, day)| {
                let q = by_day.get(day).copied()?;
                let height = scale(q).max(1);
                Some(Bar {
                    x: 30 + i as u32 * (BAR + 2),
                    y: 10 + CHART_HEIGHT - height,
                    height,
                    label: format!("{}: {}", lang.date(*day), q.normalize()),
                })
            })
            .collect();
        Chart {
            width: 30 + days.len() as u32 * (BAR + 2) + 10,
            height: CHART_HEIGHT + 30,
            bar_width: BAR,
            bars,
            max: max.normalize().to_string(),
            first: days.first().map(|d| lang.date(*d)).unwrap_or_default(),
            last: days.last().map(|d| lang.date(*d)).unwrap_or_default(),
        }
    }
}

pub struct MeterView {
    pub service: String,
    pub unit: String,
    pub total: String,
    pub events: u64,
    pub estimate: String,
    pub chart: Chart,
    pub days: Vec<(String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "usage.html")]
pub struct UsagePage {
    f: Frame,
    period: String,
    previous: String,
    next: Option<String>,
    meters: Vec<MeterView>,
    total: String,
    total_with_tax: String,
}

/// A customer's usage of a period (by default the current one).
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<PeriodQuery>,
) -> Result<UsagePage, PageError> {
    let lang = viewer.lang;
    let current = state.current_period();
    let period = period_of(&state, lang, q.period.as_deref(), current)?;
    let used = state
        .services
        .usage()
        .of_period(&viewer.principal, UsageQuery { org: None, period })
        .await
        .map_err(|e| PageError::of(lang, e))?;
    let days: Vec<NaiveDate> = period
        .first_day()
        .iter_days()
        .take(period.days() as usize)
        .collect();
    let meters = used
        .meters
        .iter()
        .map(|m| MeterView {
            service: match lang {
                Lang::Ru => m.service.name().ru().to_owned(),
                Lang::En => m.service.name().en().to_owned(),
            },
            unit: m
                .service
                .unit()
                .short_name(match lang {
                    Lang::Ru => kopek_domain::catalog::Lang::Ru,
                    Lang::En => kopek_domain::catalog::Lang::En,
                })
                .to_owned(),
            total: m.usage.total.normalize().to_string(),
            events: m.usage.events,
            estimate: match &m.estimate {
                Ok(e) => lang.money(e.quote.total()),
                Err(why) => why.clone(),
            },
            chart: Chart::of(&m.usage.by_day, &days, lang),
            days: m
                .usage
                .by_day
                .iter()
                .map(|(d, q)| (lang.date(*d), q.normalize().to_string()))
                .collect(),
        })
        .collect();
    Ok(UsagePage {
        f: Frame::of(&viewer, "/portal/usage"),
        period: period.to_string(),
        previous: period.previous().to_string(),
        next: (period < current).then(|| period.next().to_string()),
        meters,
        total: lang.money(used.estimated_total),
        total_with_tax: lang.money(used.estimated_total_with_tax),
    })
}
