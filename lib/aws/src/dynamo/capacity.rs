//! DynamoDB's capacity rules, to compute units where the service reports none.
//!
//! Item size: the UTF-8 bytes of every attribute name plus its value — a string its UTF-8
//! bytes, a number 1 byte per two significant digits plus 1, binary its bytes, a boolean or
//! null 1 byte, a map or list 3 bytes plus its elements (a map's names count) plus 1 byte each.
//! A standard write costs 1 unit per KB (rounded up, at least 1), inside a transaction 2; a
//! strongly consistent read 1 unit per 4 KB (a query sums its items before rounding),
//! eventually consistent half that.
//!
//! Every request through a [`Store`](super::Store) is counted by its [`CapacityMeter`]
//! (`Store::capacity`), so benchmarks report real read and write units per operation.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, ConsumedCapacity};

use super::Item;

/// Units in thousandths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    pub read_milli: u64,
    pub write_milli: u64,
}

pub fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n
                .trim_start_matches(['-', '+'])
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>();
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
            significant.max(1).div_ceil(2) + 1
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v
            .iter()
            .map(|n| value_size(&AttributeValue::N(n.clone())))
            .sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// A write of an item of `bytes` (0 for an update whose size is unknown: 1 unit).
pub fn write(bytes: usize, transactional: bool) -> Units {
    let units = bytes.div_ceil(1024).max(1) as u64;
    Units {
        read_milli: 0,
        write_milli: units * 1000 * if transactional { 2 } else { 1 },
    }
}

/// A read of `bytes` in one request (a get, or a query page).
pub fn read(bytes: usize, consistent: bool) -> Units {
    let units = bytes.div_ceil(4096).max(1) as u64 * 1000;
    Units {
        read_milli: if consistent { units } else { units / 2 },
        write_milli: 0,
    }
}

pub fn sum(units: impl IntoIterator<Item = Units>) -> Units {
    units.into_iter().fold(Units::default(), |a, b| Units {
        read_milli: a.read_milli + b.read_milli,
        write_milli: a.write_milli + b.write_milli,
    })
}

/// Requests and capacity units spent through one [`Store`](super::Store), for benchmarks and logs.
///
/// Units are what DynamoDB reports (`ReturnConsumedCapacity`). Where the service reports none
/// (the local emulator never does), the store computes them itself from the items it wrote or
/// read, by DynamoDB's published rules (the functions below), and counts that request in
/// `computed_requests`, so a figure never silently reads 0.
#[derive(Debug, Default)]
pub struct CapacityMeter {
    requests: AtomicU64,
    read_milli_units: AtomicU64,
    write_milli_units: AtomicU64,
    computed_requests: AtomicU64,
}

/// A copy of [`CapacityMeter`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CapacitySnapshot {
    pub requests: u64,
    pub read_milli_units: u64,
    pub write_milli_units: u64,
    /// Requests whose units the store computed because the service reported none.
    pub computed_requests: u64,
}

impl CapacityMeter {
    pub(crate) fn record(&self, consumed: &[ConsumedCapacity], computed: Units) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let to_milli = |v: Option<f64>| (v.unwrap_or(0.0) * 1000.0).round() as u64;
        let reported = consumed.iter().fold(Units::default(), |sum, c| Units {
            read_milli: sum.read_milli + to_milli(c.read_capacity_units()),
            write_milli: sum.write_milli + to_milli(c.write_capacity_units()),
        });
        let units = if reported == Units::default() && computed != reported {
            self.computed_requests.fetch_add(1, Ordering::Relaxed);
            computed
        } else {
            reported
        };
        self.read_milli_units
            .fetch_add(units.read_milli, Ordering::Relaxed);
        self.write_milli_units
            .fetch_add(units.write_milli, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> CapacitySnapshot {
        CapacitySnapshot {
            requests: self.requests.load(Ordering::Relaxed),
            read_milli_units: self.read_milli_units.load(Ordering::Relaxed),
            write_milli_units: self.write_milli_units.load(Ordering::Relaxed),
            computed_requests: self.computed_requests.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_follows_dynamodbs_published_rules() {
        // Attribute names count; a string is its UTF-8 bytes ("é" is 2).
        let item = std::collections::HashMap::from([
            ("PK".to_owned(), AttributeValue::S("USAGE#é".into())),
            ("n".to_owned(), AttributeValue::N("12345.600".into())),
            ("ok".to_owned(), AttributeValue::Bool(true)),
        ]);
        // 2 + 8; 1 + (6 significant digits → 3) + 1; 2 + 1.
        assert_eq!(item_size(&item), 10 + 5 + 3);
        assert_eq!(write(1024, false).write_milli, 1000);
        assert_eq!(write(1025, false).write_milli, 2000);
        assert_eq!(write(0, false).write_milli, 1000);
        assert_eq!(write(100, true).write_milli, 2000);
        assert_eq!(read(4096, true).read_milli, 1000);
        assert_eq!(read(4097, false).read_milli, 1000);
        assert_eq!(read(10, false).read_milli, 500);
    }
}
