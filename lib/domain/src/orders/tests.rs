use super::*;
use crate::catalog::{CancellationPolicy, NewService};
use crate::pricing::{PriceModel, Tier};
use chrono::TimeZone;
use rust_decimal_macros::dec;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

fn service(
    code: &str,
    kind: ServiceKind,
    unit: UnitOfMeasure,
    currency: Currency,
) -> (Service, PriceVersion) {
    let price = Price::new(
        currency,
        PriceModel::Graduated {
            tiers: vec![
                Tier::bounded(dec!(5), dec!(7.00)),
                Tier::bounded(dec!(10), dec!(6.50)),
                Tier::unbounded(dec!(6.00)),
            ],
        },
        None,
        None,
    )
    .unwrap();
    Service::create(
        NewService {
            code: code.parse().unwrap(),
            name: LocalizedText::new("Услуга", "Service").unwrap(),
            description: None,
            unit,
            kind,
            work_type: match kind {
                ServiceKind::OneOff => Some("install".parse().unwrap()),
                _ => None,
            },
            cancellation: CancellationPolicy::EndOfPeriod,
            tax_rate: TaxRate::from_percent(dec!(20)).unwrap(),
            tax_exemption: None,
            currency,
            price,
        },
        now() - TimeDelta::days(30),
    )
    .unwrap()
}

fn orderer() -> Orderer {
    Orderer {
        org: OrgId::new(),
        currency: Currency::RUB,
        active: true,
    }
}

fn line(code: &str, quantity: Decimal) -> LineRequest {
    LineRequest {
        service: code.parse().unwrap(),
        quantity,
        requested_date: Some(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()),
        note: Some("  ring twice  ".into()),
        address: "Тверская, 1".into(),
        area: Some("moscow-centre".into()),
        contact: Some(" Пётр, +7 916 000-00-00 ".into()),
    }
}

struct Catalog(Vec<(Service, Vec<PriceVersion>)>);

impl Catalog {
    fn new() -> Self {
        let mut all = Vec::new();
        for (code, kind, unit, currency) in [
            (
                "INSTALL",
                ServiceKind::OneOff,
                UnitOfMeasure::Piece,
                Currency::RUB,
            ),
            (
                "CLEAN",
                ServiceKind::OneOff,
                UnitOfMeasure::Hour,
                Currency::RUB,
            ),
            (
                "VPS",
                ServiceKind::Recurring,
                UnitOfMeasure::Month,
                Currency::RUB,
            ),
            (
                "TRAFFIC",
                ServiceKind::Metered,
                UnitOfMeasure::Gigabyte,
                Currency::RUB,
            ),
            (
                "ABROAD",
                ServiceKind::OneOff,
                UnitOfMeasure::Piece,
                Currency::USD,
            ),
        ] {
            let (s, v) = service(code, kind, unit, currency);
            all.push((s, vec![v]));
        }
        let (mut old, v) = service(
            "OLD",
            ServiceKind::OneOff,
            UnitOfMeasure::Piece,
            Currency::RUB,
        );
        old.retire(now() - TimeDelta::days(1)).unwrap();
        all.push((old, vec![v]));
        Self(all)
    }

    fn find(&self, code: &ServiceCode) -> Option<(&Service, &[PriceVersion])> {
        self.0
            .iter()
            .find(|(s, _)| s.code() == code)
            .map(|(s, v)| (s, v.as_slice()))
    }
}

fn plan(requests: &[LineRequest]) -> Result<PlacedOrder, OrderError> {
    let catalog = Catalog::new();
    plan_order(
        orderer(),
        UserOrKey::User(UserId::new()),
        None,
        requests,
        |c| catalog.find(c),
        now(),
        Calendar::UTC,
    )
}

fn field(err: OrderError) -> String {
    err.field().unwrap_or("-").to_owned()
}

#[test]
fn a_placed_order_pins_the_price_and_quotes_every_line() {
    let placed = plan(&[line("INSTALL", dec!(25)), line("CLEAN", dec!(1.5))]).unwrap();
    assert_eq!(placed.lines.len(), 2);
    // Graduated 1–5 at 7.00, 6–10 at 6.50, 11+ at 6.00: 25 units cost 157.50.
    assert_eq!(placed.lines[0].expected.amount(), dec!(157.50));
    assert_eq!(placed.lines[1].expected.amount(), dec!(10.50));
    assert_eq!(placed.order.expected_total.amount(), dec!(168.00));
    assert_eq!(placed.lines[0].price_version, 1);
    assert_eq!(placed.lines[0].line_no, 1);
    assert_eq!(placed.lines[1].line_no, 2);
    assert_eq!(placed.lines[0].note.as_deref(), Some("ring twice"));
    assert_eq!(
        placed.lines[0].site.contact.as_deref(),
        Some("Пётр, +7 916 000-00-00")
    );
    assert_eq!(placed.lines[0].work_type.as_str(), "install");
    assert_ne!(placed.lines[0].work_order, placed.lines[1].work_order);
    assert_eq!(
        order_status(placed.lines.iter().map(|l| &l.state)),
        Status::Placed
    );
}

#[test]
fn refusals_name_the_line_and_field() {
    let cases: Vec<(Vec<LineRequest>, &str)> = vec![
        (vec![], "lines"),
        (vec![line("INSTALL", dec!(1)); MAX_LINES + 1], "lines"),
        (
            vec![line("INSTALL", dec!(1)), line("NOPE", dec!(1))],
            "lines[1].service",
        ),
        (vec![line("OLD", dec!(1))], "lines[0].service"),
        (vec![line("VPS", dec!(1))], "lines[0].service"),
        (vec![line("TRAFFIC", dec!(1))], "lines[0].service"),
        (vec![line("ABROAD", dec!(1))], "lines[0].service"),
        (vec![line("INSTALL", dec!(0))], "lines[0].quantity"),
        (vec![line("INSTALL", dec!(-2))], "lines[0].quantity"),
        (vec![line("INSTALL", dec!(1.5))], "lines[0].quantity"),
        (vec![line("INSTALL", dec!(1000001))], "lines[0].quantity"),
        (vec![line("CLEAN", dec!(0.0000001))], "lines[0].quantity"),
        (
            vec![LineRequest {
                requested_date: NaiveDate::from_ymd_opt(2026, 11, 24),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].requested_date",
        ),
        (
            vec![LineRequest {
                requested_date: NaiveDate::from_ymd_opt(2028, 1, 1),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].requested_date",
        ),
        (
            vec![LineRequest {
                note: Some("x".repeat(MAX_NOTE_CHARS + 1)),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].note",
        ),
        (
            vec![LineRequest {
                address: "  ".into(),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].site.address",
        ),
        (
            vec![LineRequest {
                area: Some("Moscow North".into()),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].site.area",
        ),
        (
            vec![LineRequest {
                contact: Some("x".repeat(MAX_CONTACT_CHARS + 1)),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].site.contact",
        ),
        (
            vec![LineRequest {
                contact: Some("Пётр\u{7}".into()),
                ..line("INSTALL", dec!(1))
            }],
            "lines[0].site.contact",
        ),
    ];
    for (requests, expected) in cases {
        let err = plan(&requests).unwrap_err();
        assert_eq!(field(err.clone()), expected, "{err}");
    }
}

#[test]
fn a_blocked_customer_cannot_order() {
    let catalog = Catalog::new();
    let err = plan_order(
        Orderer {
            active: false,
            ..orderer()
        },
        UserOrKey::User(UserId::new()),
        None,
        &[line("INSTALL", dec!(1))],
        |c| catalog.find(c),
        now(),
        Calendar::UTC,
    )
    .unwrap_err();
    assert_eq!(err, OrderError::CustomerBlocked);
}

#[test]
fn today_is_the_default_date_and_allowed() {
    let mut request = line("INSTALL", dec!(1));
    request.requested_date = None;
    let placed = plan(&[request]).unwrap();
    assert_eq!(placed.lines[0].requested_date, Calendar::UTC.date_of(now()));
}

fn done() -> LineState {
    LineState::Done {
        batch: BatchId::new(),
        engineer: UserId::new(),
        at: now(),
        actual_quantity: Quantity::new(dec!(1)).unwrap(),
        charge: ChargeId::new(),
        amount: Money::new(dec!(7), Currency::RUB),
        period: Calendar::UTC.period_of(now()),
    }
}

fn failed() -> LineState {
    LineState::Failed {
        batch: BatchId::new(),
        engineer: UserId::new(),
        at: now(),
        reason: "no access".into(),
    }
}

fn accepted() -> LineState {
    LineState::Accepted {
        batch: BatchId::new(),
        engineer: UserId::new(),
        at: now(),
    }
}

fn cancelled() -> LineState {
    LineState::Cancelled {
        at: now(),
        by: UserOrKey::User(UserId::new()),
    }
}

#[test]
fn the_order_status_follows_its_lines() {
    use LineState::Placed;
    let status = |lines: &[LineState]| order_status(lines.iter());
    assert_eq!(status(&[Placed, Placed]), Status::Placed);
    assert_eq!(status(&[Placed, accepted()]), Status::Accepted);
    assert_eq!(status(&[Placed, done()]), Status::InProgress);
    assert_eq!(status(&[accepted(), failed()]), Status::InProgress);
    assert_eq!(status(&[done(), done()]), Status::Done);
    assert_eq!(status(&[done(), cancelled()]), Status::Done);
    assert_eq!(status(&[failed(), cancelled()]), Status::Failed);
    assert_eq!(status(&[done(), failed()]), Status::PartlyDone);
    assert_eq!(status(&[cancelled(), cancelled()]), Status::Cancelled);
}

#[test]
fn a_line_is_cancelled_only_before_work_starts() {
    let mut line = plan(&[line("INSTALL", dec!(1))]).unwrap().lines.remove(0);
    let mut in_batch = line.clone();
    in_batch.state = accepted();
    assert!(
        in_batch
            .cancel(UserOrKey::User(UserId::new()), now())
            .is_ok()
    );
    let mut started = line.clone();
    started.state = LineState::InProgress {
        batch: BatchId::new(),
        engineer: UserId::new(),
        at: now(),
    };
    assert!(matches!(
        started.cancel(UserOrKey::User(UserId::new()), now()),
        Err(OrderError::Conflict { .. })
    ));
    line.cancel(UserOrKey::User(UserId::new()), now()).unwrap();
    assert_eq!(line.state.status(), Status::Cancelled);
    assert!(matches!(
        line.cancel(UserOrKey::User(UserId::new()), now()),
        Err(OrderError::Conflict { .. })
    ));
}
