//! The abuse suite: tierlab tried as a hostile or unlucky user would (raw sockets on 127.0.0.1,
//! a killed database, a task that cannot start, a stranger on the control endpoint). Each module
//! is one fault from issue 6 and what the lab must do about it.

#[path = "../lab_support/mod.rs"]
mod lab_support;
#[path = "../support/mod.rs"]
mod support;

mod client_faults;
mod connections;
mod control_auth;
mod database_recovery;
mod task_backoff;
