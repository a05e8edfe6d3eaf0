//! The faults a running lab has now (`tierlab chaos list`), how long each lasts, and what the
//! load balancer's path looks like with all of them together. The kinds and their arguments
//! are [`crate::lab::Chaos`]; applying and ending them is `crate::lab`'s (it holds the
//! containers, services and databases); this keeps the record and the pure decisions.

pub mod book;
pub mod scenario;

pub use book::{ChaosBook, Fault, FaultKind, FaultStatus, Route, path_toxics_of, toxics_of};
