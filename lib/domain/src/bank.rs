//! Bank statements as banks write them, read into plain data: the `1CClientBankExchange`
//! text format of Russian banks ([`exchange`]). Matching their payments to customers and
//! invoices, and recording them, come on top (issue #14).

pub mod exchange;
pub mod purpose;
