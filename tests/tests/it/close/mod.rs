//! The period close against the emulator, driven as AWS drives it: the scheduler's trigger
//! (`Closer::start`), then `CloseQueue` drained as the worker function is fed
//! (`kopek_events::close::poller::drain`; elsewhere the same loop without long polls, or one message at
//! a time where a test must stop in between).
//!
//! Each test builds its month in-process on a [`FixedClock`] shared by the application and the
//! close: the catalog, customers, subscriptions, orders and their completion through the HTTP
//! API, usage through `UsageQueue` and the ingestion poller; then the clock moves past the
//! month's end and the month is closed. What is proved: one invoice per customer with its
//! fees prorated by day, its done work and its usage rated on graduated tiers, taxed per line,
//! numbered without a gap or a repeat however many workers close at once; a close stopped
//! between any two storage writes and run again ends as a clean run does; late usage and late
//! work go to the next month and never touch an issued invoice; repeated triggers and messages
//! create nothing twice; refused requests change nothing; a customer that cannot be invoiced
//! fails alone, is listed, and is invoiced once fixed.
//!
//! Every expectation is computed here from the inputs (prices, tiers, quantities, days),
//! never read back from what the close wrote.

mod faults;
mod invoices;
mod month;
mod parties;
mod runs;
pub(crate) mod world;
